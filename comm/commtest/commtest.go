// Package commtest is the conformance suite every comm.Transport passes:
// order per source, payloads of every size intact, header fields carried
// unread, concurrent senders, the sentinel errors, clean close and crash
// reports, and every optional ability the transport offers: buffer
// provision (BufferProvider), TrySender, Poller, PartsSender,
// PeerMemoryReader, PeerMemoryWriter (peer_memory_write.go) and EagerLimiter (abilities.go).
//
// A transport's test file runs it with a Factory that builds a job of n
// connected transports of its kind:
//
//	func TestUnixConformance(t *testing.T) {
//		commtest.Run(t, func(t *testing.T, n int) commtest.Job { ... })
//	}
package commtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
)

// Job is n transports of one kind, not yet started, that form one job.
type Job struct {
	// Transports holds one transport per rank, index = rank.
	Transports []comm.Transport
	// Crash, when not nil, makes rank vanish as a killed process would:
	// without a goodbye. Kinds that cannot simulate it leave it nil and
	// the crash subtest is skipped.
	Crash func(rank int)
	// PeerMemory, when not nil, says for which pairs of ranks the
	// transports can read each other's memory (PeerMemoryReader) on a
	// system that allows it (Linux); nil means no pair.
	PeerMemory func(a, b int) bool
	// EagerLimit, when not nil, is the eager limit rank src's transport
	// must report for dest (EagerLimiter; 0: no preference).
	EagerLimit func(src, dest int) int
}

// Factory builds a job of n ranks. It registers whatever cleanup it needs
// with t.Cleanup (the suite closes the transports itself).
type Factory func(t *testing.T, n int) Job

// wait bounds every wait of the suite: generous, for a loaded machine.
const wait = 60 * time.Second

// Run runs the conformance subtests against transports made by f.
func Run(t *testing.T, f Factory) {
	t.Run("OrderPerSource", func(t *testing.T) { testOrder(t, f) })
	t.Run("PayloadSizes", func(t *testing.T) { testPayloadSizes(t, f) })
	t.Run("HeaderFields", func(t *testing.T) { testHeaderFields(t, f) })
	t.Run("ConcurrentSenders", func(t *testing.T) { testConcurrentSenders(t, f) })
	t.Run("BadRank", func(t *testing.T) { testBadRank(t, f) })
	t.Run("CloseAfterLastFrame", func(t *testing.T) { testClose(t, f) })
	t.Run("CloseWithoutTraffic", func(t *testing.T) { testCloseWithoutTraffic(t, f) })
	t.Run("SendAfterClose", func(t *testing.T) { testSendAfterClose(t, f) })
	t.Run("Crash", func(t *testing.T) { testCrash(t, f) })
	t.Run("ReservedKinds", func(t *testing.T) { testReservedKinds(t, f) })
	t.Run("BufferProvider", func(t *testing.T) { testBufferProvider(t, f) })
	t.Run("TrySend", func(t *testing.T) { testTrySend(t, f) })
	t.Run("Poll", func(t *testing.T) { testPoll(t, f) })
	t.Run("SendParts", func(t *testing.T) { testSendParts(t, f) })
	t.Run("PeerMemory", func(t *testing.T) { testPeerMemory(t, f) })
	t.Run("PeerMemoryWrite", func(t *testing.T) { testPeerMemoryWrite(t, f) })
	t.Run("EagerLimit", func(t *testing.T) { testEagerLimit(t, f) })
	t.Run("Spinner", func(t *testing.T) { testSpinner(t, f) })
}

// Recorder is a comm.Handler that records what it is given, for tests.
type Recorder struct {
	mu     sync.Mutex
	cond   *sync.Cond
	frames []comm.Frame
	gone   map[int]error
	dups   []int // ranks reported gone more than once
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	r := &Recorder{gone: map[int]error{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

// Deliver records f.
func (r *Recorder) Deliver(f comm.Frame) {
	r.mu.Lock()
	r.frames = append(r.frames, f)
	r.cond.Broadcast()
	r.mu.Unlock()
}

// PeerGone records that rank is gone.
func (r *Recorder) PeerGone(rank int, err error) {
	r.mu.Lock()
	if _, ok := r.gone[rank]; ok {
		r.dups = append(r.dups, rank)
	}
	r.gone[rank] = err
	r.cond.Broadcast()
	r.mu.Unlock()
}

// WaitFor waits until cond (called with the recorder locked) holds, or
// fails the test after a generous limit.
func (r *Recorder) WaitFor(t testing.TB, what string, cond func(frames []comm.Frame, gone map[int]error) bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	timer := time.AfterFunc(wait, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond(r.frames, r.gone) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: have %d frames, gone %v", wait, what, len(r.frames), r.gone)
		}
		r.cond.Wait()
	}
}

// Duplicates returns the ranks reported gone more than once.
func (r *Recorder) Duplicates() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.dups...)
}

