package mpi

import (
	"fmt"
	"os"
	"strings"

	"github.com/gorun-mpi/gorun/internal/jobenv"
)

// reportFrames writes the frames this rank sent to each rank when gorun's
// tests ask (jobenv.TestFrames): they check with it that a host's ranks
// exchanged no messages in collectives that go through its shared memory.
// Finalize calls it before it sends anything itself.
func (w *worldState) reportFrames() {
	if os.Getenv(jobenv.TestFrames) != "1" {
		return
	}
	counts := make([]string, len(w.e.sent))
	for r := range w.e.sent {
		counts[r] = fmt.Sprint(w.e.sent[r].Load())
	}
	fmt.Fprintf(os.Stderr, "gorun-test: rank %d sent frames: %s\n", w.e.rank, strings.Join(counts, " "))
}
