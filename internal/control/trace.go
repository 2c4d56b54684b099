package control

// Messages of gorun --trace. The launcher measures each rank's clock
// against its own as NTP does: it sends TypeClock (Round numbers the
// exchange) and the rank answers TypeClockReply with its trace clock in
// Clock, and the boot id of its host (trace.HostID) in Host: a rank on
// gorun's own host reads the very clock gorun reads. A rank hands over its trace at Finalize, or when the launcher asks
// with TypeTraceFlush (the job is ending early): zero or more TypeTrace
// messages, each with up to TraceChunk records, then one TypeTraceEnd with
// the number of calls it did not record (Dropped).
const (
	TypeClock      = "clock"       // launcher → rank: answer with your clock
	TypeClockReply = "clock-reply" // rank → launcher: Round, Clock, Host
	TypeTraceFlush = "trace-flush" // launcher → rank: hand over your trace now
	TypeTrace      = "trace"       // rank → launcher: Trace, a part of the rank's records
	TypeTraceEnd   = "trace-end"   // rank → launcher: the trace is complete; Dropped
)

// TraceChunk is the most records one TypeTrace message carries: a message
// stays well under MaxMessage (a record takes at most about 400 bytes of
// JSON, its error text aside).
const TraceChunk = 4096
