package main

import (
	"slices"
	"strconv"
)

// key names one figure: a benchmark ("pingpong", "coll", "initfinalize",
// "haversine"), its number of ranks, the operation and the size in bytes.
type key struct {
	bench string
	np    int
	op    string
	bytes int
}

// row is one measurement: a line of bench/ops's table (microseconds), or
// one job (mean only: milliseconds for initfinalize, seconds for
// haversine).
type row struct {
	iters                   int
	mean, osuMean, p50, p99 float64
}

// results holds every measurement by key, implementation and round.
type results struct {
	rows     map[key]map[string]map[int][]row
	keys     []key // in the order first measured
	failures []string
}

func newResults() *results {
	return &results{rows: map[key]map[string]map[int][]row{}}
}

func (r *results) add(k key, implName string, round int, x row) {
	byImpl, ok := r.rows[k]
	if !ok {
		byImpl = map[string]map[int][]row{}
		r.rows[k] = byImpl
		r.keys = append(r.keys, k)
	}
	if byImpl[implName] == nil {
		byImpl[implName] = map[int][]row{}
	}
	byImpl[implName][round] = append(byImpl[implName][round], x)
}

// summary is what the tables and plots show for one key and
// implementation.
type summary struct {
	ok                      bool
	samples                 int
	mean, osuMean, p50, p99 float64
}

// summarize: for a table row (one per round) each figure is the median
// over the rounds, so that a round the machine disturbed does not pull the
// mean above the percentiles of the others; for jobs (several per round)
// the mean over every job and the percentiles of all the jobs' times.
func (r *results) summarize(k key, implName string) summary {
	rounds := r.rows[k][implName]
	var all []row
	tableRows := true
	for _, rs := range rounds {
		all = append(all, rs...)
		tableRows = tableRows && len(rs) == 1 && rs[0].iters > 0
	}
	if len(all) == 0 {
		return summary{}
	}
	s := summary{ok: true, samples: len(all)}
	if tableRows {
		field := func(f func(row) float64) float64 {
			v := make([]float64, len(all))
			for i, x := range all {
				v[i] = f(x)
			}
			return median(v)
		}
		s.mean = field(func(x row) float64 { return x.mean })
		s.osuMean = field(func(x row) float64 { return x.osuMean })
		s.p50 = field(func(x row) float64 { return x.p50 })
		s.p99 = field(func(x row) float64 { return x.p99 })
		return s
	}
	means := make([]float64, len(all))
	for i, x := range all {
		s.mean += x.mean / float64(len(all))
		means[i] = x.mean
	}
	slices.Sort(means)
	s.p50, s.p99 = percentile(means, 50), percentile(means, 99)
	return s
}

// ratio is the median over the rounds of gorun's mean divided by the
// peer's mean in the same round (each round's mean of its jobs); ok is
// false when no round has both.
func (r *results) ratio(k key, peer string) (float64, bool) {
	g, p := r.rows[k]["gorun"], r.rows[k][peer]
	var ratios []float64
	for round, gs := range g {
		ps, ok := p[round]
		if !ok || len(gs) == 0 || len(ps) == 0 {
			continue
		}
		if pm := meanOf(ps); pm > 0 {
			ratios = append(ratios, meanOf(gs)/pm)
		}
	}
	if len(ratios) == 0 {
		return 0, false
	}
	return median(ratios), true
}

func meanOf(rs []row) float64 {
	sum := 0.0
	for _, x := range rs {
		sum += x.mean
	}
	return sum / float64(len(rs))
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p int) float64 {
	k := (len(sorted)*p + 99) / 100
	return sorted[max(k-1, 0)]
}

func itoa(n int) string { return strconv.Itoa(n) }
