// Command initfinalize only joins the job and leaves it: run under gorun, it
// measures the launcher's and the runtime's fixed cost per job.
//
//	go -C bench build -o /tmp/initfinalize ./initfinalize
//	go build -o /tmp/gorun ./cmd/gorun
//	time /tmp/gorun -np 4 /tmp/initfinalize
//
// Where the time goes: GORUN_LAUNCH_TRACE=1 makes gorun and every rank
// stamp each step of the launch and the end on standard error (see
// internal/launchtrace); sorted by time they give one timeline:
//
//	GORUN_LAUNCH_TRACE=1 /tmp/gorun -np 4 /tmp/initfinalize 2>&1 | sort -k2 -n
package main

import (
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	if _, err := mpi.Init(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := mpi.Finalize(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
