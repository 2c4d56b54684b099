package jobenv

// Trace, when set (gorun --trace), turns on recording of every mpi call:
// its value is the most calls a rank records (a positive number, at most
// MaxTraceLimit).
const Trace = "GORUN_TRACE"

// TraceFD, when set with Trace, is the descriptor of the shared memory file
// gorun (or the agent that started the rank) made for the rank's records (a
// trace.Buffer of TraceSlots slots): the rank records into it and gorun (or
// the agent) reads it once the rank has exited. Unset, the rank records
// into its own memory and hands its records to gorun over the control
// channel at Finalize.
const TraceFD = "GORUN_TRACE_FD"

// TraceSameClock, set to 1 with Trace, says that the launcher that reads
// the rank's records runs on the rank's host (gorun itself started it): the
// rank reads the launcher's clock, so no clock is measured and the rank
// does not wait at Finalize for the end of clock questions.
const TraceSameClock = "GORUN_TRACE_SAME_CLOCK"

// TraceLimit, read by gorun, overrides DefaultTraceLimit.
const TraceLimit = "GORUN_TRACE_LIMIT"

// DefaultTraceLimit is the most calls a rank records under gorun --trace
// (about 15 MB of memory per rank when full).
const DefaultTraceLimit = 100000

// MaxTraceLimit is the most calls a rank can be asked to record.
const MaxTraceLimit = 1 << 24

// TraceSlots is the size, in calls, of the buffer of a rank that records
// at most limit calls: twice the limit, for the completions of receives
// recorded past it (one at most for each receive recorded).
func TraceSlots(limit int) int { return 2 * limit }