// Frames returns a copy of the frames recorded so far.
func (r *Recorder) Frames() []comm.Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]comm.Frame(nil), r.frames...)
}

// Gone returns the error rank was reported gone with, and whether it was.
func (r *Recorder) Gone(rank int) (error, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err, ok := r.gone[rank]
	return err, ok
}

// started builds a job of n ranks, starts every transport with a fresh
// Recorder, and closes them all when the test ends.
func started(t *testing.T, f Factory, n int) (Job, []*Recorder) {
	t.Helper()
	return startedWith(t, f, n, nil)
}

// startedWith is started with the handler of each rank made by handler
// from its Recorder (nil: the Recorder itself).
func startedWith(t *testing.T, f Factory, n int, handler func(rank int, rec *Recorder) comm.Handler) (Job, []*Recorder) {
	t.Helper()
	job := f(t, n)
	if len(job.Transports) != n {
		t.Fatalf("factory made %d transports, want %d", len(job.Transports), n)
	}
	recs := make([]*Recorder, n)
	for r, tr := range job.Transports {
		if tr.Rank() != r || tr.Size() != n {
			t.Fatalf("transport %d says rank %d of %d", r, tr.Rank(), tr.Size())
		}
		recs[r] = NewRecorder()
		var h comm.Handler = recs[r]
		if handler != nil {
			h = handler(r, recs[r])
		}
		if err := tr.Start(h); err != nil {
			t.Fatalf("rank %d Start: %v", r, err)
		}
	}
	t.Cleanup(func() {
		for _, tr := range job.Transports {
			tr.Close()
		}
		for r, rec := range recs {
			rec.mu.Lock()
			if len(rec.dups) > 0 {
				t.Errorf("rank %d: PeerGone called twice for ranks %v", r, rec.dups)
			}
			rec.mu.Unlock()
		}
	})
	return job, recs
}

