package trace

import (
	"cmp"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// referenceFlows is matchMessages written plainly: per envelope, the
// sends by number and the receives in posting order, the n-th receive
// joined to the n-th send if it was recorded; flows ordered by send.
func referenceFlows(lanes []Lane) []Flow {
	type recv struct {
		post uint64
		ref  CallRef
	}
	sends := map[envelope]map[uint64]CallRef{}
	recvs := map[envelope][]recv{}
	for _, lane := range lanes {
		for j, c := range lane.Calls {
			ref := CallRef{Rank: lane.Rank, Call: j}
			if c.Flags.Has(HasSend) && c.SendSeq > 0 {
				env := envelope{lane.Rank, c.Dest, c.Comm, c.SendTag}
				if sends[env] == nil {
					sends[env] = map[uint64]CallRef{}
				}
				sends[env][c.SendSeq] = ref
			}
			if c.Flags.Has(HasRecv) {
				env := envelope{c.Source, lane.Rank, c.Comm, c.RecvTag}
				recvs[env] = append(recvs[env], recv{c.RecvPost, ref})
			}
		}
	}
	var flows []Flow
	for env, list := range recvs {
		slices.SortStableFunc(list, func(a, b recv) int { return cmp.Compare(a.post, b.post) })
		for n, r := range list {
			if from, ok := sends[env][uint64(n+1)]; ok {
				flows = append(flows, Flow{From: from, To: r.ref})
			}
		}
	}
	slices.SortFunc(flows, func(a, b Flow) int {
		return cmp.Or(cmp.Compare(a.From.Rank, b.From.Rank), cmp.Compare(a.From.Call, b.From.Call))
	})
	for i := range flows {
		flows[i].ID = i + 1
	}
	return flows
}

// TestMatchMessagesAsReference: for seeded random lanes of sends and
// receives on a few envelopes (sends missing from the record, numbered
// twice or beyond the receives, receives posted in any order, ranks with
// no calls, Sendrecvs), matchMessages finds the flows the plain
// algorithm finds, in the same order.
func TestMatchMessagesAsReference(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		rng := rand.New(rand.NewPCG(seed, 11))
		np := 1 + rng.IntN(5)
		lanes := make([]Lane, np)
		for r := range lanes {
			lanes[r].Rank = r
			if rng.IntN(6) == 0 {
				continue // a rank that made no call
			}
			for i := rng.IntN(50); i > 0; i-- {
				c := Record{Op: "Call", Comm: uint32(rng.IntN(2))}
				if rng.IntN(2) == 0 {
					c.Flags |= HasSend
					c.Dest, c.SendTag, c.SendSeq = rng.IntN(np), rng.IntN(2), uint64(rng.IntN(12))
				}
				if rng.IntN(2) == 0 {
					c.Flags |= HasRecv
					c.Source, c.RecvTag, c.RecvPost = rng.IntN(np), rng.IntN(2), uint64(rng.IntN(30))
				}
				lanes[r].Calls = append(lanes[r].Calls, c)
			}
		}
		got, want := matchMessages(lanes), referenceFlows(lanes)
		if len(got) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: flows\n got %v\nwant %v", seed, got, want)
		}
	}
}
