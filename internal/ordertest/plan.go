package ordertest

import (
	"fmt"
	"math/rand/v2"
)

// Communicator indexes of a plan. Barriers between phases go through a
// fourth communicator (another Dup) that carries no planned message.
const (
	World = iota // the world communicator
	Dup          // world.Dup()
	Split        // world.Split(SplitColor(rank), SplitKey(rank))
	numComms
)

var commNames = [numComms]string{"world", "dup", "split"}

// Tags of planned messages: a few, so that bursts collide on one tag.
const (
	numTags     = 3
	sendrecvTag = 7 // used only by Sendrecv steps
)

// SendKind is how a planned message is sent.
type SendKind uint8

// The send calls a plan mixes.
const (
	Isend SendKind = iota
	Send
	Ssend
	Sendrecv
)

// String names the call: "Isend", "Send", "Ssend" or "Sendrecv".
func (k SendKind) String() string {
	return [...]string{"Isend", "Send", "Ssend", "Sendrecv"}[k]
}

// Mode is how a receiver receives the messages of one communicator in one
// round; every receive on that communicator uses the same kind of pattern,
// so that a wildcard receive can never take a message another receive
// waits for.
type Mode uint8

// Receive modes.
const (
	Specific  Mode = iota // (source, tag)
	AnyTag                // (source, AnyTag)
	AnySource             // (AnySource, tag)
	AnyBoth               // (AnySource, AnyTag)
)

// String describes the receive pattern of the mode.
func (m Mode) String() string {
	return [...]string{"specific", "any-tag", "any-source", "any-source+any-tag"}[m]
}

// deterministic reports whether the order rule alone says which receive of
// a group gets which message (one sender per group).
func (m Mode) deterministic() bool { return m == Specific || m == AnyTag }

// Message is one planned message.
type Message struct {
	ID       int // index in Plan.Msgs; sent in ID order by its sender
	Round    int
	Src, Dst int // world ranks
	Comm     int // World, Dup or Split
	Tag      int
	Seq      int // per (Src, Dst, Comm), in send order
	Size     int // payload bytes
	Kind     SendKind
	Early    bool // the receive is posted before the round's barrier
	Blocking bool // a late receive done by Recv rather than Irecv
	Probe    bool // a blocking receive preceded by Probe with its pattern
	Prealloc bool // receive into a slice with enough capacity
	// RecvSource and RecvTag are the receive's pattern, the source as a
	// rank of Comm; -1 is a wildcard.
	RecvSource, RecvTag int
}

// Step is one step of a round's send phase: a burst of messages from one
// sender, or a Sendrecv ring shift on one communicator in which every
// member takes part.
type Step struct {
	Sendrecv bool
	Msgs     []int // message IDs; for a Sendrecv step, one per member
}

// Round is a round of a plan: receives posted early, a barrier, the send
// phase, the late receives, then every request completed.
type Round struct {
	Modes [numComms][]Mode // per communicator, per world rank
	Steps []Step
}

// Plan is what every rank of a run does, derived from the seed alone.
type Plan struct {
	Seed   uint64
	NP     int
	Msgs   []Message
	Rounds []Round
	// Members lists the world ranks of World and Dup in rank order (a
	// split's members depend on the rank: see peers).
	Members [numComms][]int
	// Local maps a world rank to its rank in each communicator (for Split,
	// in its own part).
	Local [numComms][]int
}

// Config sizes a plan.
type Config struct {
	Rounds  int // rounds in the plan
	PerRank int // messages each rank sends per round, about
	// NoHuge leaves out the largest size class (1-2 MiB).
	NoHuge bool
}

// SplitColor is the color a world rank passes to Split: two halves from 4
// ranks on, one (the world renumbered backwards) below.
func SplitColor(rank, np int) int {
	if np < 4 {
		return 0
	}
	return rank % 2
}

// SplitKey is the key a world rank passes to Split: it reverses the order.
func SplitKey(rank, np int) int { return np - rank }

