//go:build linux

package collectives

import (
	"fmt"
	"testing"
	"time"
)

// TestShmWaitersSleepWhileOthersWork: ranks that wait in the arena for a
// rank still at work stop polling and sleep on the laggard's counter, so
// that they do not take the cores the working ranks share with them (np=2
// polls for hooks.Spin; np=3 and 4, whose ranks yield between polls as
// ranks outnumbering cores do, poll a bounded number of times). The late
// rank arrives only once it sees every other rank asleep on its counter
// (the count of sleepers the arena keeps with each counter): a rank that
// polled for ever would never let it arrive, and the test would fail at
// its deadline. Then the barrier completes on every rank, in Barrier and
// in a small Allreduce alike.
func TestShmWaitersSleepWhileOthersWork(t *testing.T) {
	for _, np := range []int{2, 3, 4} {
		late := np - 1
		errs := runShared(t, np, testSlotBytes, testResultBytes, func(c Conn) error {
			for call := range 3 {
				if c.Rank() == late {
					a := arenaFor(c.(sharedConn).region)
					// The others wait for this rank's arrival at the next
					// step; count them asleep on that counter.
					_, sleepers := a.counter(arrivedKind, late)
					deadline := time.Now().Add(20 * time.Second)
					for int(sleepers.Load()) < np-1 {
						if time.Now().After(deadline) {
							return fmt.Errorf("call %d: %d of %d waiting ranks asleep after 20 s", call, sleepers.Load(), np-1)
						}
						time.Sleep(time.Millisecond)
					}
				}
				var err error
				if call%2 == 0 {
					err = Barrier(c)
				} else {
					var sum float64
					sum, err = Allreduce(c, float64Value{}, float64(c.Rank()), sumF)
					if want := float64(np * (np - 1) / 2); err == nil && sum != want {
						err = fmt.Errorf("call %d: Allreduce gave %v, want %v", call, sum, want)
					}
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		mustAll(t, fmt.Sprintf("np=%d", np), errs)
	}
}
