package mpi

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/gorun-mpi/gorun/internal/control"
	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/trace"
)

func newTestTracer(t testing.TB, limit int) *tracer {
	tr, err := newTracer(limit, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// mergeRecorded checks that each rank's tracer recorded the calls want
// names for it, in order, and merges their records as gorun does.
func mergeRecorded(t *testing.T, tracers []*tracer, want [][]string) *trace.Timeline {
	t.Helper()
	ranks := make([]trace.Rank, len(tracers))
	for r, tr := range tracers {
		recs, _ := tr.recorded(t)
		if got := ops(recs); !slices.Equal(got, want[r]) {
			t.Errorf("rank %d recorded %v, want %v", r, got, want[r])
		}
		ranks[r] = trace.Rank{Records: recs}
	}
	return trace.Merge(ranks)
}

// recorded returns the calls tr recorded that ended, in the order they
// began, and the number of calls it did not record.
func (tr *tracer) recorded(t testing.TB) ([]trace.Record, uint64) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	recs, dropped, err := trace.ReadBuffer(nil, tr.mem, tr.now())
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(recs, func(r trace.Record) bool { return r.Flags.Has(trace.Unfinished) }), dropped
}

func ops(recs []trace.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Op)
	}
	return out
}

// TestTraceHooksRecordEveryCallAndJoinEveryMessage runs two ranks through
// the point-to-point calls, with messages of distinct sizes, and checks
// what each recorded and that merging joins each send to its receive.
func TestTraceHooksRecordEveryCallAndJoinEveryMessage(t *testing.T) {
	tracers := []*tracer{newTestTracer(t, 100), newTestTracer(t, 100)}
	runRanks(t, 2, func(c *Comm) error {
		c.shared.world.trace = tracers[c.Rank()]
		if c.Rank() == 0 {
			if err := c.Send([]byte("a"), 1, 1); err != nil {
				return err
			}
			req := c.Isend([]byte("ccc"), 1, 2)
			if err := c.Ssend([]byte("bb"), 1, 1); err != nil {
				return err
			}
			if _, err := req.Wait(); err != nil {
				return err
			}
			var got []byte
			_, err := c.Sendrecv([]byte("dddd"), 1, 3, &got, 1, 3)
			if err == nil {
				err = c.Barrier()
			}
			return err
		}
		var a, b, cc, got []byte
		first := c.Irecv(&a, 0, 1)
		if _, err := c.Recv(&cc, AnySource, 2); err != nil {
			return err
		}
		if _, err := mpi_WaitAll(first, c.Irecv(&b, 0, 1)); err != nil {
			return err
		}
		if string(a) != "a" || string(b) != "bb" {
			t.Errorf("rank 1 got %q then %q", a, b)
		}
		if _, err := c.Probe(0, 3); err != nil {
			return err
		}
		if _, err := c.Sendrecv([]byte("eeeee"), 0, 3, &got, 0, 3); err != nil {
			return err
		}
		return c.Barrier()
	})
	want := [][]string{
		{"Send", "Isend", "Ssend", "Sendrecv", "Barrier"},                                     // the eager Isend was done: its Wait waited for nothing,
		{"Irecv", "Recv", "Irecv", "WaitAll", "Wait", "Wait", "Probe", "Sendrecv", "Barrier"}, // in the order they began
	}
	tl := mergeRecorded(t, tracers, want)
	if len(tl.Flows) != 5 {
		t.Fatalf("%d messages joined, want 5", len(tl.Flows))
	}
	for _, f := range tl.Flows {
		from, to := tl.Lanes[f.From.Rank].Calls[f.From.Call], tl.Lanes[f.To.Rank].Calls[f.To.Call]
		if from.SendSize != to.RecvSize || from.SendTag != to.RecvTag {
			t.Errorf("%s joined to %s", trace.Label(from), trace.Label(to))
		}
	}
}

