package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// allocated returns the bytes this process has allocated so far.
func allocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// controlSeeds are streams a rank's connection may carry: valid
// conversations, then hostile ones.
func controlSeeds() [][]byte {
	line := func(m Message) []byte {
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return append(b, '\n')
	}
	hello := line(Message{Type: TypeHello, Rank: 1, PID: 42, Secret: testSecret})
	return [][]byte{
		bytes.Join([][]byte{
			hello,
			line(Message{Type: TypeBlocked, Op: "Recv(source 0, tag 1)", Sent: []uint64{1, 2}, Received: []uint64{3, 4}}),
			line(Message{Type: TypeRunning}),
			line(Message{Type: TypeAbort, Code: 3, Reason: "bad input"}),
			line(Message{Type: TypeFinalized}),
		}, nil),
		line(Message{Type: TypeHello, Rank: 1, Secret: "wrong"}),
		line(Message{Type: TypeHello, Rank: 5, Secret: testSecret}),
		line(Message{Type: TypeHello, Rank: -1, Secret: testSecret}),
		line(Message{Type: TypeFinalized, Rank: 1, Secret: testSecret}),
		line(Message{Type: typeSync, Rank: 0, Secret: "wrong"}),
		append(hello, []byte(`{"type":"blocked","sent":[1,2,`)...),
		append(hello, []byte(`{"type":"running","rank":2}`+"\n"+`not json`)...),
		[]byte(`{"type":"hello","rank":1e400,"secret":"` + testSecret + `"}`),
		[]byte(`{"type":"hello","rank":1,"secret":"` + testSecret + `","sent":[18446744073709551616]}`),
		[]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`),
		[]byte("\xff\xfe{"),
		{},
	}
}

// FuzzReader reads a rank's connection with Reader until it fails: no
// panic, no more messages than the stream can hold (each takes at least the
// two bytes of "{}"), and memory in proportion to the stream.
func FuzzReader(f *testing.F) {
	for _, s := range controlSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		before := allocated()
		r := NewReader(bytes.NewReader(stream))
		n := 0
		for {
			_, err := r.Next()
			if err != nil {
				break
			}
			n++
			if n > len(stream)/2+1 {
				t.Fatalf("%d messages from %d bytes", n, len(stream))
			}
		}
		if grew := allocated() - before; grew > 1<<20+64*uint64(len(stream)) {
			t.Fatalf("reading %d bytes allocated %d bytes", len(stream), grew)
		}
	})
}

// FuzzServerHello sends a stream to the launcher's control server as a
// connecting rank would, then closes it. The server must pass on exactly
// what a reference reading of the stream says: if its first message is a
// hello with the job's secret and a rank of the job, that hello, every
// later message up to the first undecodable one (each stamped with the
// hello's rank, whatever it claims), and Closed; otherwise nothing. It
// must close its end once the stream ends, without waiting for a timeout.
func FuzzServerHello(f *testing.F) {
	for _, s := range controlSeeds() {
		f.Add(s)
	}
	path := filepath.Join(f.TempDir(), "control.sock")
	s, err := Listen(path, testSecret, 3)
	if err != nil {
		f.Fatalf("Listen: %v", err)
	}
	f.Cleanup(func() { _ = s.Close() })
	tag := math.MinInt32 // Sync tags, one per input
	f.Fuzz(func(t *testing.T, stream []byte) {
		tag++
		tag := tag

		// Reference reading.
		var want []Message
		r := NewReader(bytes.NewReader(stream))
		first, err := r.Next()
		isSync := err == nil && first.Type == typeSync && first.Secret == testSecret
		if err == nil && first.Type == TypeHello && first.Secret == testSecret && first.Rank >= 0 && first.Rank < 3 {
			want = append(want, first)
			for {
				m, err := r.Next()
				if err != nil {
					break
				}
				m.Rank = first.Rank
				want = append(want, m)
			}
		}

		events := make(chan []Event, 1)
		done := make(chan struct{}) // this input is over: stop draining
		defer close(done)
		go func() {
			var got []Event
			deadline := time.After(20 * time.Second)
			for {
				select {
				case e := <-s.Events():
					if e.Synced && e.Rank == tag {
						events <- got
						return
					}
					got = append(got, e)
				case <-deadline:
					events <- append(got, Event{Rank: tag, Msg: Message{Type: "timeout"}})
					return
				case <-done:
					return
				}
			}
		}()
		conn, err := net.DialTimeout("unix", path, 10*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		uc := conn.(*net.UnixConn)
		wrote := make(chan error, 1)
		go func() {
			_, err := uc.Write(stream)
			_ = uc.CloseWrite()
			wrote <- err
		}()
		_ = uc.SetReadDeadline(time.Now().Add(5 * time.Second))
		// The server may close with our bytes unread (a bad hello): the
		// connection is then reset, which ends it as well as EOF does.
		if _, err := io.Copy(io.Discard, uc); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("the server did not close its end within 5s of the stream's end: %v", err)
		}
		uc.Close()
		<-wrote // the write fails once the server closed early: fine
		s.Sync(tag)
		got := <-events

		var msgs []Message
		closed := 0
		for _, e := range got {
			switch {
			case e.Msg.Type == "timeout" && e.Rank == tag:
				t.Fatal("no Synced event within 20s")
			case e.Synced:
				if !isSync {
					t.Fatalf("unexpected Synced event %+v", e)
				}
			case e.Closed:
				closed++
			default:
				if len(want) == 0 || e.Rank != want[0].Rank {
					t.Fatalf("event %+v, want none from rank %v", e, want)
				}
				msgs = append(msgs, e.Msg)
			}
		}
		if len(want) > 0 && closed != 1 || len(want) == 0 && closed != 0 {
			t.Fatalf("%d Closed events for %d messages", closed, len(want))
		}
		if len(msgs) != len(want) {
			t.Fatalf("server passed on %d messages, want %d", len(msgs), len(want))
		}
		for i := range msgs {
			a, _ := json.Marshal(msgs[i])
			b, _ := json.Marshal(want[i])
			if !bytes.Equal(a, b) {
				t.Fatalf("message %d: got %s, want %s", i, a, b)
			}
		}
	})
}
