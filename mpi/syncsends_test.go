package mpi

import (
	"sync/atomic"
	"testing"
	"time"
)

// Under WithSyncSends a small Send (and Isend) is not done before its
// receive matches: the message arrives (Iprobe sees it) while the send
// still waits; once the receive is posted, both finish with the data.
func TestSyncSendsWaitForTheirMatch(t *testing.T) {
	for _, op := range []string{"Send", "Isend", "Isend to self"} {
		t.Run(op, func(t *testing.T) {
			var returned atomic.Bool // the sender's send is done
			runRanks(t, 2, func(c *Comm) error {
				dest := 1
				if op == "Isend to self" {
					dest = 0
				}
				switch {
				case c.Rank() == 0 && op == "Send":
					go func() { _ = c.Send(42, 1, 7); returned.Store(true) }()
				case c.Rank() == 0:
					req := c.Isend(42, dest, 7)
					go func() { _, _ = req.Wait(); returned.Store(true) }()
				}
				if c.Rank() != dest {
					// Rank 0 (sender) waits at the barrier; the receiver
					// checks what it needs first.
					return c.Barrier()
				}
				for {
					if _, found, err := c.Iprobe(0, 7); err != nil {
						return err
					} else if found {
						break
					}
					time.Sleep(time.Millisecond)
				}
				time.Sleep(50 * time.Millisecond) // give a wrong, eager send time to return
				if returned.Load() {
					return expect(false, "%s returned before its receive was posted", op)
				}
				var got int
				if _, err := c.Recv(&got, 0, 7); err != nil {
					return err
				}
				if err := expect(got == 42, "got %d, want 42", got); err != nil {
					return err
				}
				return c.Barrier()
			}, WithSyncSends())
		})
	}
}
