package collectives

import (
	"fmt"
	"os"
	"strings"
)

// algorithm names one algorithm of one collective. Its value travels in
// message headers, so ranks can check that they chose alike.
type algorithm uint8

const (
	algBinomial algorithm = iota + 1
	algScatterAllgather
	algLinear
	algRing
	algRecursiveDoubling
	algPairwise
	algDissemination
	algRabenseifner
	algShm
)

var algNames = map[algorithm]string{
	algBinomial:          "binomial",
	algScatterAllgather:  "scatter_allgather",
	algLinear:            "linear",
	algRing:              "ring",
	algRecursiveDoubling: "recursive_doubling",
	algPairwise:          "pairwise",
	algDissemination:     "dissemination",
	algRabenseifner:      "rabenseifner",
	algShm:               "shm",
}

func (a algorithm) String() string {
	if s, ok := algNames[a]; ok {
		return s
	}
	return fmt.Sprintf("algorithm(%d)", uint8(a))
}

// rule selects alg for calls on at least minRanks ranks moving at least
// minBytes bytes (the payload of one rank: the broadcast value, or one
// rank's slice in a reduction). A rule marked shared applies only where the
// ranks share an arena (one host, the local transport, the world
// communicator, numbers).
type rule struct {
	minRanks, minBytes int
	shared             bool
	alg                algorithm
}

// policy is one collective's choice: the algorithms it has and the rules
// that pick one, the first matching rule winning.
type policy struct {
	env   string // the environment variable that forces a choice
	algs  []algorithm
	rules []rule
}

// The decision table: every threshold lives here. The figures come from
// bench/collbench with each algorithm forced (GORUN_COLL_*), on a 2-core
// machine with 2 to 8 ranks over the local transport; the crossovers are
// broad, so round numbers serve.
//
//   - Bcast: a binomial tree sends the whole value log2(p) times in
//     sequence from the root's side; scatter + ring allgather moves about
//     twice the value per rank but in parallel. Measured, binomial won at
//     every size up to 8 MiB and 8 ranks (8 MiB at np=4: 8.7 ms against
//     12.2 ms; at np=8: 17 ms against 33 ms), since a large body crosses in
//     a single copy; over NATS the two were even. Scatter + allgather is
//     kept for larger jobs, where the root's link becomes the bottleneck
//     (as in Open MPI and MPICH); it is not measured here beyond
//     correctness. Only the root knows the size: it chooses and tells the
//     others in the first message.
//   - Allreduce (and AllreduceSlice): recursive doubling takes log2(p)
//     steps, each moving the whole vector; the ring takes 2(p-1) steps of
//     1/p of the vector. Measured crossover: about 16 KiB at np=2 and 32 to
//     64 KiB at np=4 (64 KiB: ring 55 us against 264 us at np=2, 372 us
//     against 668 us at np=4). Rabenseifner's algorithm (recursive halving
//     and doubling: 2 log2(p) steps instead of 2(p-1)) is there to be forced;
//     it is not the default because it won only sometimes here (8 MiB: 5.5
//     against 7.2 ms at np=2, 15.5 against 17.4 ms at np=4, 40 against 43 ms
//     at np=8, but slower at np=3 and 5, and for 1 MiB at np=2 and 4). The
//     ring and Rabenseifner need a commutative operator (the built-in ones);
//     user operators always get recursive doubling, which keeps rank order.
//   - Shared memory (rules marked shared; ranks with an arena: the world
//     communicator of a job on gorun's local transport): AllreduceSlice of
//     numbers, Bcast and Barrier go through the arena at every size and
//     rank count, since it won everywhere (collbench, medians of 2 runs,
//     shm against the message algorithms above): allreduce 8 B 6.8 against
//     69 us at np=4, 64 KiB 123 against 373 us, 8 MiB 6.5 against 16.5 ms
//     (np=2: 2.4 against 4.2 ms; np=8: 18 against 40 ms); bcast 8 MiB at
//     np=4 3.1 against 10.9 ms; barrier 5.5 against 23 us at np=4. A Bcast
//     value larger than a slot goes by messages, as the root's header says.
//     A Bcast value larger than bcastPieceBytes (256 KiB) goes in pieces,
//     the others copying out one while the root copies in the next, when
//     every rank has a core of its own or the others have buffers to copy
//     into (BcastInto); ranks that share cores take a Bcast value whole,
//     into a slice Go need not zero (8 MiB at np=2: 1.10 in pieces against
//     1.50 ms whole; at np=4 on 2 cores, whole 2.13 ms, in pieces 2.87).
//   - Allgather, Gather, Scatter: no rank knows the total size (parts may
//     differ in length), so the choice is by rank count alone. Gather,
//     Allgather and Alltoall of numbers go through the arena where there is
//     one (shmExchange): each rank copies its blocks into its slot and the
//     readers copy them out, in rounds when they do not fit (bench/ops,
//     np=4 on 2 cores: see shmexchange.go for the figures).
//   - Reduce, ReduceSlice: binomial tree. Alltoall: pairwise exchange.
//     Scan: recursive doubling. Barrier: dissemination.
var policies = map[string]policy{
	"Bcast": {env: "GORUN_COLL_BCAST",
		algs: []algorithm{algBinomial, algScatterAllgather, algShm},
		rules: []rule{
			{minRanks: 2, shared: true, alg: algShm},
			{minRanks: 16, minBytes: 1 << 20, alg: algScatterAllgather},
			{alg: algBinomial},
		}},
	"Allreduce": {env: "GORUN_COLL_ALLREDUCE",
		algs: []algorithm{algRecursiveDoubling, algRing, algRabenseifner, algShm},
		rules: []rule{
			{minRanks: 2, shared: true, alg: algShm},
			{minRanks: 2, minBytes: 64 << 10, alg: algRing},
			{alg: algRecursiveDoubling},
		}},
	"Allgather": {env: "GORUN_COLL_ALLGATHER",
		algs:  []algorithm{algRecursiveDoubling, algRing, algShm},
		rules: []rule{{minRanks: 2, shared: true, alg: algShm}, {alg: algRecursiveDoubling}}},
	"Gather": {env: "GORUN_COLL_GATHER",
		algs:  []algorithm{algBinomial, algLinear, algShm},
		rules: []rule{{minRanks: 2, shared: true, alg: algShm}, {alg: algBinomial}}},
	"Scatter": {env: "GORUN_COLL_SCATTER",
		algs:  []algorithm{algBinomial, algLinear},
		rules: []rule{{alg: algBinomial}}},
	"Reduce": {env: "GORUN_COLL_REDUCE",
		algs:  []algorithm{algBinomial},
		rules: []rule{{alg: algBinomial}}},
	"Alltoall": {env: "GORUN_COLL_ALLTOALL",
		algs:  []algorithm{algPairwise, algShm},
		rules: []rule{{minRanks: 2, shared: true, alg: algShm}, {alg: algPairwise}}},
	"Scan": {env: "GORUN_COLL_SCAN",
		algs:  []algorithm{algRecursiveDoubling},
		rules: []rule{{alg: algRecursiveDoubling}}},
	"Barrier": {env: "GORUN_COLL_BARRIER",
		algs:  []algorithm{algDissemination, algShm},
		rules: []rule{{minRanks: 2, shared: true, alg: algShm}, {alg: algDissemination}}},
}

