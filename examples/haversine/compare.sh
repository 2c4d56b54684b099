#!/usr/bin/env bash
# compare.sh [PAIRS [NP [N]]]: runs the static split and -dynamic (farm.RunSeq)
# alternately, PAIRS times each (default 8) at -np NP (4) on N requests
# (8000000), and prints each run's seconds (as the program reports them)
# and CPU seconds (user+sys of the whole job), then the means and the
# dynamic/static ratios (ratio of the means, and median of the per-pair
# ratios). Run from anywhere; it builds gorun and the example first.
# GORUN_FLAGS adds gorun flags, e.g. GORUN_FLAGS="--bind-to none".
set -euo pipefail
pairs=${1:-8} np=${2:-4} n=${3:-8000000}
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$(mktemp -d)"; trap 'rm -rf "$bin"' EXIT
(cd "$root" && go build -o "$bin/gorun" ./cmd/gorun && go build -o "$bin/haversine" ./examples/haversine)
run() { # mode args...: prints "seconds cpu"
	local out
	out=$( { /usr/bin/time -f "cpu %U %S" "$bin/gorun" -np "$np" ${GORUN_FLAGS:-} "$bin/haversine" -n "$n" "$@" >"$bin/out"; } 2>&1 )
	local secs cpu
	secs=$(sed -n 's/.* seconds=\([0-9.]*\)$/\1/p' "$bin/out")
	cpu=$(echo "$out" | awk '/^cpu /{print $2+$3}')
	echo "$secs $cpu"
}
: >"$bin/runs"
for i in $(seq "$pairs"); do
	read -r s sc < <(run)
	read -r d dc < <(run -dynamic)
	echo "pair $i: static ${s}s (cpu ${sc}s)  dynamic ${d}s (cpu ${dc}s)  ratio $(awk -v a="$d" -v b="$s" 'BEGIN{printf "%.2f", a/b}')"
	echo "$s $sc $d $dc" >>"$bin/runs"
done
med=$(awk '{print $3/$1}' "$bin/runs" | sort -g | awk '{r[NR]=$1} END {print (NR%2) ? r[(NR+1)/2] : (r[NR/2]+r[NR/2+1])/2}')
awk -v med="$med" '{s+=$1; sc+=$2; d+=$3; dc+=$4} END {
	printf "means over %d pairs: static %.3fs (cpu %.3fs), dynamic %.3fs (cpu %.3fs)\n", NR, s/NR, sc/NR, d/NR, dc/NR
	printf "dynamic/static: ratio of means %.2f, median of per-pair ratios %.2f, cpu ratio %.2f\n", d/s, med, dc/sc
}' "$bin/runs"