func ctxWait(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// kindData is the kind the suite's ordinary frames carry: any kind of the
// layer above would do.
const kindData comm.Kind = 1

func eager(seq int) comm.Header {
	return comm.Header{Kind: kindData, Seq: uint64(seq)}
}

func testOrder(t *testing.T, f Factory) {
	job, recs := started(t, f, 2)
	ctx := ctxWait(t)
	const n = 5000
	for i := 0; i < n; i++ {
		payload := []byte(fmt.Sprint(i))
		if err := job.Transports[0].Send(ctx, 1, eager(i), payload); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	recs[1].WaitFor(t, "every frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= n })
	for i, fr := range recs[1].Frames() {
		if fr.Seq != uint64(i) || string(fr.Payload) != fmt.Sprint(i) || fr.Source != 0 {
			t.Fatalf("frame %d: seq %d payload %q source %d", i, fr.Seq, fr.Payload, fr.Source)
		}
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

func testPayloadSizes(t *testing.T, f Factory) {
	job, recs := started(t, f, 2)
	ctx := ctxWait(t)
	sizes := []int{0, 1, 4 << 10, 1 << 20, 16 << 20}
	for i, size := range sizes {
		if err := job.Transports[1].Send(ctx, 0, eager(i), pattern(size, byte(i))); err != nil {
			t.Fatalf("send %d bytes: %v", size, err)
		}
	}
	recs[0].WaitFor(t, "every size", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= len(sizes) })
	for i, fr := range recs[0].Frames() {
		if !bytes.Equal(fr.Payload, pattern(sizes[i], byte(i))) {
			t.Fatalf("payload of %d bytes arrived with %d bytes, or altered", sizes[i], len(fr.Payload))
		}
	}
}

func testHeaderFields(t *testing.T, f Factory) {
	job, recs := started(t, f, 3)
	ctx := ctxWait(t)
	sent := []comm.Header{
		{Kind: 1, Context: 7, Tag: 42, Seq: 1 << 40},
		{Kind: 2, Context: 1<<32 - 1, Tag: 1<<31 - 1, Seq: 9},
		{Kind: 0, Context: 3, Tag: -1, Seq: 1<<64 - 1},
		{Kind: comm.FirstReservedKind - 1, Context: 3, Tag: 5, Seq: 9},
		{Kind: 5, Context: 0, Tag: -1 << 31, Seq: 0},
	}
	payloads := [][]byte{[]byte("eager"), []byte("descriptor"), nil, pattern(3000, 1), []byte("c")}
	for i, h := range sent {
		h.Source = 99 // a lie the transport must not carry
		if err := job.Transports[2].Send(ctx, 1, h, payloads[i]); err != nil {
			t.Fatalf("send %v: %v", h, err)
		}
	}
	recs[1].WaitFor(t, "every kind", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= len(sent) })
	for i, fr := range recs[1].Frames() {
		want := sent[i]
		want.Source = 2
		if fr.Header != want {
			t.Errorf("frame %d: header %+v, want %+v", i, fr.Header, want)
		}
		if !bytes.Equal(fr.Payload, payloads[i]) {
			t.Errorf("frame %d: payload %q, want %q", i, fr.Payload, payloads[i])
		}
	}
}

func testConcurrentSenders(t *testing.T, f Factory) {
	const n, per = 4, 500
	job, recs := started(t, f, n)
	ctx := ctxWait(t)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for r := 1; r < n; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				size := 100
				if i%50 == 0 {
					size = 200 << 10
				}
				if err := job.Transports[r].Send(ctx, 0, eager(i), pattern(size, byte(r))); err != nil {
					errs <- fmt.Errorf("rank %d send %d: %w", r, i, err)
					return
				}
			}
		}(r)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := (n - 1) * per
	recs[0].WaitFor(t, "every frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= total })
	next := make([]uint64, n)
	for _, fr := range recs[0].Frames() {
		src := fr.Source
		if src < 1 || int(src) >= n || fr.Seq != next[src] {
			t.Fatalf("frame from %d seq %d, want seq %d", src, fr.Seq, next[src])
		}
		if len(fr.Payload) == 0 || fr.Payload[0] != byte(src) {
			t.Fatalf("frame from %d carries another rank's payload", src)
		}
		next[src]++
	}
}

func testBadRank(t *testing.T, f Factory) {
	job, _ := started(t, f, 2)
	ctx := ctxWait(t)
	for _, dest := range []int{-1, 2, 1000, 0} {
		err := job.Transports[0].Send(ctx, dest, eager(0), []byte("x"))
		if !errors.Is(err, comm.ErrBadRank) {
			t.Errorf("send to %d from rank 0 of 2: %v, want ErrBadRank", dest, err)
		}
	}
}

func testClose(t *testing.T, f Factory) {
	job, recs := started(t, f, 3)
	ctx := ctxWait(t)
	const n = 100
	for i := 0; i < n; i++ {
		if err := job.Transports[0].Send(ctx, 1, eager(i), pattern(1000, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := job.Transports[0].Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, r := range []int{1, 2} {
		recs[r].WaitFor(t, "rank 0 gone", func(_ []comm.Frame, gone map[int]error) bool { _, ok := gone[0]; return ok })
		err, _ := recs[r].Gone(0)
		if !errors.Is(err, comm.ErrPeerFinished) {
			t.Errorf("rank %d: rank 0 gone with %v, want ErrPeerFinished", r, err)
		}
	}
	if got := len(recs[1].Frames()); got != n {
		t.Errorf("rank 1 got %d frames before rank 0's goodbye, want %d", got, n)
	}
}

func testCloseWithoutTraffic(t *testing.T, f Factory) {
	job, recs := started(t, f, 2)
	if err := job.Transports[1].Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	recs[0].WaitFor(t, "rank 1 gone", func(_ []comm.Frame, gone map[int]error) bool { _, ok := gone[1]; return ok })
	if err, _ := recs[0].Gone(1); !errors.Is(err, comm.ErrPeerFinished) {
		t.Errorf("rank 1 gone with %v, want ErrPeerFinished", err)
	}
}

func testSendAfterClose(t *testing.T, f Factory) {
	job, _ := started(t, f, 2)
	if err := job.Transports[0].Close(); err != nil {
		t.Fatal(err)
	}
	if err := job.Transports[0].Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	err := job.Transports[0].Send(ctxWait(t), 1, eager(0), nil)
	if !errors.Is(err, comm.ErrClosed) {
		t.Errorf("send after Close: %v, want ErrClosed", err)
	}
}

func testCrash(t *testing.T, f Factory) {
	job, recs := started(t, f, 3)
	if job.Crash == nil {
		t.Skip("this transport kind cannot simulate a crash")
	}
	ctx := ctxWait(t)
	if err := job.Transports[2].Send(ctx, 0, eager(0), []byte("last words")); err != nil {
		t.Fatal(err)
	}
	recs[0].WaitFor(t, "the frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= 1 })
	job.Crash(2)
	recs[0].WaitFor(t, "rank 2 gone", func(_ []comm.Frame, gone map[int]error) bool { _, ok := gone[2]; return ok })
	if err, _ := recs[0].Gone(2); !errors.Is(err, comm.ErrPeerLost) {
		t.Errorf("crashed rank 2 gone with %v, want ErrPeerLost", err)
	}
}
