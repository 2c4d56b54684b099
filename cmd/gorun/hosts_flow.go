package main

import (
	"strconv"
	"sync"
)

// outQueue holds one agent's output messages (and its ranks' "drained"
// marks, which follow their output) until the launcher has written them
// out. A goroutine per agent writes them, so that a slow stdout delays
// neither heartbeats nor control events, and tells the agent how much it
// has written: the agent's credit (upFlow), which bounds this queue to
// about outWindow bytes.
type outQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []upMsg
	closed bool
	done   chan struct{} // closed when the writer goroutine returns
}

// push queues m for writing.
func (q *outQueue) push(m upMsg) {
	q.mu.Lock()
	q.items = append(q.items, m)
	q.cond.Signal()
	q.mu.Unlock()
}

// next waits for the next message; false once the queue is closed.
func (q *outQueue) next() (upMsg, bool, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return upMsg{}, false, false
	}
	m := q.items[0]
	q.items[0] = upMsg{}
	q.items = q.items[1:]
	return m, len(q.items) == 0, true
}

// close stops the writer: what is still queued is dropped.
func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// startOutput starts a writer of output for every agent of the job.
func (r *remoteRanks) startOutput() {
	r.out.queues = make([]*outQueue, len(r.names))
	for h := range r.names {
		q := &outQueue{done: make(chan struct{})}
		q.cond = sync.NewCond(&q.mu)
		r.out.queues[h] = q
		go r.writeOutput(h, q)
	}
}

// writeOutput writes host h's output in order, and credits the agent with
// every quarter window written (or when it has caught up).
func (r *remoteRanks) writeOutput(h int, q *outQueue) {
	defer close(q.done)
	subject := r.ctl + ".credit." + strconv.Itoa(h)
	var written, credited int64
	for {
		m, caughtUp, ok := q.next()
		if !ok {
			return
		}
		switch m.Kind {
		case upOut:
			r.output(m.Rank, m.Fd, m.Data)
			written += int64(len(m.Data))
		case upDrained:
			r.markDrained(m.Rank)
		}
		if written > credited && (caughtUp || written-credited >= outWindow/4) {
			if err := r.relay.publish(r.nc, subject, []byte(strconv.FormatInt(written, 10))); err != nil {
				// Without credit the agent stops reading its ranks' output.
				r.loseHost(h, r.lostReason(h, "cannot send it output credit: "+err.Error()))
				return
			}
			credited = written
		}
	}
}

// stopOutput stops every writer and waits for them.
func (r *remoteRanks) stopOutput() {
	for _, q := range r.out.queues {
		q.close()
	}
	for _, q := range r.out.queues {
		<-q.done
	}
}

// awaitOutput waits until done (every rank's output written), or until
// gorun is told to stop (a signal: what has not been written is dropped).
// No timer ends that wait: each agent forwards what its ranks' pipes hold
// and bounds its wait for pipes that leftover processes hold
// (pipe_drain.go), a lost agent's ranks count as drained (loseHost), and
// gorun's own stdout is written at the pace of whoever reads it, as any
// program's. (A wait of at most flushWait without progress, as before,
// lost the output of TestMultihostOutput whenever the test's reader, on
// a loaded machine, left one write of gorun's waiting that long.)
func (r *remoteRanks) awaitOutput(done <-chan struct{}) {
	select {
	case <-done:
	case <-r.s.sigs:
	}
}

// outFlow is the launcher's side of the agents' output: a queue per
// agent.
type outFlow struct {
	queues []*outQueue
}
