// Command pipeline is an assembly line: each rank is one stage, items flow
// from rank 0 (the source) through every stage to the last rank (the sink),
// and an end-of-stream message, sent after the last item, stops each stage
// in turn.
//
// Stage r (1 <= r < N) turns an item's value v into v*10 + r, so an item
// that went through every stage shows the stages it passed, in order: with
// 4 ranks, item 7 leaves the line as 7123. While the sink works on item
// i, stage 1 already works on item i+2: the stages run at the same time.
//
//	go run ./cmd/gorun -np 4 ./examples/pipeline -items 5
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/mpi"
)

// Tags: an item, or the end of the stream.
const (
	tagItem = 1
	tagEnd  = 2
)

// item travels down the line.
type item struct {
	ID    int
	Value int
}

func main() {
	items := flag.Int("items", 5, "how many items the source produces")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
	defer mpi.Finalize()
	if err := run(world, *items); err != nil {
		mpi.Abort(1, err.Error())
	}
}

func run(world *mpi.Comm, items int) error {
	rank, size := world.Rank(), world.Size()
	last := size - 1
	if rank == 0 {
		return source(world, items)
	}
	// A stage: receive from the previous rank until the end of the
	// stream, transform, pass on (or, at the sink, print).
	sum, count := 0, 0
	for {
		var it item
		st, err := world.Recv(&it, rank-1, mpi.AnyTag)
		if err != nil {
			return err
		}
		if st.Tag == tagEnd {
			// Pass the end on so the next stage stops too. It cannot
			// overtake an item: messages from one sender arrive in
			// order, and a receive with AnyTag takes the oldest.
			if rank < last {
				return world.Send(struct{}{}, rank+1, tagEnd)
			}
			fmt.Printf("sink: %d items through %d stages, sum of values %d\n", count, size, sum)
			return nil
		}
		it.Value = it.Value*10 + rank
		if rank < last {
			if err := world.Send(it, rank+1, tagItem); err != nil {
				return err
			}
			continue
		}
		fmt.Printf("sink got item %d: value %d\n", it.ID, it.Value)
		sum += it.Value
		count++
	}
}

// source produces the items; with one rank it is the whole line.
func source(world *mpi.Comm, items int) error {
	if world.Size() == 1 {
		sum := 0
		for i := 1; i <= items; i++ {
			fmt.Printf("sink got item %d: value %d\n", i, i)
			sum += i
		}
		fmt.Printf("sink: %d items through 1 stages, sum of values %d\n", items, sum)
		return nil
	}
	for i := 1; i <= items; i++ {
		if err := world.Send(item{ID: i, Value: i}, 1, tagItem); err != nil {
			return err
		}
	}
	return world.Send(struct{}{}, 1, tagEnd)
}
