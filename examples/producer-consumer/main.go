// Command producer-consumer: every rank but 0 is a producer that puts -n
// items on a queue; rank 0 is the consumer that takes them off and works on
// them. The queue is rank 0's incoming messages. A producer that has
// nothing more to give sends "done"; the consumer stops once every
// producer has said so — a queue closed by a "done" message.
//
//	go run ./cmd/gorun -np 4 ./examples/producer-consumer -n 5
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

// Tags: an item, or a producer's "done".
const (
	tagItem = 1
	tagDone = 2
)

// item is what producers make: who made it, and a number to work on.
type item struct {
	Producer, Seq, Value int
}

func main() {
	n := flag.Int("n", 5, "items per producer")
	slow := flag.Duration("slow", 0, "how long the consumer works on each item (e.g. 10ms)")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer-consumer:", err)
		os.Exit(1)
	}
	defer mpi.Finalize()
	if world.Size() < 2 {
		mpi.Abort(2, "producer-consumer needs a consumer and at least one producer: run it with gorun -np 2 or more")
	}
	if world.Rank() == 0 {
		err = consume(world, *slow)
	} else {
		err = produce(world, *n)
	}
	if err != nil {
		mpi.Abort(1, err.Error())
	}
}

// produce sends n items, then "done". Send returns as soon as a small
// message is on its way: the producer does not wait for the consumer,
// just as putting on a queue does not.
func produce(world *mpi.Comm, n int) error {
	me := world.Rank()
	for seq := 1; seq <= n; seq++ {
		if err := world.Send(item{Producer: me, Seq: seq, Value: me*100 + seq}, 0, tagItem); err != nil {
			return err
		}
	}
	return world.Send("done", 0, tagDone)
}

// consume takes items in arrival order, from any producer, until every
// producer has said done.
func consume(world *mpi.Comm, slow time.Duration) error {
	producing := world.Size() - 1
	perProducer := make([]int, world.Size())
	total, sum := 0, 0
	for producing > 0 {
		// Probe looks at the next message without taking it, so the
		// consumer knows which kind it is before receiving it.
		st, err := world.Probe(mpi.AnySource, mpi.AnyTag)
		if err != nil {
			return err
		}
		if st.Tag == tagDone {
			var done string
			if _, err := world.Recv(&done, st.Source, tagDone); err != nil {
				return err
			}
			fmt.Printf("consumer: producer %d is done after %d items\n", st.Source, perProducer[st.Source])
			producing--
			continue
		}
		var it item
		if _, err := world.Recv(&it, st.Source, tagItem); err != nil {
			return err
		}
		time.Sleep(slow) // the work
		perProducer[it.Producer]++
		total++
		sum += it.Value
	}
	fmt.Printf("consumer: %d items from %d producers, sum of values %d\n", total, world.Size()-1, sum)
	return nil
}
