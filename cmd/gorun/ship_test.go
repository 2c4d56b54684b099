package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gorun-mpi/gorun/internal/natsserver"
)

// TestFetchProgram ships a file in chunks through a real server, checks
// the cache is used the second time, and that a wrong digest is refused
// and nothing is cached.
func TestFetchProgram(t *testing.T) {
	srv, err := natsserver.Start(natsserver.Config{Users: []natsserver.User{{Name: "u", Password: "p"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.URL(natsserver.User{Name: "u", Password: "p"}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "prog")
	body := []byte(strings.Repeat("0123456789abcdef", 100_000)) // 1.6 MB: several chunks
	if err := os.WriteFile(path, body, 0o755); err != nil {
		t.Fatal(err)
	}
	stop, err := serveProgram(nc, "ship.test", path)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	digest, size, err := fileDigest(path)
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{cfg: agentConfig{name: "t", cache: filepath.Join(dir, "cache")}, nc: nc, logw: io.Discard}
	os.Mkdir(a.cfg.cache, 0o700)

	wrong := strings.Repeat("0", 64)
	if _, _, err := a.fetchProgram(context.Background(), shipSpec{Digest: wrong, Size: size, Name: "prog", Subject: "ship.test"}); !errors.Is(err, errDigest) {
		t.Fatalf("a wrong digest: got %v, want errDigest", err)
	}
	if left, _ := os.ReadDir(a.cfg.cache); len(left) != 0 {
		t.Fatalf("the refused program was kept: %v", left)
	}
	spec := shipSpec{Digest: digest, Size: size, Name: "prog", Subject: "ship.test"}
	prog, shipped, err := a.fetchProgram(context.Background(), spec)
	if err != nil || shipped != size {
		t.Fatalf("first fetch: shipped %d of %d: %v", shipped, size, err)
	}
	if got, _ := os.ReadFile(prog.path); string(got) != string(body) {
		t.Fatal("the cached program differs from the original")
	}
	if _, shipped, err := a.fetchProgram(context.Background(), spec); err != nil || shipped != 0 {
		t.Fatalf("second fetch: shipped %d bytes (want 0, from the cache): %v", shipped, err)
	}
	if _, _, err := a.fetchProgram(context.Background(), shipSpec{Digest: "../../etc/passwd", Size: 1, Subject: "ship.test"}); err == nil {
		t.Fatal("a digest that is a path was accepted")
	}
}
