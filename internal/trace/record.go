package trace

// Record is one mpi call of one rank: a point-to-point call, a wait, a
// probe or a collective. A call that sends has a send part (HasSend), one
// that receives a message has a receive part (HasRecv); Sendrecv has both.
// Times are nanoseconds on the rank's own clock (see Clock in package mpi:
// the Unix time at the rank's start plus the monotonic time since).
type Record struct {
	Op    string `json:"op"`             // the call: Send, Recv, Wait, Bcast, ...
	Flags Flags  `json:"f,omitempty"`    // HasSend, HasRecv, Failed, Unfinished
	Comm  uint32 `json:"c"`              // the communicator's point-to-point context
	Start int64  `json:"s"`              // when the call began
	End   int64  `json:"e"`              // when it returned (Unfinished: when the trace was taken)
	Err   string `json:"err,omitempty"`  // why it failed (Failed)
	Note  string `json:"note,omitempty"` // what else the call said (e.g. "root 0", "found")

	// The send part: destination as a world rank and as the rank in the
	// communicator, tag, payload bytes, and the send's number among this
	// rank's sends to Dest on Comm with SendTag (1 for the first).
	Dest      int    `json:"d,omitempty"`
	DestLocal int    `json:"dl,omitempty"`
	SendTag   int    `json:"st,omitempty"`
	SendSize  int    `json:"sz,omitempty"`
	SendSeq   uint64 `json:"sq,omitempty"`

	// The receive part: the message's source (world rank, and rank in the
	// communicator), tag and payload bytes, as its Status said, and the
	// order in which the receive was posted on this rank (1 for the first).
	Source      int    `json:"r,omitempty"`
	SourceLocal int    `json:"rl,omitempty"`
	RecvTag     int    `json:"rt,omitempty"`
	RecvSize    int    `json:"rz,omitempty"`
	RecvPost    uint64 `json:"rp,omitempty"`
}

// Flags say which parts of a Record hold facts.
type Flags uint8

// The flags of a Record.
const (
	HasSend    Flags = 1 << iota // the call sent a message (Dest...SendSeq)
	HasRecv                      // the call took a message (Source...RecvPost)
	Failed                       // the call returned an error (Err)
	Unfinished                   // the call had not returned when the trace was taken
)

// Has reports whether every flag of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }
