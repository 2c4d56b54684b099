package tests

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A hostile local process — same user, but without the job's secret —
// connects to a running job's sockets and misbehaves. Each attack must be
// refused, and the job must go on and finish with the right results and
// status 0.

// hostileNP is the size of the attacked jobs.
const hostileNP = 4

// rankHello is a Unix-transport handshake (see comm/unix_frame.go): the
// magic, the claimed rank, the secret's length as announced, and the
// bytes actually sent as the secret.
func rankHello(rank uint32, announced uint16, secret string) []byte {
	b := append([]byte("GORUNv2\x00"), 0, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[8:], rank)
	binary.LittleEndian.PutUint16(b[12:], announced)
	return append(b, secret...)
}

// frameHeader is a Unix-transport frame header (an eager frame) whose
// length field says length.
func frameHeader(length uint64) []byte {
	b := make([]byte, 32)
	b[0] = 1
	binary.LittleEndian.PutUint64(b[24:], length)
	return b
}

// randomBytes returns n bytes from a seeded generator (the same garbage in
// every run).
func randomBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// attack is one hostile act against one socket.
type attack struct {
	name string
	// send is written on a fresh connection (nothing for a silent one).
	send []byte
	// hold keeps the connection open, silent after send, until the job
	// has ended; otherwise the peer must close it promptly, without
	// accepting it, and the attacker closes it then.
	hold bool
	// conns is how many such connections to make at once (default 1).
	conns int
	// talks says the server speaks first and answers errors (NATS): it
	// may write before it closes, but never accept.
	talks bool
}

// rankAttacks are the attacks on a rank's transport socket; rank is the
// attacked rank, whose number a hello claims back or whose peer it claims.
func rankAttacks(rank int) []attack {
	other := uint32((rank + 1) % hostileNP)
	wrong := strings.Repeat("ab", 32) // as long as a real secret
	return []attack{
		{name: "random bytes", send: randomBytes(int64(rank), 4096)},
		{name: "connect and close", send: nil, conns: 1},
		{name: "hello with a wrong secret", send: rankHello(other, uint16(len(wrong)), wrong)},
		{name: "hello without a secret", send: rankHello(other, 0, "")},
		{name: "hello claiming the rank itself", send: rankHello(uint32(rank), uint16(len(wrong)), wrong)},
		{name: "hello claiming a rank outside the job", send: rankHello(hostileNP, uint16(len(wrong)), wrong)},
		{name: "hello claiming rank 2^32-1", send: rankHello(1<<32-1, uint16(len(wrong)), wrong)},
		{name: "hello announcing a 64 KiB secret", send: append(rankHello(other, 65535, ""), randomBytes(1, 2048)...)},
		{name: "wrong hello then a frame of 2^62 bytes", send: append(rankHello(other, uint16(len(wrong)), wrong), frameHeader(1<<62)...)},
		{name: "hello whose secret never comes", send: rankHello(other, 1000, "abcd"), hold: true},
		{name: "half a hello", send: []byte("GORUNv2"), hold: true},
		{name: "silent connection", hold: true},
		{name: "100 silent connections", hold: true, conns: 100},
	}
}

// controlAttacks are the attacks on the launcher's control socket.
func controlAttacks() []attack {
	line := func(s string) []byte { return []byte(s + "\n") }
	wrong := strings.Repeat("ab", 32)
	return []attack{
		{name: "random bytes", send: randomBytes(99, 4096)},
		{name: "connect and close"},
		{name: "hello with a wrong secret", send: line(`{"type":"hello","rank":1,"pid":1,"secret":"` + wrong + `"}`)},
		{name: "hello without a secret", send: line(`{"type":"hello","rank":1,"pid":1}`)},
		{name: "hello claiming rank -1", send: line(`{"type":"hello","rank":-1,"secret":"` + wrong + `"}`)},
		{name: "hello claiming a rank outside the job", send: line(fmt.Sprintf(`{"type":"hello","rank":%d,"secret":"%s"}`, hostileNP, wrong))},
		{name: "wrong hello then abort", send: line(`{"type":"hello","rank":0,"secret":"x"}` + "\n" + `{"type":"abort","code":7,"reason":"forged"}`)},
		{name: "abort without a hello", send: line(`{"type":"abort","rank":0,"code":7,"reason":"forged"}`)},
		{name: "finalized without a hello", send: line(`{"type":"finalized","rank":0}`)},
		{name: "blocked without a hello", send: line(`{"type":"blocked","rank":0,"op":"Recv(source 1, tag 0)"}`)},
		{name: "sync with a wrong secret", send: line(`{"type":"sync","rank":0,"secret":"` + wrong + `"}`)},
		{name: "a number too large", send: line(`{"type":"hello","rank":1e999}`)},
		{name: "hello whose secret never ends", send: []byte(`{"type":"hello","rank":1,"secret":"` + strings.Repeat("a", 1<<16)), hold: true},
		{name: "silent connection", hold: true},
		{name: "100 silent connections", hold: true, conns: 100},
	}
}