// TestTraceRecordsWhatRecycledMessagesSaid: with tracing on, the structs
// of messages and receives are reused as soon as a receive is over, so the
// records must say what each message was when it was taken, not what its
// struct holds later. Two ranks send a third, seeded, messages of random
// sizes (some past the eager limit) and tags; it takes them from any
// source with any tag by Recv and Irecv+Wait in turn, and every receive it
// recorded must say the source, tag and size its Status said, in order,
// and be joined to its send.
func TestTraceRecordsWhatRecycledMessagesSaid(t *testing.T) {
	for _, run := range []struct {
		name  string
		ranks func(*testing.T, int, func(*Comm) error, ...Option)
	}{{"memory", runRanks}, {"unix", runRanksUnix}} {
		t.Run(run.name, func(t *testing.T) {
			const perSender = 150
			seed := rand.Uint64()
			t.Logf("seed %d", seed)
			tracers := []*tracer{newTestTracer(t, 1000), newTestTracer(t, 1000), newTestTracer(t, 1000)}
			var statuses []Status
			run.ranks(t, 3, func(c *Comm) error {
				c.shared.world.trace = tracers[c.Rank()]
				if c.Rank() != 0 {
					rng := rand.New(rand.NewPCG(seed, uint64(c.Rank())))
					for range perSender {
						size := rng.IntN(200)
						if rng.IntN(10) == 0 {
							size = DefaultEagerLimit + 1 + rng.IntN(70_000) // rendezvous
						}
						if err := c.Send(make([]byte, size), 0, 1+rng.IntN(3)); err != nil {
							return err
						}
					}
					return nil
				}
				for i := range 2 * perSender {
					var got []byte
					var st Status
					var err error
					if i%2 == 0 {
						st, err = c.Recv(&got, AnySource, AnyTag)
					} else {
						st, err = c.Irecv(&got, AnySource, AnyTag).Wait()
					}
					if err != nil {
						return err
					}
					statuses = append(statuses, st)
				}
				return nil
			})
			ranks := make([]trace.Rank, 3)
			for r, tr := range tracers {
				ranks[r].Records, _ = tr.recorded(t)
			}
			var took []trace.Record
			for _, rec := range ranks[0].Records {
				if rec.Flags.Has(trace.HasRecv) {
					took = append(took, rec)
				}
			}
			if len(took) != len(statuses) {
				t.Fatalf("rank 0 recorded %d receives that took a message, want %d", len(took), len(statuses))
			}
			for i, st := range statuses {
				if rec := took[i]; rec.Source != st.Source || rec.SourceLocal != st.Source || rec.RecvTag != st.Tag || rec.RecvSize != st.Size {
					t.Fatalf("receive %d recorded as %s, its Status said source %d, tag %d, %d B", i, trace.Label(rec), st.Source, st.Tag, st.Size)
				}
			}
			tl := trace.Merge(ranks)
			if len(tl.Flows) != len(statuses) {
				t.Fatalf("%d messages joined, want %d", len(tl.Flows), len(statuses))
			}
			for _, f := range tl.Flows {
				from, to := tl.Lanes[f.From.Rank].Calls[f.From.Call], tl.Lanes[f.To.Rank].Calls[f.To.Call]
				if from.SendSize != to.RecvSize || from.SendTag != to.RecvTag || to.Source != f.From.Rank {
					t.Fatalf("%s joined to %s", trace.Label(from), trace.Label(to))
				}
			}
		})
	}
}

// mpi_WaitAll is WaitAll returning a Status-shaped pair, for brevity above.
func mpi_WaitAll(reqs ...*Request) (struct{}, error) { return struct{}{}, WaitAll(reqs...) }

// TestTraceBufferFull: once a rank's limit is reached further calls are
// counted, not recorded, except the completion of a receive whose posting
// was recorded (so the recorded receives are the first ones posted).
func TestTraceBufferFull(t *testing.T) {
	tracers := []*tracer{newTestTracer(t, 100), newTestTracer(t, 2)}
	runRanks(t, 2, func(c *Comm) error {
		c.shared.world.trace = tracers[c.Rank()]
		if c.Rank() == 0 {
			for i := 0; i < 4; i++ {
				if err := c.Send(i, 1, 0); err != nil {
					return err
				}
			}
			return c.Send(9, 1, 1)
		}
		var v, w int
		req := c.Irecv(&v, 0, 1) // recorded: 1 of 2
		for i := 0; i < 4; i++ {
			if _, err := c.Recv(&w, 0, 0); err != nil { // the first is recorded, the others not
				return err
			}
		}
		_, err := req.Wait() // recorded: its Irecv was
		return err
	})
	got, dropped := tracers[1].recorded(t)
	if names := ops(got); !slices.Equal(names, []string{"Irecv", "Recv", "Wait"}) {
		t.Fatalf("recorded %v, want Irecv, Recv, Wait", names)
	}
	if dropped != 3 {
		t.Fatalf("%d calls counted as dropped, want 3", dropped)
	}
	if w := got[2]; !w.Flags.Has(trace.HasRecv) || w.RecvTag != 1 {
		t.Fatalf("the Wait recorded no message of tag 1: %+v", w)
	}
}

