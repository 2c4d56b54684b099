package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gorun-mpi/gorun/internal/jobenv"
	"github.com/gorun-mpi/gorun/internal/trace"
)

// traceEvent is one event of a Chrome trace-event file, as gorun writes it.
type traceEvent struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat"`
	Ph   string         `json:"ph"`
	Ts   float64        `json:"ts"`
	Dur  float64        `json:"dur"`
	Pid  int            `json:"pid"`
	Tid  int            `json:"tid"`
	ID   int            `json:"id"`
	Bp   string         `json:"bp"`
	Args map[string]any `json:"args"`
}

// readTrace parses a trace-event JSON file and checks what every trace
// must have: one track per rank named "rank N", complete events in time
// order on each. It returns the track of each rank and each track's calls.
func readTrace(t *testing.T, path string, np int) (tracks map[int]int, calls map[int][]traceEvent, events []traceEvent) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		TraceEvents []traceEvent `json:"traceEvents"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("the trace is not valid JSON: %v", err)
	}
	tracks = map[int]int{} // rank -> tid
	named := regexp.MustCompile(`^rank (\d+)$`)
	for _, e := range file.TraceEvents {
		if e.Ph == "M" && e.Name == "thread_name" {
			m := named.FindStringSubmatch(fmt.Sprint(e.Args["name"]))
			if m == nil {
				t.Fatalf("a track is named %q, not \"rank N\"", e.Args["name"])
			}
			rank, _ := strconv.Atoi(m[1])
			if _, dup := tracks[rank]; dup {
				t.Fatalf("two tracks are named rank %d", rank)
			}
			tracks[rank] = e.Tid
		}
	}
	if len(tracks) != np {
		t.Fatalf("%d tracks named after ranks, want %d: %v", len(tracks), np, tracks)
	}
	rankOf := map[int]int{}
	for r, tid := range tracks {
		if r < 0 || r >= np {
			t.Fatalf("a track for rank %d in a job of %d", r, np)
		}
		if _, dup := rankOf[tid]; dup {
			t.Fatalf("ranks share track %d", tid)
		}
		rankOf[tid] = r
	}
	calls = map[int][]traceEvent{}
	for _, e := range file.TraceEvents {
		if e.Ph != "X" {
			continue
		}
		r, ok := rankOf[e.Tid]
		if !ok {
			t.Fatalf("call %s on track %d, which is no rank's", e.Name, e.Tid)
		}
		if e.Ts < 0 || e.Dur <= 0 {
			t.Fatalf("rank %d: call %s at %v for %v", r, e.Name, e.Ts, e.Dur)
		}
		if prev := calls[r]; len(prev) > 0 && prev[len(prev)-1].Ts > e.Ts {
			t.Fatalf("rank %d: call %s at %v comes after one at %v", r, e.Name, e.Ts, prev[len(prev)-1].Ts)
		}
		calls[r] = append(calls[r], e)
	}
	return tracks, calls, file.TraceEvents
}

// enclosing returns the innermost call of list around time ts.
func enclosing(list []traceEvent, ts float64) (traceEvent, bool) {
	var best traceEvent
	found := false
	for _, c := range list {
		if c.Ts <= ts && ts <= c.Ts+c.Dur && (!found || c.Dur < best.Dur) {
			best, found = c, true
		}
	}
	return best, found
}

func argInt(e traceEvent, name string) (int, bool) {
	v, ok := e.Args[name].(float64)
	return int(v), ok
}

// checkFlows checks that every flow joins a send on the sender's track to a
// receive on the receiver's with the same tag and size, the send first,
// that no call has two, and that every call that received a message has
// one. It returns the number of flows.
func checkFlows(t *testing.T, tracks map[int]int, calls map[int][]traceEvent, events []traceEvent) int {
	t.Helper()
	return checkFlowsWithin(t, tracks, calls, events, nil)
}

// checkFlowsWithin is checkFlows for ranks whose clocks gorun aligned to
// within bound[rank] microseconds (as the trace's otherData.clocks says):
// a send may then seem to start after its receive returned by as much as
// the two ranks' bounds together, no more.
func checkFlowsWithin(t *testing.T, tracks map[int]int, calls map[int][]traceEvent, events []traceEvent, bound map[int]float64) int {
	t.Helper()
	rankOf := map[int]int{}
	for r, tid := range tracks {
		rankOf[tid] = r
	}
	type end struct {
		ev   traceEvent
		rank int
	}
	starts, finishes := map[int]end{}, map[int]end{}
	for _, e := range events {
		switch e.Ph {
		case "s", "f":
			m := starts
			if e.Ph == "f" {
				m = finishes
				if e.Bp != "e" {
					t.Fatalf("flow %d ends unbound to its enclosing slice (bp %q)", e.ID, e.Bp)
				}
			}
			if _, dup := m[e.ID]; dup {
				t.Fatalf("flow %d has two %q events", e.ID, e.Ph)
			}
			m[e.ID] = end{e, rankOf[e.Tid]}
		}
	}
	if len(starts) != len(finishes) {
		t.Fatalf("%d flow starts, %d flow ends", len(starts), len(finishes))
	}
	type callKey struct {
		rank int
		ts   float64
	}
	sendUsed, recvUsed := map[callKey]int{}, map[callKey]int{}
	for id, s := range starts {
		f, ok := finishes[id]
		if !ok {
			t.Fatalf("flow %d starts on rank %d and ends nowhere", id, s.rank)
		}
		send, ok1 := enclosing(calls[s.rank], s.ev.Ts)
		recv, ok2 := enclosing(calls[f.rank], f.ev.Ts)
		if !ok1 || !ok2 {
			t.Fatalf("flow %d: no call around its start (rank %d, %v) or end (rank %d, %v)", id, s.rank, s.ev.Ts, f.rank, f.ev.Ts)
		}
		dest, okd := argInt(send, "dest")
		stag, okt := argInt(send, "send_tag")
		ssize, oks := argInt(send, "send_bytes")
		source, okr := argInt(recv, "source")
		rtag, okrt := argInt(recv, "recv_tag")
		rsize, okrs := argInt(recv, "recv_bytes")
		if !(okd && okt && oks) {
			t.Fatalf("flow %d starts in %s on rank %d, which sent nothing: %v", id, send.Name, s.rank, send.Args)
		}
		if !(okr && okrt && okrs) {
			t.Fatalf("flow %d ends in %s on rank %d, which received nothing: %v", id, recv.Name, f.rank, recv.Args)
		}
		if dest != f.rank || source != s.rank || stag != rtag || ssize != rsize {
			t.Fatalf("flow %d joins %v on rank %d to %v on rank %d: dest, source, tag or size differ",
				id, send.Args, s.rank, recv.Args, f.rank)
		}
		if s.ev.Ts > f.ev.Ts+bound[s.rank]+bound[f.rank] {
			t.Fatalf("flow %d: the send (%v, rank %d) starts after its receive returned (%v, rank %d), clocks aligned within %v us and %v us",
				id, s.ev.Ts, s.rank, f.ev.Ts, f.rank, bound[s.rank], bound[f.rank])
		}
		sendUsed[callKey{s.rank, send.Ts}]++
		recvUsed[callKey{f.rank, recv.Ts}]++
	}
	for r, list := range calls {
		for _, c := range list {
			if _, received := c.Args["recv_bytes"]; received && recvUsed[callKey{r, c.Ts}] != 1 {
				t.Fatalf("rank %d: %s %v received a message but %d flows end in it", r, c.Name, c.Args, recvUsed[callKey{r, c.Ts}])
			}
			if _, sent := c.Args["send_bytes"]; sent && sendUsed[callKey{r, c.Ts}] != 1 {
				t.Fatalf("rank %d: %s %v sent a message but %d flows start in it", r, c.Name, c.Args, sendUsed[callKey{r, c.Ts}])
			}
		}
	}
	return len(starts)
}

// sentTotal adds up the "rank R sent N" lines of the trace program.
func sentTotal(t *testing.T, stdout string, np int) int {
	t.Helper()
	total, seen := 0, 0
	for _, l := range lines(stdout) {
		var r, n int
		if _, err := fmt.Sscanf(l, "rank %d sent %d", &r, &n); err == nil {
			total += n
			seen++
		}
	}
	if seen != np {
		t.Fatalf("%d ranks said how many messages they sent, want %d:\n%s", seen, np, stdout)
	}
	return total
}

// TestTraceJSON runs a seeded random plan of messages (tests/progs/trace)
// under gorun --trace on both transports and checks the trace: valid JSON,
// a track per rank, calls in order, and one arrow per message sent, each
// from the send on the sender's track to the receive that took it on the
// receiver's, with the same tag and size (every message of the plan has a
// size of its own, so an arrow to the wrong receive shows).
func TestTraceJSON(t *testing.T) {
	for _, transport := range jobenv.Transports() {
		for _, np := range []int{2, 4} {
			seed := uint64(np*10 + len(transport))
			t.Run(fmt.Sprintf("%s/np%d/seed%d", transport, np, seed), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "t.json")
				res := runGorun(t, job{np: np, flags: []string{"--transport", transport, "--trace", path}, prog: "trace",
					args: []string{"-seed", fmt.Sprint(seed), "-rounds", "12"}})
				if res.code != 0 {
					t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
				}
				if g := gorunLines(res.stderr); len(g) != 0 {
					t.Fatalf("gorun said: %q", g)
				}
				tracks, calls, events := readTrace(t, path, np)
				flows := checkFlows(t, tracks, calls, events)
				if want := sentTotal(t, res.stdout, np); flows != want {
					t.Fatalf("%d arrows for %d messages sent (reproduce: gorun -np %d --transport %s --trace t.json ./tests/progs/trace -seed %d -rounds 12)",
						flows, want, np, transport, seed)
				}
				for r := 0; r < np; r++ {
					names := map[string]bool{}
					for _, c := range calls[r] {
						names[c.Name] = true
					}
					for _, want := range []string{"Sendrecv", "Recv"} {
						if !names[want] {
							t.Errorf("rank %d has no %s call in its track: %v", r, want, names)
						}
					}
				}
			})
		}
	}
}

// TestTraceOfADeadlock: a job gorun ends as deadlocked still gets its trace,
// with each rank's call in progress marked as unfinished.
func TestTraceOfADeadlock(t *testing.T) {
	for _, transport := range jobenv.Transports() {
		t.Run(transport, func(t *testing.T) { traceOfADeadlock(t, transport) })
	}
}

func traceOfADeadlock(t *testing.T, transport string) {
	path := filepath.Join(t.TempDir(), "t.json")
	res := runGorun(t, job{np: 2, flags: []string{"--transport", transport, "--trace", path}, prog: "../examples/deadlock", args: []string{"-mode", "recv-first"}})
	if res.code != 1 || !strings.Contains(res.stderr, "deadlock") {
		t.Fatalf("exit %d, want 1 with a deadlock report\nstderr:\n%s", res.code, res.stderr)
	}
	checkDeadlockTrace(t, path, 2)
	noProcessLeft(t, res)
}

// checkDeadlockTrace checks the trace of a job of np ranks that each
// deadlocked in a Recv: every rank has calls, the last an unfinished Recv.
func checkDeadlockTrace(t *testing.T, path string, np int) {
	t.Helper()
	_, calls, _ := readTrace(t, path, np)
	for r := 0; r < np; r++ {
		list := calls[r]
		if len(list) == 0 {
			t.Fatalf("rank %d has no calls in the trace of a deadlock", r)
		}
		last := list[len(list)-1]
		if last.Name != "Recv" || last.Args["unfinished"] != true {
			t.Fatalf("rank %d's last call is %s %v, want an unfinished Recv", r, last.Name, last.Args)
		}
	}
}

// chromium finds a headless Chromium, or skips the test.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium installed: the HTML timeline cannot be rendered (Debian: apt-get install chromium; CI installs it)")
	return ""
}

// TestTraceHTMLRendersInChromium writes a trace as HTML, has headless
// Chromium (offline: no network) take a screenshot, and finds each rank's
// lane in its colour, in the rows the layout gives it, with calls drawn in
// it.
func TestTraceHTMLRendersInChromium(t *testing.T) {
	browser := chromium(t)
	const np = 4
	dir := t.TempDir()
	page := filepath.Join(dir, "t.html")
	res := runGorun(t, job{np: np, flags: []string{"--trace", page}, prog: "trace", args: []string{"-seed", "3", "-rounds", "6"}})
	if res.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", res.code, res.stderr)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).Match(html) {
		t.Fatal("the page refers to something on the network")
	}
	shot := filepath.Join(dir, "t.png")
	height := trace.HTMLTop + np*trace.HTMLLaneHeight + 40
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--force-device-scale-factor=1", "--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--screenshot="+shot, fmt.Sprintf("--window-size=1000,%d", height), "file://"+page)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot: %v", err)
	}
	lanes := laneColors(np)
	for r := 0; r < np; r++ {
		top := trace.HTMLTop + r*trace.HTMLLaneHeight
		bottom := top + trace.HTMLLaneHeight - trace.HTMLLaneGap
		counts := countColors(img, image.Rect(2, top+1, trace.HTMLLabelWidth-2, bottom-1), lanes)
		area := (trace.HTMLLabelWidth - 4) * (bottom - top - 2)
		if counts[r] < area/2 {
			t.Errorf("rank %d's lane: %d of %d pixels of its label area in its colour %v (counts by lane colour: %v)", r, counts[r], area, lanes[r], counts)
		}
		for o := range lanes {
			if o != r && counts[o] > 0 {
				t.Errorf("rank %d's lane shows rank %d's colour in %d pixels", r, o, counts[o])
			}
		}
		// Calls: pixels in the plot area that are neither the lane nor the
		// grid nor arrows: the boxes' fills.
		plot := image.Rect(trace.HTMLLabelWidth+8, top+8, img.Bounds().Dx()-20, bottom-8)
		boxes := countColors(img, plot, []color.RGBA{{0x1f, 0x6f, 0xd1, 255}, {0x1e, 0x9e, 0x4a, 255}, {0x0f, 0x8f, 0x8f, 255}, {0xe0, 0x8a, 0x00, 255}, {0x8e, 0x44, 0xad, 255}})
		total := 0
		for _, n := range boxes {
			total += n
		}
		if total == 0 {
			t.Errorf("rank %d's lane has no call drawn in it", r)
		}
	}
	// What hovering shows: the page's script wrote each call's and each
	// arrow's details, looked up in the data's tables, into the drawing.
	dump := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile-dom"), "--dump-dom", "file://"+page)
	dom, err := dump.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	// A call's box: its fill is its category's colour, its title names
	// the rank and the call. An arrow: its title names the message, whose
	// ranks are the lanes its ends lie in.
	fills := map[string]string{"send": "#1f6fd1", "recv": "#1e9e4a", "sendrecv": "#0f8f8f", "wait": "#e08a00", "probe": "#8a6d3b", "collective": "#8e44ad"}
	calls := map[int]int{}
	type box struct {
		from, to float64
		title    string
	}
	boxes := map[int][]box{} // by lane: the boxes' horizontal extents and titles
	for _, m := range regexp.MustCompile(`<rect x="([0-9.]+)" y="([0-9.]+)" width="([0-9.]+)"[^>]*fill="(#[0-9a-f]{6})"[^>]*><title>([^<]*)</title>`).FindAllSubmatch(dom, -1) {
		sub := regexp.MustCompile(`^rank (\d+): ([A-Z][A-Za-z]*)\(.*\)(?:.|\n)*from .* for `).FindStringSubmatch(string(m[5]))
		if sub == nil {
			t.Fatalf("a call's box has the title %q", m[5])
		}
		r, _ := strconv.Atoi(sub[1])
		calls[r]++
		if want := fills[trace.Category(trace.Record{Op: sub[2]})]; string(m[4]) != want {
			t.Fatalf("%q drawn in %s, not its category's %s", m[5], m[4], want)
		}
		x, _ := strconv.ParseFloat(string(m[1]), 64)
		y, _ := strconv.Atoi(string(m[2]))
		w, _ := strconv.ParseFloat(string(m[3]), 64)
		if lane := (y - 6 - trace.HTMLTop) / trace.HTMLLaneHeight; lane != r {
			t.Fatalf("%q drawn in lane %d", m[5], lane)
		}
		boxes[r] = append(boxes[r], box{x, x + w, string(m[5])})
	}
	// inBox: a box of lane around x whose title says part, or none in the
	// lane at all (a call under a pixel already drawn is not drawn again).
	inBox := func(lane int, x float64, part string) bool {
		drawn := false
		for _, b := range boxes[lane] {
			if strings.Contains(b.title, part) {
				drawn = true
				if x >= b.from-1 && x <= b.to+1 {
					return true
				}
			}
		}
		return !drawn
	}
	laneMiddle := func(rank int) string {
		return strconv.Itoa(trace.HTMLTop + rank*trace.HTMLLaneHeight + (trace.HTMLLaneHeight-trace.HTMLLaneGap)/2)
	}
	arrows := regexp.MustCompile(`<line x1="([0-9.]+)" y1="([0-9.]+)" x2="([0-9.]+)" y2="([0-9.]+)"[^>]*marker-end[^>]*><title>([^<]*)</title>`).FindAllSubmatch(dom, -1)
	labels := map[string]int{}
	for _, m := range arrows {
		labels[string(m[5])]++
	}
	checked := 0
	for _, m := range arrows {
		sub := regexp.MustCompile(`^message: rank (\d+) → rank (\d+), (tag \d+, \d+ (?:B|KiB|MiB))$`).FindStringSubmatch(string(m[5]))
		if sub == nil {
			t.Fatalf("an arrow has the title %q", m[5])
		}
		from, _ := strconv.Atoi(sub[1])
		to, _ := strconv.Atoi(sub[2])
		if string(m[2]) != laneMiddle(from) || string(m[4]) != laneMiddle(to) {
			t.Fatalf("the arrow %q goes from y %s to y %s, not from rank %d's lane (y %s) to rank %d's (y %s)",
				m[5], m[2], m[4], from, laneMiddle(from), to, laneMiddle(to))
		}
		x1, _ := strconv.ParseFloat(string(m[1]), 64)
		x2, _ := strconv.ParseFloat(string(m[3]), 64)
		// The program's messages each have a size of their own (but the
		// token passed round the ring): the arrow starts in the call that
		// sent it and ends in the one that received it.
		if labels[string(m[5])] > 1 {
			continue
		}
		checked++
		sent, received := fmt.Sprintf("dest %d, %s", to, sub[3]), fmt.Sprintf("source %d, %s", from, sub[3])
		if !inBox(from, x1, sent) || !inBox(to, x2, received) {
			t.Fatalf("the arrow %q goes from x %v to x %v, not from rank %d's call with %q to rank %d's with %q", m[5], x1, x2, from, sent, to, received)
		}
	}
	if len(arrows) == 0 || checked == 0 {
		t.Errorf("%d arrows with their titles in the page, %d of a message of its own:\n%.2000s", len(arrows), checked, dom)
	}
	for r := range np {
		if calls[r] == 0 {
			t.Errorf("no box of rank %d's calls with its title in the page", r)
		}
	}
	if t.Failed() {
		keep := filepath.Join(os.TempDir(), fmt.Sprintf("gorun-trace-failed-%d.png", os.Getpid()))
		if data, err := os.ReadFile(shot); err == nil && os.WriteFile(keep, data, 0o644) == nil {
			t.Logf("screenshot kept at %s", keep)
		}
	}
}

func laneColors(np int) []color.RGBA {
	out := make([]color.RGBA, np)
	for i := range out {
		out[i] = trace.LaneColor(i)
	}
	return out
}

// countColors counts the pixels of rect within 3 of each colour.
func countColors(img image.Image, rect image.Rectangle, colors []color.RGBA) []int {
	counts := make([]int, len(colors))
	rect = rect.Intersect(img.Bounds())
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			for i, c := range colors {
				if near(r>>8, c.R) && near(g>>8, c.G) && near(b>>8, c.B) {
					counts[i]++
				}
			}
		}
	}
	return counts
}

func near(v uint32, c uint8) bool {
	d := int(v) - int(c)
	return d >= -3 && d <= 3
}

// TestTraceOfAFailedJob: a rank exits in the middle of a loop of
// collectives; gorun ends the job, and the trace holds what every rank did:
// the 20 reductions of the rank that exited, all complete (it exited
// between two), and those of the ranks still running, up to the one rank 1
// never joined.
func TestTraceOfAFailedJob(t *testing.T) {
	for _, transport := range jobenv.Transports() {
		t.Run(transport, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.json")
			res := runGorun(t, job{np: 3, flags: []string{"--transport", transport, "--trace", path}, prog: "behave",
				args: []string{"-mode", "die-in-collective", "-rank", "1", "-code", "3"}})
			if res.code != 3 {
				t.Fatalf("exit %d, want 3\nstderr:\n%s", res.code, res.stderr)
			}
			if g := gorunLines(res.stderr); strings.Contains(strings.Join(g, "\n"), "trace") {
				t.Fatalf("gorun said the trace lacks something: %q", g)
			}
			_, calls, _ := readTrace(t, path, 3)
			if len(calls[1]) != 20 {
				t.Fatalf("rank 1 made 20 reductions before it exited; its track has %d calls", len(calls[1]))
			}
			for i, c := range calls[1] {
				_, failed := c.Args["error"]
				if c.Name != "AllreduceSlice" || failed || c.Args["unfinished"] == true {
					t.Fatalf("rank 1's call %d: %s %v", i, c.Name, c.Args)
				}
			}
			// Rank 1 took part in 20 reductions before it exited, so the
			// others entered 20 at least; all but their last completed
			// (the last may have failed, be unfinished, or have completed
			// just before gorun asked).
			for _, r := range []int{0, 2} {
				list := calls[r]
				if len(list) < 20 {
					t.Fatalf("rank %d has %d calls, want 20 reductions at least", r, len(list))
				}
				for i, c := range list {
					_, failed := c.Args["error"]
					bad := failed || c.Args["unfinished"] == true
					if c.Name != "AllreduceSlice" || (bad && i < len(list)-1) {
						t.Fatalf("rank %d's call %d: %s %v", r, i, c.Name, c.Args)
					}
				}
			}
			noProcessLeft(t, res)
		})
	}
}