// natsAttacks are the attacks on the job's embedded NATS server, which
// wants the job's user and password, allows that user only the job's
// subjects, and drops a client that does not log in within its auth
// timeout.
func natsAttacks() []attack {
	crlf := func(s ...string) []byte { return []byte(strings.Join(s, "\r\n") + "\r\n") }
	return []attack{
		{name: "random bytes", send: randomBytes(7, 4096), talks: true},
		{name: "connect with a wrong password", send: crlf(`CONNECT {"verbose":true,"user":"gorun","pass":"guess"}`, "SUB > 1", "PING"), talks: true},
		{name: "connect without credentials", send: crlf(`CONNECT {"verbose":true}`, "SUB > 1", "PUB x 1", "y", "PING"), talks: true},
		{name: "publish before connect", send: crlf("PUB gorun.x 5", "hello"), talks: true},
		{name: "publish announcing 2^62 bytes", send: crlf("PUB gorun.x 4611686018427387904"), talks: true},
		{name: "a control line without end", send: bytes.Repeat([]byte("SUB "), 1<<15), talks: true},
		{name: "silent connection", talks: true},
		{name: "100 silent connections", talks: true, conns: 100},
	}
}

// attacker runs attacks against a job and remembers the connections it
// holds; its methods may be called from several goroutines.
type attacker struct {
	t    *testing.T
	mu   sync.Mutex
	held []net.Conn
}

