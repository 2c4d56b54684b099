package main

import (
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Program shipping: the launcher serves its program's bytes on a job
// subject; an agent that does not hold the program (named by its SHA-256)
// in its cache fetches it in chunks, checks the digest, and keeps it.

// shipChunk is the most program bytes one reply carries; a server's
// max_payload may lower it.
const shipChunk = 512 << 10

// shipTimeout bounds the wait for one chunk.
const shipTimeout = 10 * time.Second

// errDigest reports program bytes whose SHA-256 is not the one announced.
var errDigest = errors.New("program digest mismatch")

// fileDigest is the hex SHA-256 of the file at path and its size.
func fileDigest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// serveProgram answers the agents' chunk requests for the file at path on
// subject. The returned function stops serving.
func serveProgram(nc *nats.Conn, subject, path string) (stop func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the program to ship it: %w", err)
	}
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		var req shipRequest
		if err := json.Unmarshal(m.Data, &req); err != nil || req.Offset < 0 || req.N <= 0 || req.N > shipChunk {
			_ = m.Respond(nil)
			return
		}
		buf := make([]byte, req.N)
		n, err := f.ReadAt(buf, req.Offset)
		if err != nil && !errors.Is(err, io.EOF) {
			_ = m.Respond(nil)
			return
		}
		_ = m.Respond(buf[:n])
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot serve the program: %w", err)
	}
	return func() {
		_ = sub.Unsubscribe()
		f.Close()
	}, nil
}

