package commtest

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/gorun-mpi/gorun/comm"
)

// testReservedKinds: a kind reserved for transports is refused with
// ErrBadFrame, nothing sent, and the connection still works.
func testReservedKinds(t *testing.T, f Factory) {
	job, recs := started(t, f, 2)
	ctx := ctxWait(t)
	for _, k := range []comm.Kind{comm.FirstReservedKind, 0xFF} {
		err := job.Transports[0].Send(ctx, 1, comm.Header{Kind: k}, []byte("x"))
		if !errors.Is(err, comm.ErrBadFrame) {
			t.Errorf("send of reserved kind %#x: %v, want ErrBadFrame", k, err)
		}
	}
	if err := job.Transports[0].Send(ctx, 1, eager(7), []byte("after")); err != nil {
		t.Fatal(err)
	}
	recs[1].WaitFor(t, "the frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= 1 })
	if fr := recs[1].Frames(); len(fr) != 1 || fr[0].Seq != 7 {
		t.Errorf("got %d frames (first seq %d), want only the frame of seq 7", len(fr), fr[0].Seq)
	}
}

// provider is a Recorder that supplies the memory of large payloads for
// frames of even Seq, and records every request.
type provider struct {
	*Recorder
	mu    sync.Mutex
	asked []bufferRequest
	given map[uint64][]byte // by Seq
}

type bufferRequest struct {
	h      comm.Header
	length int
}

func (p *provider) BufferFor(h comm.Header, length int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, bufferRequest{h, length})
	if h.Seq%2 != 0 {
		return nil
	}
	b := make([]byte, length)
	p.given[h.Seq] = b
	return b
}

