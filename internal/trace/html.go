package trace

import (
	"bufio"
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
//	 "lanes": [{"rank", "color", "calls", "notes"}], "flows"}
//
// Calls and flows are arrays, not objects, to keep large traces small:
// call [start, end, category index, label, failed or unfinished (0/1)],
// flow [from rank, from time, to rank, to time, label]. WriteHTML writes it
// field by field (as encoding/json would, escaping <, > and & so that it is
// safe inside <script>): a trace holds up to hundreds of thousands of
// calls, and reflection made the page cost several times the JSON file.

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
	head, tail, ok := strings.Cut(timelinePage, "/*DATA*/")
	if !ok {
		return fmt.Errorf("trace: the timeline page has no /*DATA*/ to fill")
	}
	fixed, err := json.Marshal(htmlHead{Title: title, End: tl.End, Categories: categories, Colors: categoryColors,
		Layout: map[string]int{"top": HTMLTop, "lane": HTMLLaneHeight, "gap": HTMLLaneGap, "label": HTMLLabelWidth}})
	if err != nil {
		return fmt.Errorf("trace: encode the timeline: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(head)
	bw.Write(fixed[:len(fixed)-1]) // without its closing brace
	bw.WriteString(`,"lanes":[`)
	parts := encodeParts(len(tl.Lanes)+1, func(i int) []byte {
		if i < len(tl.Lanes) {
			return appendHTMLLane(make([]byte, 0, 1<<16), tl.Lanes[i])
		}
		return appendHTMLFlows(make([]byte, 0, 1<<16), tl)
	})
	for i, part := range parts {
		switch {
		case i == len(tl.Lanes):
			bw.WriteString(`],"flows":[`)
		case i > 0:
			bw.WriteByte(',')
		}
		bw.Write(part)
	}
	bw.WriteString("]}")
	bw.WriteString(tail)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("trace: write the timeline: %w", err)
	}
	return nil
}

// appendHTMLLane appends a lane as the page's script reads it: its rank,
// colour, calls (start, end, category, label, whether it went wrong) and
// notes.
func appendHTMLLane(b []byte, lane Lane) []byte {
	b = append(b, `{"rank":`...)
	b = strconv.AppendInt(b, int64(lane.Rank), 10)
	b = append(b, `,"color":`...)
	b = appendHTMLString(b, hexColor(LaneColor(lane.Rank)))
	b = append(b, `,"calls":[`...)
	for j, c := range lane.Calls {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, c.Start, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, c.End, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(categoryIndex[Category(c)]), 10)
		b = append(b, ',')
		b = append(b, '"')
		b = appendLabel(b, c, appendHTMLText)
		b = append(b, '"')
		if c.Flags&(Failed|Unfinished) != 0 {
			b = append(b, ",1]"...)
		} else {
			b = append(b, ",0]"...)
		}
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

// appendHTMLFlows appends tl's messages as the page's script reads them:
// sender, start of the send, receiver, end of the receive, label.
func appendHTMLFlows(b []byte, tl *Timeline) []byte {
	for i, f := range tl.Flows {
		from := tl.Lanes[f.From.Rank].Calls[f.From.Call]
		to := tl.Lanes[f.To.Rank].Calls[f.To.Call]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(f.From.Rank), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, from.Start, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(f.To.Rank), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, flowEnd(to), 10)
		b = append(b, `,"message: rank `...)
		b = strconv.AppendInt(b, int64(f.From.Rank), 10)
		b = append(b, ` → rank `...)
		b = strconv.AppendInt(b, int64(f.To.Rank), 10)
		b = append(b, `, tag `...)
		b = strconv.AppendInt(b, int64(from.SendTag), 10)
		b = append(b, `, `...)
		b = appendByteCount(b, from.SendSize) // digits and letters: nothing to escape
		b = append(b, `"]`...)
	}
	return b
}
