package trace

import (
	"fmt"
	"image/color"
	"math"
)

// The HTML timeline's layout, in CSS pixels from the page's top left
// corner: lane i (rank i) fills rows HTMLTop+i*HTMLLaneHeight to
// HTMLTop+(i+1)*HTMLLaneHeight-HTMLLaneGap, and its first HTMLLabelWidth
// columns show "rank i" on LaneColor(i).
const (
	HTMLTop        = 64
	HTMLLaneHeight = 40
	HTMLLaneGap    = 4
	HTMLLabelWidth = 96
)

// LaneColor is the background of rank's lane in the HTML timeline: pale,
// and different for ranks close to each other (hues a golden angle apart).
func LaneColor(rank int) color.RGBA {
	hue := math.Mod(float64(rank)*137.508, 360)
	return hsl(hue, 0.65, 0.82)
}

// categoryColors are the fills of calls in the HTML timeline, by Category.
var categoryColors = map[string]string{
	"send":       "#1f6fd1",
	"recv":       "#1e9e4a",
	"sendrecv":   "#0f8f8f",
	"wait":       "#e08a00",
	"probe":      "#8a6d3b",
	"collective": "#8e44ad",
}

func hexColor(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// hsl converts a hue in degrees, saturation and lightness in [0, 1] to RGB.
func hsl(h, s, l float64) color.RGBA {
	c := (1 - math.Abs(2*l-1)) * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	m := l - c/2
	var r, g, b float64
	switch {
	case h < 60:
		r, g = c, x
	case h < 120:
		r, g = x, c
	case h < 180:
		g, b = c, x
	case h < 240:
		g, b = x, c
	case h < 300:
		r, b = x, c
	default:
		r, b = c, x
	}
	to := func(v float64) uint8 { return uint8(math.Round((v + m) * 255)) }
	return color.RGBA{R: to(r), G: to(g), B: to(b), A: 255}
}