// TestTraceHandOver sends the records over a real control connection: the
// calls recorded, then the call in progress as unfinished, then the end
// with the count of dropped calls; nothing is recorded afterwards.
func TestTraceHandOver(t *testing.T) {
	server, client := controlPair(t)
	tr := newTestTracer(t, 1)
	tr.begin("Barrier", 0, false).end(nil)
	tr.begin("Bcast", 0, false).end(nil) // dropped: the limit is 1
	open := tr.beginWaiting("Recv", 0, true, waitSource(1, 5), 0)
	tr.answerLauncher(client, control.Message{Type: control.TypeClockDone}) // or handOver would wait for it
	if err := tr.handOver(client); err != nil {
		t.Fatal(err)
	}
	if sp := tr.begin("Send", 0, false); sp != nil {
		t.Fatal("a call was recorded after the hand-over")
	}
	open.end(nil) // the call returns later: nothing happens
	var recs []trace.Record
	var err error
	for {
		ev := <-server.Events()
		if ev.Msg.Type == control.TypeTrace {
			if recs, err = trace.DecodeRecords(recs, ev.Msg.Trace); err != nil {
				t.Fatal(err)
			}
		}
		if ev.Msg.Type == control.TypeTraceEnd {
			if ev.Msg.Dropped != 1 {
				t.Fatalf("dropped %d, want 1", ev.Msg.Dropped)
			}
			break
		}
	}
	if len(recs) != 2 || recs[0].Op != "Barrier" || recs[1].Op != "Recv" || !recs[1].Flags.Has(trace.Unfinished) ||
		recs[1].Note != "source 1, tag 5" || recs[1].End < recs[1].Start {
		t.Fatalf("handed over %+v", recs)
	}
}

// TestTraceClosedSaysSo: a rank that records into gorun's shared memory
// closes it at the hand-over and says so (TypeTraceClosed), sending no
// records: gorun reads them from the memory, at once.
func TestTraceClosedSaysSo(t *testing.T) {
	server, client := controlPair(t)
	mem := make([]uint64, trace.BufferSize(jobenv.TraceSlots(4))/8+1)
	shared := unsafe.Slice((*byte)(unsafe.Pointer(&mem[0])), len(mem)*8)
	tr, err := newTracer(4, shared)
	if err != nil {
		t.Fatal(err)
	}
	tr.begin("Barrier", 0, false).end(nil)
	tr.answerLauncher(client, control.Message{Type: control.TypeClockDone})
	if err := tr.handOver(client); err != nil {
		t.Fatal(err)
	}
	for ev := range server.Events() {
		if ev.Msg.Type == control.TypeTrace || ev.Msg.Type == control.TypeTraceEnd {
			t.Fatalf("records sent over the control channel (%s) from a shared buffer", ev.Msg.Type)
		}
		if ev.Msg.Type == control.TypeTraceClosed {
			break
		}
	}
	if !trace.BufferClosed(bytes.NewReader(shared)) {
		t.Fatal("the buffer is not closed when the rank says it is")
	}
	if recs, _, err := trace.ReadBuffer(nil, shared, 0); err != nil || len(recs) != 1 || recs[0].Op != "Barrier" {
		t.Fatalf("the buffer holds %+v, %v", recs, err)
	}
}

// BenchmarkTraceCall is what recording one call costs a rank: a begin and
// an end (compare ping-pong's one-way latency).
func BenchmarkTraceCall(b *testing.B) {
	tr := newTestTracer(b, b.N+1)
	for i := 0; i < b.N; i++ {
		tr.begin("Send", 0, false).end(nil)
	}
}

// BenchmarkTraceSend is what tracing adds to a Send: its begin, the
// message it sends, its end (the hooks Comm.send makes).
func BenchmarkTraceSend(b *testing.B) {
	tr := newTestTracer(b, b.N+1)
	c := &Comm{group: []int{0, 1}, local: []int{0, 1}}
	for i := 0; i < b.N; i++ {
		sp := tr.begin("Send", 0, false)
		sp.sends(c, 0, 1, 24)
		sp.end(nil)
	}
}

// BenchmarkTraceRecv is what tracing adds to a Recv from any source: its
// begin, its posting, the message it took and its end (the hooks Comm.Recv
// makes).
func BenchmarkTraceRecv(b *testing.B) {
	tr := newTestTracer(b, b.N+1)
	req := &Request{}
	for i := 0; i < b.N; i++ {
		sp := tr.beginPosting("Recv", 0, waitSource(AnySource, 1))
		req.tracePosted(sp)
		req.traceTook = true
		req.traceMsg = recvPart{source: 1 + i%3, sourceLocal: 1 + i%3, tag: 1, size: 24}
		sp.received(req, nil)
	}
}

