package control

// Messages of gorun --trace. The launcher measures the clock of each rank
// an agent started against its own as NTP does: it sends TypeClock (Round
// numbers the exchange) and the rank answers TypeClockReply with its trace
// clock in Clock, and the boot id of its host (trace.HostID) in Host: a
// rank on gorun's own host reads the very clock gorun reads. A rank gorun
// started itself is on gorun's host: it gets no question, only
// TypeClockDone at its hello, and does not wait for that either (its
// environment says it shares gorun's clock: jobenv.TraceSameClock). Across hosts an agent
// relays these messages both ways like any other, so an exchange's round
// trip includes the relay's. A rank hands over its trace when the launcher
// asks with TypeTraceFlush (the job is ending early: only ranks on agents'
// hosts are asked), and at Finalize if it records into its own memory
// (without a shared buffer, jobenv.TraceFD; an agent relays what a rank
// left in its buffer in the same messages): zero or more TypeTrace
// messages, each with records in Trace (as trace.Encoder writes them,
// at most TraceChunk bytes of them), then one TypeTraceEnd with the number
// of calls it did not record (Dropped). After its last clock question the
// launcher says TypeClockDone; a rank that hands over its records at
// Finalize waits for it first, so that a short job's clocks are measured
// before its ranks exit (the wait ends with the connection too: a rank
// whose launcher is gone exits). A message relayed over NATS may be lost:
// a rank that has waited for TypeClockDone for a while says TypeClockWait,
// and the launcher ends the exchanges with it, saying TypeClockDone again.
// A rank that records into a shared buffer
// says TypeTraceClosed once it has closed it at Finalize, before its
// goodbyes to its peers (which wait for them): whoever made the buffer may
// read the final records then.
const (
	TypeClock      = "clock"       // launcher → rank: answer with your clock
	TypeClockReply = "clock-reply" // rank → launcher: Round, Clock, Host
	TypeClockDone  = "clock-done"  // launcher → rank: no more clock questions
	TypeClockWait  = "clock-wait"  // rank → launcher: at Finalize, still no clock-done
	TypeTraceFlush = "trace-flush" // launcher → rank: hand over your trace now
	TypeTrace      = "trace"       // rank → launcher: Trace, a part of the rank's records
	TypeTraceEnd   = "trace-end"   // rank → launcher: the trace is complete; Dropped
	// TypeTraceClosed: rank → launcher, the rank's shared buffer holds its
	// final records.
	TypeTraceClosed = "trace-closed"
)

// TraceChunk is about the most bytes of records one TypeTrace message
// carries (a record ends a chunk once it holds this many; records are
// under 10 KiB each): in base64, a message stays under MaxMessage.
const TraceChunk = 1 << 20
