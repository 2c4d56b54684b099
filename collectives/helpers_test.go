package collectives

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/ranks"
)

// waitLimit bounds every wait in these tests: a collective that hangs fails
// its test instead of the whole run. Generous, for a loaded 2-core machine.
const waitLimit = 30 * time.Second

var errTestTimeout = errors.New("test conn: wait timed out (hang?)")

// testConn is a Conn over one rank of comm's in-memory network. Messages
// are queued per (source, tag). In sync mode every Send waits until the
// receiver has taken the message, as a rendezvous send of the mpi layer
// does, so an algorithm that relies on buffering deadlocks here (and fails
// the test by timeout) instead of only in production.
type testConn struct {
	t    comm.Transport
	sync bool

	mu      sync.Mutex
	boxes   map[boxKey][]testMsg
	acked   map[uint64]bool
	gone    map[int]error
	changed chan struct{}
	nextID  uint64
}

type boxKey struct{ source, tag int }

type testMsg struct {
	id      uint64
	payload []byte
}

// The frame kinds of this test connection's small protocol (the transport
// carries any kind of the layer above unread).
const (
	kindEager comm.Kind = 1
	kindCTS   comm.Kind = 3
)

func newTestConn(t comm.Transport, syncSend bool) *testConn {
	return &testConn{t: t, sync: syncSend, boxes: map[boxKey][]testMsg{},
		acked: map[uint64]bool{}, gone: map[int]error{}, changed: make(chan struct{})}
}

// notify wakes every waiter; call with mu held.
func (c *testConn) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *testConn) Deliver(f comm.Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch f.Kind {
	case kindEager:
		k := boxKey{int(f.Source), int(f.Tag)}
		c.boxes[k] = append(c.boxes[k], testMsg{id: f.Seq, payload: f.Payload})
	case kindCTS:
		c.acked[f.Seq] = true
	}
	c.notify()
}

func (c *testConn) PeerGone(rank int, err error) {
	c.mu.Lock()
	c.gone[rank] = err
	c.notify()
	c.mu.Unlock()
}

func (c *testConn) Rank() int { return c.t.Rank() }
func (c *testConn) Size() int { return c.t.Size() }

// wait blocks until ready (called with mu held) returns true.
func (c *testConn) wait(what string, peer int, ready func() bool) error {
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	c.mu.Lock()
	for !ready() {
		if err := c.gone[peer]; err != nil {
			c.mu.Unlock()
			return fmt.Errorf("rank %d %s %d: %w", c.Rank(), what, peer, err)
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return fmt.Errorf("rank %d %s %d: %w", c.Rank(), what, peer, errTestTimeout)
		}
		c.mu.Lock()
	}
	c.mu.Unlock()
	return nil
}

func (c *testConn) Send(payload []byte, dest, tag int) error {
	if tag < 0 || tag >= MaxTag {
		return fmt.Errorf("test conn: tag %d out of range", tag)
	}
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.mu.Unlock()
	h := comm.Header{Kind: kindEager, Tag: int32(tag), Seq: id}
	if dest == c.Rank() {
		c.Deliver(comm.Frame{Header: comm.Header{Kind: kindEager, Source: int32(dest), Tag: int32(tag)},
			Payload: append([]byte(nil), payload...)})
		return nil
	}
	if err := c.t.Send(context.Background(), dest, h, payload); err != nil {
		return err
	}
	if !c.sync {
		return nil
	}
	return c.wait("send to", dest, func() bool {
		if c.acked[id] {
			delete(c.acked, id)
			return true
		}
		return false
	})
}

func (c *testConn) Recv(source, tag int) ([]byte, error) {
	k := boxKey{source, tag}
	var msg testMsg
	err := c.wait("receive from", source, func() bool {
		q := c.boxes[k]
		if len(q) == 0 {
			return false
		}
		msg, c.boxes[k] = q[0], q[1:]
		return true
	})
	if err != nil {
		return nil, err
	}
	if c.sync && source != c.Rank() {
		if err := c.t.Send(context.Background(), source, comm.Header{Kind: kindCTS, Seq: msg.id}, nil); err != nil {
			return nil, err
		}
	}
	return msg.payload, nil
}

func (c *testConn) Sendrecv(payload []byte, dest, sendTag int, source, recvTag int) ([]byte, error) {
	sent := make(chan error, 1)
	go func() { sent <- c.Send(payload, dest, sendTag) }()
	got, rerr := c.Recv(source, recvTag)
	serr := <-sent
	if serr != nil {
		return nil, serr
	}
	return got, rerr
}

// runRanks runs body on n ranks over a fresh in-memory network (sync:
// rendezvous sends) and returns each rank's error. A body that does not
// return within the limit fails the test.
func runRanks(t *testing.T, n int, syncSend bool, body func(c Conn) error) []error {
	t.Helper()
	return runOnNetwork(t, comm.NewNetwork(n), n, syncSend, body)
}

// runOnNetwork is runRanks on a given network. A rank whose body fails
// closes its transport, as a program that exits on the error would, so
// ranks still waiting for it get an error rather than a timeout.
func runOnNetwork(t *testing.T, net *comm.Network, n int, syncSend bool, body func(c Conn) error) []error {
	t.Helper()
	return runOnNetworkWrapped(t, net, n, syncSend, func(c *testConn) Conn { return c }, body)
}

