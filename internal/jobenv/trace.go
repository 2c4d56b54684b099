package jobenv

// Trace, when set (gorun --trace), turns on recording of every mpi call:
// its value is the most calls a rank records (a positive number). The
// rank hands its records to gorun over the control channel.
const Trace = "GORUN_TRACE"

// TraceLimit, read by gorun, overrides DefaultTraceLimit.
const TraceLimit = "GORUN_TRACE_LIMIT"

// DefaultTraceLimit is the most calls a rank records under gorun --trace
// (about 15 MB of memory per rank when full).
const DefaultTraceLimit = 100000