// fetchProgram returns the program spec names, from the agent's cache or
// fetched from the launcher, its digest checked either way, and how many
// bytes were fetched (0: the cache had it).
func (a *agent) fetchProgram(ctx context.Context, spec shipSpec) (program, int64, error) {
	if len(spec.Digest) != 64 || strings.Trim(spec.Digest, "0123456789abcdef") != "" {
		return program{}, 0, fmt.Errorf("bad program digest %q", spec.Digest)
	}
	path := filepath.Join(a.cfg.cache, spec.Digest)
	prog := program{path: path, argv0: spec.Name}
	if digest, _, err := fileDigest(path); err == nil {
		if digest == spec.Digest {
			return prog, 0, nil
		}
		a.logf("cached program %s is corrupt (its SHA-256 is %s): fetching it again", spec.Digest, digest)
		os.Remove(path)
	}
	tmp, err := os.CreateTemp(a.cfg.cache, "fetch-*")
	if err != nil {
		return program{}, 0, fmt.Errorf("cannot cache the program: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	got, digest, err := a.fetchBytes(ctx, spec, tmp)
	if err != nil {
		return program{}, got, err
	}
	if digest != spec.Digest {
		return program{}, got, fmt.Errorf("%w: announced %s, received %s; refusing to run it", errDigest, spec.Digest, digest)
	}
	if err := tmp.Chmod(0o755); err != nil {
		return program{}, got, fmt.Errorf("cannot cache the program: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return program{}, got, fmt.Errorf("cannot cache the program: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return program{}, got, fmt.Errorf("cannot cache the program: %w", err)
	}
	from := "from the launcher"
	if spec.Bucket != "" {
		from = "from JetStream object store " + spec.Bucket
	}
	a.logf("received program %s (%d bytes) %s", spec.Digest, got, from)
	return prog, got, nil
}

// fetchBytes writes the program into w, from the object store when it has
// one, else in chunks from the launcher; it returns the size and SHA-256
// of what it wrote.
func (a *agent) fetchBytes(ctx context.Context, spec shipSpec, w io.Writer) (int64, string, error) {
	if spec.Bucket != "" {
		return a.fetchObject(ctx, spec, w)
	}
	h := sha256.New()
	chunk := min(shipChunk, int(a.nc.MaxPayload())-1024)
	var got int64
	for got < spec.Size {
		n := int(min(int64(chunk), spec.Size-got))
		rctx, cancel := context.WithTimeout(ctx, shipTimeout)
		reply, err := a.nc.RequestWithContext(rctx, spec.Subject, mustJSON(shipRequest{Offset: got, N: n}))
		cancel()
		if err != nil {
			return got, "", fmt.Errorf("fetching the program from the launcher at byte %d of %d: %w", got, spec.Size, err)
		}
		if len(reply.Data) == 0 {
			return got, "", fmt.Errorf("fetching the program: the launcher sent nothing at byte %d of %d", got, spec.Size)
		}
		h.Write(reply.Data)
		if _, err := w.Write(reply.Data); err != nil {
			return got, "", fmt.Errorf("cannot cache the program: %w", err)
		}
		got += int64(len(reply.Data))
	}
	return got, hex.EncodeToString(h.Sum(nil)), nil
}

// programPlatform is the GOOS/GOARCH a binary was built for: from its Go
// build information, else from its ELF header ("" when neither says).
func programPlatform(path string) string {
	if bi, err := buildinfo.ReadFile(path); err == nil {
		var goos, goarch string
		for _, s := range bi.Settings {
			switch s.Key {
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		if goos != "" && goarch != "" {
			return goos + "/" + goarch
		}
	}
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	arch, ok := map[elf.Machine]string{
		elf.EM_X86_64: "amd64", elf.EM_386: "386", elf.EM_AARCH64: "arm64", elf.EM_ARM: "arm",
		elf.EM_RISCV: "riscv64", elf.EM_PPC64: "ppc64le", elf.EM_S390: "s390x", elf.EM_LOONGARCH: "loong64",
	}[f.Machine]
	if !ok {
		return ""
	}
	return "linux/" + arch
}

// fetchProgram fetches the job's program, giving up when the launcher ends
// the job meanwhile (an interrupted launcher sends downEnd) or falls silent
// for a lease (no heartbeat for heartbeatLease: a launcher killed, or cut
// off, or whose downEnd was lost with a connection).
func (j *agentJob) fetchProgram() (program, int64, error) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	subject := j.req.Ctl + ".down." + strconv.Itoa(j.req.Host)
	end, err := j.agent.nc.Subscribe(subject, func(m *nats.Msg) {
		var d downMsg
		if body, err := j.relay.peek(m.Subject, m.Data); err == nil && json.Unmarshal(body, &d) == nil && d.Kind == downEnd {
			cancel(errors.New("the launcher gave the job up while the program was fetched"))
		}
	})
	if err != nil {
		return program{}, 0, fmt.Errorf("cannot subscribe to the job's subjects: %w", err)
	}
	defer end.Unsubscribe()
	var lastBeat atomic.Int64
	lastBeat.Store(time.Now().UnixNano())
	beats, err := j.agent.nc.Subscribe(j.req.Ctl+".hb", func(m *nats.Msg) {
		if _, err := j.relay.open(m.Subject, m.Data); err == nil {
			lastBeat.Store(time.Now().UnixNano())
		}
	})
	if err != nil {
		return program{}, 0, fmt.Errorf("cannot subscribe to the job's subjects: %w", err)
	}
	defer beats.Unsubscribe()
	go watchLease(ctx, &lastBeat, cancel)
	prog, shipped, err := j.agent.fetchProgram(ctx, j.req.Prog)
	if cause := context.Cause(ctx); cause != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = cause // why the fetch was given up
	}
	return prog, shipped, err
}

// watchLease cancels ctx when the launcher's last heartbeat (lastBeat, unix
// nanoseconds) is older than heartbeatLease, until ctx is done.
func watchLease(ctx context.Context, lastBeat *atomic.Int64, cancel context.CancelCauseFunc) {
	tick := time.NewTicker(heartbeatEvery / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if silent := now.Sub(time.Unix(0, lastBeat.Load())); silent > heartbeatLease {
				cancel(fmt.Errorf("no heartbeat from the launcher for %v while the program was fetched", silent.Round(time.Millisecond)))
				return
			}
		}
	}
}
