package mpi

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// TestEagerBodyLandsInThePostedReceive checks that an eager message of
// numbers that comes through a shared-memory ring while its receive is
// posted is read straight into the receive's memory (splitbody.go), and
// that every other case gets the same answer as before without it: a
// receive without room, one of another kind (the type error, its memory
// untouched), a first matching receive that cannot take the body ahead
// of one that could (the order of posting decides, not the room), a
// message below comm.SplitThreshold, and one that came before its receive.
func TestEagerBodyLandsInThePostedReceive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("no shared-memory rings on this platform")
	}
	const n = 2048 // 16 KiB of float64: eager, above comm.SplitThreshold
	value := func(tag, i int) float64 { return float64(tag*n+i) / 3 }
	message := func(tag, count int) []float64 {
		m := make([]float64, count)
		for i := range m {
			m[i] = value(tag, i)
		}
		return m
	}
	check := func(name string, got []float64, tag, count int) error {
		if len(got) != count {
			return fmt.Errorf("%s: %d numbers, want %d", name, len(got), count)
		}
		for i, v := range got {
			if v != value(tag, i) {
				return fmt.Errorf("%s: number %d is %v, want %v", name, i, v, value(tag, i))
			}
		}
		return nil
	}
	var direct uint64
	runRanksUnix(t, 2, func(c *Comm) error {
		if c.Rank() == 0 {
			if err := c.Barrier(); err != nil { // rank 1 has posted its receives
				return err
			}
			for tag := range 6 {
				send := c.Send
				if tag == 3 {
					send = c.Ssend
				}
				if err := send(message(tag, n), 1, tag); err != nil {
					return err
				}
			}
			if err := c.Send(message(6, 16), 1, 6); err != nil {
				return err
			}
			if err := c.Send(message(7, n), 1, 7); err != nil {
				return err
			}
			return c.Barrier()
		}
		landed := make([]float64, 1, n+10)
		tooSmall := make([]float64, 0, n-1)
		mismatched := make([]int32, 0, 4*n)
		synced := make([]float64, 0, n)
		smallFirst := make([]float64, 0, 8)
		roomyAnyTag := make([]float64, 0, n)
		tiny := make([]float64, 0, n)
		landedAt, syncedAt, roomyAt := &landed[:1][0], &synced[:1][0], &roomyAnyTag[:1][0]
		reqs := []*Request{
			c.Irecv(&landed, 0, 0),
			c.Irecv(&tooSmall, 0, 1),
			c.Irecv(&mismatched, 0, 2),
			c.Irecv(&synced, AnySource, 3),
			c.Irecv(&smallFirst, 0, 4),
			c.Irecv(&roomyAnyTag, 0, AnyTag), // takes tag 5: tag 4 went to the first
			c.Irecv(&tiny, 0, 6),
		}
		if err := c.Barrier(); err != nil {
			return err
		}
		for i, r := range reqs {
			_, err := r.Wait()
			if i == 2 {
				if !errors.Is(err, ErrTypeMismatch) {
					return fmt.Errorf("float64 numbers into []int32: %v, want a type mismatch", err)
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("receive %d: %w", i, err)
			}
		}
		if err := c.Barrier(); err != nil { // tag 7 came before its receive
			return err
		}
		late := make([]float64, 0, n)
		if _, err := c.Recv(&late, 0, 7); err != nil {
			return err
		}
		direct = c.e.directEager.Load()
		return errors.Join(
			check("landed", landed, 0, n), check("too small", tooSmall, 1, n),
			check("synchronous", synced, 3, n), check("first of two", smallFirst, 4, n),
			check("any tag", roomyAnyTag, 5, n), check("small", tiny, 6, 16), check("late", late, 7, n),
			expect(&landed[0] == landedAt && &synced[0] == syncedAt && &roomyAnyTag[0] == roomyAt,
				"a receive with room got a new slice"),
			expect(len(mismatched) == 0 && mismatched[:1][0] == 0, "a mismatched receive's memory was written"),
		)
	})
	if direct != 3 {
		t.Errorf("%d messages read straight into their receive's memory, want 3 (tags 0, 3 and 5)", direct)
	}
}
