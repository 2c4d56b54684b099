package main

import (
	"fmt"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// plotFile is a plot written and what it shows.
type plotFile struct {
	name, caption string
}

// series is one line of a plot.
type series struct {
	label  string
	impl   int // index into impls: the line's color and marker
	dashed bool
	xys    plotter.XYs
}

// drawPlots writes the SVG plots into dir and returns them in order.
func drawPlots(cfg config, impls []impl, res *results, dir string) ([]plotFile, error) {
	var files []plotFile
	save := func(name, caption string, p *plot.Plot) error {
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("plot %s: %w", name, err)
		}
		files = append(files, plotFile{name, caption})
		return nil
	}

	// Ping-pong: latency and bandwidth against size.
	var lat, bw []series
	for i, im := range impls {
		l, b := series{label: im.name, impl: i}, series{label: im.name, impl: i}
		for _, size := range cfg.pingSizes {
			s := res.summarize(key{"pingpong", 2, "pingpong", size}, im.name)
			if s.ok && s.mean > 0 {
				l.xys = append(l.xys, plotter.XY{X: float64(size), Y: s.mean})
				b.xys = append(b.xys, plotter.XY{X: float64(size), Y: float64(size) / s.mean})
			}
		}
		lat, bw = append(lat, l), append(bw, b)
	}
	p, err := newPlot("Ping-pong latency (one way, mean of back-to-back round trips / 2)", "message size", "time, microseconds (log)", true, true, lat)
	if err == nil {
		err = save("pingpong-latency.svg", "ping-pong one-way latency against message size", p)
	}
	if err != nil {
		return nil, err
	}
	p, err = newPlot("Ping-pong bandwidth (size / mean one-way time)", "message size", "bandwidth, MB/s", true, false, bw)
	if err == nil {
		err = save("pingpong-bandwidth.svg", "ping-pong bandwidth against message size", p)
	}
	if err != nil {
		return nil, err
	}

	// Barrier against the number of ranks.
	var barrier []series
	for i, im := range impls {
		s := series{label: im.name, impl: i}
		for _, np := range cfg.collNPs {
			if x := res.summarize(key{"coll", np, "barrier", 0}, im.name); x.ok {
				s.xys = append(s.xys, plotter.XY{X: float64(np), Y: x.mean})
			}
		}
		barrier = append(barrier, s)
	}
	p, err = newPlot("Barrier (mean of back-to-back calls)", "ranks", "time, microseconds (log)", false, true, barrier)
	if err == nil {
		p.X.Tick.Marker = rankTicks(cfg.collNPs)
		err = save("coll-barrier.svg", "barrier against the number of ranks", p)
	}
	if err != nil {
		return nil, err
	}

	// Each collective against size, one plot per number of ranks.
	for _, op := range []string{"allreduce", "bcast", "gather", "alltoall"} {
		for _, np := range cfg.collNPs {
			var lines []series
			for i, im := range impls {
				label := im.name
				if im.name == "gorun" {
					label = "gorun " + plainName[op]
				}
				lines = append(lines, sizeSeries(res, np, op, label, i, false, cfg.collSizes[np]))
				if im.name == "gorun" && intoName[op] != "" {
					lines = append(lines, sizeSeries(res, np, op+"_into", "gorun "+intoName[op], i, true, cfg.collSizes[np]))
				}
			}
			title := fmt.Sprintf("%s, np=%d (mean of back-to-back calls)", opTitle[op], np)
			p, err := newPlot(title, sizeMeaning[op], "time, microseconds (log)", true, true, lines)
			if err == nil {
				err = save(fmt.Sprintf("coll-%s-np%d.svg", op, np), fmt.Sprintf("%s at np=%d against size", opTitle[op], np), p)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return files, nil
}

var (
	opTitle     = map[string]string{"allreduce": "Allreduce (sum of float64)", "bcast": "Bcast", "gather": "Gather", "alltoall": "Alltoall"}
	intoName    = map[string]string{"allreduce": "AllreduceSliceInto", "bcast": "BcastInto", "gather": "GatherInto", "alltoall": "AlltoallInto"}
	plainName   = map[string]string{"allreduce": "AllreduceSlice", "bcast": "Bcast", "gather": "Gather", "alltoall": "Alltoall"}
	sizeMeaning = map[string]string{
		"allreduce": "vector size", "bcast": "message size",
		"gather": "each rank's part", "alltoall": "each block (one per destination)",
	}
)

func sizeSeries(res *results, np int, op, label string, implIndex int, dashed bool, sizes []int) series {
	s := series{label: label, impl: implIndex, dashed: dashed}
	for _, size := range sizes {
		if x := res.summarize(key{"coll", np, op, size}, implNameOf(label)); x.ok && x.mean > 0 {
			s.xys = append(s.xys, plotter.XY{X: float64(size), Y: x.mean})
		}
	}
	return s
}

// implNameOf is the implementation a series label belongs to.
func implNameOf(label string) string {
	if len(label) > 6 && label[:6] == "gorun " {
		return "gorun"
	}
	return label
}

// newPlot draws lines (with markers) on a plot with a log size axis when
// logX and a log value axis when logY.
func newPlot(title, xLabel, yLabel string, logX, logY bool, lines []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Add(plotter.NewGrid())
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = byteTicks{}
	}
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	entries := 0
	for _, s := range lines {
		if len(s.xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return nil, err
		}
		line.Color = plotutil.Color(s.impl)
		line.Width = vg.Points(1.5)
		points.Color = line.Color
		points.Shape = plotutil.Shape(s.impl)
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			points.Shape = draw.CrossGlyph{}
		}
		p.Add(line, points)
		p.Legend.Add(s.label, line, points)
		entries++
	}
	// Times grow with size (and ranks), bandwidth too: the legend goes in
	// the corner the lines leave empty (bottom right for times, top left
	// for bandwidth), with room made for it so that it covers no point.
	room := float64(entries)
	if logY {
		p.Legend.Top, p.Legend.Left = false, false
		p.Y.Min /= math.Pow(10, 0.3*room)
		p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), vg.Points(6)
	} else {
		p.Legend.Top, p.Legend.Left = true, true
		p.Y.Min = 0
		p.Y.Max *= 1 + 0.09*room
		p.Legend.XOffs, p.Legend.YOffs = vg.Points(6), -vg.Points(6)
	}
	return p, nil
}

// byteTicks labels a log axis of sizes in bytes at powers of 2 (every
// other power of 4 when the range is wide), as 8 B, 1 KiB, 16 MiB.
type byteTicks struct{}

func (byteTicks) Ticks(lo, hi float64) []plot.Tick {
	step := 1
	if math.Log2(hi/lo) > 12 {
		step = 2
	}
	var ticks []plot.Tick
	for e := int(math.Floor(math.Log2(lo))); float64(uint64(1)<<e) <= hi; e++ {
		v := float64(uint64(1) << e)
		if v < lo {
			continue
		}
		label := ""
		if e%step == 0 {
			label = byteLabel(int(v))
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
	}
	return ticks
}

// byteLabel writes a size as 8 B, 64 KiB, 16 MiB.
func byteLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// rankTicks labels exactly the numbers of ranks measured.
func rankTicks(nps []int) plot.Ticker {
	var ticks plot.ConstantTicks
	for _, np := range nps {
		ticks = append(ticks, plot.Tick{Value: float64(np), Label: itoa(np)})
	}
	return ticks
}
