package trace

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestWritersByPlan: the files are byte for byte the same whether one
// goroutine encodes them in one chunk or several goroutines in chunks of a
// few bytes to a few KiB, the writer putting the chunks back in order: for
// the bank example's buffers and seeded random timelines (run with -race:
// the encoding goroutines share the timeline).
func TestWritersByPlan(t *testing.T) {
	one := plan{workers: 1, chunk: 1 << 30}
	plans := []plan{{workers: 2, chunk: 1}, {workers: 3, chunk: 64}, {workers: 4, chunk: 4096}, defaultPlan()}
	timelines := map[string]*Timeline{"bank": bankTimeline(t, bankBuffers(t))}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	for i := range 20 {
		timelines["random "+string(rune('a'+i))] = randomTimeline(rng)
	}
	writers := []struct {
		name string
		fn   func(*bytes.Buffer, *Timeline, plan) error
	}{
		{"json", func(b *bytes.Buffer, tl *Timeline, p plan) error { return writeJSON(b, tl, true, p) }},
		{"html", func(b *bytes.Buffer, tl *Timeline, p plan) error { return writeHTML(b, tl, "a <title>", p) }},
	}
	for name, tl := range timelines {
		for _, w := range writers {
			var want bytes.Buffer
			if err := w.fn(&want, tl, one); err != nil {
				t.Fatal(err)
			}
			for _, p := range plans {
				var got bytes.Buffer
				if err := w.fn(&got, tl, p); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					i := 0
					for i < got.Len() && i < want.Len() && got.Bytes()[i] == want.Bytes()[i] {
						i++
					}
					t.Fatalf("%s %s by %+v: %d bytes, by one goroutine in one chunk %d; they differ at byte %d",
						name, w.name, p, got.Len(), want.Len(), i)
				}
			}
		}
	}
}

// countingWriter counts the writes it takes and fails from the n-th on.
type countingWriter struct{ writes, failFrom int }

func (c *countingWriter) Write(b []byte) (int, error) {
	c.writes++
	if c.writes >= c.failFrom {
		return 0, errDiskFull
	}
	return len(b), nil
}

// TestWriteSegmentsStopsAtAnError: once the file fails, writeSegments
// writes nothing more, still waits for every segment to be encoded (it
// leaves no goroutine behind: each encode runs to its end), and returns
// the error.
func TestWriteSegmentsStopsAtAnError(t *testing.T) {
	const segments = 40
	encoded := make([]bool, segments)
	w := &countingWriter{failFrom: 3}
	err := writeSegments(w, segments, plan{workers: 3, chunk: 16}, func(i int, o *object, _ *shapeCache) {
		for range 100 {
			o.b = append(o.b, "0123456789"...)
			o.b = o.flushFull(o.b)
		}
		encoded[i] = true
	})
	if !errors.Is(err, errDiskFull) || w.writes != 3 {
		t.Fatalf("writeSegments: %v after %d writes, want %v after 3", err, w.writes, errDiskFull)
	}
	for i, done := range encoded {
		if !done {
			t.Fatalf("segment %d was not encoded to its end", i)
		}
	}
}

// BenchmarkBankFile measures writing the bank example's trace into a file
// (as gorun does: over the last one), by plan.
func BenchmarkBankFile(b *testing.B) {
	tl := bankTimeline(b, bankBuffers(b))
	dir := b.TempDir()
	for _, p := range []plan{{workers: 1, chunk: writeChunk}, {workers: 2, chunk: writeChunk}, {workers: 2, chunk: writeChunk / 4}} {
		for _, kind := range []string{"json", "html"} {
			b.Run(fmt.Sprintf("%s/workers=%d/chunk=%d", kind, p.workers, p.chunk), func(b *testing.B) {
				f, err := os.Create(filepath.Join(dir, "t."+kind))
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				for b.Loop() {
					if _, err := f.Seek(0, 0); err != nil {
						b.Fatal(err)
					}
					if kind == "json" {
						err = writeJSON(f, tl, true, p)
					} else {
						err = writeHTML(f, tl, "bank", p)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
