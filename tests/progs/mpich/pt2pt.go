package main

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

func init() {
	register("sendrecv1", 2, sendrecv1)
	register("sendself", 1, sendself)
	register("isendself", 1, isendself)
	register("anyall", 2, anyall)
	register("probe-unexp", 2, probeUnexp)
	register("rqstatus", 1, rqstatus)
	register("eagerdt", 2, eagerdt)
	register("sendflood", 2, sendflood)
	register("many-isend", 1, manyIsend)
	register("sendall", 1, sendall)
	register("recv-any", 2, recvAny)
	register("huge-anysrc", 2, hugeAnysrc)
	register("waitany-null", 1, waitanyNull)
	register("pingping", 2, pingping)
}

// payloads are the values sendrecv1, sendself and pingping send: Go's
// counterpart of MPICH's datatype pools (DTP), from empty to 1 MiB, raw
// numeric slices and msgpack-encoded values.
func payloads(seed int) []any {
	ints := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(seed*7 + i)
		}
		return s
	}
	floats := make([]float64, 100_000)
	for i := range floats {
		floats[i] = float64(seed) + float64(i)/4
	}
	return []any{
		[]int32{}, ints(1), ints(17), ints(16 << 10), ints(256 << 10),
		floats, bytes.Repeat([]byte{byte(seed), 2, 3}, 333),
		fmt.Sprintf("string %d", seed), map[string]int{"a": seed, "b": 2},
		struct{ X, Y float64 }{float64(seed), 2.5}, uint64(1)<<63 + uint64(seed),
	}
}

// recvLike receives into a fresh value of want's type and compares.
func recvLike(c *mpi.Comm, want any, source, tag int) (mpi.Status, error) {
	ptr := reflect.New(reflect.TypeOf(want))
	st, err := c.Recv(ptr.Interface(), source, tag)
	if err != nil {
		return st, err
	}
	return st, sameValue(want, ptr.Elem().Interface())
}

func sameValue(want, got any) error {
	if equal, known := equalNumbers(want, got); known {
		if !equal {
			return fmt.Errorf("got %s, want %s", short(got), short(want))
		}
		return nil
	}
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	if wv.Kind() == reflect.Slice && wv.Len() == 0 && gv.Len() == 0 {
		return nil
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("got %s, want %s", short(got), short(want))
	}
	return nil
}

// equalNumbers compares slices of the element types the cases send most
// as reflect.DeepEqual does, without its reflection per element (with
// DeepEqual, comparing pingping's 128 Ki []int64 messages took a tenth of
// the CPU time of a job of every case); known is false for other types.
func equalNumbers(want, got any) (equal, known bool) {
	switch w := want.(type) {
	case []byte:
		return sliceEqual(w, got), true
	case []int32:
		return sliceEqual(w, got), true
	case []int64:
		return sliceEqual(w, got), true
	case []int:
		return sliceEqual(w, got), true
	case []float64:
		return sliceEqual(w, got), true
	}
	return false, false
}

// sliceEqual: got is a []T with want's elements (nil and empty alike).
func sliceEqual[T comparable](want []T, got any) bool {
	g, ok := got.([]T)
	return ok && slices.Equal(want, g)
}

