package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// referenceHTML is writeHTML(tl, title, limit) as it was written with
// encoding/json's reflection: writeHTML's own encoder must produce the very
// same page. The first limit shapes of calls (shapeOf) met, lane by lane,
// are kinds, the first limit messages' labels met are messages; the calls
// and flows of others carry what they would point to.
func referenceHTML(tl *Timeline, title string, limit int) string {
	type lane struct {
		Rank  int      `json:"rank"`
		Color string   `json:"color"`
		Calls [][]any  `json:"calls"`
		Notes []string `json:"notes"`
	}
	data := struct {
		Title      string            `json:"title"`
		End        int64             `json:"end"`
		Categories []string          `json:"categories"`
		Colors     map[string]string `json:"colors"`
		Layout     map[string]int    `json:"layout"`
		Lanes      []lane            `json:"lanes"`
		Flows      [][]any           `json:"flows"`
		Kinds      [][]any           `json:"kinds"`
		Messages   []string          `json:"messages"`
	}{Title: title, End: tl.End, Categories: categories, Colors: categoryColors,
		Layout: map[string]int{"top": HTMLTop, "lane": HTMLLaneHeight, "gap": HTMLLaneGap, "label": HTMLLabelWidth},
		Lanes:  []lane{}, Flows: [][]any{}, Kinds: [][]any{}, Messages: []string{}}
	kinds := map[callShape]int{}
	for _, l := range tl.Lanes {
		hl := lane{Rank: l.Rank, Color: hexColor(LaneColor(l.Rank)), Calls: [][]any{}, Notes: laneNotes(l)}
		if hl.Notes == nil {
			hl.Notes = []string{}
		}
		prev := tl.Origin
		for _, c := range l.Calls {
			times := []any{c.Start - prev, c.End - c.Start}
			prev = c.Start
			bad := 0
			if c.Flags&(Failed|Unfinished) != 0 {
				bad = 1
			}
			kind := []any{categoryIndex[Category(c)], Label(c), bad}
			k, ok := kinds[shapeOf(&c)]
			if !ok && len(kinds) < limit {
				k, ok = len(data.Kinds), true
				kinds[shapeOf(&c)] = k
				data.Kinds = append(data.Kinds, kind)
			}
			if ok {
				hl.Calls = append(hl.Calls, append(times, k))
			} else {
				hl.Calls = append(hl.Calls, append(times, kind...))
			}
		}
		data.Lanes = append(data.Lanes, hl)
	}
	messages := map[string]int{}
	for _, f := range tl.Flows {
		from := tl.Lanes[f.From.Rank].Calls[f.From.Call]
		label := fmt.Sprintf("message: rank %d → rank %d, tag %d, %s", f.From.Rank, f.To.Rank, from.SendTag, byteCount(from.SendSize))
		m, ok := messages[label]
		if !ok && len(messages) < limit {
			m, ok = len(data.Messages), true
			messages[label] = m
			data.Messages = append(data.Messages, label)
		}
		var which any = label
		if ok {
			which = m
		}
		data.Flows = append(data.Flows, []any{f.From.Rank, f.From.Call, f.To.Rank, f.To.Call, which})
	}
	js, err := json.Marshal(data)
	if err != nil {
		panic(err)
	}
	return strings.Replace(timelinePage, "/*DATA*/", string(js), 1)
}

// TestWriteHTMLAsEncodingJSON: WriteHTML's page is byte for byte the one
// encoding/json made, for seeded random timelines whose texts hold what
// must be escaped in a script (</script>, &, quotes, control characters,
// U+2028, invalid UTF-8).
func TestWriteHTMLAsEncodingJSON(t *testing.T) {
	texts := []string{"", "</script><script>alert(1)</script>", "a & b", `"quoted" \ back`, "tab\tnew\nline\r\b\f\x01",
		"line\u2028sep\u2029", "bad \xff utf8", "é ü 漢字"}
	ops := []string{"Send", "Recv", "Sendrecv", "Wait", "Probe", "Bcast", "Isend", "Irecv"}
	for seed := uint64(1); seed <= 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		ranks := make([]Rank, 1+rng.IntN(5))
		for r := range ranks {
			for i := rng.IntN(40); i > 0; i-- {
				start := rng.Int64N(1e9)
				rec := Record{Op: ops[rng.IntN(len(ops))], Flags: Flags(rng.IntN(16)), Comm: uint32(rng.IntN(3)),
					Start: start, End: start + rng.Int64N(1e6), Err: texts[rng.IntN(len(texts))], Note: texts[rng.IntN(len(texts))],
					Dest: rng.IntN(len(ranks)), DestLocal: rng.IntN(len(ranks)), SendTag: rng.IntN(3), SendSize: rng.IntN(3 << 20), SendSeq: uint64(1 + rng.IntN(3)),
					Source: rng.IntN(len(ranks)), SourceLocal: rng.IntN(len(ranks)), RecvTag: rng.IntN(3), RecvSize: rng.IntN(1 << 12), RecvPost: uint64(1 + rng.IntN(5))}
				ranks[r].Records = append(ranks[r].Records, rec)
			}
			if rng.IntN(3) == 0 {
				ranks[r].Dropped, ranks[r].Missing = uint64(rng.IntN(9)), texts[rng.IntN(len(texts))]
			}
		}
		tl := Merge(ranks)
		title := texts[rng.IntN(len(texts))]
		limit := maxShapes
		if seed%2 == 0 {
			limit = 1 + rng.IntN(8) // past it, kinds and labels are written where they are used
		}
		var got bytes.Buffer
		if err := writeHTML(&got, tl, title, limit); err != nil {
			t.Fatal(err)
		}
		if want := referenceHTML(tl, title, limit); got.String() != want {
			i := 0
			for i < len(want) && i < got.Len() && want[i] == got.String()[i] {
				i++
			}
			lo := max(i-80, 0)
			t.Fatalf("seed %d, limit %d: the page differs from encoding/json's at byte %d:\n got %q\nwant %q", seed, limit, i,
				got.String()[lo:min(i+80, got.Len())], want[lo:min(i+80, len(want))])
		}
	}
}