// dial connects to the Unix socket at path ("tcp:host:port": that TCP
// port), waiting for it to appear for up to patience.
func (a *attacker) dial(path string, patience time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(patience)
	for {
		network, addr := "unix", path
		if a, ok := strings.CutPrefix(path, "tcp:"); ok {
			network, addr = "tcp", a
		}
		conn, err := net.Dial(network, addr)
		if err == nil {
			return conn, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("dialing %s: %w", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run carries out at against the socket at path. A refusal it expects but
// does not see is a test failure. Once the job is under way (late), a
// socket that is gone is no failure: the job may have ended.
func (a *attacker) run(path string, at attack, late bool) {
	var closing sync.WaitGroup
	defer closing.Wait()
	for i := 0; i < max(at.conns, 1); i++ {
		patience := 20 * time.Second
		if late {
			patience = 0
		}
		conn, err := a.dial(path, patience)
		if err != nil {
			if !late {
				a.t.Errorf("%s on %s: %v", at.name, filepath.Base(path), err)
			}
			return
		}
		if len(at.send) > 0 {
			// A peer that refuses at once may close before all is
			// written; that is fine.
			conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			conn.Write(at.send)
		}
		if at.hold {
			a.mu.Lock()
			a.held = append(a.held, conn)
			a.mu.Unlock()
			continue
		}
		closing.Add(1)
		go func() { // the connections of one attack wait together
			defer closing.Done()
			defer conn.Close()
			if len(at.send) > 0 || at.talks {
				if err := expectClosed(conn, at.talks); err != nil {
					a.t.Errorf("%s on %s: %v", at.name, filepath.Base(path), err)
				}
			}
		}()
	}
}

// release closes every connection held.
func (a *attacker) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.held {
		c.Close()
	}
	a.held = nil
}

// expectClosed waits for the peer to close conn without accepting it. A
// peer that does not talk may send no byte at all (a rank's acceptance is
// one byte, and the control server never writes); one that talks (NATS)
// may send its greeting and errors, but no acknowledgement or message.
func expectClosed(conn net.Conn, talks bool) error {
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	var b [4096]byte
	for {
		n, err := conn.Read(b[:])
		got = append(got, b[:n]...)
		if n > 0 && !talks {
			return fmt.Errorf("the job answered %q instead of closing the connection", got)
		}
		if talks && (bytes.Contains(got, []byte("+OK")) || bytes.Contains(got, []byte("MSG "))) {
			return fmt.Errorf("the server accepted: %q", got)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("the connection is still open after 5 s (got %q)", got)
		}
		if err != nil {
			return nil
		}
	}
}

// jobPaths is what the target program tells of its job.
type jobPaths struct {
	dir     string // the socket directory, GORUN_DIR
	control string // the control socket, GORUN_CONTROL
	gorun   int    // gorun's pid
	nats    string // the NATS server's host:port, "-" on the local transport
}

// rankSocket is rank's transport socket.
func (p jobPaths) rankSocket(rank int) string {
	return filepath.Join(p.dir, fmt.Sprintf("r%d.sock", rank))
}

// readJobPaths waits for the target program's info file and reads it.
func readJobPaths(info string) (jobPaths, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(info)
		if err == nil {
			var p jobPaths
			if _, err := fmt.Sscanf(string(b), "%s\n%s\n%d\n%s\n", &p.dir, &p.control, &p.gorun, &p.nats); err != nil {
				return p, fmt.Errorf("info file %q: %w", b, err)
			}
			return p, nil
		}
		if time.Now().After(deadline) {
			return jobPaths{}, fmt.Errorf("the job never wrote %s", info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// attackedJob runs the target program at hostileNP ranks with flags while
// attacks (from targets, keyed by socket path) hit its sockets: once
// before the ranks talk to each other, then again and again while they
// do. It checks that the job finished correctly. before, if not nil, runs
// after the first attacks, while the ranks still wait; args go to the
// program.
func attackedJob(t *testing.T, flags []string, targets func(jobPaths) map[string][]attack, before func(jobPaths), args ...string) {
	work := t.TempDir()
	info, goFile := filepath.Join(work, "info"), filepath.Join(work, "go")
	a := &attacker{t: t}
	defer a.release()
	done := make(chan struct{})
	attacking := make(chan struct{})
	go func() {
		defer close(attacking)
		paths, err := readJobPaths(info)
		if err != nil {
			t.Error(err)
			os.WriteFile(goFile, nil, 0o600)
			return
		}
		plan := targets(paths)
		var wg sync.WaitGroup
		for path, attacks := range plan {
			for _, at := range attacks {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a.run(path, at, false)
				}()
			}
		}
		wg.Wait()
		if before != nil {
			before(paths)
		}
		// Every attack has been refused or is being held: let the ranks
		// talk, and keep attacking while they do.
		if err := os.WriteFile(goFile, nil, 0o600); err != nil {
			t.Error(err)
			return
		}
		type target struct {
			path string
			at   attack
		}
		var again []target // held ones once is enough
		for path, attacks := range plan {
			for _, at := range attacks {
				if !at.hold {
					again = append(again, target{path, at})
				}
			}
		}
		for i := 0; len(again) > 0; i++ {
			select {
			case <-done:
				return
			default:
			}
			a.run(again[i%len(again)].path, again[i%len(again)].at, true)
		}
	}()
	res := runGorun(t, job{np: hostileNP, prog: "target", flags: flags, args: append([]string{"-info", info, "-go", goFile, "-rounds", "8"}, args...)})
	close(done)
	<-attacking
	if res.code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	for r := 0; r < hostileNP; r++ {
		if !strings.Contains(res.stdout, fmt.Sprintf("rank %d ok\n", r)) {
			t.Errorf("rank %d did not finish cleanly\nstdout:\n%s\nstderr:\n%s", r, res.stdout, res.stderr)
		}
	}
	noProcessLeft(t, res)
}

// TestHostileConnectionsToRanks attacks every rank's transport socket
// (local transport), one kind of attack per job.
func TestHostileConnectionsToRanks(t *testing.T) {
	if testing.Short() {
		t.Skip("one job per attack; -short makes them all at once (TestHostileEverythingAtOnce)")
	}
	for _, at := range rankAttacks(0) {
		t.Run(at.name, func(t *testing.T) {
			attackedJob(t, nil, func(p jobPaths) map[string][]attack {
				plan := map[string][]attack{}
				for r := 0; r < hostileNP; r++ {
					for _, rat := range rankAttacks(r) {
						if rat.name == at.name {
							plan[p.rankSocket(r)] = []attack{rat}
						}
					}
				}
				return plan
			}, nil)
		})
	}
}

// TestHostileConnectionsToControl attacks the launcher's control socket,
// on each transport, one kind of attack per job.
func TestHostileConnectionsToControl(t *testing.T) {
	if testing.Short() {
		t.Skip("one job per attack; -short makes them all at once (TestHostileEverythingAtOnce)")
	}
	for _, tr := range transports {
		for _, at := range controlAttacks() {
			t.Run(tr.name+"/"+at.name, func(t *testing.T) {
				attackedJob(t, tr.flags, func(p jobPaths) map[string][]attack {
					return map[string][]attack{p.control: {at}}
				}, nil)
			})
		}
	}
}

// TestHostileConnectionsToNATS attacks the embedded NATS server of a job
// on the NATS transport, one kind of attack per job.
func TestHostileConnectionsToNATS(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("one job per attack; -short makes them all at once (TestHostileEverythingAtOnce)")
	}
	for _, at := range natsAttacks() {
		t.Run(at.name, func(t *testing.T) {
			attackedJob(t, []string{"--transport", "nats"}, func(p jobPaths) map[string][]attack {
				return map[string][]attack{"tcp:" + p.nats: {at}}
			}, nil)
		})
	}
}

// TestHostileEverythingAtOnce makes every attack on every socket of one
// job at the same time, on each transport: the ranks' sockets and the
// control socket on the local transport; the control socket and the NATS
// server over NATS.
func TestHostileEverythingAtOnce(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			attackedJob(t, tr.flags, func(p jobPaths) map[string][]attack {
				plan := map[string][]attack{p.control: controlAttacks()}
				if p.nats != "-" {
					plan["tcp:"+p.nats] = natsAttacks()
					return plan
				}
				for r := 0; r < hostileNP; r++ {
					plan[p.rankSocket(r)] = rankAttacks(r)
				}
				return plan
			}, nil)
		})
	}
}

// TestHostileHellosBeforeTheRanks: forged hellos claiming every rank reach
// the control socket before any rank has said its own (the ranks wait
// 500 ms before Init); the real ranks must still be taken for themselves.
func TestHostileHellosBeforeTheRanks(t *testing.T) {
	tmp, err := os.MkdirTemp("", "gh-") // the job's directory is found there
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	a := &attacker{t: t}
	defer a.release()
	attacked := make(chan struct{})
	go func() {
		defer close(attacked)
		var control string
		for deadline := time.Now().Add(20 * time.Second); control == ""; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Error("the job's control socket never appeared")
				return
			}
			found, _ := filepath.Glob(filepath.Join(tmp, "gorun-*", "control.sock"))
			if len(found) == 1 {
				control = found[0]
			}
		}
		a.run(control, attack{name: "silent connection", hold: true}, false)
		for r := 0; r < hostileNP; r++ {
			a.run(control, attack{name: fmt.Sprintf("hello claiming rank %d", r),
				send: []byte(fmt.Sprintf(`{"type":"hello","rank":%d,"pid":1,"secret":"%s"}`+"\n", r, strings.Repeat("ab", 32)))}, false)
		}
	}()
	res := runGorun(t, job{np: hostileNP, prog: "target", args: []string{"-late", "500ms", "-rounds", "2"}, env: []string{"TMPDIR=" + tmp}})
	<-attacked
	if res.code != 0 {
		t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	for r := 0; r < hostileNP; r++ {
		if !strings.Contains(res.stdout, fmt.Sprintf("rank %d ok\n", r)) {
			t.Errorf("rank %d did not finish cleanly\nstdout:\n%s", r, res.stdout)
		}
	}
	noProcessLeft(t, res)
}

