package farm

import (
	"fmt"
	"iter"
)

// source is where the master takes its inputs from: a slice it was given
// whole (Map, Run), or a sequence it pulls from only as the workers need
// more (RunSeq), so that producing the inputs overlaps with running them.
type source[In any] struct {
	all   []In              // the slice; nil for a sequence
	pull  func() (In, bool) // the sequence's next; nil for a slice
	stop  func()            // ends the sequence early
	taken int               // inputs handed out so far: the next one's index
	ended bool              // no input is left
}

// fromSlice is a source of inputs.
func fromSlice[In any](inputs []In) *source[In] {
	return &source[In]{all: inputs, ended: len(inputs) == 0}
}

// fromSeq is a source pulling from inputs (nil: none).
func fromSeq[In any](inputs iter.Seq[In]) *source[In] {
	if inputs == nil {
		return &source[In]{ended: true}
	}
	next, stop := iter.Pull(inputs)
	return &source[In]{pull: next, stop: stop}
}

// remaining is how many inputs are left, or -1 when a sequence's end is
// not known yet.
func (s *source[In]) remaining() int {
	if s.pull != nil {
		if s.ended {
			return 0
		}
		return -1
	}
	return len(s.all) - s.taken
}

// take returns up to n of the next inputs and the index of the first; none
// once every input is taken. A sequence that panics ends the inputs, and
// take returns the panic as an error wrapping ErrPanic with the index of
// the input it was producing.
func (s *source[In]) take(n int) (ins []In, first int, err error) {
	first = s.taken
	if s.ended || n < 1 {
		return nil, first, nil
	}
	if s.pull == nil {
		ins = s.all[first:min(first+n, len(s.all))]
		s.taken += len(ins)
		s.ended = s.taken == len(s.all)
		return ins, first, nil
	}
	ins = make([]In, 0, n)
	defer func() {
		if r := recover(); r != nil {
			s.ended = true
			err = fmt.Errorf("%w in the inputs' sequence: %v", ErrPanic, r)
		}
	}()
	for len(ins) < n {
		in, ok := s.pull()
		if !ok {
			s.ended = true
			break
		}
		ins = append(ins, in)
		s.taken++
	}
	return ins, first, nil
}

// close releases a sequence that was not pulled to its end.
func (s *source[In]) close() {
	if s.stop != nil {
		s.stop()
	}
}
