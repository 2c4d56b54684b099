package trace

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestOffsetRecoversAKnownOffset: whatever the delays each way, the
// estimate is within the bound it gives of the true offset, and the bound
// is half the shortest round trip.
func TestOffsetRecoversAKnownOffset(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		truth := rng.Int64N(2e9) - 1e9
		var samples []Sample
		now, minRTT := int64(1e12), int64(-1)
		for i := 0; i < 8; i++ {
			there, back := 1+rng.Int64N(200e3), 1+rng.Int64N(200e3)
			samples = append(samples, Sample{Sent: now, Remote: now + there + truth, Received: now + there + back})
			if minRTT < 0 || there+back < minRTT {
				minRTT = there + back
			}
			now += there + back + rng.Int64N(1e6)
		}
		off, bound, err := Offset(samples)
		if err != nil {
			t.Fatal(err)
		}
		if d := off - truth; d > bound || -d > bound {
			t.Fatalf("seed %d: estimate %d, truth %d, off by %d, more than the bound %d", seed, off, truth, d, bound)
		}
		if bound != (minRTT+1)/2 {
			t.Fatalf("seed %d: bound %d, want half the shortest round trip %d", seed, bound, minRTT)
		}
	}
	if _, _, err := Offset([]Sample{{Sent: 10, Received: 5}}); err == nil {
		t.Fatal("a sample whose answer came back before the question left was used")
	}
}

// TestMergeJoinsTheNthSendToTheNthReceive builds seeded random traces of
// ranks that exchange messages with a few tags, receives posted in any
// order that keeps each envelope's messages in order (as MPI's matching
// does) and recorded in any order (as Waits complete them): every message
// has a size of its own, and every flow must join a send and a receive of
// the same size.
func TestMergeJoinsTheNthSendToTheNthReceive(t *testing.T) {
	for seed := uint64(1); seed <= 100; seed++ {
		rng := rand.New(rand.NewPCG(seed, 2))
		np := 2 + rng.IntN(4)
		recs := make([][]Record, np)
		type env struct{ src, dst, tag int }
		pending := map[env][]int{} // sizes sent, in order, per envelope
		seq := map[env]uint64{}
		clock := int64(0)
		messages := rng.IntN(60)
		for size := 1; size <= messages; size++ {
			e := env{rng.IntN(np), rng.IntN(np), rng.IntN(3)}
			seq[e]++
			clock += 10
			recs[e.src] = append(recs[e.src], Record{Op: "Send", Flags: HasSend, Start: clock, End: clock + 5,
				Dest: e.dst, DestLocal: e.dst, SendTag: e.tag, SendSize: size, SendSeq: seq[e]})
			pending[e] = append(pending[e], size)
		}
		// Each receiver takes its envelopes' messages in order, envelopes
		// interleaved at random; posting numbers follow that order.
		posts := make([]uint64, np)
		for dst := 0; dst < np; dst++ {
			var mine []env
			for e, sizes := range pending {
				if e.dst == dst {
					for range sizes {
						mine = append(mine, e)
					}
				}
			}
			rng.Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
			var got []Record
			for _, e := range mine {
				size := pending[e][0]
				pending[e] = pending[e][1:]
				posts[dst]++
				got = append(got, Record{Op: "Recv", Flags: HasRecv, Start: 1000 + int64(posts[dst]), End: 5000,
					Source: e.src, SourceLocal: e.src, RecvTag: e.tag, RecvSize: size, RecvPost: posts[dst]})
			}
			rng.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
			recs[dst] = append(recs[dst], got...)
		}
		ranks := make([]Rank, np)
		for i := range ranks {
			ranks[i] = Rank{Records: recs[i]}
		}
		tl := Merge(ranks)
		if len(tl.Flows) != messages {
			t.Fatalf("seed %d: %d flows for %d messages", seed, len(tl.Flows), messages)
		}
		for _, f := range tl.Flows {
			from, to := tl.Lanes[f.From.Rank].Calls[f.From.Call], tl.Lanes[f.To.Rank].Calls[f.To.Call]
			if from.SendSize != to.RecvSize || from.Dest != f.To.Rank || to.Source != f.From.Rank || from.SendTag != to.RecvTag {
				t.Fatalf("seed %d: flow %d joins %s on rank %d to %s on rank %d", seed, f.ID, Label(from), f.From.Rank, Label(to), f.To.Rank)
			}
		}
	}
}

