// Command stream is the integration tests' heavy-traffic program.
//
//	-mode flood: every rank but 0 sends -n messages of 1 KiB to rank 0,
//	  which sleeps -sleep before it receives them and checks that every
//	  message arrived, in order per sender.
//	-mode big: rank 0 sends one -mib MiB []byte to rank 1, which checks it;
//	  both print their peak memory (VmHWM) in MiB.
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gorun-mpi/gorun/internal/freshmem"
	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	mode := flag.String("mode", "flood", "flood or big")
	n := flag.Int("n", 100000, "messages per sender (flood)")
	sleep := flag.Duration("sleep", 3*time.Second, "how long rank 0 waits before receiving (flood)")
	mib := flag.Int("mib", 256, "message size in MiB (big)")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fail(err)
	}
	switch *mode {
	case "flood":
		err = flood(world, *n, *sleep)
	case "big":
		err = big(world, *mib)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fail(err)
	}
	if err := mpi.Finalize(); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "stream:", err)
	os.Exit(1)
}

func flood(world *mpi.Comm, n int, sleep time.Duration) error {
	if world.Rank() != 0 {
		msg := make([]byte, 1024)
		for i := range n {
			binary.LittleEndian.PutUint64(msg, uint64(i))
			if err := world.Send(msg, 0, 1); err != nil {
				return fmt.Errorf("rank %d message %d: %w", world.Rank(), i, err)
			}
		}
		return nil
	}
	time.Sleep(sleep)
	next := make([]int, world.Size())
	var msg []byte
	for range n * (world.Size() - 1) {
		st, err := world.Recv(&msg, mpi.AnySource, 1)
		if err != nil {
			return err
		}
		if got := int(binary.LittleEndian.Uint64(msg)); got != next[st.Source] || len(msg) != 1024 {
			return fmt.Errorf("from rank %d: message %d (%d bytes), want message %d", st.Source, got, len(msg), next[st.Source])
		}
		next[st.Source]++
	}
	fmt.Printf("flood: %d messages from %d senders, all in order\n", n*(world.Size()-1), world.Size()-1)
	return nil
}

func big(world *mpi.Comm, mib int) error {
	size := mib << 20
	switch world.Rank() {
	case 0:
		// Only a byte a page is checked: the rest of the memory need not
		// be cleared, and its pages are made present at once rather than
		// faulted in one by one (see freshmem), seconds for 1 GiB on a VM
		// whose page faults cost 14-19 us.
		data := freshmem.Bytes(size)
		for i := 0; i < size; i += 4096 {
			data[i] = byte(i >> 12)
		}
		if err := world.Send(data, 1, 2); err != nil {
			return err
		}
	case 1:
		var data []byte
		if _, err := world.Recv(&data, 0, 2); err != nil {
			return err
		}
		want := make([]byte, 0, size/4096)
		got := make([]byte, 0, size/4096)
		for i := 0; i < size; i += 4096 {
			want = append(want, byte(i>>12))
			got = append(got, data[i])
		}
		if len(data) != size || !bytes.Equal(got, want) {
			return fmt.Errorf("received %d bytes, want %d intact", len(data), size)
		}
		fmt.Printf("big: %d MiB intact\n", mib)
	}
	fmt.Printf("rank %d peak MiB %d\n", world.Rank(), peakMiB())
	return world.Barrier()
}

// peakMiB reads the process's peak resident memory.
func peakMiB() int {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return kb >> 10
		}
	}
	return -1
}
