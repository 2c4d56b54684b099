// Command p2p exercises every point-to-point call of the mpi package across
// real processes and checks each result; it prints "rank R ok CHECK" per
// passed check and exits 1 at the first wrong answer.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gorun-mpi/gorun/mpi"
)

type point struct {
	X, Y float64
	Name string
}

func main() {
	world, err := mpi.Init()
	if err != nil {
		fail("Init", err)
	}
	defer mpi.Finalize()
	me, n := world.Rank(), world.Size()
	checks := []struct {
		name string
		min  int // smallest world size the check needs
		run  func(*mpi.Comm) error
	}{
		{"self", 1, selfSend},
		{"errors", 1, badArguments},
		{"sendrecv-ring", 1, ring},
		{"send-recv-types", 2, sendRecvTypes},
		{"order", 2, order},
		{"ssend", 2, ssend},
		{"large", 2, large},
		{"nonblocking", 2, nonblocking},
		{"probe", 2, probe},
		{"type-mismatch", 2, typeMismatch},
		{"any-source", 2, anySource},
	}
	for _, c := range checks {
		if n < c.min {
			continue
		}
		if err := c.run(world); err != nil {
			fail(c.name, err)
		}
		if err := world.Barrier(); err != nil {
			fail(c.name+" barrier", err)
		}
		fmt.Printf("rank %d ok %s\n", me, c.name)
	}
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", what, err)
	os.Exit(1)
}

func expect(cond bool, format string, args ...any) error {
	if cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}

func selfSend(c *mpi.Comm) error {
	if err := c.Send("to myself", c.Rank(), 9); err != nil {
		return err
	}
	var s string
	st, err := c.Recv(&s, c.Rank(), 9)
	return expect(err == nil && s == "to myself" && st.Source == c.Rank() && st.Tag == 9, "got %q %+v %v", s, st, err)
}

func badArguments(c *mpi.Comm) error {
	if err := c.Send(1, c.Size(), 0); !errors.Is(err, mpi.ErrRank) {
		return fmt.Errorf("send to rank %d of %d: %v", c.Size(), c.Size(), err)
	}
	if err := c.Send(1, 0, -4); !errors.Is(err, mpi.ErrTag) {
		return fmt.Errorf("negative tag: %v", err)
	}
	var x int
	if _, err := c.Recv(x, 0, 0); !errors.Is(err, mpi.ErrNotPointer) {
		return fmt.Errorf("recv into a non-pointer: %v", err)
	}
	return nil
}

func ring(c *mpi.Comm) error {
	me, n := c.Rank(), c.Size()
	var got int
	st, err := c.Sendrecv(me*100, (me+1)%n, 1, &got, (me-1+n)%n, 1)
	left := (me - 1 + n) % n
	return expect(err == nil && got == left*100 && st.Source == left, "got %d from %d: %v", got, st.Source, err)
}

func sendRecvTypes(c *mpi.Comm) error {
	switch c.Rank() {
	case 0:
		for _, v := range []any{42, "hello", point{1.5, -2, "p"}, []float64{1, 2.5, 3}, map[string]int{"a": 1}} {
			if err := c.Send(v, 1, 2); err != nil {
				return err
			}
		}
	case 1:
		var i int
		var s string
		var p point
		var f []float64
		var m map[string]int
		for _, ptr := range []any{&i, &s, &p, &f, &m} {
			if _, err := c.Recv(ptr, 0, 2); err != nil {
				return err
			}
		}
		if i != 42 || s != "hello" || p != (point{1.5, -2, "p"}) || len(f) != 3 || f[1] != 2.5 || m["a"] != 1 {
			return fmt.Errorf("received %v %q %v %v %v", i, s, p, f, m)
		}
	}
	return nil
}

func order(c *mpi.Comm) error {
	const count = 500
	switch c.Rank() {
	case 0:
		for i := 0; i < count; i++ {
			if err := c.Send(i, 1, 3); err != nil {
				return err
			}
		}
	case 1:
		for i := 0; i < count; i++ {
			var got int
			if _, err := c.Recv(&got, 0, 3); err != nil || got != i {
				return fmt.Errorf("message %d arrived as %d (%v)", i, got, err)
			}
		}
	}
	return nil
}

func ssend(c *mpi.Comm) error {
	switch c.Rank() {
	case 0:
		return c.Ssend("synchronous", 1, 4)
	case 1:
		var s string
		_, err := c.Recv(&s, 0, 4)
		return expect(err == nil && s == "synchronous", "got %q %v", s, err)
	}
	return nil
}

