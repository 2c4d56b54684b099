package ordertest

import (
	"fmt"

	"github.com/gorun-mpi/gorun/mpi"
)

// pending is a posted receive not yet complete.
type pending struct {
	req *mpi.Request
	buf *[]byte
	rec received
}

// Run carries out plan p as its rank of world (every rank of world calls
// it with the same plan) and returns the first problem it finds: an error
// from a call, a message with wrong content, one missing or twice, or two
// messages received out of the order the rules require.
func Run(world *mpi.Comm, p *Plan) error {
	me, np := world.Rank(), world.Size()
	if np != p.NP {
		return fmt.Errorf("plan for %d ranks run on %d", p.NP, np)
	}
	dup, err := world.Dup()
	if err != nil {
		return err
	}
	split, err := world.Split(SplitColor(me, np), SplitKey(me, np))
	if err != nil {
		return err
	}
	if split.Rank() != p.Local[Split][me] || split.Size() != len(p.splitPeers(me)) {
		return fmt.Errorf("split: rank %d of %d, want %d of %d", split.Rank(), split.Size(), p.Local[Split][me], len(p.splitPeers(me)))
	}
	barrier, err := world.Dup()
	if err != nil {
		return err
	}
	comms := [numComms]*mpi.Comm{world, dup, split}
	for round := range p.Rounds {
		if err := p.runRound(comms, barrier, me, round); err != nil {
			return fmt.Errorf("round %d: %w", round, err)
		}
	}
	return barrier.Barrier()
}

func (p *Plan) runRound(comms [numComms]*mpi.Comm, barrier *mpi.Comm, me, round int) error {
	var mine []int // planned receives, in posting order within early and late
	for id, m := range p.Msgs {
		if m.Round == round && m.Dst == me && m.Kind != Sendrecv {
			mine = append(mine, id)
		}
	}
	var recs []received
	var waiting []pending
	post := func(id int) {
		m := p.Msgs[id]
		var b []byte
		if m.Prealloc {
			b = make([]byte, 0, m.Size)
		}
		pd := pending{buf: &b, rec: received{post: len(recs) + len(waiting), comm: m.Comm,
			pattern: [2]int{m.RecvSource, m.RecvTag}, intended: id}}
		pd.req = comms[m.Comm].Irecv(pd.buf, m.RecvSource, m.RecvTag)
		waiting = append(waiting, pd)
	}
	for _, id := range mine {
		if p.Msgs[id].Early {
			post(id)
		}
	}
	if err := barrier.Barrier(); err != nil {
		return err
	}

	// The send phase.
	var isends []*mpi.Request
	var isendIDs []int
	for _, st := range p.Rounds[round].Steps {
		if st.Sendrecv {
			if err := p.sendrecv(comms, st, me, &recs, len(waiting)); err != nil {
				return err
			}
			continue
		}
		if p.Msgs[st.Msgs[0]].Src != me {
			continue
		}
		for _, id := range st.Msgs {
			m := p.Msgs[id]
			c, dst := comms[m.Comm], p.Local[m.Comm][m.Dst]
			data := p.Payload(id)
			var err error
			switch m.Kind {
			case Send:
				err = c.Send(data, dst, m.Tag)
			case Ssend:
				err = c.Ssend(data, dst, m.Tag)
			case Isend:
				isends = append(isends, c.Isend(data, dst, m.Tag))
				isendIDs = append(isendIDs, id)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p.Describe(id), err)
			}
		}
	}

	// Late receives, then every request.
	for _, id := range mine {
		m := p.Msgs[id]
		if m.Early {
			continue
		}
		if !m.Blocking {
			post(id)
			continue
		}
		var b []byte
		source, tag := m.RecvSource, m.RecvTag
		if m.Probe {
			// Probe finds the oldest message the pattern matches that no
			// posted receive took; a Recv naming its source and tag gets
			// that very message.
			pst, err := comms[m.Comm].Probe(source, tag)
			if err != nil {
				return fmt.Errorf("probe planned for %s: %w", p.Describe(id), err)
			}
			source, tag = pst.Source, pst.Tag
		}
		st, err := comms[m.Comm].Recv(&b, source, tag)
		if err != nil {
			return fmt.Errorf("receive (Recv) planned for %s: %w", p.Describe(id), err)
		}
		recs = append(recs, received{post: len(recs) + len(waiting), comm: m.Comm, pattern: [2]int{m.RecvSource, m.RecvTag},
			source: st.Source, tag: st.Tag, size: st.Size, data: b, intended: id})
	}
	if err := p.complete(waiting, round, &recs); err != nil {
		return err
	}
	for i, r := range isends {
		if _, err := r.Wait(); err != nil {
			return fmt.Errorf("%s: %w", p.Describe(isendIDs[i]), err)
		}
	}
	return p.checkRound(me, round, recs)
}

// sendrecv does rank me's part of a Sendrecv step; post is the index its
// receive takes in the posting order.
func (p *Plan) sendrecv(comms [numComms]*mpi.Comm, st Step, me int, recs *[]received, post int) error {
	out, in := -1, -1
	for _, id := range st.Msgs {
		if p.Msgs[id].Src == me {
			out = id
		}
		if p.Msgs[id].Dst == me {
			in = id
		}
	}
	if out < 0 {
		return nil
	}
	m, want := p.Msgs[out], p.Msgs[in]
	var b []byte
	s, err := comms[m.Comm].Sendrecv(p.Payload(out), p.Local[m.Comm][m.Dst], m.Tag, &b, want.RecvSource, want.RecvTag)
	if err != nil {
		return fmt.Errorf("sendrecv of %s: %w", p.Describe(out), err)
	}
	*recs = append(*recs, received{post: post + len(*recs), comm: m.Comm, pattern: [2]int{want.RecvSource, want.RecvTag},
		source: s.Source, tag: s.Tag, size: s.Size, data: b, intended: in})
	return nil
}

// complete waits for every posted receive, in a way that changes with the
// round: WaitAll, WaitAny until none is left, or Wait in reverse order.
func (p *Plan) complete(waiting []pending, round int, recs *[]received) error {
	done := func(pd pending, st mpi.Status, err error) error {
		if err != nil {
			return fmt.Errorf("receive planned for %s: %w", p.Describe(pd.rec.intended), err)
		}
		r := pd.rec
		r.source, r.tag, r.size, r.data = st.Source, st.Tag, st.Size, *pd.buf
		*recs = append(*recs, r)
		return nil
	}
	switch round % 3 {
	case 0:
		reqs := make([]*mpi.Request, len(waiting))
		for i, pd := range waiting {
			reqs[i] = pd.req
		}
		if err := mpi.WaitAll(reqs...); err != nil {
			return err
		}
		for _, pd := range waiting {
			st, err := pd.req.Wait() // settled: returns the status again
			if err := done(pd, st, err); err != nil {
				return err
			}
		}
	case 1:
		reqs := make([]*mpi.Request, len(waiting))
		for i, pd := range waiting {
			reqs[i] = pd.req
		}
		for range waiting {
			i, st, err := mpi.WaitAny(reqs...)
			if i < 0 {
				return fmt.Errorf("WaitAny returned -1 with requests left")
			}
			if err := done(waiting[i], st, err); err != nil {
				return err
			}
			reqs[i] = nil
		}
	default:
		for i := len(waiting) - 1; i >= 0; i-- {
			st, err := waiting[i].req.Wait()
			if err := done(waiting[i], st, err); err != nil {
				return err
			}
		}
	}
	return nil
}
