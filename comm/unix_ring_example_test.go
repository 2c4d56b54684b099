package comm_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/comm"
)

// inbox is a Handler that hands frames to a channel.
type inbox chan comm.Frame

func (in inbox) Deliver(f comm.Frame)    { in <- f }
func (inbox) PeerGone(rank int, _ error) {}

// A receiver that is about to poll in a loop says so with SpinStart, so
// peers writing to its shared-memory rings skip the wake-up through the
// socket, and says SpinEnd when it stops polling (before it sleeps).
func ExampleUnix_SpinStart() {
	dir, err := os.MkdirTemp("", "gorun-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	var ts [2]*comm.Unix
	for r := range ts {
		if ts[r], err = comm.NewUnix(comm.UnixConfig{Rank: r, Size: 2, Dir: dir, Secret: "s3cret"}); err != nil {
			fmt.Println(err)
			return
		}
		defer ts[r].Close()
	}
	in := make(inbox, 1)
	ts[0].Start(in)
	ts[1].Start(make(inbox, 1))

	ts[0].SpinStart()
	if err := ts[1].Send(context.Background(), 0, comm.Header{Kind: 1, Tag: 7}, []byte("hello")); err != nil {
		fmt.Println(err)
		return
	}
	var f comm.Frame
	for got := false; !got; {
		ts[0].Poll()
		select {
		case f = <-in:
			got = true
		default:
		}
	}
	ts[0].SpinEnd()
	fmt.Printf("%s from rank %d, tag %d\n", f.Payload, f.Source, f.Tag)
	// Output: hello from rank 1, tag 7
}
