package collectives

import (
	"bytes"
	"fmt"
	"testing"
)

// TestShmDeferredPosts: ranks other than the root of small Bcasts leave
// their reduced counter unposted for fewer than maxDeferred calls in a row
// (the counter lags their steps, never by maxDeferred calls), a call that
// is not such a Bcast posts it on entry, and a root whose value goes in
// its slot (which waits for every rank to be done with the call before)
// gets the deferred posts from ranks that wait for it: every value arrives
// and nothing hangs. Ranks that share cores (np=3 here: the test arenas
// yield from 3 ranks on) post every call: there each post is cheap, and a
// root that runs further ahead takes turns on a core less often.
func TestShmDeferredPosts(t *testing.T) {
	t.Setenv("GORUN_COLL_BCAST", "")
	for _, np := range []int{2, 3} {
		testDeferredPosts(t, np)
	}
}

func testDeferredPosts(t *testing.T, np int) {
	errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
		a := arenaFor(c.(sharedConn).region)
		me := c.Rank()
		reducedOf := func() uint32 { w, _ := a.counter(reducedKind, me); return w.Load() }
		for round := range 3 {
			deferredOnce := false
			for i := range 2*maxDeferred + 3 {
				root := (round + i/5) % np
				v := "v"
				if me == root {
					v = fmt.Sprint(round, i)
				}
				got, err := Bcast(c, str{}, v, root)
				if err != nil || got != fmt.Sprint(round, i) {
					return fmt.Errorf("round %d call %d: %q, %v", round, i, got, err)
				}
				if lag := a.steps - reducedOf(); int(lag) != a.deferred || a.deferred >= maxDeferred {
					return fmt.Errorf("round %d call %d: %d deferred calls, the counter %d steps behind", round, i, a.deferred, lag)
				}
				if me == root && a.deferred != 0 {
					return fmt.Errorf("round %d call %d: the root deferred its post", round, i)
				}
				deferredOnce = deferredOnce || a.deferred > 0
			}
			if yields := a.hooks.Yield; deferredOnce == yields {
				return fmt.Errorf("round %d: ranks that yield (%v) deferred posts (%v)", round, yields, deferredOnce)
			}
			// A value in the root's slot: the root waits for every rank to
			// be done with the calls before, deferred or not.
			big := pattern(3*testInlineBytes, round)
			var v []byte
			if me == round%np {
				v = big
			}
			got, err := Bcast(c, bytesCodec{}, v, round%np)
			if err != nil || !bytes.Equal(got, big) {
				return fmt.Errorf("round %d: the slot broadcast: %d bytes, %v", round, len(got), err)
			}
			if err := Barrier(c); err != nil {
				return err
			}
			if a.deferred != 0 || reducedOf() != a.steps {
				return fmt.Errorf("round %d: after a Barrier, %d calls deferred", round, a.deferred)
			}
		}
		return nil
	})
	mustAll(t, fmt.Sprintf("deferred posts, np=%d", np), errs)
}
