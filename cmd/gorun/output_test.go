package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// recorder is an io.Writer that keeps each Write separately.
type recorder struct {
	mu     sync.Mutex
	writes [][]byte
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(bytes.Join(r.writes, nil))
}

// dribble returns its data a few bytes per Read, as a pipe may.
type dribble struct {
	data []byte
	step int
}

func (d *dribble) Read(p []byte) (int, error) {
	if len(d.data) == 0 {
		return 0, io.EOF
	}
	n := min(d.step, len(p), len(d.data))
	copy(p, d.data[:n])
	d.data = d.data[n:]
	return n, nil
}

func TestForwardWholeLinesOnly(t *testing.T) {
	rec := &recorder{}
	s := newStream(rec, nil)
	in := "alpha\nbeta\ngamma delta\nno newline at the end"
	forward(&dribble{data: []byte(in), step: 3}, s, nil)
	if got, want := rec.all(), in+"\n"; got != want {
		t.Fatalf("forwarded %q, want %q", got, want)
	}
	for _, w := range rec.writes {
		if !bytes.HasSuffix(w, []byte("\n")) {
			t.Fatalf("a write ended mid-line: %q", w)
		}
	}
}

func TestForwardTagsEveryLine(t *testing.T) {
	rec := &recorder{}
	forward(strings.NewReader("one\ntwo\n\nthree"), newStream(rec, nil), rankPrefix(12))
	if got, want := rec.all(), "[12] one\n[12] two\n[12] \n[12] three\n"; got != want {
		t.Fatalf("forwarded %q, want %q", got, want)
	}
}

func TestForwardLongLineKeptWhole(t *testing.T) {
	rec := &recorder{}
	long := strings.Repeat("x", 3<<20) // 3 MiB, many read chunks
	forward(&dribble{data: []byte("a\n" + long + "\nb\n"), step: 100 << 10}, newStream(rec, nil), nil)
	if rec.all() != "a\n"+long+"\nb\n" {
		t.Fatal("long line altered")
	}
	found := false
	for _, w := range rec.writes {
		if bytes.Contains(w, []byte(long+"\n")) {
			found = true
		}
	}
	if !found {
		t.Fatal("the long line was not written in one piece")
	}
}

func TestForwardCutsOverlongLine(t *testing.T) {
	rec := &recorder{}
	long := strings.Repeat("y", maxLine+10)
	forward(strings.NewReader(long), newStream(rec, nil), nil)
	if got, want := rec.all(), long[:maxLine]+"\n"+long[maxLine:]+"\n"; got != want {
		t.Fatalf("overlong line forwarded as %d bytes, want %d (cut once, each piece ended)", len(got), len(want))
	}
}

// Many forwarders writing to one stream never mix their lines.
func TestForwardConcurrentNoInterleave(t *testing.T) {
	rec := &recorder{}
	s := newStream(rec, nil)
	const writers, lines = 8, 500
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		var b strings.Builder
		for i := 0; i < lines; i++ {
			fmt.Fprintf(&b, "writer %d line %d %s\n", w, i, strings.Repeat(string(rune('a'+w)), 100+i%300))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			forward(&dribble{data: []byte(b.String()), step: 97}, s, nil)
		}()
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(rec.all(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("got %d lines, want %d", len(got), writers*lines)
	}
	next := make([]int, writers)
	for _, l := range got {
		var w, i int
		var tail string
		if _, err := fmt.Sscanf(l, "writer %d line %d %s", &w, &i, &tail); err != nil {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i != next[w] || tail != strings.Repeat(string(rune('a'+w)), 100+i%300) {
			t.Fatalf("line %q out of order or torn (want line %d of writer %d)", l, next[w], w)
		}
		next[w]++
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestStreamReportsFirstWriteErrorOnce(t *testing.T) {
	got := make(chan error, 4)
	s := newStream(failWriter{}, func(err error) { got <- err })
	s.line("one")
	s.line("two")
	if err := <-got; err == nil || err.Error() != "broken pipe" {
		t.Fatalf("broken got %v", err)
	}
	select {
	case err := <-got:
		t.Fatalf("broken called twice (%v)", err)
	default:
	}
}
