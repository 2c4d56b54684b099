package mpi

import "testing"

func msgFrom(source, tag int) *message {
	return &message{env: envelope{ctx: 0, source: source, tag: tag}}
}

func TestMatcherOldestPostedReceiveTakesArrival(t *testing.T) {
	var m matcher
	anyRecv := &recvOp{source: AnySource, tag: AnyTag}
	exact := &recvOp{source: 1, tag: 4}
	if m.post(anyRecv) != nil || m.post(exact) != nil {
		t.Fatal("empty unexpected queue matched a receive")
	}
	if got := m.arrive(msgFrom(1, 4)); got != anyRecv {
		t.Fatalf("arrival went to %+v, want the older wildcard receive", got)
	}
	if got := m.arrive(msgFrom(1, 4)); got != exact {
		t.Fatalf("second arrival went to %+v, want the exact receive", got)
	}
	if len(m.posted) != 0 || m.unexpected.Len() != 0 {
		t.Fatalf("queues not empty: %d posted, %d unexpected", len(m.posted), m.unexpected.Len())
	}
}

func TestMatcherOldestUnexpectedMessageIsTaken(t *testing.T) {
	var m matcher
	a, b, c := msgFrom(2, 1), msgFrom(1, 1), msgFrom(1, 2)
	for _, msg := range []*message{a, b, c} {
		if m.arrive(msg) != nil {
			t.Fatal("arrival matched with nothing posted")
		}
	}
	if got := m.peek(&recvOp{source: 1, tag: AnyTag}); got != b {
		t.Fatal("peek did not find the oldest message from source 1")
	}
	if got := m.post(&recvOp{source: 1, tag: 2}); got != c {
		t.Fatal("exact receive did not take its message")
	}
	if got := m.post(&recvOp{source: AnySource, tag: AnyTag}); got != a {
		t.Fatal("wildcard receive did not take the oldest message")
	}
	if got := m.post(&recvOp{source: AnySource, tag: 1}); got != b {
		t.Fatal("wildcard source receive did not take the remaining message")
	}
}

func TestMatcherContextsAreSeparate(t *testing.T) {
	var m matcher
	m.arrive(&message{env: envelope{ctx: 1, source: 0, tag: 0}})
	if m.post(&recvOp{ctx: 0, source: AnySource, tag: AnyTag}) != nil {
		t.Fatal("a receive on context 0 took a message of context 1")
	}
	if m.post(&recvOp{ctx: 1, source: 0, tag: 0}) == nil {
		t.Fatal("a receive on context 1 missed its message")
	}
}

func TestMatcherCancelAndTakePosted(t *testing.T) {
	var m matcher
	r1, r2, r3 := &recvOp{source: 1, tag: 0}, &recvOp{source: 2, tag: 0}, &recvOp{source: AnySource, tag: 0}
	m.post(r1)
	m.post(r2)
	m.post(r3)
	if !m.cancel(r2) || m.cancel(r2) {
		t.Fatal("cancel: first must succeed, second must fail")
	}
	taken := m.takePosted(func(r *recvOp) bool { return r.source == 1 })
	if len(taken) != 1 || taken[0] != r1 || len(m.posted) != 1 || m.posted[0] != r3 {
		t.Fatalf("takePosted: took %v, left %v", taken, m.posted)
	}
	if m.arrive(msgFrom(2, 0)) != r3 {
		t.Fatal("the cancelled receive matched")
	}
}

// TestMatcherLongUnexpectedQueues keeps thousands of messages from several
// sources waiting and takes them by wildcard, by source and by tag from the
// middle: every receive gets the oldest message it accepts.
func TestMatcherLongUnexpectedQueues(t *testing.T) {
	var m matcher
	var order []*message // arrival order
	for i := range 5000 {
		msg := msgFrom(i%3, i%7)
		msg.id = uint64(i)
		order = append(order, msg)
		if m.arrive(msg) != nil {
			t.Fatal("arrival matched with nothing posted")
		}
	}
	taken := map[*message]bool{}
	oldest := func(accept func(*message) bool) *message {
		for _, msg := range order {
			if !taken[msg] && accept(msg) {
				return msg
			}
		}
		return nil
	}
	for step := 0; m.unexpected.Len() > 0; step++ {
		var r *recvOp
		switch step % 4 {
		case 0:
			r = &recvOp{source: AnySource, tag: AnyTag}
		case 1:
			r = &recvOp{source: step % 3, tag: AnyTag}
		case 2:
			r = &recvOp{source: AnySource, tag: step % 7}
		default:
			r = &recvOp{source: step % 3, tag: (step / 3) % 7}
		}
		want := oldest(func(msg *message) bool { return r.accepts(msg.env) })
		if got := m.peek(r); got != want {
			t.Fatalf("step %d: peek gave %v, want %v", step, got, want)
		}
		got := m.post(r)
		if got != want {
			t.Fatalf("step %d: receive %+v took message %v, want %v", step, r, got, want)
		}
		if got == nil {
			m.cancel(r)
			continue
		}
		taken[got] = true
	}
	if len(taken) != len(order) {
		t.Fatalf("took %d of %d messages", len(taken), len(order))
	}
}
