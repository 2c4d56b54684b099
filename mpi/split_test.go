package mpi

import (
	"errors"
	"fmt"
	"testing"
)

func TestSplitGroupsByColorOrderedByKey(t *testing.T) {
	runRanks(t, 5, func(c *Comm) error {
		color := c.Rank() % 2
		if c.Rank() == 4 {
			color = Undefined
		}
		sub, err := c.Split(color, -c.Rank()) // reverse order within each color
		if err != nil {
			return err
		}
		if color == Undefined {
			return expect(sub == nil, "Undefined color got a communicator")
		}
		// color 0: world ranks 0, 2 -> reversed: [2, 0]; color 1: 1, 3 -> [3, 1]
		wantRank := map[int]int{0: 1, 2: 0, 1: 1, 3: 0}[c.Rank()]
		if sub.Size() != 2 || sub.Rank() != wantRank {
			return fmt.Errorf("world %d: sub rank %d size %d, want rank %d size 2", c.Rank(), sub.Rank(), sub.Size(), wantRank)
		}
		// Exchange world ranks inside the sub-communicator.
		var peerWorld int
		st, err := sub.Sendrecv(c.Rank(), 1-sub.Rank(), 0, &peerWorld, 1-sub.Rank(), 0)
		if err != nil {
			return err
		}
		if peerWorld%2 != color || peerWorld == c.Rank() || st.Source != 1-sub.Rank() {
			return fmt.Errorf("world %d: partner is world %d (status %+v)", c.Rank(), peerWorld, st)
		}
		return nil
	})
}

func TestDupSeparatesMessageSpaces(t *testing.T) {
	runRanks(t, 3, func(c *Comm) error {
		dup, err := c.Dup()
		if err != nil {
			return err
		}
		if dup.Size() != c.Size() || dup.Rank() != c.Rank() {
			return fmt.Errorf("dup rank %d size %d", dup.Rank(), dup.Size())
		}
		next, prev := (c.Rank()+1)%c.Size(), (c.Rank()+c.Size()-1)%c.Size()
		if err := dup.Send("on dup", next, 0); err != nil {
			return err
		}
		if err := c.Send("on world", next, 0); err != nil {
			return err
		}
		var s string
		if _, err := c.Recv(&s, prev, 0); err != nil || s != "on world" {
			return fmt.Errorf("world receive got %q %v", s, err)
		}
		if _, err := dup.Recv(&s, prev, 0); err != nil || s != "on dup" {
			return fmt.Errorf("dup receive got %q %v", s, err)
		}
		// A communicator made from the dup gets yet another space.
		sub, err := dup.Split(0, c.Rank())
		if err != nil {
			return err
		}
		if sub.ctx == dup.ctx || sub.ctx == c.ctx || dup.ctx == c.ctx {
			return fmt.Errorf("contexts collide: world %d dup %d sub %d", c.ctx, dup.ctx, sub.ctx)
		}
		return nil
	})
}

func TestSplitRejectsNegativeColorAndNilComm(t *testing.T) {
	runRanks(t, 1, func(c *Comm) error {
		if _, err := c.Split(-5, 0); err == nil {
			return errors.New("negative color accepted")
		}
		var none *Comm
		if err := none.Send(1, 0, 0); !errors.Is(err, ErrNilComm) {
			return fmt.Errorf("nil comm Send: %v", err)
		}
		return nil
	})
}
