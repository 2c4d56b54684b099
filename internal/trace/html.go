package trace

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

//go:embed timeline.html
var timelinePage string

// categories in the order the HTML legend shows them.
var categories = []string{"send", "recv", "sendrecv", "wait", "probe", "collective"}

// htmlData is what the page's script draws. Calls and flows are arrays,
// not objects, to keep large traces small:
// call [start, end, category index, label, failed or unfinished (0/1)],
// flow [from rank, from time, to rank, to time, label].
type htmlData struct {
	Title      string            `json:"title"`
	End        int64             `json:"end"`
	Categories []string          `json:"categories"`
	Colors     map[string]string `json:"colors"`
	Layout     map[string]int    `json:"layout"`
	Lanes      []htmlLane        `json:"lanes"`
	Flows      [][]any           `json:"flows"`
}

type htmlLane struct {
	Rank  int      `json:"rank"`
	Color string   `json:"color"`
	Calls [][]any  `json:"calls"`
	Notes []string `json:"notes"`
}

// WriteHTML writes tl as one self-contained HTML page (inline script and
// SVG, nothing fetched): a lane per rank in LaneColor, each call a box
// coloured by Category, an arrow per message from the send to the receive;
// hovering over a box or an arrow shows its details. title heads the page.
func WriteHTML(w io.Writer, tl *Timeline, title string) error {
	index := map[string]int{}
	for i, c := range categories {
		index[c] = i
	}
	data := htmlData{Title: title, End: tl.End, Categories: categories, Colors: categoryColors,
		Layout: map[string]int{"top": HTMLTop, "lane": HTMLLaneHeight, "gap": HTMLLaneGap, "label": HTMLLabelWidth}}
	for _, lane := range tl.Lanes {
		hl := htmlLane{Rank: lane.Rank, Color: hexColor(LaneColor(lane.Rank)), Calls: [][]any{}, Notes: laneNotes(lane)}
		if hl.Notes == nil {
			hl.Notes = []string{}
		}
		for _, c := range lane.Calls {
			bad := 0
			if c.Flags&(Failed|Unfinished) != 0 {
				bad = 1
			}
			hl.Calls = append(hl.Calls, []any{c.Start, c.End, index[Category(c)], Label(c), bad})
		}
		data.Lanes = append(data.Lanes, hl)
	}
	data.Flows = [][]any{}
	for _, f := range tl.Flows {
		from := tl.Lanes[f.From.Rank].Calls[f.From.Call]
		to := tl.Lanes[f.To.Rank].Calls[f.To.Call]
		label := fmt.Sprintf("message: rank %d → rank %d, tag %d, %s", f.From.Rank, f.To.Rank, from.SendTag, byteCount(from.SendSize))
		data.Flows = append(data.Flows, []any{f.From.Rank, from.Start, f.To.Rank, flowEnd(to), label})
	}
	js, err := json.Marshal(data) // escapes <, > and &: safe inside <script>
	if err != nil {
		return fmt.Errorf("trace: encode the timeline: %w", err)
	}
	page := strings.Replace(timelinePage, "/*DATA*/", string(js), 1)
	if _, err := io.WriteString(w, page); err != nil {
		return fmt.Errorf("trace: write the timeline: %w", err)
	}
	return nil
}
