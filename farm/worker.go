package farm

import (
	"errors"
	"fmt"

	"github.com/gorun-mpi/gorun/mpi"
)

// work is a worker's part: run the tasks the master (rank 0 of d) sends,
// one message at a time, until it says stop. Once a task failed, or once a
// stop is waiting behind the tasks, the remaining tasks are answered as
// skipped without running them.
func work[In, Out any](d *mpi.Comm, fn func(In) (Out, error)) error {
	failed := false
	fail := func(err error) error { return &TaskError{Index: -1, Rank: d.Rank(), Err: err} }
	for {
		st, err := d.Probe(0, mpi.AnyTag)
		if err != nil {
			return fail(err)
		}
		var ins []In
		switch st.Tag {
		case tagStop:
			var v verdict
			if _, err := d.Recv(&v, 0, tagStop); err != nil {
				return fail(err)
			}
			return v.err()
		case tagTask:
			ins = make([]In, 1)
			_, err = d.Recv(&ins[0], 0, tagTask)
		case tagTasks:
			_, err = d.Recv(&ins, 0, tagTasks)
		default: // cannot happen: no one else talks on d
			return fail(fmt.Errorf("farm: unexpected message with tag %d", st.Tag))
		}
		if errors.Is(err, mpi.ErrPeerLost) || errors.Is(err, mpi.ErrFinalized) {
			return fail(err)
		}
		if err != nil && !failed {
			// A task that cannot be read here (a program built with other
			// types than rank 0's, say) fails as its fn would.
			failed = true
			if err := d.Send(header{Err: err.Error()}, 0, tagHeader); err != nil {
				return fail(err)
			}
			continue
		}
		if !failed {
			_, stopping, err := d.Iprobe(0, tagStop)
			if err != nil {
				return fail(err)
			}
			failed = stopping
		}
		if failed {
			if err := d.Send(header{Skipped: true}, 0, tagHeader); err != nil {
				return fail(err)
			}
			continue
		}
		outs := make([]Out, len(ins))
		took, at, err := runChunk(fn, ins, outs)
		h := header{Nanos: int64(took), Size: st.Size}
		if err != nil {
			failed = true
			h.Failed, h.Err, h.Panic = at, err.Error(), errors.Is(err, ErrPanic)
		}
		if err := d.Send(h, 0, tagHeader); err != nil {
			return fail(err)
		}
		if failed {
			continue
		}
		if st.Tag == tagTask {
			err = d.Send(outs[0], 0, tagResult)
		} else {
			err = d.Send(outs, 0, tagResults)
		}
		if err != nil {
			return fail(err)
		}
	}
}
