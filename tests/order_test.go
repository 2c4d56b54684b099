package tests

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// orderArgs size each run of tests/progs/order: 8 rounds of about 12
// messages per rank each (a few hundred messages, some of them MiBs).
var orderArgs = []string{"-rounds", "8", "-msgs", "12"}

// TestOrder runs the randomized, seeded plan of tests/progs/order
// (internal/ordertest) through gorun on each transport at -np 2, 3, 5 and
// 8: mixed sizes across the eager and single-copy limits, Send, Ssend,
// Isend and Sendrecv, three communicators, specific and wildcard receives
// posted before and after the messages arrive. Each rank checks every
// message's content and that messages from one sender on one
// communicator were matched in the order sent. Fixed seeds run every
// time, plus one random seed, logged; once with GORUN_EAGER_LIMIT=1024 (most
// messages rendezvous), once with GORUN_SINGLE_COPY=0 and once with
// GORUN_SYNC_SENDS=1 (the plan never relies on buffering). A failure names
// the seed and the command that reproduces it.
func TestOrder(t *testing.T) {
	random := rand.Uint64() % 1_000_000
	t.Logf("random seed %d", random)
	type run struct {
		np   int
		seed uint64
		env  string
	}
	var runs []run
	for i, np := range []int{2, 3, 5, 8} {
		runs = append(runs, run{np, uint64(10*i + 1), ""}, run{np, uint64(10*i + 2), ""}, run{np, random, ""})
	}
	runs = append(runs, run{3, 101, "GORUN_EAGER_LIMIT=1024"}, run{8, 102, "GORUN_EAGER_LIMIT=1024"},
		run{5, 103, "GORUN_SINGLE_COPY=0"}, run{5, 104, "GORUN_SYNC_SENDS=1"})
	for _, tr := range transports {
		for _, r := range runs {
			if r.env == "GORUN_SINGLE_COPY=0" && tr.name != "local" {
				continue // the single-copy path exists on the local transport only
			}
			name := fmt.Sprintf("%s/np=%d/seed=%d", tr.name, r.np, r.seed)
			if r.env != "" {
				name += "/" + r.env
			}
			t.Run(name, func(t *testing.T) {
				args := append([]string{"-seed", fmt.Sprint(r.seed)}, orderArgs...)
				j := job{np: r.np, prog: "order", flags: append(append([]string{}, tr.flags...), "--timeout", "60s"), args: args}
				if r.env != "" {
					j.env = []string{r.env}
				}
				res := runGorun(t, j)
				ok := strings.Count(res.stdout, fmt.Sprintf(" ok order seed=%d ", r.seed))
				if res.code != 0 || ok != r.np {
					t.Fatalf("seed %d: exit status %d, %d of %d ranks ok; reproduce with\n\t%s go run ./cmd/gorun -np %d %s ./tests/progs/order -seed %d %s\nstdout:\n%s\nstderr:\n%s",
						r.seed, res.code, ok, r.np, r.env, r.np, strings.Join(tr.flags, " "), r.seed, strings.Join(orderArgs, " "), res.stdout, res.stderr)
				}
				noProcessLeft(t, res)
			})
		}
	}
}