// runOnNetworkWrapped is runOnNetwork whose ranks get wrap's Conn.
func runOnNetworkWrapped(t *testing.T, net *comm.Network, n int, syncSend bool,
	wrap func(c *testConn) Conn, body func(c Conn) error) []error {
	t.Helper()
	conns := make([]Conn, n)
	for r := range n {
		tc := newTestConn(net.Transport(r), syncSend)
		conns[r] = wrap(tc)
		if err := net.Transport(r).Start(tc); err != nil {
			t.Fatal(err)
		}
	}
	// internal/ranks runs the bodies: a panic is reported with its stack,
	// and ranks still running after the limit with the call they are in
	// (their transports closed, so that they return).
	errs := ranks.Run(n, ranks.Limits{Timeout: 2 * waitLimit, API: "github.com/gorun-mpi/gorun/collectives.",
		Stop: func(r int) { net.Transport(r).Close() }}, func(r int) error {
		err := body(conns[r])
		if err != nil {
			net.Transport(r).Close()
		}
		return err
	})
	for r := range n {
		net.Transport(r).Close()
	}
	for r, err := range errs {
		if errors.Is(err, ranks.ErrHung) || errors.Is(err, ranks.ErrPanic) {
			t.Fatalf("np=%d rank %d: %v", n, r, err)
		}
	}
	return errs
}

// mustAll fails the test if any rank returned an error.
func mustAll(t *testing.T, label string, errs []error) {
	t.Helper()
	for r, err := range errs {
		if err != nil {
			t.Errorf("%s: rank %d: %v", label, r, err)
		}
	}
}

// float64s is a raw little-endian codec for []float64, as the mpi layer's.
type float64s struct{}

func (float64s) Encode(v []float64) ([]byte, error) {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b, nil
}

func (float64s) Decode(b []byte) ([]float64, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("%d bytes is not a []float64", len(b))
	}
	v := make([]float64, len(b)/8)
	for i := range v {
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v, nil
}

// strs encodes []string as length-prefixed strings.
type strs struct{}

func (strs) Encode(v []string) ([]byte, error) {
	var b []byte
	for _, s := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b, nil
}

func (strs) Decode(b []byte) ([]string, error) {
	out := []string{}
	for len(b) > 0 {
		if len(b) < 4 || int(binary.LittleEndian.Uint32(b)) > len(b)-4 {
			return nil, errors.New("bad []string encoding")
		}
		n := int(binary.LittleEndian.Uint32(b))
		out = append(out, string(b[4:4+n]))
		b = b[4+n:]
	}
	return out, nil
}

// str encodes one string as its bytes.
type str struct{}

func (str) Encode(v string) ([]byte, error) { return []byte(v), nil }
func (str) Decode(b []byte) (string, error) { return string(b), nil }

// bytesCodec passes []byte through.
type bytesCodec struct{}

func (bytesCodec) Encode(v []byte) ([]byte, error) { return v, nil }
func (bytesCodec) Decode(b []byte) ([]byte, error) { return b, nil }

// mat is a 2x2 matrix; matMul is associative and not commutative.
type mat [4]int64

func matMul(a, b mat) mat {
	return mat{a[0]*b[0] + a[1]*b[2], a[0]*b[1] + a[1]*b[3], a[2]*b[0] + a[3]*b[2], a[2]*b[1] + a[3]*b[3]}
}

// rankMat is rank r's operand: distinct, non-commuting, small entries.
func rankMat(r int) mat { return mat{1, int64(r + 1), int64(r % 3), 1} }

type matCodec struct{}

func (matCodec) Encode(m mat) ([]byte, error) {
	b := make([]byte, 32)
	for i, x := range m {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b, nil
}

func (matCodec) Decode(b []byte) (mat, error) {
	var m mat
	if len(b) != 32 {
		return m, fmt.Errorf("%d bytes is not a 2x2 matrix", len(b))
	}
	for i := range m {
		m[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return m, nil
}

// failCodec fails to encode values equal to bad.
type failCodec struct{ bad string }

var errBadValue = errors.New("test codec: cannot encode this value")

func (c failCodec) Encode(v string) ([]byte, error) {
	if v == c.bad {
		return nil, errBadValue
	}
	return []byte(v), nil
}
func (failCodec) Decode(b []byte) (string, error) { return string(b), nil }

// sizes of the group every test runs on.
var groupSizes = []int{1, 2, 3, 4, 5, 6, 7, 8, 9}

// failedBecause checks that rank bad returned an error wrapping badErr and
// every other rank a *RemoteError naming rank bad.
func failedBecause(t *testing.T, label string, errs []error, bad int, badErr error) {
	t.Helper()
	for r, err := range errs {
		if r == bad {
			if !errors.Is(err, badErr) {
				t.Errorf("%s: failing rank %d: got %v, want an error wrapping %v", label, r, err, badErr)
			}
			continue
		}
		var re *RemoteError
		if !errors.As(err, &re) || re.Rank != bad || !errors.Is(err, ErrPeerFailed) {
			t.Errorf("%s: rank %d: got %v, want a RemoteError from rank %d", label, r, err, bad)
		}
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }

// runtimeYield gives the other ranks' goroutines a chance to run ahead.
func runtimeYield() { time.Sleep(time.Millisecond) }