// pickSize draws a payload size. The classes straddle the eager limits (128
// KiB local, which is also the largest record of a shared-memory ring;
// 1023 KiB NATS) and the shared-copy threshold (a single copy of 512 KiB
// or more from a blocking Send).
func pickSize(r *rand.Rand, noHuge bool) int {
	switch p := r.IntN(100); {
	case p < 40:
		return headerLen + r.IntN(48) // a few bytes
	case p < 65:
		return 124<<10 + r.IntN(8<<10) // 124-132 KiB
	case p < 88 || noHuge:
		return 256<<10 + r.IntN(44<<10) // 256-300 KiB
	default:
		return 1<<20 + r.IntN(1<<20) // 1-2 MiB
	}
}

// NewPlan derives the plan of seed for np ranks. Every rank calls it with
// the same arguments and gets the same plan.
func NewPlan(seed uint64, np int, cfg Config) *Plan {
	r := rand.New(rand.NewPCG(seed, seed^0x6f72646572))
	p := &Plan{Seed: seed, NP: np}
	for c := range numComms {
		p.Local[c] = make([]int, np)
	}
	for w := 0; w < np; w++ {
		p.Members[World] = append(p.Members[World], w)
		p.Members[Dup] = append(p.Members[Dup], w)
	}
	for w := 0; w < np; w++ {
		p.Local[World][w], p.Local[Dup][w] = w, w
		for i, v := range p.splitPeers(w) {
			if v == w {
				p.Local[Split][w] = i
			}
		}
	}
	seq := map[[3]int]int{}
	for round := 0; round < cfg.Rounds; round++ {
		p.Rounds = append(p.Rounds, p.newRound(r, round, cfg, seq))
	}
	return p
}

// splitPeers returns the world ranks in w's split communicator, in rank order.
func (p *Plan) splitPeers(w int) []int {
	var out []int
	for v := p.NP - 1; v >= 0; v-- {
		if SplitColor(v, p.NP) == SplitColor(w, p.NP) {
			out = append(out, v)
		}
	}
	return out
}

// peers returns the world ranks of w's communicator c, in rank order.
func (p *Plan) peers(c, w int) []int {
	if c == Split {
		return p.splitPeers(w)
	}
	return p.Members[c]
}

func (p *Plan) newRound(r *rand.Rand, round int, cfg Config, seq map[[3]int]int) Round {
	var rd Round
	for c := range numComms {
		rd.Modes[c] = make([]Mode, p.NP)
		for w := range rd.Modes[c] {
			rd.Modes[c][w] = Mode(r.IntN(4))
		}
	}
	add := func(m Message) int {
		m.ID, m.Round = len(p.Msgs), round
		k := [3]int{m.Src, m.Dst, m.Comm}
		m.Seq = seq[k]
		seq[k]++
		m.Prealloc = r.IntN(3) == 0
		p.Msgs = append(p.Msgs, m)
		return m.ID
	}
	first := len(p.Msgs)
	bursts := p.NP * cfg.PerRank * 2 / 5
	if bursts < 1 {
		bursts = 1
	}
	for b := 0; b < bursts; b++ {
		if r.IntN(8) == 0 {
			if st, ok := p.sendrecvStep(r, &rd, cfg, add); ok {
				rd.Steps = append(rd.Steps, st)
			}
		}
		src := r.IntN(p.NP)
		c := r.IntN(numComms)
		peers := p.peers(c, src)
		if len(peers) < 2 {
			c, peers = World, p.Members[World]
		}
		if len(peers) < 2 {
			continue
		}
		dst := src
		for dst == src {
			dst = peers[r.IntN(len(peers))]
		}
		tag := r.IntN(numTags)
		var st Step
		for n := 1 + r.IntN(4); n > 0; n-- {
			if r.IntN(4) == 0 {
				tag = r.IntN(numTags) // now and then another tag within the burst
			}
			st.Msgs = append(st.Msgs, add(Message{Src: src, Dst: dst, Comm: c, Tag: tag, Size: pickSize(r, cfg.NoHuge)}))
		}
		rd.Steps = append(rd.Steps, st)
	}
	p.planReceives(r, &rd, first)
	return rd
}

