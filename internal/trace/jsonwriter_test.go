package trace

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestJSONWriterLanesInAnyOrder: lanes written early, in any order, then
// the rest by Finish, make the events WriteJSON writes: the same lines,
// each lane's in the same order; for the bank example's buffers and seeded
// random jobs, their ranks prepared first as gorun does.
func TestJSONWriterLanesInAnyOrder(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 19))
	jobs := [][]Rank{readBank(bankBuffers(t))}
	for range 20 {
		jobs = append(jobs, randomTimelineRanks(rng))
	}
	for i, ranks := range jobs {
		var want bytes.Buffer
		if err := WriteJSON(&want, Merge(cloneRanks(ranks))); err != nil {
			t.Fatal(err)
		}
		prepared := cloneRanks(ranks)
		origin, any := int64(0), false
		for r := range prepared {
			prepared[r].Prepare()
			if first, ok := prepared[r].First(); ok && (!any || first < origin) {
				origin, any = first, true
			}
		}
		var got bytes.Buffer
		jw := NewJSONWriter(&got, len(prepared), origin)
		for _, r := range rng.Perm(len(prepared))[:rng.IntN(len(prepared)+1)] {
			jw.Lane(Lane{Rank: r, Calls: prepared[r].Records, Dropped: prepared[r].Dropped, Missing: prepared[r].Missing})
		}
		if err := jw.Finish(MergeMatching(prepared)); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sortedLines(got.String()), sortedLines(want.String())) {
			t.Fatalf("job %d: the lines differ from WriteJSON's", i)
		}
		for tid := 1; tid <= len(ranks); tid++ {
			if !slices.Equal(trackLines(got.String(), tid), trackLines(want.String(), tid)) {
				t.Fatalf("job %d: track %d's events in another order than WriteJSON's", i, tid)
			}
		}
	}
}

// TestJSONWriterOriginMoved: a timeline whose zero is not the writer's
// gets ErrOriginMoved.
func TestJSONWriterOriginMoved(t *testing.T) {
	tl := Merge([]Rank{{Records: []Record{{Op: "Barrier", Start: 100, End: 200}}}})
	if err := NewJSONWriter(&bytes.Buffer{}, 1, 99).Finish(tl); !errors.Is(err, ErrOriginMoved) {
		t.Fatalf("Finish with another zero: %v", err)
	}
}

// sortedLines are the lines of a file with the comma that separates each
// event from the next taken off, sorted.
func sortedLines(file string) []string {
	lines := strings.Split(file, "\n")
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], ",")
	}
	slices.Sort(lines)
	return lines
}

// trackLines are the lines of the events on track tid, in order.
func trackLines(file string, tid int) []string {
	var out []string
	for _, l := range strings.Split(file, "\n") {
		if strings.Contains(l, `,"tid":`+strconv.Itoa(tid)+`,`) {
			out = append(out, strings.TrimSuffix(l, ","))
		}
	}
	return out
}

// TestFirstStart: the first call a buffer holds, once it holds one.
func TestFirstStart(t *testing.T) {
	buf, mem := newTestBuffer(t, 8)
	if _, ok := FirstStart(bytes.NewReader(mem)); ok {
		t.Fatal("an empty buffer has a first call")
	}
	put(t, buf, Record{Op: "Send", Flags: HasSend, Start: 500, End: 700, Dest: 1, DestLocal: 1, SendSeq: 1}, false)
	put(t, buf, Record{Op: "Barrier", Start: 800, End: 900}, true)
	if start, ok := FirstStart(bytes.NewReader(mem)); !ok || start != 500 {
		t.Fatalf("FirstStart = %d, %v; want 500, true", start, ok)
	}
}
