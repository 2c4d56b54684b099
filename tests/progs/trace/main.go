// Command trace runs a seeded random plan of messages for gorun --trace's
// tests: every round each rank sends a few messages (Send or Isend) with
// random tags to random ranks, receives what the plan says comes to it
// (blocking Recv in an order that keeps each sender's per-tag order, Irecv
// with WaitAll or WaitAny, or AnySource receives), passes a
// token round a ring with Sendrecv, and ends the round with a collective.
// Every message has a payload size of its own (its index in the plan), so
// a trace's arrows can be checked by size. It prints "rank R sent N" and
// checks every payload it receives.
//
//	gorun -np 4 --trace t.json ./tests/progs/trace -seed 1 -rounds 10
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/gorun-mpi/gorun/mpi"
)

// message is one message of the plan.
type message struct {
	index     int // its payload is index+1 bytes, each byte byte(index)
	src, dest int
	tag       int
	isend     bool
}

func main() {
	seed := flag.Uint64("seed", 1, "seed of the plan")
	rounds := flag.Int("rounds", 10, "rounds of messages")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fail("Init", err)
	}
	defer mpi.Finalize()
	sent, err := run(world, *seed, *rounds)
	if err != nil {
		fail(fmt.Sprintf("rank %d", world.Rank()), err)
	}
	fmt.Printf("rank %d sent %d\n", world.Rank(), sent)
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", what, err)
	os.Exit(1)
}

func payload(index int) []byte {
	b := make([]byte, index+1)
	for i := range b {
		b[i] = byte(index)
	}
	return b
}

func run(world *mpi.Comm, seed uint64, rounds int) (int, error) {
	me, n := world.Rank(), world.Size()
	rng := rand.New(rand.NewPCG(seed, 7)) // the same plan on every rank
	next, sent := 0, 0
	for round := 0; round < rounds; round++ {
		var plan []message
		for src := 0; src < n; src++ {
			for k := rng.IntN(4); k > 0; k-- {
				plan = append(plan, message{index: next, src: src, dest: rng.IntN(n), tag: rng.IntN(3), isend: rng.IntN(2) == 0})
				next++
			}
		}
		recvMode := rng.IntN(5)
		order := rng.Perm(len(plan))
		collective := rng.IntN(3)

		var reqs []*mpi.Request
		for _, m := range plan {
			if m.src != me {
				continue
			}
			sent++
			if m.isend {
				reqs = append(reqs, world.Isend(payload(m.index), m.dest, m.tag))
			} else if err := world.Send(payload(m.index), m.dest, m.tag); err != nil {
				return sent, err
			}
		}
		if err := receive(world, plan, order, recvMode); err != nil {
			return sent, fmt.Errorf("round %d: %w", round, err)
		}
		if err := mpi.WaitAll(reqs...); err != nil {
			return sent, err
		}
		var token int
		if _, err := world.Sendrecv(me, (me+1)%n, 7, &token, (me-1+n)%n, 7); err != nil {
			return sent, err
		}
		sent++
		if token != (me-1+n)%n {
			return sent, fmt.Errorf("ring token %d from rank %d", token, (me-1+n)%n)
		}
		var err error
		switch collective {
		case 0:
			err = world.Barrier()
		case 1:
			_, err = mpi.Allreduce(world, me, mpi.Sum)
		default:
			_, err = mpi.Bcast(world, round, round%n)
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// receive takes the messages of plan that come to this rank, in one of five
// ways (mode), and checks each payload.
func receive(world *mpi.Comm, plan []message, order []int, mode int) error {
	me := world.Rank()
	var mine []message // in the order the plan sends them
	for _, m := range plan {
		if m.dest == me {
			mine = append(mine, m)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	check := func(got []byte, st mpi.Status) error {
		if len(got) == 0 || got[0] != byte(len(got)-1) {
			return fmt.Errorf("payload of %d bytes from rank %d tag %d is not one the plan sent", len(got), st.Source, st.Tag)
		}
		return nil
	}
	switch mode {
	case 0, 1: // blocking Recv with source and tag, in a shuffled order that keeps each (source, tag)'s order
		taken := make([]bool, len(mine))
		for range mine {
			// the earliest untaken message of a randomly chosen (source, tag)
			pick := -1
			for _, o := range order {
				i := o % len(mine)
				if !taken[i] {
					pick = i
					break
				}
			}
			m := mine[pick]
			for j := 0; j < pick; j++ {
				if !taken[j] && mine[j].src == m.src && mine[j].tag == m.tag {
					m, pick = mine[j], j
					break
				}
			}
			taken[pick] = true
			var got []byte
			st, err := world.Recv(&got, m.src, m.tag)
			if err != nil {
				return err
			}
			if len(got) != m.index+1 {
				return fmt.Errorf("Recv(source %d, tag %d) got %d bytes, want message %d's %d", m.src, m.tag, len(got), m.index, m.index+1)
			}
			if err := check(got, st); err != nil {
				return err
			}
		}
	case 2: // Irecv each, then WaitAll
		bufs := make([][]byte, len(mine))
		reqs := make([]*mpi.Request, len(mine))
		for i, m := range mine {
			reqs[i] = world.Irecv(&bufs[i], m.src, m.tag)
		}
		if err := mpi.WaitAll(reqs...); err != nil {
			return err
		}
		for i, m := range mine {
			if len(bufs[i]) != m.index+1 {
				return fmt.Errorf("Irecv(source %d, tag %d) got %d bytes, want %d", m.src, m.tag, len(bufs[i]), m.index+1)
			}
		}
	case 3: // Irecv each, then WaitAny and Test until all are done
		bufs := make([][]byte, len(mine))
		reqs := make([]*mpi.Request, len(mine))
		for i, m := range mine {
			reqs[i] = world.Irecv(&bufs[i], m.src, m.tag)
		}
		for left := len(reqs); left > 0; left-- {
			i, _, err := mpi.WaitAny(reqs...)
			if err != nil {
				return err
			}
			if len(bufs[i]) != mine[i].index+1 {
				return fmt.Errorf("Irecv(source %d, tag %d) got %d bytes, want %d", mine[i].src, mine[i].tag, len(bufs[i]), mine[i].index+1)
			}
			reqs[i] = nil
		}
	default: // AnySource, with the tags of the plan
		for _, m := range mine {
			var got []byte
			st, err := world.Recv(&got, mpi.AnySource, m.tag)
			if err != nil {
				return err
			}
			if err := check(got, st); err != nil {
				return err
			}
		}
	}
	return nil
}
