package farm

import "time"

// chunkTime is what the automatic chunk size aims at: enough work per
// message that the messages cost little next to it, little enough that
// results come back often and the workers finish together.
const chunkTime = 2 * time.Millisecond

// chunker decides how many inputs the next task carries.
type chunker struct {
	fixed   int     // WithChunk's size, or 0: automatic
	workers int     // ranks running tasks
	perItem float64 // automatic: nanoseconds fn takes per input, as observed; 0 before any
}

// next returns the size of the next chunk, when remaining inputs are left
// (remaining > 0).
func (c *chunker) next(remaining int) int {
	if c.fixed > 0 {
		return min(c.fixed, remaining)
	}
	if c.perItem == 0 {
		return 1 // nothing known yet: one input, to learn what it costs
	}
	n := int(float64(chunkTime) / c.perItem)
	// Guided scheduling: never more than a share of what is left, so the
	// chunks shrink toward the end and no worker is left with a big one.
	n = min(n, remaining/(2*prefetch*c.workers))
	return max(n, 1)
}

// observe learns from a chunk of count inputs that took d to run.
func (c *chunker) observe(d time.Duration, count int) {
	if c.fixed > 0 || count == 0 {
		return
	}
	sample := max(float64(d)/float64(count), 1)
	if c.perItem == 0 {
		c.perItem = sample
	} else {
		c.perItem = (c.perItem + sample) / 2
	}
}
