package trace

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

//go:embed timeline.html
var timelinePage string

// categories in the order the HTML legend shows them.
var categories = []string{"send", "recv", "sendrecv", "wait", "probe", "collective"}

// categoryIndex is the position of each category in categories.
var categoryIndex = func() map[string]int {
	index := map[string]int{}
	for i, c := range categories {
		index[c] = i
	}
	return index
}()

// The page's script draws one JSON object, DATA:
//
//	{"title", "end", "categories", "colors", "layout",
//	 "lanes": [{"rank", "color", "calls", "notes"}], "flows", "kinds", "messages"}
//
// Calls and flows are arrays, not objects, to keep large traces small;
// what calls alike share is said once, and times are short numbers: a call
// is [its start minus that of the call before it in its lane (the first:
// from the timeline's zero), its duration, kind], kind an index into
// kinds, whose entries are [category index, label, failed or unfinished
// (0/1)]; a flow is [from rank, the index of the sending call in its lane,
// to rank, that of the receiving call, message], message an index into
// messages, the flows' labels (the bank example's 12,000 calls: a page of
// 0.3 MB rather than 1 MB, and fewer digits to write). Past maxShapes
// kinds or messages, a call carries its kind's three values after its
// times, and a flow its label. The page's script makes them into times. WriteHTML writes DATA field by
// field (as encoding/json would, escaping <, > and & so that it is safe
// inside <script>): a trace holds up to hundreds of thousands of calls,
// and reflection made the page cost several times the JSON file.

// htmlHead is DATA's first fields, which encoding/json writes.
type htmlHead struct {
	Title      string            `json:"title"`
	End        int64             `json:"end"`
	Categories []string          `json:"categories"`
	Colors     map[string]string `json:"colors"`
	Layout     map[string]int    `json:"layout"`
}

// WriteHTML writes tl as one self-contained HTML page (inline script and
// SVG, nothing fetched): a lane per rank in LaneColor, each call a box
// coloured by Category, an arrow per message from the send to the receive;
// hovering over a box or an arrow shows its details. title heads the page.
func WriteHTML(w io.Writer, tl *Timeline, title string) error {
	return writeHTML(w, tl, title, maxShapes)
}

// writeHTML is WriteHTML with at most limit kinds and messages in their
// tables (for tests: WriteHTML's is maxShapes).
func writeHTML(w io.Writer, tl *Timeline, title string, limit int) error {
	head, tail, ok := strings.Cut(timelinePage, "/*DATA*/")
	if !ok {
		return fmt.Errorf("trace: the timeline page has no /*DATA*/ to fill")
	}
	fixed, err := json.Marshal(htmlHead{Title: title, End: tl.End, Categories: categories, Colors: categoryColors,
		Layout: map[string]int{"top": HTMLTop, "lane": HTMLLaneHeight, "gap": HTMLLaneGap, "label": HTMLLabelWidth}})
	if err != nil {
		return fmt.Errorf("trace: encode the timeline: %w", err)
	}
	o := newObject(w)
	o.b = append(o.b, head...)
	o.b = append(o.b, fixed[:len(fixed)-1]...) // without its closing brace
	o.b = append(o.b, `,"lanes":[`...)
	shapes := shapeCache{limit: limit}
	var kinds []byte
	for i, lane := range tl.Lanes {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendHTMLLane(o.b, lane, tl.Origin, &shapes, &kinds, o.flushFull)
	}
	o.b = append(o.b, `],"flows":[`...)
	var messages []byte
	o.b = appendHTMLFlows(o.b, tl, limit, &messages, o.flushFull)
	o.b = append(o.b, `],"kinds":[`...)
	o.b = append(o.b, kinds...)
	o.b = append(o.b, `],"messages":[`...)
	o.b = append(o.b, messages...)
	o.b = append(o.b, "]}"...)
	o.b = append(o.b, tail...)
	if err := o.close(); err != nil {
		return fmt.Errorf("trace: write the timeline: %w", err)
	}
	return nil
}

