package comm_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/comm/commtest"
)

// unixJob makes n Unix transports in a fresh private directory.
func unixJob(t testing.TB, n int, tweak func(*comm.UnixConfig)) ([]*comm.Unix, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	us := make([]*comm.Unix, n)
	for r := range us {
		cfg := comm.UnixConfig{Rank: r, Size: n, Dir: dir, Secret: hex.EncodeToString(secret)}
		if tweak != nil {
			tweak(&cfg)
		}
		u, err := comm.NewUnix(cfg)
		if err != nil {
			t.Fatal(err)
		}
		us[r] = u
	}
	return us, dir
}

// TestUnixConformance runs the conformance suite over the Unix transport
// with its shared-memory rings (the default), without them, and with rings
// so small that frames keep alternating between the ring and the socket.
func TestUnixConformance(t *testing.T) {
	for _, c := range []struct {
		name  string
		tweak func(*comm.UnixConfig)
	}{
		{"rings", nil},
		{"norings", func(c *comm.UnixConfig) { c.NoRings = true }},
		{"tinyrings", func(c *comm.UnixConfig) { c.RingSize = 4 << 10 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			commtest.Run(t, func(t *testing.T, n int) commtest.Job {
				us, _ := unixJob(t, n, c.tweak)
				job := commtest.Job{
					Crash:      func(r int) { comm.CrashUnix(us[r]) },
					PeerMemory: func(int, int) bool { return true },
				}
				for _, u := range us {
					job.Transports = append(job.Transports, u)
				}
				return job
			})
		})
	}
}

// startAll starts every transport with a recorder and closes them at the end.
func startAll(t *testing.T, us []*comm.Unix) []*commtest.Recorder {
	t.Helper()
	recs := make([]*commtest.Recorder, len(us))
	for r, u := range us {
		recs[r] = commtest.NewRecorder()
		if err := u.Start(recs[r]); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { u.Close() })
	}
	return recs
}

func TestUnixWrongSecretIsRejected(t *testing.T) {
	us, dir := unixJob(t, 1, nil)
	recs := startAll(t, us)
	intruder, err := comm.NewUnix(comm.UnixConfig{Rank: 1, Size: 2, Dir: dir, Secret: "guess", DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	intruder.Start(commtest.NewRecorder())
	err = intruder.Send(context.Background(), 0, comm.Header{Kind: kindData}, []byte("forged"))
	if !errors.Is(err, comm.ErrBadFrame) {
		t.Fatalf("send with the wrong secret: %v, want ErrBadFrame", err)
	}
	time.Sleep(50 * time.Millisecond)
	if got := recs[0].Frames(); len(got) != 0 {
		t.Fatalf("a frame from a connection with the wrong secret was delivered: %v", got)
	}
}

// rawDial connects to rank 0's socket in dir and presents a handshake as
// rank 1 with secret.
func rawDial(t *testing.T, dir, secret string) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", filepath.Join(dir, "r0.sock"))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("GORUNv2\x00")
	msg = binary.LittleEndian.AppendUint32(msg, 1)
	msg = binary.LittleEndian.AppendUint16(msg, uint16(len(secret)))
	msg = append(msg, secret...)
	conn.Write(msg)
	ack := make([]byte, 1)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Read(ack); err != nil || ack[0] != 'K' {
		t.Fatalf("handshake refused: %v %q", err, ack)
	}
	return conn
}

func TestUnixOversizedAndGarbageFramesAreRejected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header func([]byte)
		want   error
	}{
		{"claims 2^62 bytes", func(h []byte) {
			h[0] = byte(kindData)
			binary.LittleEndian.PutUint64(h[24:], 1<<62)
		}, comm.ErrFrameTooLarge},
		{"a kind reserved for transports", func(h []byte) { h[0] = byte(comm.FirstReservedKind) }, comm.ErrBadFrame},
		{"padding not zero", func(h []byte) {
			h[0] = byte(kindData)
			h[2] = 5
		}, comm.ErrBadFrame},
	} {
		t.Run(tc.name, func(t *testing.T) {
			us, dir := unixJob(t, 2, func(c *comm.UnixConfig) { c.MaxFrame = 1 << 20 })
			recs := startAll(t, us)
			secret := comm.UnixSecret(us[0])
			conn := rawDial(t, dir, secret)
			defer conn.Close()
			h := make([]byte, 32)
			tc.header(h)
			conn.Write(h)
			recs[0].WaitFor(t, "rank 1 gone", func(_ []comm.Frame, gone map[int]error) bool { _, ok := gone[1]; return ok })
			err, _ := recs[0].Gone(1)
			if !errors.Is(err, tc.want) || !errors.Is(err, comm.ErrPeerLost) {
				t.Fatalf("gone with %v, want %v and ErrPeerLost", err, tc.want)
			}
			if n := len(recs[0].Frames()); n != 0 {
				t.Fatalf("%d frames delivered", n)
			}
		})
	}
}

