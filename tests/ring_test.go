package tests

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestOrderRingModes runs tests/progs/order's randomized plan on the local
// transport in the modes of its shared-memory rings that TestOrder does not
// cover: rings off (GORUN_SHM_RINGS=0, every frame by the socket, the path
// kept for comparison), and rings with no polling (GORUN_SPIN=0: a
// receiver never polls, so every ring frame needs its wake-up through the
// socket), at -np 3 and 5 with a fixed and a random seed.
func TestOrderRingModes(t *testing.T) {
	random := rand.Uint64() % 1_000_000
	t.Logf("random seed %d", random)
	for _, env := range []string{"GORUN_SHM_RINGS=0", "GORUN_SPIN=0s"} {
		for i, np := range []int{3, 5} {
			for _, seed := range []uint64{uint64(200 + i), random} {
				t.Run(fmt.Sprintf("%s/np=%d/seed=%d", env, np, seed), func(t *testing.T) {
					args := append([]string{"-seed", fmt.Sprint(seed)}, orderArgs...)
					res := runGorun(t, job{np: np, prog: "order", flags: []string{"--timeout", "60s"}, args: args, env: []string{env}})
					ok := strings.Count(res.stdout, fmt.Sprintf(" ok order seed=%d ", seed))
					if res.code != 0 || ok != np {
						t.Fatalf("seed %d: exit status %d, %d of %d ranks ok; reproduce with\n\t%s go run ./cmd/gorun -np %d ./tests/progs/order -seed %d %s\nstdout:\n%s\nstderr:\n%s",
							seed, res.code, ok, np, env, np, seed, strings.Join(orderArgs, " "), res.stdout, res.stderr)
					}
					noProcessLeft(t, res)
				})
			}
		}
	}
}