// TestMergeAlignsClocks: a rank whose clock is ahead is moved back by its
// offset, and the earliest call starts at 0.
func TestMergeAlignsClocks(t *testing.T) {
	tl := Merge([]Rank{
		{Records: []Record{{Op: "Send", Start: 1000, End: 1100}}},
		{Records: []Record{{Op: "Recv", Start: 5500, End: 5600}}, Offset: 5000},
	})
	if tl.Origin != 500 {
		t.Fatalf("the timeline's zero is %d on the launcher's clock, want 500", tl.Origin)
	}
	if got := tl.Lanes[0].Calls[0].Start - tl.Origin; got != 500 {
		t.Fatalf("rank 0's call starts at %d, want 500", got)
	}
	if got := tl.Lanes[1].Calls[0].Start - tl.Origin; got != 0 {
		t.Fatalf("rank 1's call starts at %d, want 0", got)
	}
	if tl.End != 600 {
		t.Fatalf("the timeline ends at %d, want 600", tl.End)
	}
}

// TestWriteJSONAndHTML: both writers produce what they promise for a small
// timeline with a message, an unfinished call and a full buffer.
func TestWriteJSONAndHTML(t *testing.T) {
	tl := Merge([]Rank{
		{Records: []Record{{Op: "Send", Flags: HasSend, Start: 0, End: 100, Dest: 1, DestLocal: 1, SendTag: 3, SendSize: 8, SendSeq: 1}}, Dropped: 7},
		{Records: []Record{
			{Op: "Recv", Flags: HasRecv, Start: 10, End: 200, Source: 0, RecvTag: 3, RecvSize: 8, RecvPost: 1},
			{Op: "Recv", Flags: Unfinished, Start: 300, End: 900, Note: "source 0, tag 4"},
		}},
	})
	var js bytes.Buffer
	if err := WriteJSON(&js, tl); err != nil {
		t.Fatal(err)
	}
	var file struct {
		TraceEvents []map[string]any `json:"traceEvents"`
	}
	if err := json.Unmarshal(js.Bytes(), &file); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, js.String())
	}
	phases := map[string]int{}
	for _, e := range file.TraceEvents {
		phases[e["ph"].(string)]++
	}
	if phases["X"] != 3 || phases["s"] != 1 || phases["f"] != 1 || phases["i"] != 1 {
		t.Fatalf("events by phase: %v, want 3 calls, one flow, one note", phases)
	}
	for _, want := range []string{`"rank 0"`, `"rank 1"`, "7 later calls were not recorded",
		`"args":{"dest":1,"send_tag":3,"send_bytes":8,"send_seq":1}}`, `"args":{"source":0,"recv_tag":3,"recv_bytes":8}}`,
		`"args":{"note":"source 0, tag 4","unfinished":true}}`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("the JSON lacks %s", want)
		}
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, tl, "a <title> & more"); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	if strings.Contains(html, "/*DATA*/") || strings.Contains(html, "<title> & more") {
		t.Fatal("the page's data was not filled in, or its title not escaped")
	}
	offline := strings.ReplaceAll(html, "http://www.w3.org/2000/svg", "") // a name, not fetched
	for _, bad := range []string{"http:", "https:", "src=", "href=", "fetch(", "XMLHttpRequest", "@import"} {
		if strings.Contains(offline, bad) {
			t.Errorf("the page may reach the network: it contains %q", bad)
		}
	}
}
