package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestAppendStringIsJSON: the trace's own string encoder, fast path and
// escapes, says what encoding/json says, for seeded random texts of plain
// ASCII, escapes, HTML characters and broken UTF-8; in a page's script no
// <, > or & appears.
func TestAppendStringIsJSON(t *testing.T) {
	pieces := []string{"a", "Send(dest 1, tag 0, 8 B)", `"`, `\`, "\n", "\t", "\x01", "<", ">", "&", "</script>", "é", "\u2028", "\xff", "\xe2\x82", "日本"}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		var sb strings.Builder
		for n := rng.IntN(8); n > 0; n-- {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := sb.String()
		want, _ := json.Marshal(s)
		var wantText string
		json.Unmarshal(want, &wantText)
		for _, html := range []bool{false, true} {
			enc := appendJSONString(nil, s, html)
			var got string
			if err := json.Unmarshal(enc, &got); err != nil || got != wantText {
				t.Fatalf("%q (html %v) encoded as %s, which reads %q, %v; want %q", s, html, enc, got, err, wantText)
			}
			if html && strings.ContainsAny(string(enc), "<>&") {
				t.Fatalf("%q encoded for a page as %s", s, enc)
			}
		}
	}
}

// randomTimeline is a seeded random timeline whose calls come in few
// shapes, repeated, and whose texts hold what must be escaped.
func randomTimeline(rng *rand.Rand) *Timeline { return Merge(randomTimelineRanks(rng)) }

// randomTimelineRanks are the ranks randomTimeline merges.
func randomTimelineRanks(rng *rand.Rand) []Rank {
	texts := []string{"", "</script><script>alert(1)</script>", "a & b", `"quoted" \ back`, "tab\tnew\nline\r\b\f\x01",
		"line\u2028sep\u2029", "bad \xff utf8", "é ü 漢字", "root 0"}
	ops := []string{"Send", "Recv", "Sendrecv", "Wait", "Probe", "Bcast", "Isend", "Irecv", "Exscan"}
	ranks := make([]Rank, 1+rng.IntN(5))
	for r := range ranks {
		var shapes []Record
		for i := 1 + rng.IntN(6); i > 0; i-- {
			shapes = append(shapes, Record{Op: ops[rng.IntN(len(ops))], Flags: Flags(rng.IntN(16)), Comm: uint32(rng.IntN(3)),
				Err: texts[rng.IntN(len(texts))], Note: texts[rng.IntN(len(texts))],
				Dest: rng.IntN(len(ranks)), DestLocal: rng.IntN(len(ranks)), SendTag: rng.IntN(3) - 1, SendSize: rng.IntN(3 << 20),
				Source: rng.IntN(len(ranks)), SourceLocal: rng.IntN(len(ranks)), RecvTag: rng.IntN(3), RecvSize: rng.IntN(1 << 12)})
		}
		for i := rng.IntN(60); i > 0; i-- {
			rec := shapes[rng.IntN(len(shapes))]
			rec.Start = rng.Int64N(1e9)
			rec.End = rec.Start + rng.Int64N(1e6)
			rec.SendSeq, rec.RecvPost = uint64(1+rng.IntN(4)), uint64(1+rng.IntN(6))
			ranks[r].Records = append(ranks[r].Records, rec)
		}
		if rng.IntN(3) == 0 {
			ranks[r].Dropped, ranks[r].Missing = uint64(rng.IntN(9)), texts[rng.IntN(len(texts))]
		}
		ranks[r].Clock = texts[rng.IntN(len(texts))]
	}
	return ranks
}

// cloneRanks copies ranks and their records (Merge changes them).
func cloneRanks(ranks []Rank) []Rank {
	out := slices.Clone(ranks)
	for r := range out {
		out[r].Records = slices.Clone(ranks[r].Records)
	}
	return out
}

// TestWriteJSONSharedParts: the events written from the parts a shape's
// calls share are byte for byte those written field by field, for seeded
// random timelines; and the file is valid JSON.
func TestWriteJSONSharedParts(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		tl := randomTimeline(rand.New(rand.NewPCG(seed, 3)))
		var shared, plain bytes.Buffer
		if err := writeJSON(&shared, tl, true); err != nil {
			t.Fatal(err)
		}
		if err := writeJSON(&plain, tl, false); err != nil {
			t.Fatal(err)
		}
		if shared.String() != plain.String() {
			got, want := shared.String(), plain.String()
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			lo := max(i-100, 0)
			t.Fatalf("seed %d: the files differ at byte %d:\n got %q\nwant %q", seed, i, got[lo:min(i+80, len(got))], want[lo:min(i+80, len(want))])
		}
		if !json.Valid(shared.Bytes()) {
			t.Fatalf("seed %d: invalid JSON", seed)
		}
	}
}

// failAfter is a writer that fails once n bytes are written.
type failAfter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failAfter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		n := f.n
		f.n = 0
		return n, errDiskFull
	}
	f.n -= len(b)
	return len(b), nil
}

// TestWritersSayWhyTheyFailed: a trace whose writer fails midway (after a
// chunk or two, or at once) is an error wrapping the writer's.
func TestWritersSayWhyTheyFailed(t *testing.T) {
	tl := bankTimeline(t, bankBuffers(t))
	for _, after := range []int{0, 100, 3 * writeChunk} {
		if err := WriteJSON(&failAfter{after}, tl); !errors.Is(err, errDiskFull) {
			t.Errorf("WriteJSON failing after %d bytes: %v", after, err)
		}
		if err := WriteHTML(&failAfter{after}, tl, "t"); !errors.Is(err, errDiskFull) {
			t.Errorf("WriteHTML failing after %d bytes: %v", after, err)
		}
	}
}

// TestAppendMicrosAsStrconv: microseconds with three decimals, as the
// plain formula writes them, for seeded random times of every magnitude,
// negative ones and the extremes.
func TestAppendMicrosAsStrconv(t *testing.T) {
	plain := func(ns int64) string {
		sign := ""
		u := uint64(ns)
		if ns < 0 {
			sign, u = "-", -u
		}
		return sign + strconv.FormatUint(u/1000, 10) + "." + fmt.Sprintf("%03d", u%1000)
	}
	values := withMagnitudes(rand.New(rand.NewPCG(3, 4)), 0, 1, 9, 10, 999, 1000, 1001, 99_999, 100_000, -1, -999, -1000, math.MaxInt64, math.MinInt64, math.MinInt64+1)
	for _, v := range values {
		if got, want := string(appendMicros([]byte("x"), v)), "x"+plain(v); got != want {
			t.Fatalf("appendMicros(%d) = %q, want %q", v, got, want)
		}
	}
}

// TestAppendIntAsStrconv: appendInt and appendUint write what strconv
// does, for seeded random values of every magnitude and the extremes,
// appended to slices with and without room for them.
func TestAppendIntAsStrconv(t *testing.T) {
	values := withMagnitudes(rand.New(rand.NewPCG(5, 6)), 0, 1, 9, 10, 99, 100, 101, 999, 1000, -1, -9, -10, math.MaxInt64, math.MinInt64, math.MinInt64+1)
	for _, v := range values {
		for _, b := range [][]byte{[]byte("x"), append(make([]byte, 0, 64), 'x')} {
			if got, want := string(appendInt(b, v)), "x"+strconv.FormatInt(v, 10); got != want {
				t.Fatalf("appendInt(%d) = %q, want %q", v, got, want)
			}
			if got, want := string(appendUint(b, uint64(v))), "x"+strconv.FormatUint(uint64(v), 10); got != want {
				t.Fatalf("appendUint(%d) = %q, want %q", uint64(v), got, want)
			}
		}
	}
	if got := string(appendUint(nil, math.MaxUint64)); got != strconv.FormatUint(math.MaxUint64, 10) {
		t.Fatalf("appendUint(MaxUint64) = %q", got)
	}
}

// withMagnitudes is values and 20,000 more drawn from rng, of every
// magnitude (of either sign), for the number writers' tests.
func withMagnitudes(rng *rand.Rand, values ...int64) []int64 {
	for range 20000 {
		v := rng.Int64N(math.MaxInt64) >> rng.IntN(63)
		if rng.IntN(4) == 0 {
			v = -v
		}
		values = append(values, v)
	}
	return values
}