// TestTraceSameClockDoesNotWait: a rank gorun started on its own host
// (jobenv.TraceSameClock) hands over at Finalize without waiting for the
// launcher's clock-done; any other rank waits for it (a short job's clock
// is measured before it exits), and no longer.
func TestTraceSameClockDoesNotWait(t *testing.T) {
	for _, same := range []bool{true, false} {
		t.Run(map[bool]string{true: "same", false: "measured"}[same], func(t *testing.T) {
			server, client, tr := tracerAtFinalize(t, same)
			handed := make(chan error, 1)
			go func() { handed <- tr.handOver(client) }()
			if !same {
				// Waiting for clock-done: nothing is handed over meanwhile.
				select {
				case err := <-handed:
					t.Fatalf("handed over (%v) before the launcher's clock-done", err)
				case ev := <-server.Events():
					t.Fatalf("%s sent before the launcher's clock-done", ev.Msg.Type)
				case <-time.After(100 * time.Millisecond):
				}
				tr.answerLauncher(client, control.Message{Type: control.TypeClockDone})
			}
			if recs := handedOver(t, server, handed); len(recs) != 1 || recs[0].Op != "Barrier" {
				t.Fatalf("handed over %+v", recs)
			}
		})
	}
}

// TestTraceClockWaitSaidWhileWaiting: a rank at Finalize whose clock-done
// does not come (lost on the way) tells the launcher it waits, again and
// again, and hands over once clock-done comes.
func TestTraceClockWaitSaidWhileWaiting(t *testing.T) {
	server, client, tr := tracerAtFinalize(t, false)
	handed := make(chan error, 1)
	go func() { handed <- tr.handOverAfter(client, 10*time.Millisecond) }()
	for waits := 0; waits < 2; {
		select {
		case ev := <-server.Events():
			if ev.Msg.Type != control.TypeClockWait {
				t.Fatalf("%s sent before clock-done, want clock-wait", ev.Msg.Type)
			}
			waits++
		case err := <-handed:
			t.Fatalf("handed over (%v) without clock-done", err)
		case <-time.After(30 * time.Second):
			t.Fatal("no clock-wait in 30 s")
		}
	}
	tr.answerLauncher(client, control.Message{Type: control.TypeClockDone})
	if recs := handedOver(t, server, handed); len(recs) != 1 || recs[0].Op != "Barrier" {
		t.Fatalf("handed over %+v", recs)
	}
}

// handedOver waits until the hand-over whose error comes on handed is
// done, and returns the records the rank sent server (clock-waits and
// other messages are passed over).
func handedOver(t *testing.T, server *control.Server, handed <-chan error) []trace.Record {
	t.Helper()
	select {
	case err := <-handed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the hand-over still waits for a clock-done")
	}
	var recs []trace.Record
	for ev := range server.Events() {
		if ev.Msg.Type == control.TypeTrace {
			var err error
			if recs, err = trace.DecodeRecords(recs, ev.Msg.Trace); err != nil {
				t.Fatal(err)
			}
		}
		if ev.Msg.Type == control.TypeTraceEnd {
			break
		}
	}
	return recs
}

// tracerAtFinalize is a rank's tracer, recording into its own memory, that
// has recorded a Barrier, and its control connection to gorun's server
// (the hello read already); sameClock: gorun started it on its own host.
func tracerAtFinalize(t *testing.T, sameClock bool) (*control.Server, *control.Client, *tracer) {
	t.Helper()
	t.Setenv(jobenv.Trace, "4")
	t.Setenv(jobenv.TraceFD, "")
	t.Setenv(jobenv.TraceSameClock, map[bool]string{true: "1", false: ""}[sameClock])
	server, client := controlPair(t)
	if ev := <-server.Events(); ev.Msg.Type != control.TypeHello {
		t.Fatalf("first event %+v, want the hello", ev)
	}
	tr, err := newTracerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	tr.begin("Barrier", 0, false).end(nil)
	return server, client, tr
}

// controlPair is gorun's control server for a job of one rank and that
// rank's connection to it, both closed when the test ends.
func controlPair(t *testing.T) (*control.Server, *control.Client) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.sock")
	server, err := control.Listen(path, "secret", 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	client, err := control.Dial(path, 0, "secret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return server, client
}

// TestSpanIsSmall: a recorded call's span takes 24 bytes at most, a slab
// of them allocated as the calls are made (fresh memory for the rank to
// fault in).
func TestSpanIsSmall(t *testing.T) {
	if size := unsafe.Sizeof(span{}); size > 24 {
		t.Fatalf("a span takes %d bytes, want 24 at most", size)
	}
}
