package farm

import (
	"math"
	"time"
)

// chunkTime is what the automatic chunk size aims at: enough work per
// message that the messages cost little next to it, little enough that
// results come back often and the workers finish together.
const chunkTime = 2 * time.Millisecond

// Chunks save the fixed cost of a message, which matters only for small
// ones: an input whose task and result messages reach bigItem bytes
// travels alone (a slice of numbers then goes as raw bytes, not through
// the encoding of a slice of slices), and a chunk stays under chunkBytes.
const (
	bigItem    = 64 << 10
	chunkBytes = 1 << 20
)

// chunker decides how many inputs the next task carries.
type chunker struct {
	fixed   int     // WithChunk's size, or 0: automatic
	workers int     // ranks running tasks
	perItem float64 // automatic: nanoseconds fn takes per input, as observed; 0 before any
	bytes   float64 // automatic: bytes of task and result per input, as observed
}

// next returns the size of the next chunk, when remaining inputs are left
// (remaining > 0), or when how many are left is not known (remaining < 0:
// a sequence, whose chunks then do not shrink toward its end).
func (c *chunker) next(remaining int) int {
	if remaining < 0 {
		remaining = math.MaxInt
	}
	if c.fixed > 0 {
		return min(c.fixed, remaining)
	}
	if c.perItem == 0 || c.bytes >= bigItem {
		return 1 // nothing known yet, or large already
	}
	n := min(int(float64(chunkTime)/c.perItem), int(chunkBytes/max(c.bytes, 1)))
	// Guided scheduling: never more than a share of what is left, so the
	// chunks shrink toward the end and no worker is left with a big one.
	n = min(n, remaining/(2*prefetch*c.workers))
	return max(n, 1)
}

// observe learns from a chunk of count inputs that took d to run and
// whose task and result messages held size bytes.
func (c *chunker) observe(d time.Duration, size, count int) {
	if c.fixed > 0 || count == 0 {
		return
	}
	sample := max(float64(d)/float64(count), 1)
	bytes := float64(size) / float64(count)
	if c.perItem == 0 {
		c.perItem, c.bytes = sample, bytes
	} else {
		c.perItem, c.bytes = (c.perItem+sample)/2, (c.bytes+bytes)/2
	}
}