func short(v any) string {
	s := fmt.Sprintf("%T %v", v, v)
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

// sendrecv1 ports pt2pt/sendrecv1.c: rank 0 sends each value to the last
// rank of each communicator, which checks it.
func sendrecv1(world *mpi.Comm) error {
	comms, err := intracomms(world, 2)
	if err != nil {
		return err
	}
	for _, nc := range comms {
		c := nc.c
		src, dst := 0, c.Size()-1
		for i, v := range payloads(c.Size()) {
			switch c.Rank() {
			case src:
				if err := c.Send(v, dst, 0); err != nil {
					return fmt.Errorf("%s: Send of %T: %w", nc.name, v, err)
				}
			case dst:
				if _, err := recvLike(c, v, src, 0); err != nil {
					return fmt.Errorf("%s: value %d (%T): %w", nc.name, i, v, err)
				}
			}
		}
	}
	return nil
}

// sendself ports pt2pt/sendself.c: a receive from oneself posted first,
// then Send (and Ssend; gorun has no Rsend) to oneself, and the status.
func sendself(world *mpi.Comm) error {
	me := world.Rank()
	for _, v := range payloads(me) {
		for _, ssend := range []bool{false, true} {
			ptr := reflect.New(reflect.TypeOf(v))
			req := world.Irecv(ptr.Interface(), me, 0)
			var err error
			if ssend {
				err = world.Ssend(v, me, 0)
			} else {
				err = world.Send(v, me, 0)
			}
			if err != nil {
				return fmt.Errorf("send of %T to self (ssend %v): %w", v, ssend, err)
			}
			st, err := req.Wait()
			if err != nil {
				return err
			}
			if st.Source != me || st.Tag != 0 {
				return fmt.Errorf("status %+v, want source %d tag 0", st, me)
			}
			if err := sameValue(v, ptr.Elem().Interface()); err != nil {
				return fmt.Errorf("%T to self: %w", v, err)
			}
		}
	}
	return nil
}

// isendself ports pt2pt/isendself.c: an empty Isend to oneself received
// with AnySource and AnyTag, twice.
func isendself(world *mpi.Comm) error {
	me := world.Rank()
	for i := 0; i < 2; i++ {
		req := world.Isend([]int32{}, me, 0)
		var b []int32
		st, err := world.Recv(&b, mpi.AnySource, mpi.AnyTag)
		if err != nil {
			return err
		}
		if st.Source != me || st.Tag != 0 || st.Size != 0 || len(b) != 0 {
			return fmt.Errorf("%d: status %+v, %d elements; want source %d, tag 0, empty", i, st, len(b), me)
		}
		if _, err := req.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// anyall ports pt2pt/anyall.c: the worker posts 30 receives with AnySource
// and AnyTag before the master sends 30 messages of decreasing length;
// by the order rule receive i gets message i.
func anyall(world *mpi.Comm) error {
	const max = 30
	switch world.Rank() {
	case 0:
		if err := world.Barrier(); err != nil {
			return err
		}
		for i := 0; i < max; i++ {
			buf := make([]int32, max-i)
			for j := range buf {
				buf[j] = int32(i*max + j)
			}
			if err := world.Send(buf, 1, 3); err != nil {
				return err
			}
		}
	case 1:
		bufs := make([][]int32, max)
		reqs := make([]*mpi.Request, max)
		for i := range reqs {
			reqs[i] = world.Irecv(&bufs[i], mpi.AnySource, mpi.AnyTag)
		}
		if err := world.Barrier(); err != nil {
			return err
		}
		for range reqs {
			idx, st, err := mpi.WaitAny(reqs...)
			if err != nil {
				return err
			}
			reqs[idx] = nil
			if len(bufs[idx]) != max-idx || st.Size != 4*(max-idx) {
				return fmt.Errorf("receive %d got %d elements (status %+v), want %d", idx, len(bufs[idx]), st, max-idx)
			}
			for j, v := range bufs[idx] {
				if v != int32(idx*max+j) {
					return fmt.Errorf("message %d [%d] is %d, should be %d", idx, j, v, idx*max+j)
				}
			}
		}
	default:
		return world.Barrier()
	}
	return nil
}

// probeUnexp ports pt2pt/probe_unexp.c: each worker asks rank 0 for a
// message and probes (AnySource, AnyTag) for it before it can have come,
// for sizes 1 B to 1 MiB (MPICH goes to 4 MiB), five of each size; every
// other one by polling Iprobe instead of Probe.
func probeUnexp(world *mpi.Comm) error {
	const maxLg, perSize = 20, 5
	buf := make([]byte, 1<<maxLg)
	for lg := 0; lg <= maxLg; lg++ {
		size := 1 << lg
		for k := 0; k < perSize; k++ {
			tag := lg*perSize + k
			if world.Rank() == 0 {
				for p := 1; p < world.Size(); p++ {
					var none []byte
					st, err := world.Recv(&none, mpi.AnySource, tag)
					if err != nil {
						return err
					}
					if st.Tag != tag {
						return fmt.Errorf("sync message has tag %d, want %d", st.Tag, tag)
					}
					if err := world.Send(buf[:size], st.Source, st.Tag); err != nil {
						return err
					}
				}
				continue
			}
			if err := world.Send([]byte{}, 0, tag); err != nil {
				return err
			}
			var st mpi.Status
			var err error
			if k%2 == 0 {
				st, err = world.Probe(mpi.AnySource, mpi.AnyTag)
			} else {
				// The port adds Iprobe, which must find the message by
				// itself in the end (MPI's progress rule).
				for found := false; !found && err == nil; {
					st, found, err = world.Iprobe(mpi.AnySource, mpi.AnyTag)
					if !found {
						runtime.Gosched()
					}
				}
			}
			if err != nil {
				return err
			}
			if st.Source != 0 || st.Tag != tag || st.Size != size {
				return fmt.Errorf("probe (or iprobe): %+v, want source 0, tag %d, size %d", st, tag, size)
			}
			var got []byte
			st, err = world.Recv(&got, 0, tag)
			if err != nil {
				return err
			}
			if st.Source != 0 || st.Tag != tag || st.Size != size || len(got) != size {
				return fmt.Errorf("recv: %+v (%d bytes), want source 0, tag %d, size %d", st, len(got), tag, size)
			}
		}
	}
	return nil
}

// rqstatusLate starts the message of rqstatus's one known failure.
const rqstatusLate = "receive not yet complete"

// rqstatus ports pt2pt/rqstatus.c (MPI_Request_get_status is Test here):
// after an Ssend has returned, the receiver's Test must find its Irecv
// complete, with the status Wait then returns too; a nil request is
// complete.
func rqstatus(world *mpi.Comm) error {
	if st, done, err := (*mpi.Request)(nil).Test(); !done || err != nil {
		return fmt.Errorf("test of a nil request: %+v %v %v, want complete", st, done, err)
	}
	src, dst := 0, world.Size()-1
	var req *mpi.Request
	var buf []int32
	if world.Rank() == dst {
		req = world.Irecv(&buf, src, 10)
	}
	if world.Rank() == src {
		if err := world.Ssend([]int32{int32(world.Size()), 3}, dst, 10); err != nil {
			return err
		}
	}
	if err := world.Barrier(); err != nil {
		return err
	}
	if world.Rank() != dst {
		return nil
	}
	st, done, err := req.Test()
	if err != nil {
		return err
	}
	if !done {
		// Say how late the receive completes: MPI only promises that a
		// Test eventually succeeds; MPICH's test expects it at once.
		start := time.Now()
		_, err := req.Wait()
		return fmt.Errorf("%s: Test after the Ssend returned and a Barrier: not complete (Wait completed it %v later, %v)",
			rqstatusLate, time.Since(start).Round(time.Microsecond), err)
	}
	if st.Tag != 10 || st.Source != src || st.Size != 8 {
		return fmt.Errorf("test status %+v, want source %d tag 10 size 8", st, src)
	}
	st2, err := req.Wait()
	if err != nil || st2 != st {
		return fmt.Errorf("wait status %+v (%v), want %+v", st2, err, st)
	}
	return check(len(buf) == 2 && buf[0] == int32(world.Size()) && buf[1] == 3, "received %v", buf)
}

// eagerdt ports pt2pt/eagerdt.c: 30 Isends of 300 ints with no receive
// posted (the receiver sleeps), so messages queue up; then received by tag.
func eagerdt(world *mpi.Comm) error {
	const msgs = 30
	src, dst := 0, world.Size()-1
	if err := world.Barrier(); err != nil {
		return err
	}
	switch world.Rank() {
	case dst:
		time.Sleep(500 * time.Millisecond)
		for i := 0; i < msgs; i++ {
			var b []int32
			if _, err := world.Recv(&b, src, i); err != nil {
				return err
			}
			if len(b) != 300 || b[0] != int32(i) || b[299] != int32(i+299) {
				return fmt.Errorf("message %d: %d ints, starting %v", i, len(b), b[:min(3, len(b))])
			}
		}
	case src:
		reqs := make([]*mpi.Request, msgs)
		for i := range reqs {
			b := make([]int32, 300)
			for j := range b {
				b[j] = int32(i + j)
			}
			reqs[i] = world.Isend(b, dst, i)
		}
		return mpi.WaitAll(reqs...)
	}
	return nil
}

// sendflood ports pt2pt/sendflood.c: every worker sends to rank 0 and
// waits for its answer, many times (MPICH: 100000; here 2000); the test
// fails if a message is lost (it hangs).
func sendflood(world *mpi.Comm) error {
	const loops, tag = 2000, 999
	if world.Rank() == 0 {
		for i := 0; i < loops; i++ {
			for j := 1; j < world.Size(); j++ {
				var v []int64
				if _, err := world.Recv(&v, j, tag); err != nil {
					return err
				}
				if len(v) != 3 || v[0] != int64(i) || v[1] != int64(j) {
					return fmt.Errorf("loop %d from %d: %v", i, j, v)
				}
			}
			for j := 1; j < world.Size(); j++ {
				if err := world.Send([]int64{int64(i), int64(j), 0}, j, tag); err != nil {
					return err
				}
			}
		}
		return nil
	}
	me := int64(world.Rank())
	for i := 0; i < loops; i++ {
		if err := world.Send([]int64{int64(i), me, 0}, 0, tag); err != nil {
			return err
		}
		var v []int64
		if _, err := world.Recv(&v, 0, tag); err != nil {
			return err
		}
		if len(v) != 3 || v[0] != int64(i) || v[1] != me {
			return fmt.Errorf("loop %d: %v", i, v)
		}
	}
	return nil
}

// manyIsend ports pt2pt/many_isend.c: every rank Isends 4 KiB to every rank
// (itself included), then receives as many with AnySource and AnyTag.
func manyIsend(world *mpi.Comm) error {
	n := world.Size()
	for x := 0; x < 5; x++ {
		if err := world.Barrier(); err != nil {
			return err
		}
		reqs := make([]*mpi.Request, n)
		for i := range reqs {
			reqs[i] = world.Isend(bytes.Repeat([]byte{byte(world.Rank())}, 4096), i, 0)
		}
		seen := map[int]bool{}
		for i := 0; i < n; i++ {
			var b []byte
			st, err := world.Recv(&b, mpi.AnySource, mpi.AnyTag)
			if err != nil {
				return err
			}
			if len(b) != 4096 || b[0] != byte(st.Source) || seen[st.Source] {
				return fmt.Errorf("iteration %d: %d bytes from %d (seen before: %v)", x, len(b), st.Source, seen[st.Source])
			}
			seen[st.Source] = true
		}
		if err := mpi.WaitAll(reqs...); err != nil {
			return err
		}
	}
	return world.Barrier()
}

// sendall ports pt2pt/sendall.c: each rank posts a receive (AnyTag) from
// every other, then sends to every other, sizes 1 to 16 Ki ints, 10 runs.
func sendall(world *mpi.Comm) error {
	me, n := world.Rank(), world.Size()
	for size := 1; size <= 16<<10; size *= 2 {
		for run := 0; run < 10; run++ {
			if err := world.Barrier(); err != nil {
				return err
			}
			bufs := make([][]int32, n)
			reqs := make([]*mpi.Request, n)
			for i := 0; i < n; i++ {
				if i != me {
					reqs[i] = world.Irecv(&bufs[i], i, mpi.AnyTag)
				}
			}
			mine := make([]int32, size)
			for i := range mine {
				mine[i] = int32(me*size + i)
			}
			for i := 0; i < n; i++ {
				if i != me {
					if err := world.Send(mine, i, 0); err != nil {
						return err
					}
				}
			}
			for i := 0; i < n; i++ {
				if i == me {
					continue
				}
				if _, err := reqs[i].Wait(); err != nil {
					return err
				}
				if len(bufs[i]) != size || bufs[i][size-1] != int32(i*size+size-1) {
					return fmt.Errorf("size %d from %d: %d ints", size, i, len(bufs[i]))
				}
			}
		}
	}
	return nil
}

// recvAny ports pt2pt/recv_any.c: rank 0 receives with AnySource from rank
// 1, by Recv and by Irecv+Wait (its TEST_NB variant), checking source and
// content.
func recvAny(world *mpi.Comm) error {
	const iters = 10
	for _, nb := range []bool{false, true} {
		for x := 0; x < iters; x++ {
			switch world.Rank() {
			case 0:
				var b []byte
				var st mpi.Status
				var err error
				if nb {
					st, err = world.Irecv(&b, mpi.AnySource, x).Wait()
				} else {
					st, err = world.Recv(&b, mpi.AnySource, x)
				}
				if err != nil {
					return err
				}
				if st.Source != 1 || !bytes.Equal(b, []byte{1, 2, 3, 4}) {
					return fmt.Errorf("iteration %d (nonblocking %v): source %d, %v", x, nb, st.Source, b)
				}
			case 1:
				if err := world.Send([]byte{1, 2, 3, 4}, 0, x); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// hugeAnysrc ports pt2pt/huge_anysrc.c: many outstanding large transfers
// into AnySource receives (MPICH: 32 of 10 MiB; here 8 of 4 MiB). The port
// also checks each block's content: by the order rule, receive i gets
// block i.
func hugeAnysrc(world *mpi.Comm) error {
	const tries, block = 8, 4 << 20
	dst := world.Size() - 1
	switch world.Rank() {
	case 0:
		reqs := make([]*mpi.Request, tries)
		for i := range reqs {
			reqs[i] = world.Isend(bytes.Repeat([]byte{byte(i + 1)}, block), dst, 0)
		}
		return mpi.WaitAll(reqs...)
	case dst:
		bufs := make([][]byte, tries)
		reqs := make([]*mpi.Request, tries)
		for i := range reqs {
			reqs[i] = world.Irecv(&bufs[i], mpi.AnySource, 0)
		}
		if err := mpi.WaitAll(reqs...); err != nil {
			return err
		}
		for i, b := range bufs {
			if len(b) != block || b[0] != byte(i+1) || b[block-1] != byte(i+1) {
				return fmt.Errorf("receive %d got %d bytes of block %d: order broken", i, len(b), int(b[0])-1)
			}
		}
	}
	return nil
}

// waitanyNull ports pt2pt/waitany-null.c: WaitAny of only nil requests
// returns at once with index -1 (MPI_UNDEFINED) and no error; WaitAll of
// nil requests succeeds.
func waitanyNull(world *mpi.Comm) error {
	reqs := make([]*mpi.Request, 10)
	idx, _, err := mpi.WaitAny(reqs...)
	if idx != -1 || err != nil {
		return fmt.Errorf("WaitAny of nil requests: %d %v", idx, err)
	}
	if idx, _, err := mpi.WaitAny(); idx != -1 || err != nil {
		return fmt.Errorf("WaitAny of no requests: %d %v", idx, err)
	}
	if err := mpi.WaitAll(reqs...); err != nil {
		return fmt.Errorf("WaitAll of nil requests: %v", err)
	}
	_, err = mpi.Allreduce(world, 0, mpi.Sum[int])
	return err
}

// pingping ports pt2pt/pingping.c: rank 0 floods the last rank of each
// communicator with Sends of one value, as many as fit in 32 MiB (at most
// 1024; MPICH: 4096), and the receiver checks each.
func pingping(world *mpi.Comm) error {
	comms, err := intracomms(world, 2)
	if err != nil {
		return err
	}
	for _, nc := range comms {
		c := nc.c
		src, dst := 0, c.Size()-1
		for _, v := range []any{[]int32{7}, make([]float64, 1000), bytes.Repeat([]byte{9}, 70_000), make([]int64, 128<<10)} {
			size := reflect.ValueOf(v).Len() * int(reflect.TypeOf(v).Elem().Size())
			count := min(1024, (32<<20)/size)
			for i := 1; i < count; i++ {
				switch c.Rank() {
				case src:
					if err := c.Send(v, dst, 0); err != nil {
						return err
					}
				case dst:
					if _, err := recvLike(c, v, src, 0); err != nil {
						return fmt.Errorf("%s: message %d of %d (%T): %w", nc.name, i, count, v, err)
					}
				}
			}
		}
		if err := c.Barrier(); err != nil {
			return err
		}
	}
	return nil
}