// choose returns the algorithm for collective coll on ranks ranks moving
// bytes bytes. The policy's environment variable, when set and not empty,
// overrides the table (for tests and for teaching); every rank must see the
// same value, as every rank gorun starts does. An unknown name is an error
// that lists the valid ones.
func choose(coll string, ranks, bytes int) (algorithm, error) {
	return chooseShared(coll, ranks, bytes, false)
}

// chooseShared is choose for a call that could use shared memory. A forced
// algorithm that needs shared memory the call does not have gives way to
// the table, so that GORUN_COLL_ALLREDUCE=shm leaves communicators without
// an arena working.
func chooseShared(coll string, ranks, bytes int, shared bool) (algorithm, error) {
	pol, ok := policies[coll]
	if !ok {
		return 0, failf(ErrAlgorithm, "no policy for collective %q", coll)
	}
	if name := strings.TrimSpace(os.Getenv(pol.env)); name != "" {
		var valid []string
		for _, a := range pol.algs {
			if strings.EqualFold(name, a.String()) && (shared || a != algShm) {
				return a, nil
			}
			if strings.EqualFold(name, a.String()) {
				return tableChoice(pol, ranks, bytes, shared), nil
			}
			valid = append(valid, a.String())
		}
		return 0, failf(ErrAlgorithm, "%s=%q; valid choices: %s", pol.env, name, strings.Join(valid, ", "))
	}
	return tableChoice(pol, ranks, bytes, shared), nil
}

// tableChoice applies pol's rules.
func tableChoice(pol policy, ranks, bytes int, shared bool) algorithm {
	for _, r := range pol.rules {
		if ranks >= r.minRanks && bytes >= r.minBytes && (shared || !r.shared) {
			return r.alg
		}
	}
	return pol.algs[0]
}

// Algorithms returns, for each collective, the names GORUN_COLL_<NAME>
// accepts, the default first; the key is the variable's name.
func Algorithms() map[string][]string {
	out := make(map[string][]string, len(policies))
	for _, pol := range policies {
		for _, a := range pol.algs {
			out[pol.env] = append(out[pol.env], a.String())
		}
	}
	return out
}
