// Command deadlock shows the classic message-passing deadlock and its
// fixes. Ranks pair up (0 with 1, 2 with 3, ...) and each pair swaps a
// message of -bytes bytes. How they do it is -mode:
//
//	recv-first  both partners Recv first: each waits for the other to
//	            send - forever. gorun sees every rank waiting, names who
//	            waits for whom, and ends the job.
//	sendrecv    the fix: Sendrecv sends and receives together.
//	ordered     the other fix: the even partner sends first and then
//	            receives, the odd one receives first and then sends.
//	send-send   both Send first, then Recv. Unsafe: it works only while the
//	            message is small enough to be sent eagerly (128 KiB by
//	            default, about 2 MiB over NATS); above that, Send waits for the partner's Recv,
//	            which never comes.
//
//	go run ./cmd/gorun -np 2 ./examples/deadlock -mode recv-first
//	go run ./cmd/gorun -np 2 ./examples/deadlock -mode send-send -bytes 1000000
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/mpi"
)

// tagSwap marks the swapped messages.
const tagSwap = 1

func main() {
	mode := flag.String("mode", "sendrecv", "recv-first, sendrecv, ordered or send-send")
	size := flag.Int("bytes", 1024, "message size in bytes")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "deadlock:", err)
		os.Exit(1)
	}
	defer mpi.Finalize()
	swap, ok := modes[*mode]
	if !ok || *size < 0 {
		mpi.Abort(2, fmt.Sprintf("deadlock: unknown -mode %q (want recv-first, sendrecv, ordered or send-send) or negative -bytes", *mode))
	}
	me := world.Rank()
	partner := me ^ 1 // 0<->1, 2<->3, ...
	if partner >= world.Size() {
		fmt.Printf("rank %d has no partner and sits this one out\n", me)
		return
	}
	mine := make([]byte, *size)
	for i := range mine {
		mine[i] = byte(me)
	}
	got, err := swap(world, mine, partner)
	if err != nil {
		mpi.Abort(1, err.Error())
	}
	if len(got) != *size || (*size > 0 && got[0] != byte(partner)) {
		mpi.Abort(1, fmt.Sprintf("rank %d received the wrong message", me))
	}
	fmt.Printf("rank %d swapped %d bytes with rank %d (%s)\n", me, *size, partner, *mode)
}

// modes are the ways of swapping: each returns what the partner sent.
var modes = map[string]func(world *mpi.Comm, mine []byte, partner int) ([]byte, error){
	"recv-first": func(world *mpi.Comm, mine []byte, partner int) ([]byte, error) {
		var theirs []byte
		// Both partners wait here for a message neither has sent.
		if _, err := world.Recv(&theirs, partner, tagSwap); err != nil {
			return nil, err
		}
		return theirs, world.Send(mine, partner, tagSwap)
	},
	"sendrecv": func(world *mpi.Comm, mine []byte, partner int) ([]byte, error) {
		var theirs []byte
		_, err := world.Sendrecv(mine, partner, tagSwap, &theirs, partner, tagSwap)
		return theirs, err
	},
	"ordered": func(world *mpi.Comm, mine []byte, partner int) ([]byte, error) {
		var theirs []byte
		if world.Rank()%2 == 0 {
			if err := world.Send(mine, partner, tagSwap); err != nil {
				return nil, err
			}
			_, err := world.Recv(&theirs, partner, tagSwap)
			return theirs, err
		}
		if _, err := world.Recv(&theirs, partner, tagSwap); err != nil {
			return nil, err
		}
		return theirs, world.Send(mine, partner, tagSwap)
	},
	"send-send": func(world *mpi.Comm, mine []byte, partner int) ([]byte, error) {
		// Send returns at once for a small message (it is buffered at the
		// receiver), but a large one waits until the partner receives it.
		if err := world.Send(mine, partner, tagSwap); err != nil {
			return nil, err
		}
		var theirs []byte
		_, err := world.Recv(&theirs, partner, tagSwap)
		return theirs, err
	},
}
