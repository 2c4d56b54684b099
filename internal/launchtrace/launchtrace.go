// Package launchtrace timestamps the steps of a job's launch and end, for
// finding where the time of a short job goes. It is off unless the
// environment variable Env is "1"; then every step marked writes one line
// to standard error:
//
//	launch-trace <unix microseconds> <who> <step>
//
// gorun and every rank (which inherit the variable) write such lines, so
// sorting them by time gives one timeline of the whole job. Marks cost one
// nil check when off.
package launchtrace

import (
	"fmt"
	"io"
	"strconv"
	"time"
)

// Env is the environment variable that turns the stamps on.
const Env = "GORUN_LAUNCH_TRACE"

// Stamps writes the marks of one process. A nil *Stamps marks nothing.
type Stamps struct {
	who string
	w   io.Writer
}

// New returns the stamps of who ("gorun", "rank 3"), written to w (standard
// error), or nil when getenv(Env) is not "1".
func New(who string, getenv func(string) string, w io.Writer) *Stamps {
	if getenv(Env) != "1" {
		return nil
	}
	return &Stamps{who: who, w: w}
}

// Mark writes one line for step, stamped with the time now.
func (s *Stamps) Mark(step string) {
	if s == nil {
		return
	}
	fmt.Fprintf(s.w, "launch-trace %d %s %s\n", time.Now().UnixMicro(), s.who, step)
}

// Markf is Mark with a formatted step.
func (s *Stamps) Markf(format string, args ...any) {
	if s == nil {
		return
	}
	s.Mark(fmt.Sprintf(format, args...))
}

// MarkCPU is Mark with the CPU time the process has taken so far (user
// and system, in microseconds) after the step: "<step> (cpu 1234 us)".
func (s *Stamps) MarkCPU(step string) {
	if s == nil {
		return
	}
	s.Mark(step + " (cpu " + strconv.FormatInt(processCPU(), 10) + " us)")
}
