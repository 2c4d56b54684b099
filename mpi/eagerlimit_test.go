package mpi

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/ranks"
)

// limitedTransport is an in-memory transport that prefers an eager limit
// per destination (comm.EagerLimiter) and records the kind of every frame
// it sends, per destination.
type limitedTransport struct {
	comm.Transport
	limits map[int]int

	mu    sync.Mutex
	kinds map[int][]comm.Kind
}

func (l *limitedTransport) EagerLimit(dest int) int { return l.limits[dest] }

func (l *limitedTransport) Send(ctx context.Context, dest int, h comm.Header, payload []byte) error {
	l.mu.Lock()
	l.kinds[dest] = append(l.kinds[dest], h.Kind)
	l.mu.Unlock()
	return l.Transport.Send(ctx, dest, h, payload)
}

// TestEagerLimitPerDestination: a transport's preferred eager limit applies
// to its destination only (a composite prefers NATS's limit for remote
// peers and none for local ones), and an eager limit the user sets wins
// for every destination.
func TestEagerLimitPerDestination(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want map[int]comm.Kind // first frame's kind per destination
	}{
		{"transport's preference", nil, map[int]comm.Kind{1: kindRTS, 2: kindEager}},
		{"user's limit", []Option{WithEagerLimit(4000)}, map[int]comm.Kind{1: kindEager, 2: kindEager}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := comm.NewNetwork(3)
			// 1000 bytes: above rank 1's preferred 100, below the default.
			lt := &limitedTransport{Transport: net.Transport(0), limits: map[int]int{1: 100}, kinds: map[int][]comm.Kind{}}
			job := &ranks.Job{Transports: []comm.Transport{lt, net.Transport(1), net.Transport(2)}}
			open := func(tr comm.Transport) (*Comm, error) {
				return Init(append([]Option{WithTransport(tr)}, tc.opts...)...)
			}
			errs := ranks.RunWorlds(job, ranks.Limits{Timeout: ranks.TimeoutFor(t, jobTimeout)}, open, func(r int, world *Comm) error {
				if r == 0 {
					for dest := 1; dest < 3; dest++ {
						if err := world.Send(make([]byte, 1000), dest, 0); err != nil {
							return err
						}
					}
					return nil
				}
				var got []byte
				_, err := world.Recv(&got, 0, 0)
				return expect(err == nil && len(got) == 1000, "received %d bytes, %v", len(got), err)
			})
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v", r, err)
				}
			}
			for dest, want := range tc.want {
				if kinds := lt.kinds[dest]; len(kinds) == 0 || kinds[0] != want || slices.Contains(kinds, otherThan(want)) {
					t.Errorf("frames to rank %d: kinds %v, want a message sent as kind %d only", dest, kinds, want)
				}
			}
		})
	}
}

// otherThan is the kind a message would have gone as the other way.
func otherThan(k comm.Kind) comm.Kind {
	if k == kindEager {
		return kindRTS
	}
	return kindEager
}