// TestUnixPollDeliversWithoutTheReader: with the background reader held,
// Poll alone delivers every frame, as it arrives, in order; released, the
// reader and Poll race and the order still holds.
func TestUnixPollDeliversWithoutTheReader(t *testing.T) {
	us, _ := unixJob(t, 2, nil)
	recs := startAll(t, us)
	ctx := context.Background()
	// Connect first, so the frames below travel on an established stream.
	if err := us[1].Send(ctx, 0, comm.Header{Kind: kindData, Seq: 0}, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	recs[0].WaitFor(t, "first frame", func(f []comm.Frame, _ map[int]error) bool { return len(f) == 1 })
	release := comm.HoldReaders(us[0])
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	const held = 500
	for i := 1; i <= held; i++ {
		payload := []byte("x")
		if i%50 == 0 {
			payload = make([]byte, 40<<10) // larger than the read buffer
		}
		if err := us[1].Send(ctx, 0, comm.Header{Kind: kindData, Seq: uint64(i)}, payload); err != nil {
			t.Fatal(err)
		}
		// A frame is in the ring or the socket when Send returns; with the
		// reader held, a large one may need a few polls to arrive whole.
		for polls := 0; len(recs[0].Frames()) < i+1; polls++ {
			if polls == 100000 {
				t.Fatalf("frame %d not delivered by 100000 polls with the reader held", i)
			}
			us[0].Poll()
		}
		if n := len(recs[0].Frames()); n != i+1 {
			t.Fatalf("after frame %d, %d frames delivered", i, n)
		}
	}
	release()
	released = true
	for i := held + 1; i <= 2*held; i++ {
		if err := us[1].Send(ctx, 0, comm.Header{Kind: kindData, Seq: uint64(i)}, []byte("y")); err != nil {
			t.Fatal(err)
		}
		us[0].Poll()
	}
	recs[0].WaitFor(t, "every frame", func(f []comm.Frame, _ map[int]error) bool { return len(f) == 2*held+1 })
	for i, f := range recs[0].Frames() {
		if f.Seq != uint64(i) {
			t.Fatalf("frame %d has seq %d: order broken between Poll and the reader", i, f.Seq)
		}
	}
}

func TestUnixPeerThatNeverCameUp(t *testing.T) {
	us, _ := unixJob(t, 1, func(c *comm.UnixConfig) { c.Size = 2; c.DialTimeout = 300 * time.Millisecond })
	startAll(t, us)
	err := us[0].Send(context.Background(), 1, comm.Header{Kind: kindData}, nil)
	if !errors.Is(err, comm.ErrPeerLost) {
		t.Fatalf("send to a rank that never listened: %v, want ErrPeerLost", err)
	}
}

func TestUnixFinishedPeerFailsFast(t *testing.T) {
	us, _ := unixJob(t, 2, nil)
	startAll(t, us)
	if err := us[1].Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := us[0].Send(context.Background(), 1, comm.Header{Kind: kindData}, nil)
	if !errors.Is(err, comm.ErrPeerFinished) {
		t.Fatalf("send to a finished rank: %v, want ErrPeerFinished", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %v: the finished marker was not used", d)
	}
}

// TestUnixClosingPeerReportsFinished: a dial that reaches a peer whose
// Close has begun, and that the peer cuts without an answer, is dialed
// again; once the peer has closed, the dialer reports it finished (so the
// layer above waits for its goodbye and what came before it, such as a
// collective's mismatch alarm), never a handshake refused for a wrong job
// secret, as the first cut alone would suggest.
func TestUnixClosingPeerReportsFinished(t *testing.T) {
	us, _ := unixJob(t, 2, nil)
	startAll(t, us)
	release := comm.HoldClosing(us[0])
	sent := make(chan error, 1)
	go func() {
		sent <- us[1].Send(context.Background(), 0, comm.Header{Kind: kindData}, []byte("late"))
	}()
	for comm.CutWhileClosing(us[0]) == 0 {
		select {
		case err := <-sent:
			t.Fatalf("send to a closing rank ended before its Close: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	release()
	us[0].Close()
	if err := <-sent; !errors.Is(err, comm.ErrPeerFinished) || errors.Is(err, comm.ErrBadFrame) {
		t.Fatalf("send to a closing rank: %v, want ErrPeerFinished", err)
	}
	us[1].Close()
}

func TestUnixSendHonoursContext(t *testing.T) {
	us, _ := unixJob(t, 1, func(c *comm.UnixConfig) { c.Size = 2; c.DialTimeout = 2 * time.Second })
	startAll(t, us)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := us[0].Send(ctx, 1, comm.Header{Kind: kindData}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send to a rank not yet up, with a 100ms context: %v", err)
	}
}

func TestUnixSocketIsPrivate(t *testing.T) {
	_, dir := unixJob(t, 1, nil)
	fi, err := os.Stat(filepath.Join(dir, "r0.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Fatalf("socket mode %v: readable by others", perm)
	}
}

func TestUnixFrameLimitOnSend(t *testing.T) {
	us, _ := unixJob(t, 2, func(c *comm.UnixConfig) { c.MaxFrame = 1000 })
	startAll(t, us)
	err := us[0].Send(context.Background(), 1, comm.Header{Kind: kindData}, make([]byte, 1001))
	if !errors.Is(err, comm.ErrFrameTooLarge) {
		t.Fatalf("send over the limit: %v, want ErrFrameTooLarge", err)
	}
}

// TestUnixSilentConnectionDoesNotHoldClose: connections that never finish
// their handshake (a local process without the secret) neither keep the
// real peer out nor hold Close up until their handshake timeout.
func TestUnixSilentConnectionDoesNotHoldClose(t *testing.T) {
	us, dir := unixJob(t, 2, nil)
	recs := startAll(t, us)
	var silent []net.Conn
	for i := 0; i < 20; i++ {
		conn, err := net.Dial("unix", filepath.Join(dir, "r0.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if i%2 == 1 {
			conn.Write([]byte("GORUNv2")) // half a magic, then nothing
		}
		silent = append(silent, conn)
	}
	if err := us[1].Send(context.Background(), 0, comm.Header{Kind: kindData}, []byte("real")); err != nil {
		t.Fatal(err)
	}
	recs[0].WaitFor(t, "the real frame", func(f []comm.Frame, _ map[int]error) bool { return len(f) == 1 })
	start := time.Now()
	if err := us[0].Close(); err != nil {
		t.Fatalf("Close with silent connections pending: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with silent connections pending", d)
	}
	for _, conn := range silent {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := conn.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Fatalf("a silent connection was answered or left open: %d bytes, %v", n, err)
		}
	}
}