// sendrecvStep plans a ring shift on a communicator and makes its members
// receive everything on it this round with tag-specific patterns, so that
// no wildcard-tag receive posted early can take a Sendrecv's message
// (patterns are given after all steps, by planReceives).
func (p *Plan) sendrecvStep(r *rand.Rand, rd *Round, cfg Config, add func(Message) int) (Step, bool) {
	c := r.IntN(numComms)
	peers := p.peers(c, r.IntN(p.NP))
	if len(peers) < 2 {
		return Step{}, false
	}
	for _, w := range peers {
		switch rd.Modes[c][w] {
		case AnyTag:
			rd.Modes[c][w] = Specific
		case AnyBoth:
			rd.Modes[c][w] = AnySource
		}
	}
	d := 1 + r.IntN(len(peers)-1)
	var st Step
	st.Sendrecv = true
	for i, w := range peers {
		st.Msgs = append(st.Msgs, add(Message{
			Src: w, Dst: peers[(i+d)%len(peers)], Comm: c, Tag: sendrecvTag, Size: pickSize(r, cfg.NoHuge),
			Kind: Sendrecv, RecvSource: -1, RecvTag: sendrecvTag,
		}))
	}
	// Each message's receive pattern: its receiver's specific source.
	for _, id := range st.Msgs {
		m := &p.Msgs[id]
		m.RecvSource = p.Local[c][m.Src]
	}
	return st, true
}

// planReceives gives every message of the round from first on its receive
// pattern, early or late posting, and send call. Messages into one
// receiver on one communicator fall into groups by the receiver's mode;
// a group's receives all have one pattern. A message may be sent by a
// blocking call (Send, Ssend) only when its receive is sure to be posted
// before the send phase: in a group with one sender (order decides the
// match), when the message is among the group's early prefix; in a group
// with several senders, when the whole group is posted early. Everything
// else goes by Isend, so no rank ever blocks on a receive that its peer
// posts only after its own sends.
func (p *Plan) planReceives(r *rand.Rand, rd *Round, first int) {
	type key struct{ dst, comm, src, tag int }
	groups := map[key][]int{}
	var order []key
	for id := first; id < len(p.Msgs); id++ {
		m := &p.Msgs[id]
		if m.Kind == Sendrecv {
			continue
		}
		mode := rd.Modes[m.Comm][m.Dst]
		k := key{m.Dst, m.Comm, -1, -1}
		m.RecvSource, m.RecvTag = -1, -1
		if mode == Specific || mode == AnyTag {
			k.src, m.RecvSource = m.Src, p.Local[m.Comm][m.Src]
		}
		if mode == Specific || mode == AnySource {
			k.tag, m.RecvTag = m.Tag, m.Tag
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], id)
	}
	for _, k := range order {
		ids := groups[k]
		n := len(ids)
		early := 0
		switch q := r.IntN(10); {
		case q < 3:
		case q < 7:
			early = n
		default:
			early = r.IntN(n + 1)
		}
		det := rd.Modes[k.comm][k.dst].deterministic()
		for i, id := range ids {
			m := &p.Msgs[id]
			m.Early = i < early
			m.Blocking = !m.Early && r.IntN(3) == 0
			m.Probe = m.Blocking && r.IntN(2) == 0
			if (det && i < early) || early == n {
				switch q := r.IntN(10); {
				case q < 4:
					m.Kind = Send
				case q < 6:
					m.Kind = Ssend
				}
			}
		}
	}
}

// Describe names a message for reports.
func (p *Plan) Describe(id int) string {
	m := p.Msgs[id]
	return fmt.Sprintf("message %d (round %d, %s %d bytes, world %d -> %d on %s, tag %d, seq %d)",
		m.ID, m.Round, m.Kind, m.Size, m.Src, m.Dst, commNames[m.Comm], m.Tag, m.Seq)
}

// pattern describes a receive pattern.
func pattern(source, tag int) string {
	s, t := fmt.Sprint(source), fmt.Sprint(tag)
	if source < 0 {
		s = "any"
	}
	if tag < 0 {
		t = "any"
	}
	return fmt.Sprintf("(source %s, tag %s)", s, t)
}
