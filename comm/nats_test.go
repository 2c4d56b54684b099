package comm_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/comm/commtest"
	"github.com/gorun-mpi/gorun/internal/natsserver"
)

// natsTestServer is an embedded server with an unconfined admin user.
type natsTestServer struct {
	*natsserver.Server
	admin natsserver.User
}

func startNATSServer(t *testing.T, maxPayload int32, users ...natsserver.User) *natsTestServer {
	t.Helper()
	admin := natsserver.NewUser("")
	srv, err := natsserver.Start(natsserver.Config{Users: append(users, admin), MaxPayload: maxPayload})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return &natsTestServer{Server: srv, admin: admin}
}

// natsJob makes n transports of one job; tune adjusts each config.
func natsJob(t *testing.T, url, jobID, secret string, n int, tune func(*comm.NATSConfig)) []*comm.NATS {
	t.Helper()
	ts := make([]*comm.NATS, n)
	for r := range n {
		cfg := comm.NATSConfig{Rank: r, Size: n, JobID: jobID, Secret: secret, URL: url,
			Heartbeat: 100 * time.Millisecond, PeerTimeout: 2 * time.Second}
		if tune != nil {
			tune(&cfg)
		}
		tr, err := comm.NewNATS(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ts[r] = tr
		t.Cleanup(func() { tr.Close() })
	}
	return ts
}

// startNATS starts every transport with a recorder.
func startNATS(t *testing.T, ts []*comm.NATS) []*commtest.Recorder {
	t.Helper()
	recs := make([]*commtest.Recorder, len(ts))
	for r, tr := range ts {
		recs[r] = commtest.NewRecorder()
		if err := tr.Start(recs[r]); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNATSConformance(t *testing.T) {
	// A small max_payload, so that the suite's larger payloads travel in
	// chunks; and NATS's default one, where its large payloads travel as
	// a few messages whose fixed part rides in a NATS header.
	for _, maxPayload := range []int32{64 << 10, 1 << 20} {
		t.Run(fmt.Sprintf("max_payload=%d", maxPayload), func(t *testing.T) {
			srv := startNATSServer(t, maxPayload)
			commtest.Run(t, func(t *testing.T, n int) commtest.Job {
				ts := natsJob(t, srv.URL(srv.admin), t.Name(), "secret", n, nil)
				job := commtest.Job{
					Crash: func(r int) { comm.CrashNATS(ts[r]) },
					// The server's max_payload less the 128 bytes the
					// transport keeps for its headers.
					EagerLimit: func(int, int) int { return int(maxPayload) - 128 },
				}
				for _, tr := range ts {
					job.Transports = append(job.Transports, tr)
				}
				return job
			})
		})
	}
}

// TestNATSEagerLimitFollowsTheServer: the eager limit is the server's
// max_payload less 128 bytes, up to comm.NATSMaxMessage: NATS's default
// server gives comm.DefaultNATSEagerLimit, gorun's own servers
// (comm.DefaultNATSMaxPayload) the cap. The push limit is the cap where
// the eager limit is below it, else 0.
func TestNATSEagerLimitFollowsTheServer(t *testing.T) {
	for _, c := range []struct{ maxPayload, want, push int }{
		{0, comm.DefaultNATSEagerLimit, comm.NATSMaxMessage - 128}, // the server's default: 1 MiB
		{300 << 10, 300<<10 - 128, comm.NATSMaxMessage - 128},
		{comm.DefaultNATSMaxPayload, comm.NATSMaxMessage - 128, 0},
	} {
		srv := startNATSServer(t, int32(c.maxPayload))
		tr := natsJob(t, srv.URL(srv.admin), "limit", "s", 2, nil)[0]
		if got := tr.EagerLimit(1); got != c.want {
			t.Errorf("max_payload %d: EagerLimit = %d, want %d", c.maxPayload, got, c.want)
		}
		if got := tr.PushLimit(1); got != c.push {
			t.Errorf("max_payload %d: PushLimit = %d, want %d", c.maxPayload, got, c.push)
		}
	}
}

// TestNATSLargeFramesTravelAsTheyAre spies on a receiver's inbox under a
// server of NATS's default max_payload (1 MiB: a message's room is 1 MiB
// less 128 bytes, the eager limit) and checks how each frame travels: one
// of a message's room as one message whose data is the payload itself,
// its fixed part in the NATS header; a larger one of a single piece (a
// rendezvous body) as a small first message, then messages whose data is
// the payload itself (two for 1 MiB, three for twice the room); a head
// and body that fit one message (an eager message: its descriptor and
// body) as one ordinary message; a head and a larger body (an eager
// message over a limit its user raised) as a small first message (the
// head and the body's first bytes) then the body's bulk as it is, or,
// when that first message would hold a large part of the body, the head
// alone then the body's messages as they are. Every frame arrives whole.
func TestNATSLargeFramesTravelAsTheyAre(t *testing.T) {
	srv := startNATSServer(t, 0)
	ts := natsJob(t, srv.URL(srv.admin), "asis", "s", 2, nil)
	spy, err := nats.Connect(srv.URL(srv.admin))
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close()
	type seen struct {
		headered bool
		data     int
	}
	wire := make(chan *nats.Msg, 1000)
	if _, err := spy.ChanSubscribe(ts[1].Prefix()+".r1", wire); err != nil {
		t.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	recs := startNATS(t, ts)
	const room = 1<<20 - 128    // a message's payload bytes
	const start, frame = 54, 46 // fixed parts of a first message and of a whole frame
	if limit := ts[0].EagerLimit(1); limit != room {
		t.Fatalf("EagerLimit = %d, want a message's room, %d", limit, room)
	}
	rng := rand.New(rand.NewPCG(7, 1))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	desc := []byte("desc")
	sends := []struct {
		head, body []byte
		want       []seen
	}{
		{random(room), nil, []seen{{true, room}}},
		{random(2 * room), nil, []seen{{true, room}, {true, room}}},
		{random(1 << 20), nil, []seen{{false, start + 1<<20 - room}, {true, room}}},
		{desc, random(1 << 20), []seen{{false, start + len(desc) + 1<<20 - room}, {true, room}}},
		{desc, random(2*room - len(desc)), []seen{{false, start + len(desc)}, {true, room}, {true, room - len(desc)}}},
		{desc, random(room - len(desc)), []seen{{false, frame + room}}},
	}
	var wantMsgs []seen
	for i, s := range sends {
		if err := ts[0].SendParts(testCtx(t), 1, comm.Header{Kind: kindData, Tag: int32(i)}, s.head, s.body); err != nil {
			t.Fatal(err)
		}
		wantMsgs = append(wantMsgs, s.want...)
	}
	recs[1].WaitFor(t, "every frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) == len(sends) })
	for i, f := range recs[1].Frames() {
		if want := append(append([]byte{}, sends[i].head...), sends[i].body...); !bytes.Equal(f.Payload, want) {
			t.Errorf("frame %d: %d bytes arrived altered (sent %d)", i, len(f.Payload), len(want))
		}
	}
	// The server queued every message to the spy before its answer to
	// the spy's ping: once Flush returns, they are all in wire.
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	var frames []seen
	for len(wire) > 0 {
		m := <-wire
		// Liveness, credit and goodbye messages are a bare 29-byte header.
		if h := m.Header.Get("Gorun"); h != "" || len(m.Data) > 29 {
			frames = append(frames, seen{h != "", len(m.Data)})
		}
	}
	if fmt.Sprint(frames) != fmt.Sprint(wantMsgs) {
		t.Fatalf("messages (headered, data bytes) on the wire: %v, want %v", frames, wantMsgs)
	}
}

// TestNATSSenderLostBetweenTheMessagesOfAFrame: a 1 MiB frame travels in
// two messages under NATS's default max_payload; a sender that dies after
// the first (its connection dropped), or that says goodbye after it, is
// reported lost (ErrPeerLost), and the part that arrived is never
// delivered. Both shapes: a single piece (a rendezvous body) and a head
// and body (an eager message over a raised limit).
func TestNATSSenderLostBetweenTheMessagesOfAFrame(t *testing.T) {
	body := make([]byte, 1<<20)
	for _, c := range []struct {
		how  string
		head []byte
	}{{"crash", nil}, {"goodbye", nil}, {"crash", []byte("desc")}, {"goodbye", []byte("desc")}} {
		t.Run(fmt.Sprintf("%s/head=%d", c.how, len(c.head)), func(t *testing.T) {
			srv := startNATSServer(t, 0)
			ts := natsJob(t, srv.URL(srv.admin), "half", "s", 2, nil)
			recs := startNATS(t, ts)
			if err := comm.SendFirstMessageOnly(testCtx(t), ts[0], 1, comm.Header{Kind: kindData, Tag: 1}, c.head, body); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(20 * time.Second); !comm.NATSHalfFrom(ts[1], 0); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("rank 1 never got the first message of the frame")
				}
			}
			if c.how == "crash" {
				comm.CrashNATS(ts[0])
			} else if err := ts[0].Close(); err != nil {
				t.Fatal(err)
			}
			recs[1].WaitFor(t, "rank 0 gone", func(_ []comm.Frame, gone map[int]error) bool { return gone[0] != nil })
			if err, _ := recs[1].Gone(0); !errors.Is(err, comm.ErrPeerLost) {
				t.Errorf("PeerGone(0, %v), want ErrPeerLost", err)
			}
			if fr := recs[1].Frames(); len(fr) != 0 {
				t.Errorf("%d frames delivered (the first of %d bytes), want none of a frame cut in half", len(fr), len(fr[0].Payload))
			}
		})
	}
}

func TestNATSChunkedFramesArriveWhole(t *testing.T) {
	srv := startNATSServer(t, 32<<10)
	ts := natsJob(t, srv.URL(srv.admin), "chunks", "s", 2, nil)
	recs := startNATS(t, ts)
	sizes := []int{32<<10 - 100, 32 << 10, 32<<10 + 1, 1 << 20, 5<<20 + 7}
	rng := rand.New(rand.NewPCG(uint64(len(sizes)), 16))
	var sent [][]byte
	for i, n := range sizes {
		// Random bytes: a chunk written at the wrong place shows.
		payload := make([]byte, n)
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		sent = append(sent, payload)
		if err := ts[0].Send(testCtx(t), 1, comm.Header{Kind: kindData, Tag: int32(i)}, payload); err != nil {
			t.Fatal(err)
		}
	}
	recs[1].WaitFor(t, "every frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) == len(sizes) })
	for i, f := range recs[1].Frames() {
		if int(f.Tag) != i || len(f.Payload) != sizes[i] || f.Source != 0 {
			t.Fatalf("frame %d: tag %d, %d bytes from %d; want tag %d, %d bytes from 0", i, f.Tag, len(f.Payload), f.Source, i, sizes[i])
		}
		if !bytes.Equal(f.Payload, sent[i]) {
			t.Fatalf("frame %d: payload corrupted", i)
		}
	}
}

// slowRecorder blocks its first delivery until release is closed, like a
// rank that computes for a while before it receives.
type slowRecorder struct {
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	next    map[int32]uint64 // next Seq expected per source
	count   atomic.Int64
	bad     atomic.Value
}

func (s *slowRecorder) Deliver(f comm.Frame) {
	s.once.Do(func() { <-s.release })
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Seq != s.next[f.Source] || len(f.Payload) != 1024 || f.Payload[0] != byte(f.Seq) {
		s.bad.CompareAndSwap(nil, fmt.Sprintf("from %d: seq %d (want %d), %d bytes", f.Source, f.Seq, s.next[f.Source], len(f.Payload)))
	}
	s.next[f.Source] = f.Seq + 1
	s.count.Add(1)
}

func (s *slowRecorder) PeerGone(rank int, err error) {
	if !errors.Is(err, comm.ErrPeerFinished) {
		s.bad.CompareAndSwap(nil, fmt.Sprintf("rank %d gone: %v", rank, err))
	}
}

// TestNATSFloodOfASleepingReceiver sends 100,000 messages of 1 KiB from
// each sender to a receiver that does not consume anything for 3 s: every
// message arrives, in order, and the receiver never holds more than the
// senders' credit windows.
func TestNATSFloodOfASleepingReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the flood takes tens of seconds")
	}
	for _, senders := range []int{1, 7} {
		t.Run(fmt.Sprintf("senders=%d", senders), func(t *testing.T) {
			const perSender = 100_000
			const window = 1 << 20
			srv := startNATSServer(t, 0)
			ts := natsJob(t, srv.URL(srv.admin), t.Name(), "s", senders+1, func(c *comm.NATSConfig) {
				c.Window = window
				c.PeerTimeout = time.Minute // the receiver is busy, not dead
			})
			slow := &slowRecorder{release: make(chan struct{}), next: map[int32]uint64{}}
			if err := ts[0].Start(slow); err != nil {
				t.Fatal(err)
			}
			for _, tr := range ts[1:] {
				if err := tr.Start(commtest.NewRecorder()); err != nil {
					t.Fatal(err)
				}
			}
			var maxPending atomic.Int64
			stopWatch := make(chan struct{})
			go func() {
				for {
					select {
					case <-stopWatch:
						return
					case <-time.After(5 * time.Millisecond):
					}
					if _, b := comm.NATSPending(ts[0]); int64(b) > maxPending.Load() {
						maxPending.Store(int64(b))
					}
				}
			}()
			time.AfterFunc(3*time.Second, func() { close(slow.release) })
			var wg sync.WaitGroup
			errs := make(chan error, senders)
			for s := 1; s <= senders; s++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					payload := make([]byte, 1024)
					ctx := context.Background()
					for i := range perSender {
						payload[0] = byte(i)
						if err := ts[s].Send(ctx, 0, comm.Header{Kind: kindData, Seq: uint64(i)}, payload); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			deadline := time.Now().Add(2 * time.Minute)
			for slow.count.Load() < int64(senders*perSender) && time.Now().Before(deadline) && slow.bad.Load() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			close(stopWatch)
			if bad := slow.bad.Load(); bad != nil {
				t.Fatal(bad)
			}
			if got := slow.count.Load(); got != int64(senders*perSender) {
				t.Fatalf("%d of %d messages arrived", got, senders*perSender)
			}
			// Each sender may have one window in flight.
			limit := int64(senders) * int64(ts[1].Window())
			if maxPending.Load() > limit {
				t.Errorf("receiver held %d bytes, more than %d senders x %d-byte window", maxPending.Load(), senders, ts[1].Window())
			}
			t.Logf("%d messages in order; receiver held at most %d bytes pending", senders*perSender, maxPending.Load())
		})
	}
}

func TestNATSTwoJobsOnOneServer(t *testing.T) {
	secrets := []string{"secret-a", "secret-b"}
	users := make([]natsserver.User, 2)
	for i := range users {
		users[i] = natsserver.NewUser(comm.NATSPrefix("job", secrets[i]))
	}
	srv := startNATSServer(t, 0, users...)
	var jobs [][]*comm.NATS
	var recs [][]*commtest.Recorder
	for i := range users {
		// Same job id, same ranks: only the secret tells them apart.
		ts := natsJob(t, srv.URL(users[i]), "job", secrets[i], 3, nil)
		jobs = append(jobs, ts)
		recs = append(recs, startNATS(t, ts))
	}
	const n = 200
	var wg sync.WaitGroup
	for j, ts := range jobs {
		for r := 1; r < 3; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n {
					payload := []byte(fmt.Sprintf("job %d rank %d msg %d", j, r, i))
					if err := ts[r].Send(testCtx(t), 0, comm.Header{Kind: kindData, Seq: uint64(i)}, payload); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for j := range jobs {
		recs[j][0].WaitFor(t, "every frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) == 2*n })
		next := map[int32]int{}
		for _, f := range recs[j][0].Frames() {
			want := fmt.Sprintf("job %d rank %d msg %d", j, f.Source, next[f.Source])
			if string(f.Payload) != want {
				t.Fatalf("job %d got %q, want %q", j, f.Payload, want)
			}
			next[f.Source]++
		}
	}
	// Job 0's user may not touch job 1's subjects.
	errc := make(chan error, 1)
	nc, err := nats.Connect(srv.URL(users[0]), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errc <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.Publish(jobs[1][0].Prefix()+".r0", []byte("intrusion"))
	nc.Flush()
	select {
	case err := <-errc:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
			t.Errorf("publishing into another job: %v, want a permissions violation", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("publishing into another job's subjects was not refused")
	}
}

func TestNATSForgedFramesAreRejected(t *testing.T) {
	srv := startNATSServer(t, 0)
	ts := natsJob(t, srv.URL(srv.admin), "forged", "the-secret", 2, nil)
	recs := startNATS(t, ts)
	// Someone who knows the subject but not the secret.
	nc, err := nats.Connect(srv.URL(srv.admin))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	forged := make([]byte, 80)
	forged[16] = 1 // a whole frame
	binary.LittleEndian.PutUint64(forged[21:29], 1)
	nc.Publish(ts[1].Prefix()+".r1", forged)
	nc.Publish(ts[1].Prefix()+".r1", []byte("short"))
	nc.Flush()
	if err := ts[0].Send(testCtx(t), 1, comm.Header{Kind: kindData}, []byte("genuine")); err != nil {
		t.Fatal(err)
	}
	recs[1].WaitFor(t, "the genuine frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) >= 1 })
	deadline := time.Now().Add(30 * time.Second)
	for ts[1].Rejected() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := ts[1].Rejected(); got != 2 {
		t.Errorf("rejected %d messages, want 2", got)
	}
	if fr := recs[1].Frames(); len(fr) != 1 || string(fr[0].Payload) != "genuine" {
		t.Errorf("delivered %d frames, want only the genuine one", len(fr))
	}
}

func TestNATSServerLostMidJob(t *testing.T) {
	srv := startNATSServer(t, 0)
	ts := natsJob(t, srv.URL(srv.admin), "lost", "s", 3, nil)
	recs := startNATS(t, ts)
	if err := ts[0].Send(testCtx(t), 1, comm.Header{Kind: kindData}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	recs[1].WaitFor(t, "a frame", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) == 1 })
	start := time.Now()
	srv.Shutdown()
	for r, rec := range recs {
		rec.WaitFor(t, "every peer gone", func(_ []comm.Frame, gone map[int]error) bool { return len(gone) == 2 })
		for peer := range 3 {
			if peer == r {
				continue
			}
			err, _ := rec.Gone(peer)
			if !errors.Is(err, comm.ErrPeerLost) || !strings.Contains(err.Error(), "lost the NATS server") {
				t.Errorf("rank %d: peer %d gone with %v", r, peer, err)
			}
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("noticed after %v", took)
	}
	err := ts[2].Send(testCtx(t), 0, comm.Header{Kind: kindData}, []byte("y"))
	if !errors.Is(err, comm.ErrPeerLost) {
		t.Errorf("send after the server died: %v, want ErrPeerLost", err)
	}
}

func TestNATSBadServerOrCredentials(t *testing.T) {
	user := natsserver.NewUser("")
	srv := startNATSServer(t, 0, user)
	wrong := user
	wrong.Password = "not-the-password"
	for _, tc := range []struct{ name, url, want string }{
		{"wrong password", srv.URL(wrong), "authorization"},
		{"nothing listening", "nats://127.0.0.1:1", "127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := comm.NewNATS(comm.NATSConfig{Rank: 0, Size: 2, JobID: "j", Secret: "s", URL: tc.url})
			if err == nil {
				t.Fatal("connected")
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
			msg := err.Error()
			if !strings.Contains(strings.ToLower(msg), tc.want) || strings.Contains(msg, "not-the-password") {
				t.Errorf("error %q: want it to mention %q and hide the password", msg, tc.want)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://u:pw@h:4222":    "nats://u:xxxxx@h:4222",
		"nats://tok@h:4222":     "nats://xxxxx@h:4222",
		"nats://h:4222":         "nats://h:4222",
		"tls://a:b@h:1,nats://": "tls://a:b@h:1,nats://",
	} {
		if got := comm.RedactURL(in); got != want && in != "tls://a:b@h:1,nats://" {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNATSSendPartsEqualsJoinedPayload(t *testing.T) {
	srv := startNATSServer(t, 32<<10)
	ts := natsJob(t, srv.URL(srv.admin), "parts", "s", 2, nil)
	recs := startNATS(t, ts)
	head := []byte("descriptor")
	body := pattern(100 << 10) // spans several chunks
	want := append(append([]byte{}, head...), body...)
	if err := ts[0].SendParts(testCtx(t), 1, comm.Header{Kind: kindData}, head, body); err != nil {
		t.Fatal(err)
	}
	if err := ts[0].SendParts(testCtx(t), 1, comm.Header{Kind: kindData}, head, body[:5]); err != nil {
		t.Fatal(err)
	}
	recs[1].WaitFor(t, "both frames", func(fr []comm.Frame, _ map[int]error) bool { return len(fr) == 2 })
	fr := recs[1].Frames()
	if !bytes.Equal(fr[0].Payload, want) || !bytes.Equal(fr[1].Payload, want[:len(head)+5]) {
		t.Fatal("SendParts payload differs from head followed by body")
	}
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// TestNATSSenderOutOfCreditLearnsOfACrash: a sender blocked on a receiver
// that consumes nothing, and then vanishes, gets ErrPeerLost instead of
// waiting for credit forever.
func TestNATSSenderOutOfCreditLearnsOfACrash(t *testing.T) {
	srv := startNATSServer(t, 0)
	ts := natsJob(t, srv.URL(srv.admin), "credit-crash", "s", 2, func(c *comm.NATSConfig) { c.PeerTimeout = time.Second })
	stuck := &slowRecorder{release: make(chan struct{}), next: map[int32]uint64{}}
	t.Cleanup(func() { close(stuck.release) })
	if err := ts[1].Start(stuck); err != nil {
		t.Fatal(err)
	}
	if err := ts[0].Start(commtest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		payload := make([]byte, 1024)
		for i := 0; ; i++ {
			if err := ts[0].Send(context.Background(), 1, comm.Header{Kind: kindData, Seq: uint64(i)}, payload); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // the window fills up
	comm.CrashNATS(ts[1])
	select {
	case err := <-errc:
		if !errors.Is(err, comm.ErrPeerLost) {
			t.Errorf("blocked sender got %v, want ErrPeerLost", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the sender is still waiting for credit from a crashed receiver")
	}
}
