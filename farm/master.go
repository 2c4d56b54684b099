package farm

import (
	"errors"
	"fmt"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

// master is rank 0's part: it hands out chunks of inputs on demand, keeps
// every worker holding up to prefetch of them, and delivers the results.
type master[In, Out any] struct {
	d        *mpi.Comm
	inputs   *source[In]
	callback func(int, Out)
	chunks   chunker
	workers  []*worker  // index: rank - 1
	failure  *TaskError // the first failure; once set, no more work is handed out
	hdr      []header   // hdr[w]: the header being received from worker w
	waiting  []*mpi.Request
}

// worker is the master's view of one worker.
type worker struct {
	rank    int
	queue   []task       // handed out, not answered yet, oldest first
	pending *mpi.Request // the receive of the header answering queue[0]
	stopped bool         // told to stop: it gets no more tasks
	stop    *mpi.Request // the stop's Isend
	lost    bool         // gone: nothing more is sent to it or expected from it
}

// task is a chunk of inputs handed to a worker.
type task struct {
	start, count int
	send         *mpi.Request // the chunk's Isend
}

func newMaster[In, Out any](d *mpi.Comm, inputs *source[In], callback func(int, Out), cfg config) *master[In, Out] {
	m := &master[In, Out]{d: d, inputs: inputs, callback: callback,
		chunks: chunker{fixed: cfg.chunk, workers: d.Size() - 1},
		hdr:    make([]header, d.Size()-1), waiting: make([]*mpi.Request, d.Size()-1)}
	for r := 1; r < d.Size(); r++ {
		m.workers = append(m.workers, &worker{rank: r})
	}
	return m
}

// run hands out every input, collects every result, stops every worker and
// returns the first failure.
func (m *master[In, Out]) run() error {
	for {
		for w := range m.workers {
			m.feed(w)
		}
		if m.failure == nil && m.inputs.ended && m.idle() {
			// Every task is answered: the outcome is final.
			for w := range m.workers {
				m.stop(w)
			}
		}
		for w, wk := range m.workers {
			m.waiting[w] = wk.pending
		}
		w, _, err := mpi.WaitAny(m.waiting...)
		if w < 0 { // nothing outstanding: every worker has stopped
			break
		}
		m.answered(w, err)
	}
	for w, wk := range m.workers {
		// The stops were sent without waiting (a worker may still be
		// sending a result when it is told): they are received by now,
		// or their worker is gone.
		if _, err := wk.stop.Wait(); err != nil && !wk.lost && m.failure == nil {
			m.trouble(w, -1, err)
		}
	}
	if m.failure != nil {
		return m.failure
	}
	return nil
}

// feed tops worker w up with tasks and waits for the header answering its
// oldest task.
func (m *master[In, Out]) feed(w int) {
	wk := m.workers[w]
	if wk.lost {
		return
	}
	for !wk.stopped && m.failure == nil && !m.inputs.ended && len(wk.queue) < prefetch {
		ins, start, err := m.inputs.take(m.chunks.next(m.inputs.remaining()))
		if err != nil {
			m.fail(&TaskError{Index: m.inputs.taken, Rank: 0, Err: err})
			break
		}
		if len(ins) == 0 {
			break // a sequence that has just ended
		}
		t := task{start: start, count: len(ins)}
		if t.count == 1 {
			t.send = m.d.Isend(ins[0], wk.rank, tagTask)
		} else {
			t.send = m.d.Isend(ins, wk.rank, tagTasks)
		}
		if _, done, err := t.send.Test(); done && err != nil {
			// Never sent (an input that cannot be encoded, say) or the
			// worker is gone.
			if errors.Is(err, mpi.ErrPeerLost) {
				m.lose(w, t.start, err)
				return
			}
			m.fail(&TaskError{Index: t.start, Rank: wk.rank, Err: err})
			break
		}
		wk.queue = append(wk.queue, t)
	}
	if !wk.lost && wk.pending == nil && len(wk.queue) > 0 {
		m.hdr[w] = header{}
		wk.pending = m.d.Irecv(&m.hdr[w], wk.rank, tagHeader)
	}
}

// idle reports whether no task is outstanding.
func (m *master[In, Out]) idle() bool {
	for _, wk := range m.workers {
		if len(wk.queue) > 0 {
			return false
		}
	}
	return true
}

// answered handles the header worker w sent for its oldest task (or the
// error receiving it).
func (m *master[In, Out]) answered(w int, err error) {
	wk := m.workers[w]
	wk.pending = nil
	t := wk.queue[0]
	wk.queue = wk.queue[1:]
	if _, serr := t.send.Wait(); err == nil { // done: the worker has answered it
		err = serr
	}
	if err != nil {
		m.trouble(w, t.start, err)
		return
	}
	h := m.hdr[w]
	switch {
	case h.Skipped:
	case h.Err != "":
		cause := remoteError{msg: h.Err}
		if h.Panic {
			cause.is = ErrPanic
		}
		m.fail(&TaskError{Index: t.start + h.Failed, Rank: wk.rank, Err: cause})
	default:
		outs, size, err := m.results(wk.rank, t)
		if err != nil {
			m.trouble(w, t.start, err)
			return
		}
		m.chunks.observe(time.Duration(h.Nanos), h.Size+size, t.count)
		for j, out := range outs {
			if m.failure != nil {
				break // a callback failed: deliver no more
			}
			if err := deliver(m.callback, t.start+j, out); err != nil {
				m.fail(&TaskError{Index: t.start + j, Rank: 0, Err: err})
			}
		}
	}
}

// results receives the outputs of task t from rank, which sends them right
// after its header, and says how many bytes they took.
func (m *master[In, Out]) results(rank int, t task) ([]Out, int, error) {
	if t.count == 1 {
		outs := make([]Out, 1)
		st, err := m.d.Recv(&outs[0], rank, tagResult)
		return outs, st.Size, err
	}
	var outs []Out
	st, err := m.d.Recv(&outs, rank, tagResults)
	if err != nil {
		return nil, 0, err
	}
	if len(outs) != t.count {
		return nil, 0, fmt.Errorf("farm: %d results for a chunk of %d inputs", len(outs), t.count)
	}
	return outs, st.Size, nil
}

// trouble records an mpi error talking to worker w about task index: a
// lost worker is lost; with any other error the farm fails and the worker,
// still there, is stopped as the others are.
func (m *master[In, Out]) trouble(w, index int, err error) {
	if errors.Is(err, mpi.ErrPeerLost) {
		m.lose(w, index, err)
		return
	}
	m.fail(&TaskError{Index: index, Rank: m.workers[w].rank, Err: err})
}

// lose records that worker w is gone (err wraps mpi.ErrPeerLost) while it
// held task index: the farm fails, naming that task.
func (m *master[In, Out]) lose(w, index int, err error) {
	wk := m.workers[w]
	for _, t := range wk.queue {
		t.send.Wait() // failed or done: the peer is gone either way
	}
	wk.queue, wk.pending, wk.stopped, wk.lost = nil, nil, true, true
	m.fail(&TaskError{Index: index, Rank: wk.rank, Err: err})
}

// fail records the farm's first failure and tells every worker to stop:
// each finishes the task it is running, skips the others it holds, and
// returns.
func (m *master[In, Out]) fail(err *TaskError) {
	if m.failure != nil {
		return
	}
	m.failure = err
	for w := range m.workers {
		m.stop(w)
	}
}

// stop sends worker w the verdict that ends its part, without waiting for
// it to arrive. A worker with tasks still outstanding answers them (as
// skipped) first.
func (m *master[In, Out]) stop(w int) {
	wk := m.workers[w]
	if wk.stopped {
		return
	}
	wk.stopped = true
	wk.stop = m.d.Isend(verdictOf(m.failure), wk.rank, tagStop)
	if _, done, err := wk.stop.Test(); done && err != nil {
		index := -1
		if len(wk.queue) > 0 {
			index = wk.queue[0].start
		}
		m.trouble(w, index, err)
	}
}
