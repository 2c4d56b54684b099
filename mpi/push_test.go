package mpi

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/internal/ranks"
	"github.com/gorun-mpi/gorun/internal/trace"
)

// TestPushOnlyWhatItShould: a message above the eager limit and within the
// push limit goes pushed (announcement, body) and its Send completes before
// any receive is posted; a smaller one eagerly; a larger one, an Ssend, a
// send under WithSyncSends and any send once the user set the eager limit
// by rendezvous.
func TestPushOnlyWhatItShould(t *testing.T) {
	const eager, push = 1000, 64 << 10
	for _, tc := range []struct {
		name string
		size int
		sync bool
		opts []Option
		want []comm.Kind
	}{
		{"eager", eager - 100, false, nil, []comm.Kind{kindEager}},
		{"pushed", eager + 100, false, nil, []comm.Kind{kindRTSPush, kindRndvData}},
		{"pushed at the limit", push - 100, false, nil, []comm.Kind{kindRTSPush, kindRndvData}},
		{"rendezvous above it", push + 1, false, nil, []comm.Kind{kindRTS, kindRndvData}},
		{"Ssend", eager + 100, true, nil, []comm.Kind{kindRTS, kindRndvData}},
		{"sync sends", eager + 100, false, []Option{WithSyncSends()}, []comm.Kind{kindRTS, kindRndvData}},
		{"user's eager limit", eager + 100, false, []Option{WithEagerLimit(eager)}, []comm.Kind{kindRTS, kindRndvData}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spies, _ := startMemoryPush(t, 2)
			sent := make(chan struct{})
			want := pattern(1, 0, tc.size)
			runSpied(t, spies, func(c *Comm) error {
				if c.Rank() == 0 {
					var err error
					if tc.sync {
						err = c.Ssend(want, 1, 5)
					} else {
						err = c.Send(want, 1, 5)
					}
					close(sent)
					return err
				}
				if slices.Equal(tc.want, []comm.Kind{kindRTSPush, kindRndvData}) || tc.want[0] == kindEager {
					<-sent // complete before any receive: it must not wait for one
				}
				var got []byte
				st, err := c.Recv(&got, 0, 5)
				if err != nil {
					return err
				}
				if st.Size != tc.size {
					return fmt.Errorf("Status.Size %d, want %d", st.Size, tc.size)
				}
				return checkBytes("message", got, want)
			}, tc.opts...)
			if got := spies[0].sent(); !slices.Equal(got, tc.want) {
				t.Errorf("frames sent %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPushArrivalOrders receives pushed messages in each order their
// parts and the receive can meet: the receive posted before the
// announcement; the announcement matched (after a Probe that must report
// the size) while the body is held back; the body in before any receive;
// from AnySource; into a typed slice. In memory and through a real NATS
// server of 1 MiB max_payload.
func TestPushArrivalOrders(t *testing.T) {
	for _, net := range pushNets() {
		t.Run(net.name, func(t *testing.T) {
			size := (net.eager + net.push) / 2
			t.Run("posted first", func(t *testing.T) {
				spies, _ := net.start(t, 2)
				posted := make(chan struct{})
				want := pattern(2, 0, size)
				runSpied(t, spies, func(c *Comm) error {
					if c.Rank() == 0 {
						<-posted
						return c.Send(want, 1, 1)
					}
					got := make([]byte, size)
					req := c.Irecv(&got, 0, 1)
					close(posted)
					st, err := req.Wait()
					if err != nil {
						return err
					}
					if st.Size != size || st.Source != 0 || st.Tag != 1 {
						return fmt.Errorf("status %+v", st)
					}
					return checkBytes("message", got, want)
				})
				checkPushed(t, spies[0], 1)
			})
			t.Run("matched before its body", func(t *testing.T) {
				spies, _ := net.start(t, 2)
				release := spies[0].holdBodies()
				defer release()
				n := size / 8
				want := make([]float64, n)
				for i := range want {
					want[i] = float64(i) * 1.5
				}
				runSpied(t, spies, func(c *Comm) error {
					if c.Rank() == 0 {
						return c.Send(want, 1, 2)
					}
					st, err := c.Probe(AnySource, AnyTag)
					if err != nil {
						return err
					}
					if st.Size != 8*n || st.Source != 0 || st.Tag != 2 {
						return fmt.Errorf("Probe said %+v before the body came, want %d bytes from 0, tag 2", st, 8*n)
					}
					got := make([]float64, n)
					req := c.Irecv(&got, AnySource, 2)
					if _, done, err := req.Test(); done {
						return fmt.Errorf("receive done (%v) before its body was sent", err)
					}
					release()
					if st, err = req.Wait(); err != nil {
						return err
					}
					if st.Size != 8*n || !slices.Equal(got, want) {
						return fmt.Errorf("received %d bytes, values equal: %v", st.Size, slices.Equal(got, want))
					}
					return nil
				})
				checkPushed(t, spies[0], 1)
			})
			t.Run("body first", func(t *testing.T) {
				spies, _ := net.start(t, 3)
				runSpied(t, spies, func(c *Comm) error {
					if c.Rank() != 0 {
						return c.Send(pattern(3, c.Rank(), size+c.Rank()), 0, 3)
					}
					<-spies[0].bodies // both bodies in, no receive posted
					<-spies[0].bodies
					st, found, err := c.Iprobe(2, 3)
					if err != nil || !found || st.Size != size+2 {
						return fmt.Errorf("Iprobe: %+v, %v, %v; want %d bytes", st, found, err, size+2)
					}
					for range 2 {
						var got []byte
						st, err := c.Recv(&got, AnySource, 3)
						if err != nil {
							return err
						}
						if err := checkBytes(fmt.Sprintf("from %d", st.Source), got, pattern(3, st.Source, size+st.Source)); err != nil {
							return err
						}
					}
					return nil
				})
				checkPushed(t, spies[1], 1)
				checkPushed(t, spies[2], 1)
			})
		})
	}
}

// checkPushed fails t unless spy sent n pushed messages and nothing else
// of a rendezvous.
func checkPushed(t *testing.T, spy *pushSpy, n int) {
	t.Helper()
	k := kindsOf(spy.sent())
	if k[kindRTSPush] != n || k[kindRndvData] != n || k[kindRTS] != 0 {
		t.Errorf("rank %d sent %d pushed announcements, %d bodies, %d rendezvous requests; want %d, %d, 0", spy.Rank(), k[kindRTSPush], k[kindRndvData], k[kindRTS], n, n)
	}
}

// TestPushOrderMixedSizes: messages of one source and tag, of seeded random
// sizes that go eagerly, pushed and by rendezvous (above the push limit),
// are received in the order sent, every byte right, by receives posted
// ahead in random batches (Irecv), one at a time (Recv), or after a Probe,
// so that some messages meet a posted receive and some arrive unexpected,
// bodies before or after.
func TestPushOrderMixedSizes(t *testing.T) {
	for _, net := range pushNets() {
		t.Run(net.name, func(t *testing.T) {
			count, large := 300, 3*net.push
			if net.name == "nats" {
				count, large = 40, net.push+(1<<20)
			}
			seed := rand.Uint64()
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 1))
			sizes := make([]int, count)
			for i := range sizes {
				switch rng.IntN(10) {
				case 0:
					sizes[i] = net.push + 1 + rng.IntN(large-net.push)
				case 1, 2, 3, 4:
					sizes[i] = rng.IntN(net.eager + 1)
				default:
					sizes[i] = net.eager + 1 + rng.IntN(net.push-net.eager)
				}
			}
			sizes[0], sizes[1], sizes[2] = net.eager+1, net.push+1, 10 // every kind, whatever the draw
			spies, _ := net.start(t, 2)
			runSpied(t, spies, func(c *Comm) error {
				if c.Rank() == 0 {
					for i, size := range sizes {
						if err := c.Send(pattern(seed, i, size), 1, 7); err != nil {
							return err
						}
					}
					return nil
				}
				rng := rand.New(rand.NewPCG(seed, 2))
				for i := 0; i < len(sizes); {
					switch batch := min(1+rng.IntN(4), len(sizes)-i); rng.IntN(3) {
					case 0: // posted ahead
						got := make([][]byte, batch)
						reqs := make([]*Request, batch)
						for j := range batch {
							reqs[j] = c.Irecv(&got[j], 0, 7)
						}
						for j := range batch {
							if _, err := reqs[j].Wait(); err != nil {
								return err
							}
							if err := checkBytes(fmt.Sprintf("message %d", i+j), got[j], pattern(seed, i+j, sizes[i+j])); err != nil {
								return err
							}
						}
						i += batch
					case 1: // probed first
						st, err := c.Probe(0, 7)
						if err != nil {
							return err
						}
						if st.Size != sizes[i] {
							return fmt.Errorf("message %d: Probe said %d bytes, want %d", i, st.Size, sizes[i])
						}
						fallthrough
					default:
						var got []byte
						if _, err := c.Recv(&got, 0, 7); err != nil {
							return err
						}
						if err := checkBytes(fmt.Sprintf("message %d", i), got, pattern(seed, i, sizes[i])); err != nil {
							return err
						}
						i++
					}
				}
				return nil
			})
			k := kindsOf(spies[0].sent())
			if k[kindRTSPush] == 0 || k[kindRTS] == 0 || k[kindEager] == 0 {
				t.Errorf("frames sent %v: want eager, pushed and rendezvous messages", k)
			}
		})
	}
}

// TestPushSenderLostBeforeBody: a sender lost between a pushed message's
// announcement and its body fails the receive that takes it with
// ErrPeerLost, whether the receive was posted before the loss or after,
// leaving the receive's buffer untouched; what came before stays
// receivable.
func TestPushSenderLostBeforeBody(t *testing.T) {
	for _, net := range pushNets() {
		t.Run(net.name, func(t *testing.T) {
			size := (net.eager + net.push) / 2
			for _, postedFirst := range []bool{true, false} {
				t.Run(fmt.Sprintf("posted first %v", postedFirst), func(t *testing.T) {
					spies, lose := net.start(t, 2)
					spies[0].loseAtBody(func() { lose(0) })
					posted := make(chan struct{})
					runSpied(t, spies, func(c *Comm) error {
						if c.Rank() == 0 {
							if err := c.Send([]byte("before"), 1, 1); err != nil {
								return err
							}
							<-posted
							if err := c.Send(make([]byte, size), 1, 2); err == nil {
								return errors.New("send of a lost rank succeeded")
							}
							return nil
						}
						got := slices.Repeat([]byte{0xAA}, size)
						var req *Request
						if postedFirst {
							req = c.Irecv(&got, 0, 2)
						}
						close(posted)
						if !postedFirst {
							// Once rank 0 is known gone (a probe for what
							// it will never send fails), take its message.
							if _, err := c.Probe(0, 99); !errors.Is(err, ErrPeerLost) {
								return fmt.Errorf("probe after the loss: %v, want ErrPeerLost", err)
							}
							req = c.Irecv(&got, 0, 2)
						}
						if _, err := req.Wait(); !errors.Is(err, ErrPeerLost) {
							return fmt.Errorf("receive of a body never sent: %v, want ErrPeerLost", err)
						}
						if len(got) != size || slices.ContainsFunc(got, func(b byte) bool { return b != 0xAA }) {
							return errors.New("the receive's buffer changed")
						}
						var before []byte
						if _, err := c.Recv(&before, 0, 1); err != nil || string(before) != "before" {
							return fmt.Errorf("message sent before the loss: %q, %v", before, err)
						}
						return nil
					})
				})
			}
		})
	}
}

// TestPushTypeMismatch: a pushed message received into a target of another
// type fails with ErrTypeMismatch, whether its body came before or after
// the receive, and the messages after it are received as sent.
func TestPushTypeMismatch(t *testing.T) {
	for _, net := range pushNets() {
		t.Run(net.name, func(t *testing.T) {
			n := (net.eager + net.push) / 16
			spies, _ := net.start(t, 2)
			release := spies[0].holdBodies()
			defer release()
			floats := make([]float64, n)
			for i := range floats {
				floats[i] = float64(i)
			}
			runSpied(t, spies, func(c *Comm) error {
				if c.Rank() == 0 {
					for tag := range 2 {
						if err := c.Send(floats, 1, tag); err != nil {
							return err
						}
					}
					return c.Send("after", 1, 2)
				}
				var ints []int32
				req := c.Irecv(&ints, 0, 0) // matched before the body
				release()
				if _, err := req.Wait(); !errors.Is(err, ErrTypeMismatch) {
					return fmt.Errorf("body after the receive: %v, want ErrTypeMismatch", err)
				}
				<-spies[1].bodies
				<-spies[1].bodies // the second body is in before its receive
				if _, err := c.Recv(&ints, 0, 1); !errors.Is(err, ErrTypeMismatch) {
					return fmt.Errorf("body before the receive: %v, want ErrTypeMismatch", err)
				}
				var s string
				if _, err := c.Recv(&s, 0, 2); err != nil || s != "after" {
					return fmt.Errorf("message after: %q, %v", s, err)
				}
				return nil
			})
			checkPushed(t, spies[0], 2)
		})
	}
}

// TestPushTraced: gorun --trace records a pushed message's Send and its
// receive (Recv, and Irecv with Wait), with its size and tag, and joins
// each send to its receive.
func TestPushTraced(t *testing.T) {
	const size = 20_000 // pushed in memory: above 1000, within 64 KiB
	tracers := []*tracer{newTestTracer(t, 100), newTestTracer(t, 100)}
	spies, _ := startMemoryPush(t, 2)
	runSpied(t, spies, func(c *Comm) error {
		c.shared.world.trace = tracers[c.Rank()]
		if c.Rank() == 0 {
			if err := c.Send(make([]byte, size), 1, 1); err != nil {
				return err
			}
			return c.Send(make([]byte, size+1), 1, 2)
		}
		var a, b []byte
		req := c.Irecv(&a, 0, 2)
		if _, err := c.Recv(&b, 0, 1); err != nil {
			return err
		}
		_, err := req.Wait()
		return err
	})
	checkPushed(t, spies[0], 2)
	want := [][]string{{"Send", "Send"}, {"Irecv", "Recv", "Wait"}}
	tl := mergeRecorded(t, tracers, want)
	if len(tl.Flows) != 2 {
		t.Fatalf("%d messages joined, want 2", len(tl.Flows))
	}
	for _, f := range tl.Flows {
		from, to := tl.Lanes[f.From.Rank].Calls[f.From.Call], tl.Lanes[f.To.Rank].Calls[f.To.Call]
		if from.SendSize != to.RecvSize || from.SendTag != to.RecvTag || from.SendSize != size+int(from.SendTag)-1 {
			t.Errorf("%s joined to %s", trace.Label(from), trace.Label(to))
		}
	}
}

// TestPushOnlyThroughNATS: in the composite gorun builds for a job on two
// hosts (Unix sockets to the peers of a rank's parity, NATS of the default
// 1 MiB max_payload to the others), a rank pushes to its NATS peers only,
// and a 1.5 MiB message to each peer arrives whole.
func TestPushOnlyThroughNATS(t *testing.T) {
	const size = 3 << 19
	body := func(c *Comm) error {
		e := c.e
		for dest := range c.Size() {
			want := 0
			if dest%2 != c.Rank()%2 {
				want = 2<<20 - 128
			}
			if got := e.pushLimit[dest]; got != want {
				return fmt.Errorf("push limit to %d: %d, want %d", dest, got, want)
			}
		}
		reqs := []*Request{}
		got := make([][]byte, c.Size())
		for peer := range c.Size() {
			if peer != c.Rank() {
				reqs = append(reqs, c.Irecv(&got[peer], peer, 1))
			}
		}
		for peer := range c.Size() {
			if peer != c.Rank() {
				if err := c.Send(pattern(9, c.Rank()*10+peer, size), peer, 1); err != nil {
					return err
				}
			}
		}
		if err := WaitAll(reqs...); err != nil {
			return err
		}
		for peer := range c.Size() {
			if peer != c.Rank() {
				if err := checkBytes(fmt.Sprintf("from %d", peer), got[peer], pattern(9, peer*10+c.Rank(), size)); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for r, err := range runOver(t, ranks.Placed, 4, body) {
		if err != nil {
			t.Errorf("rank %d: %v", r, err)
		}
	}
}
