// Package trace is gorun --trace: the records every rank keeps of its mpi
// calls (Record), the estimate of each rank's clock offset from the
// launcher's (Offset), their merge into one timeline with an arrow from each
// send to the receive that took its message (Merge), and the two files a
// timeline is written as: Chrome/Perfetto trace-event JSON (WriteJSON) and a
// self-contained HTML page (WriteHTML).
//
// # Usage
//
// A rank records its calls (package mpi does it when GORUN_TRACE is set)
// into a Buffer: a log of short entries, one as a call begins, one as it
// ends (and one for a message it sends, one for a note). On gorun's host
// the buffer lies in a shared memory file gorun made for the rank, and
// gorun reads it (ReadBufferAt, which checks everything it reads) once the
// rank has closed it at Finalize (before its goodbyes to its peers) or exited,
// however it exited: the records of a rank that died are there, its last
// call open. On another
// host the rank's agent makes and reads the buffer, and relays the records
// to gorun over the control channel in a compact binary form (Encoder,
// DecodeRecords), as a rank without a buffer hands its own over. A rank
// gorun started reads gorun's clock; gorun measures the clock of each
// other rank against its own (Sample, Offset; a rank with gorun's HostID
// reads gorun's very clock), then:
//
//	tl := trace.Merge([]trace.Rank{{Records: r0, Offset: o0}, {Records: r1, Offset: o1}})
//	err := trace.WriteJSON(f, tl) // or trace.WriteHTML(f, tl, title)
//
// gorun does part of this while the job still runs: it puts each rank's
// records in order on its clock as it reads them (Rank.Prepare), merges
// them once the last rank's are read (MergeMatching, which joins the
// messages on a goroutine of its own), and writes a JSON trace's lanes of
// the ranks that have finished as soon as the timeline's zero is known
// (JSONWriter, FirstStart), leaving the last lanes and the messages for
// the end (JSONWriter.Finish).
//
// # Matching a send to its receive
//
// No message carries an id. MPI's non-overtaking rule makes one
// unnecessary: among the messages one rank sends to another on one
// communicator with one tag, the n-th sent is the n-th received. A send's
// record carries n (SendSeq, counted by the sender per destination,
// communicator and tag); a receive's record carries the order in which it
// was posted (RecvPost) and the envelope of the message it took (its
// Status), and the receives that took messages of one envelope took them in
// the order they were posted. Merge pairs them up from these facts alone.
package trace