// TestHostilePileOfConnections piles more silent connections on rank 0's
// socket than the rank may have descriptors (it runs with a limit of 64):
// its accepts fail until its handshake timeout drops the silent ones, and
// then its peers must still get in. Skipped under -short: it waits out
// that timeout (10 s).
func TestHostilePileOfConnections(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out the transport's handshake timeout")
	}
	start := time.Now()
	attackedJob(t, nil, func(p jobPaths) map[string][]attack {
		return map[string][]attack{p.rankSocket(0): {{name: "100 silent connections", hold: true, conns: 100}}}
	}, nil, "-nofile", "64")
	t.Logf("the job took %v", time.Since(start).Round(time.Millisecond))
}

// TestHostileEndlessControlLine sends the control socket the start of a
// hello whose secret goes on for 256 MiB, without a newline, within the
// hello timeout. The launcher must refuse it without holding it all in
// memory.
func TestHostileEndlessControlLine(t *testing.T) {
	const sent = 256 << 20
	var before, after int
	attackedJob(t, nil, func(jobPaths) map[string][]attack { return nil }, func(p jobPaths) {
		before = peakMemoryMiB(t, p.gorun)
		conn, err := net.Dial("unix", p.control)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		conn.SetWriteDeadline(time.Now().Add(8 * time.Second))
		conn.Write([]byte(`{"type":"hello","rank":1,"secret":"`))
		chunk := []byte(strings.Repeat("a", 1<<20))
		for n := 0; n < sent; n += len(chunk) {
			if _, err := conn.Write(chunk); err != nil {
				break // refused: what we want
			}
		}
		after = peakMemoryMiB(t, p.gorun)
	})
	t.Logf("gorun's peak memory: %d MiB before, %d MiB after %d MiB on one line", before, after, sent>>20)
	if after-before > 64 {
		t.Errorf("gorun's peak memory grew from %d to %d MiB on a control connection that never finished its hello", before, after)
	}
}

// peakMemoryMiB returns the peak resident memory (VmHWM) of process pid.
func peakMemoryMiB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Error(err)
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kib int
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
			return kib >> 10
		}
	}
	return 0
}
