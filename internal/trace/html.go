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
	b := make([]byte, 0, 4096)
	b = append(b, `,"lanes":[`...)
	for i, lane := range tl.Lanes {
		if i > 0 {
			b = append(b, ',')
		}
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
			if len(b) > 32<<10 {
				bw.Write(b)
				b = b[:0]
			}
		}
		b = append(b, `],"notes":[`...)
		for j, note := range laneNotes(lane) {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendHTMLString(b, note)
		}
		b = append(b, "]}"...)
	}
	b = append(b, `],"flows":[`...)
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
		if len(b) > 32<<10 {
			bw.Write(b)
			b = b[:0]
		}
	}
	b = append(b, "]}"...)
	bw.Write(b)
	bw.WriteString(tail)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("trace: write the timeline: %w", err)
	}
	return nil
}