func large(c *mpi.Comm) error {
	for _, size := range []int{1 << 20, 16 << 20} {
		switch c.Rank() {
		case 0:
			b := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, size/7+1)[:size]
			if err := c.Send(b, 1, 5); err != nil {
				return err
			}
			f := make([]float64, size/8)
			for i := range f {
				f[i] = float64(i) * 0.5
			}
			if err := c.Send(f, 1, 5); err != nil {
				return err
			}
		case 1:
			var b []byte
			st, err := c.Recv(&b, 0, 5)
			if err != nil || len(b) != size || b[size-1] != byte((size-1)%7+1) || st.Size < size {
				return fmt.Errorf("%d bytes arrived as %d (%v)", size, len(b), err)
			}
			f := make([]float64, 0, size/8)
			if _, err := c.Recv(&f, 0, 5); err != nil || len(f) != size/8 || f[len(f)-1] != float64(len(f)-1)*0.5 {
				return fmt.Errorf("%d float64 arrived as %d (%v)", size/8, len(f), err)
			}
		}
	}
	return nil
}

func nonblocking(c *mpi.Comm) error {
	switch c.Rank() {
	case 0:
		reqs := []*mpi.Request{c.Isend("a", 1, 10), c.Isend("b", 1, 11), c.Isend(make([]byte, 300<<10), 1, 12)}
		return mpi.WaitAll(reqs...)
	case 1:
		var a, b string
		var big []byte
		rb := c.Irecv(&b, 0, 11)
		ra := c.Irecv(&a, 0, 10)
		for {
			st, done, err := ra.Test()
			if err != nil {
				return err
			}
			if done {
				if a != "a" || st.Tag != 10 {
					return fmt.Errorf("Request.Test: %q %+v", a, st)
				}
				break
			}
		}
		rbig := c.Irecv(&big, 0, 12)
		i, st, err := mpi.WaitAny(rbig, rb)
		if err != nil || (i == 1 && (b != "b" || st.Tag != 11)) || (i == 0 && len(big) != 300<<10) {
			return fmt.Errorf("WaitAny: %d %+v %v", i, st, err)
		}
		if err := mpi.WaitAll(rbig, rb); err != nil || b != "b" || len(big) != 300<<10 {
			return fmt.Errorf("WaitAll: %q %d %v", b, len(big), err)
		}
	}
	return nil
}

func probe(c *mpi.Comm) error {
	switch c.Rank() {
	case 0:
		if err := c.Send("probed", 1, 20); err != nil {
			return err
		}
		return c.Send([]int32{1, 2, 3}, 1, 21)
	case 1:
		if _, found, err := c.Iprobe(0, 99); err != nil || found {
			return fmt.Errorf("Comm.Iprobe of a tag never sent: %v %v", found, err)
		}
		st, err := c.Probe(0, mpi.AnyTag)
		if err != nil || st.Tag != 20 || st.Source != 0 {
			return fmt.Errorf("Comm.Probe: %+v %v", st, err)
		}
		var s string
		if _, err := c.Recv(&s, st.Source, st.Tag); err != nil || s != "probed" {
			return fmt.Errorf("Comm.Recv after Probe: %q %v", s, err)
		}
		for {
			st, found, err := c.Iprobe(0, 21)
			if err != nil {
				return err
			}
			if found {
				var v []int32
				if _, err := c.Recv(&v, 0, st.Tag); err != nil || len(v) != 3 {
					return fmt.Errorf("Comm.Recv after Iprobe: %v %v", v, err)
				}
				break
			}
		}
	}
	return nil
}

func typeMismatch(c *mpi.Comm) error {
	switch c.Rank() {
	case 0:
		if err := c.Send("not a number", 1, 30); err != nil {
			return err
		}
		return c.Send(7, 1, 30)
	case 1:
		var x int
		_, err := c.Recv(&x, 0, 30)
		if !errors.Is(err, mpi.ErrTypeMismatch) || !strings.Contains(err.Error(), "string") || !strings.Contains(err.Error(), "*int") {
			return fmt.Errorf("string into *int: %v", err)
		}
		fmt.Printf("rank 1 mismatch: %v\n", err)
		if _, err := c.Recv(&x, 0, 30); err != nil || x != 7 {
			return fmt.Errorf("the message after a mismatch: %d %v", x, err)
		}
	}
	return nil
}

func anySource(c *mpi.Comm) error {
	if c.Rank() != 0 {
		return c.Send(c.Rank(), 0, 40+c.Rank())
	}
	seen := map[int]bool{}
	for i := 1; i < c.Size(); i++ {
		var v int
		st, err := c.Recv(&v, mpi.AnySource, mpi.AnyTag)
		if err != nil || v != st.Source || st.Tag != 40+st.Source || seen[v] {
			return fmt.Errorf("AnySource: %d %+v %v", v, st, err)
		}
		seen[v] = true
	}
	return nil
}
