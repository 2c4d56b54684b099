package main

import (
	"io"
	"os"
	"sync/atomic"
	"time"
)

// Once a job's ranks have exited, what they wrote to their pipes is
// forwarded to the end: a pipe reaches its end when no process holds its
// write end any more, and the forwarder stops by itself. A pipe whose
// write end a leftover process holds (a rank's child outside its process
// group) never ends, so gorun stops forwarding it then, but only on facts,
// never on a timer alone: a pipe is closed once nothing is left unread in
// it, or once its forwarder has read all that the pipe held when gorun
// started closing (a leftover that keeps writing is not followed further).
// A forwarder that is merely slow to get a core, as on a loaded machine,
// loses nothing: a pipe with bytes in it is never closed before those bytes
// are read.

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// pipeDrain is a rank's pipes' side of that rule.
type pipeDrain struct {
	read atomic.Int64 // bytes its forwarders read from both pipes
	// until is the read count at which the pipes may be closed, set by
	// startClosing (-1 before).
	until atomic.Int64
}

func newPipeDrain() *pipeDrain {
	d := &pipeDrain{}
	d.until.Store(-1)
	return d
}

// startClosing records what the pipes hold now: the forwarders read that
// much more before the pipes may be closed while not empty.
func (d *pipeDrain) startClosing(pipes ...*os.File) {
	if d.until.Load() < 0 {
		d.until.Store(d.read.Load() + unread(pipes...))
	}
}

// mayClose reports whether the pipes may be closed without losing what the
// ranks wrote: nothing is left unread in them, or the forwarders have read
// what they held when startClosing was called.
func (d *pipeDrain) mayClose(pipes ...*os.File) bool {
	until := d.until.Load()
	return until < 0 || d.read.Load() >= until || unread(pipes...) == 0
}

// unread returns how many bytes wait in the pipes (0 for a closed one).
func unread(pipes ...*os.File) int64 {
	var n int64
	for _, f := range pipes {
		n += int64(pipeUnread(f))
	}
	return n
}

// isDrained reports whether both of p's pipes were read to their end (or
// closed).
func (p *proc) isDrained() bool {
	select {
	case <-p.drained:
		return true
	default:
		return false
	}
}

// closeIfDrainable starts closing p's pipes (see pipeDrain) and closes them
// when that loses nothing the rank wrote. It reports whether p's pipes are
// done with: drained, or closed now.
func (p *proc) closeIfDrainable() bool {
	if p.isDrained() {
		return true
	}
	p.drain.startClosing(p.outR, p.errR)
	if !p.drain.mayClose(p.outR, p.errR) {
		return false
	}
	p.closePipes()
	return true
}

// closeWhenDrained closes p's pipes once closeIfDrainable allows, looking
// every drainPoll, or at once when stop delivers (gorun was told to stop:
// what has not been forwarded is dropped). It reports whether it
// returned for stop.
func (p *proc) closeWhenDrained(stop <-chan os.Signal) (stopped bool) {
	for !p.closeIfDrainable() {
		select {
		case <-p.drained:
			return false
		case <-stop:
			p.closePipes()
			return true
		case <-time.After(drainPoll):
		}
	}
	return false
}