// testBufferProvider: every transport asks a providing Handler for the
// memory of every frame at least comm.BufferThreshold long, and may ask for
// shorter ones (never for an empty payload), once per frame, in order, with
// their header and length; it delivers the payload in the memory given, and
// allocates when the Handler gives none.
func testBufferProvider(t *testing.T, f Factory) {
	provs := make([]*provider, 2)
	job, recs := startedWith(t, f, 2, func(r int, rec *Recorder) comm.Handler {
		provs[r] = &provider{Recorder: rec, given: map[uint64][]byte{}}
		return provs[r]
	})
	ctx := ctxWait(t)
	sizes := []int{0, 100, comm.BufferThreshold - 1, comm.BufferThreshold, comm.BufferThreshold + 1, 1 << 20, 1 << 20, 9 << 20, 8, 0}
	for i, size := range sizes {
		h := comm.Header{Kind: comm.Kind(i + 1), Context: uint32(i), Tag: int32(-i), Seq: uint64(i)}
		if err := job.Transports[1].Send(ctx, 0, h, pattern(size, byte(i))); err != nil {
			t.Fatalf("send %d bytes: %v", size, err)
		}
	}
	recs[0].WaitFor(t, "every frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= len(sizes) })
	p := provs[0]
	p.mu.Lock()
	defer p.mu.Unlock()
	asked := p.asked
	for i, size := range sizes {
		want := bufferRequest{comm.Header{Kind: comm.Kind(i + 1), Context: uint32(i), Source: 1, Tag: int32(-i), Seq: uint64(i)}, size}
		switch {
		case len(asked) > 0 && asked[0] == want:
			if size == 0 {
				t.Errorf("BufferFor asked for frame %d's empty payload", i)
			}
			asked = asked[1:]
		case size >= comm.BufferThreshold:
			t.Errorf("BufferFor not asked for frame %d of %d bytes (next request %+v), want %+v", i, size, asked, want)
		}
	}
	if len(asked) > 0 {
		t.Errorf("BufferFor asked %d times more than once per frame or out of order: %+v (all: %+v)", len(asked), asked, p.asked)
	}
	for i, fr := range recs[0].Frames() {
		if !bytes.Equal(fr.Payload, pattern(sizes[i], byte(i))) {
			t.Errorf("frame %d of %d bytes: payload altered (%d bytes)", i, sizes[i], len(fr.Payload))
		}
		if b, ok := p.given[fr.Seq]; ok && (len(b) == 0 || len(fr.Payload) == 0 || &b[0] != &fr.Payload[0]) {
			t.Errorf("frame %d of %d bytes: not delivered in the memory BufferFor gave", i, sizes[i])
		}
	}
}

// testTrySend: a frame TrySend reports sent arrives, in order with the
// frames sent by Send; one it reports not sent never arrives. Where the
// transport can try at all, it succeeds on an idle connection.
func testTrySend(t *testing.T, f Factory) {
	const n = 3
	job, recs := started(t, f, n)
	ts, ok := job.Transports[0].(comm.TrySender)
	if !ok {
		t.Skip("this transport kind has no TrySend")
	}
	ctx := ctxWait(t)
	successes := 0
	for dest := 1; dest < n; dest++ {
		// A Send first: a transport may try only on an established path.
		if err := job.Transports[0].Send(ctx, dest, eager(0), []byte("first")); err != nil {
			t.Fatal(err)
		}
		want := []uint64{0}
		for i := 1; i <= 200; i++ {
			sent, err := ts.TrySend(dest, eager(i), []byte{byte(i)})
			if err != nil {
				t.Fatalf("TrySend to %d: %v", dest, err)
			}
			if sent {
				want = append(want, uint64(i))
				successes++
			} else if i%10 == 0 {
				if err := job.Transports[0].Send(ctx, dest, eager(i), []byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
				want = append(want, uint64(i))
			}
		}
		if err := job.Transports[0].Send(ctx, dest, eager(1000), nil); err != nil {
			t.Fatal(err)
		}
		want = append(want, 1000)
		recs[dest].WaitFor(t, "the last frame", func(fr []comm.Frame, _ map[int]error) bool {
			return len(fr) > 0 && fr[len(fr)-1].Seq == 1000
		})
		var got []uint64
		for _, fr := range recs[dest].Frames() {
			got = append(got, fr.Seq)
		}
		if !equal(got, want) {
			t.Errorf("to rank %d: frames %v arrived, want %v (sent ones, in order)", dest, got, want)
		}
	}
	if sent, err := ts.TrySend(0, eager(0), nil); sent {
		t.Errorf("TrySend to ourselves reported sent (err %v)", err)
	}
	if sent, err := ts.TrySend(n, eager(0), nil); sent {
		t.Errorf("TrySend to rank %d of %d reported sent (err %v)", n, n, err)
	}
	if successes == 0 {
		t.Errorf("TrySend never succeeded on idle connections to %d ranks", n-1)
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// testPoll: Poll, called on another goroutine while frames stream in,
// delivers on its caller's goroutine (when it reports true, frames were
// delivered before it returned) and never breaks the order per source or
// delivers a frame twice.
func testPoll(t *testing.T, f Factory) {
	job, recs := started(t, f, 2)
	p, ok := job.Transports[1].(comm.Poller)
	if !ok {
		t.Skip("this transport kind cannot poll")
	}
	const n = 3000
	done := make(chan struct{})
	lies := make(chan int, 1)
	go func() {
		defer close(done)
		for {
			before := len(recs[1].Frames())
			if p.Poll() && len(recs[1].Frames()) == before {
				select {
				case lies <- before:
				default:
				}
			}
			if before >= n {
				return
			}
		}
	}()
	ctx := ctxWait(t)
	for i := 0; i < n; i++ {
		size := 10
		if i%100 == 0 {
			size = 40 << 10
		}
		if err := job.Transports[0].Send(ctx, 1, eager(i), pattern(size, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	recs[1].WaitFor(t, "every frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= n })
	<-done
	select {
	case at := <-lies:
		t.Errorf("Poll reported a delivery but delivered nothing (at %d frames)", at)
	default:
	}
	frames := recs[1].Frames()
	if len(frames) != n {
		t.Fatalf("%d frames delivered, want %d", len(frames), n)
	}
	for i, fr := range frames {
		if fr.Seq != uint64(i) {
			t.Fatalf("frame %d has seq %d: order broken", i, fr.Seq)
		}
	}
}

// testSendParts: a transport that can send a payload in two parts delivers
// exactly head followed by body, for small and large payloads, to every
// destination.
func testSendParts(t *testing.T, f Factory) {
	const n = 3
	job, recs := started(t, f, n)
	ps, ok := job.Transports[0].(comm.PartsSender)
	if !ok {
		t.Skip("this transport kind has no SendParts")
	}
	cases := []struct{ head, body []byte }{
		{[]byte("h"), []byte("body")},
		{nil, pattern(10, 1)},
		{[]byte("descriptor"), pattern(300<<10, 2)},
		{pattern(40<<10, 3), nil},
		{pattern(3, 4), pattern(2<<20, 5)},
	}
	for dest := 1; dest < n; dest++ {
		for i, c := range cases {
			if err := ps.SendParts(ctxWait(t), dest, eager(i), c.head, c.body); err != nil {
				t.Fatal(err)
			}
		}
		recs[dest].WaitFor(t, "every frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) == len(cases) })
		for i, fr := range recs[dest].Frames() {
			want := append(append([]byte{}, cases[i].head...), cases[i].body...)
			if !bytes.Equal(fr.Payload, want) || fr.Seq != uint64(i) {
				t.Errorf("to %d, frame %d: %d bytes, seq %d, want head+body of %d", dest, i, len(fr.Payload), fr.Seq, len(want))
			}
		}
	}
	if err := ps.SendParts(ctxWait(t), n, eager(0), nil, nil); !errors.Is(err, comm.ErrBadRank) {
		t.Errorf("SendParts to rank %d of %d: %v, want ErrBadRank", n, n, err)
	}
}

// greetEveryPeer has every rank of job send a small frame to every other
// and waits until each has its peers' frames: then every rank knows its
// peers' processes.
func greetEveryPeer(t *testing.T, job Job, recs []*Recorder) {
	t.Helper()
	ctx := ctxWait(t)
	n := len(job.Transports)
	for a := range n {
		for b := range n {
			if a != b {
				if err := job.Transports[a].Send(ctx, b, eager(a), nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for r := range n {
		recs[r].WaitFor(t, "a frame from each peer", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= n-1 })
	}
}

// testPeerMemory: CanReadPeerMemory holds exactly for the pairs the job
// says (on Linux), both ways; ReadPeerMemory then copies the bytes at an
// address of the peer's process (here: this test process), and fails for
// every other rank.
func testPeerMemory(t *testing.T, f Factory) {
	const n = 3
	job, recs := started(t, f, n)
	if _, ok := job.Transports[0].(comm.PeerMemoryReader); !ok {
		t.Skip("this transport kind cannot read peers' memory")
	}
	greetEveryPeer(t, job, recs)
	src := pattern(100<<10, 9)
	addr := uint64(uintptr(unsafe.Pointer(&src[0])))
	readable := 0
	for a := range n {
		pm := job.Transports[a].(comm.PeerMemoryReader)
		if pm.CanReadPeerMemory(a) || pm.CanReadPeerMemory(-1) || pm.CanReadPeerMemory(n) {
			t.Errorf("rank %d: CanReadPeerMemory holds for itself or a rank out of range", a)
		}
		for b := range n {
			if a == b {
				continue
			}
			want := job.PeerMemory != nil && job.PeerMemory(a, b) && runtime.GOOS == "linux"
			if got := pm.CanReadPeerMemory(b); got != want {
				t.Errorf("rank %d: CanReadPeerMemory(%d) = %v, want %v", a, b, got, want)
			}
			dst := make([]byte, len(src))
			err := pm.ReadPeerMemory(b, addr, dst)
			switch {
			case want && err != nil:
				t.Errorf("rank %d: ReadPeerMemory(%d): %v", a, b, err)
			case want && !bytes.Equal(dst, src):
				t.Errorf("rank %d: ReadPeerMemory(%d) copied other bytes", a, b)
			case want:
				readable++
			case err == nil:
				t.Errorf("rank %d: ReadPeerMemory(%d) succeeded where CanReadPeerMemory is false", a, b)
			}
		}
	}
	runtime.KeepAlive(src)
	if err := job.Transports[0].(comm.PeerMemoryReader).ReadPeerMemory(0, addr, make([]byte, 1)); err == nil {
		t.Error("rank 0 read its own memory as a peer's")
	}
	t.Logf("%d ordered pairs read each other's memory", readable)
}

// testEagerLimit: each transport's preferred eager limit per destination
// is the one its kind documents (Job.EagerLimit).
func testEagerLimit(t *testing.T, f Factory) {
	const n = 3
	job, _ := started(t, f, n)
	if _, ok := job.Transports[0].(comm.EagerLimiter); !ok {
		t.Skip("this transport kind states no eager limit")
	}
	if job.EagerLimit == nil {
		t.Fatal("the transport states eager limits but the job says none: set Job.EagerLimit")
	}
	for a := range n {
		el := job.Transports[a].(comm.EagerLimiter)
		for b := range n {
			if a == b {
				continue
			}
			if got, want := el.EagerLimit(b), job.EagerLimit(a, b); got != want {
				t.Errorf("rank %d: EagerLimit(%d) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// testSpinner: a transport whose peers skip wake-ups while the layer above
// spins (SpinStart ... SpinEnd around Poll calls) delivers every frame, in
// order and once, whether the receiver is spinning or asleep when it is
// sent, and, once the receiver stops spinning, without any further Poll:
// what was published while it spun is not left unseen. The receiver's
// phases and the sender's pauses come from a seeded plan.
func testSpinner(t *testing.T, f Factory) {
	job, recs := started(t, f, 2)
	sp, ok := job.Transports[1].(comm.Spinner)
	p, polls := job.Transports[1].(comm.Poller)
	if !ok || !polls {
		t.Skip("this transport kind is not a polling Spinner")
	}
	const n = 2000
	rng := rand.New(rand.NewPCG(7, 11))
	phases := make([]int, 64) // polls per spinning phase; 0: asleep for a moment
	for i := range phases {
		if rng.IntN(2) == 0 {
			phases[i] = 1 + rng.IntN(400)
		}
	}
	stop := make(chan struct{})
	spun := make(chan struct{})
	go func() {
		defer close(spun)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if polls := phases[i%len(phases)]; polls > 0 {
				sp.SpinStart()
				for j := 0; j < polls; j++ {
					p.Poll()
				}
				sp.SpinEnd()
			} else {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	ctx := ctxWait(t)
	for i := 0; i < n; i++ {
		size := 1 + rng.IntN(64)
		if i%97 == 0 {
			size = 70 << 10 // beyond any ring: through the socket, in order
		}
		if err := job.Transports[0].Send(ctx, 1, eager(i), pattern(size, byte(i))); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(50) == 0 {
			time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
		}
	}
	close(stop)
	<-spun
	// Last, the race SpinEnd must win: frames published while the
	// receiver spins (so its peer skips the wake-up), and no Poll after
	// them before it stops spinning.
	const tail = 5
	recs[1].WaitFor(t, "the frames so far", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= n })
	sp.SpinStart()
	p.Poll()
	for i := n; i < n+tail; i++ {
		if err := job.Transports[0].Send(ctx, 1, eager(i), pattern(8, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	sp.SpinEnd()
	// Nobody polls any more: the rest must arrive by itself.
	recs[1].WaitFor(t, "every frame without polling", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= n+tail })
	frames := recs[1].Frames()
	if len(frames) != n+tail {
		t.Fatalf("%d frames delivered, want %d", len(frames), n+tail)
	}
	for i, fr := range frames {
		if fr.Seq != uint64(i) {
			t.Fatalf("frame %d has seq %d: order broken", i, fr.Seq)
		}
	}
}
