package mpi

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/internal/ranks"
)

// The engine reuses the structs of blocking receives, eager messages and
// msgpack codecs. These tests mix every way of receiving, on two goroutines
// of the receiving rank at once, and check what a reuse too early would
// break: every message arrives once, in order per source and tag, with its
// contents, and a received slice keeps its contents after later receives.

// recycleValue is the struct tag 2 carries (msgpack).
type recycleValue struct {
	Source, Seq int
	Note        string
}

// recyclePayload is the body of message seq from source on tag 0: its
// size varies (a few rendezvous ones among them), its bytes name it.
func recyclePayload(source, seq int, rng *rand.Rand) []byte {
	n := rng.IntN(100)
	if rng.IntN(50) == 0 {
		n = DefaultEagerLimit + 1000 // beyond the eager limit
	}
	b := make([]byte, 8+n)
	for i := range b {
		b[i] = byte(source*31 + seq*7 + i)
	}
	return b
}

func TestRecycledStructsKeepEveryMessage(t *testing.T) {
	for _, network := range []string{ranks.InMemory, ranks.Unix} {
		t.Run(network, func(t *testing.T) {
			seed := time.Now().UnixNano()
			t.Logf("seed %d", seed)
			const perSender = 1500
			errs := runOver(t, network, 3, func(c *Comm) error {
				if c.Rank() != 0 {
					return recycleSend(c, seed, perSender)
				}
				return recycleReceive(c, seed, perSender)
			})
			for r, err := range errs {
				if err != nil {
					t.Errorf("rank %d (seed %d): %v", r, seed, err)
				}
			}
		})
	}
}

// recycleSend sends perSender messages to rank 0, message i on tag i%3:
// tag 0 a byte slice, tag 1 an int, tag 2 a struct; by Send or Isend.
func recycleSend(c *Comm, seed int64, perSender int) error {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(c.Rank())))
	var reqs []*Request
	for i := range perSender {
		seq := i / 3
		var v any
		switch i % 3 {
		case 0:
			v = recyclePayload(c.Rank(), seq, rng)
		case 1:
			v = c.Rank()*1_000_000 + seq
		case 2:
			v = recycleValue{Source: c.Rank(), Seq: seq, Note: fmt.Sprint("note ", seq)}
		}
		if b, ok := v.([]byte); ok && len(b) > 1<<10 || rng.IntN(3) == 0 {
			// A large message by Isend: a blocking send would wait for
			// a receive that rank 0 may post only after others.
			reqs = append(reqs, c.Isend(v, 0, i%3))
			continue
		}
		if err := c.Send(v, 0, i%3); err != nil {
			return err
		}
	}
	return WaitAll(reqs...)
}

// recycleReceive takes every message, tags 0 and 1 on one goroutine and
// tag 2 on another, each receive made a random way.
func recycleReceive(c *Comm, seed int64, perSender int) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for g, tags := range [][]int{{0, 1}, {2}} {
		wg.Go(func() {
			errs[g] = recycleReceiveTags(c, rand.New(rand.NewPCG(uint64(seed), uint64(10+g))), tags, perSender)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func recycleReceiveTags(c *Comm, rng *rand.Rand, tags []int, perSender int) error {
	// next[source][tag]: the sequence number expected next.
	next := map[[2]int]int{}
	left := map[[2]int]int{}
	for _, source := range []int{1, 2} {
		for _, tag := range tags {
			for i := range perSender {
				if i%3 == tag {
					left[[2]int{source, tag}]++
				}
			}
		}
	}
	type kept struct {
		source, seq int
		b           []byte
	}
	var slices []kept
	for {
		var open [][2]int
		for k, n := range left {
			if n > 0 {
				open = append(open, k)
			}
		}
		if len(open) == 0 {
			break
		}
		key := open[rng.IntN(len(open))]
		source, tag := key[0], key[1]
		if rng.IntN(3) == 0 {
			source = AnySource
		}
		var ptr any
		var b []byte
		var n int
		var v recycleValue
		switch tag {
		case 0:
			ptr = &b
		case 1:
			ptr = &n
		case 2:
			ptr = &v
		}
		var st Status
		var err error
		switch how := rng.IntN(5); how {
		case 0:
			st, err = c.Recv(ptr, source, tag)
		case 1:
			st, err = c.Irecv(ptr, source, tag).Wait()
		case 2:
			req := c.Irecv(ptr, source, tag)
			for {
				var done bool
				if st, done, err = req.Test(); done {
					break
				}
			}
		case 3:
			var probed Status
			if probed, err = c.Probe(source, tag); err == nil {
				st, err = c.Recv(ptr, probed.Source, tag)
				if err == nil && (st.Source != probed.Source || st.Size != probed.Size) {
					return fmt.Errorf("probed %+v, then received %+v", probed, st)
				}
			}
		case 4:
			st, err = c.Sendrecv(nil, 0, 99, ptr, source, tag) // to itself: a send that never waits
			if err == nil {
				var none []byte
				if _, err = c.Recv(&none, 0, 99); err != nil {
					return err
				}
			}
		}
		if err != nil {
			return err
		}
		got := [2]int{st.Source, tag}
		if left[got] == 0 {
			return fmt.Errorf("an extra message from %d on tag %d", st.Source, tag)
		}
		seq := next[got]
		next[got]++
		left[got]--
		switch tag {
		case 0:
			if len(b) < 8 || b[0] != byte(st.Source*31+seq*7) {
				return fmt.Errorf("tag 0 from %d: message %d expected, got %d bytes starting %v", st.Source, seq, len(b), b[:min(len(b), 4)])
			}
			slices = append(slices, kept{st.Source, seq, b})
		case 1:
			if n != st.Source*1_000_000+seq {
				return fmt.Errorf("tag 1 from %d: message %d expected, got %d", st.Source, seq, n)
			}
		case 2:
			want := recycleValue{Source: st.Source, Seq: seq, Note: fmt.Sprint("note ", seq)}
			if v != want {
				return fmt.Errorf("tag 2 from %d: %+v expected, got %+v", st.Source, want, v)
			}
		}
	}
	// Every slice received still holds its own message.
	for _, k := range slices {
		want := make([]byte, len(k.b))
		for i := range want {
			want[i] = byte(k.source*31 + k.seq*7 + i)
		}
		if !bytes.Equal(k.b, want) {
			return fmt.Errorf("the slice of message %d from %d changed after it was received", k.seq, k.source)
		}
	}
	return nil
}