// appendHTMLLane appends a lane as the page's script reads it: its rank,
// colour, calls (start from the call before's, or from origin, duration,
// kind) and notes. A call of a shape met for
// the first time (shapes) adds its kind to kinds (what follows its times
// when shapes is full). Between calls it passes what it has so far to
// flush, which returns what to go on appending to.
func appendHTMLLane(b []byte, lane Lane, origin int64, shapes *shapeCache, kinds *[]byte, flush func([]byte) []byte) []byte {
	b = append(b, `{"rank":`...)
	b = strconv.AppendInt(b, int64(lane.Rank), 10)
	b = append(b, `,"color":`...)
	b = appendHTMLString(b, hexColor(LaneColor(lane.Rank)))
	b = append(b, `,"calls":[`...)
	for j := range lane.Calls {
		c := &lane.Calls[j]
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendInt(b, c.Start-origin)
		origin = c.Start // the next call's start is written from this one's
		b = append(b, ',')
		b = appendInt(b, c.End-c.Start)
		b = append(b, ',')
		p := shapes.find(c, func(p *shapeParts) {
			p.kind = shapes.made
			shapes.made++
			if p.kind > 0 {
				*kinds = append(*kinds, ',')
			}
			*kinds = append(*kinds, '[')
			*kinds = appendHTMLKind(*kinds, c)
			*kinds = append(*kinds, ']')
		})
		if p != nil {
			b = appendInt(b, int64(p.kind))
		} else {
			b = appendHTMLKind(b, c)
		}
		b = append(b, ']')
		b = flush(b)
	}
	b = append(b, `],"notes":[`...)
	for j, note := range laneNotes(lane) {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendHTMLString(b, note)
	}
	return append(b, "]}"...)
}

// appendHTMLKind appends what a call shares with the calls of its shape
// in the page's data: its category, label and whether it went wrong.
func appendHTMLKind(b []byte, c *Record) []byte {
	b = strconv.AppendInt(b, int64(categoryIndex[Category(*c)]), 10)
	b = append(b, ',', '"')
	b = appendLabel(b, *c, appendHTMLText)
	b = append(b, '"')
	if c.Flags&(Failed|Unfinished) != 0 {
		return append(b, ",1"...)
	}
	return append(b, ",0"...)
}

// appendHTMLFlows appends tl's messages as the page's script reads them:
// sender, its call, receiver, its call, and the index
// of the label in messages, to which a label met for the first time is
// added (the label itself past limit labels). Between messages it
// passes what it has so far to flush, which returns what to go on
// appending to.
func appendHTMLFlows(b []byte, tl *Timeline, limit int, messages *[]byte, flush func([]byte) []byte) []byte {
	type message struct{ from, to, tag, size int }
	labels := map[message][]byte{} // the label's index, or past maxShapes the label
	var last message
	var lastLabel []byte
	for i, f := range tl.WaitFlows() {
		from := &tl.Lanes[f.From.Rank].Calls[f.From.Call]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendInt(b, int64(f.From.Rank))
		b = append(b, ',')
		b = appendInt(b, int64(f.From.Call))
		b = append(b, ',')
		b = appendInt(b, int64(f.To.Rank))
		b = append(b, ',')
		b = appendInt(b, int64(f.To.Call))
		b = append(b, ',')
		m := message{f.From.Rank, f.To.Rank, from.SendTag, from.SendSize}
		if lastLabel == nil || m != last {
			label, ok := labels[m]
			if !ok {
				label = appendFlowLabel(nil, m.from, m.to, m.tag, m.size)
				if len(labels) < limit {
					if len(labels) > 0 {
						*messages = append(*messages, ',')
					}
					*messages = append(*messages, label...)
					label = strconv.AppendInt(nil, int64(len(labels)), 10)
					labels[m] = label
				}
			}
			last, lastLabel = m, label
		}
		b = append(b, lastLabel...)
		b = append(b, ']')
		b = flush(b)
	}
	return b
}

// appendFlowLabel appends a message's label, a JSON string.
func appendFlowLabel(b []byte, from, to, tag, size int) []byte {
	b = append(b, `"message: rank `...)
	b = strconv.AppendInt(b, int64(from), 10)
	b = append(b, ` → rank `...)
	b = strconv.AppendInt(b, int64(to), 10)
	b = append(b, `, tag `...)
	b = strconv.AppendInt(b, int64(tag), 10)
	b = append(b, `, `...)
	b = appendByteCount(b, size) // digits and letters: nothing to escape
	return append(b, '"')
}
