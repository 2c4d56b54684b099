#!/usr/bin/env bash
# tracebench.sh ROUNDS [BASE_COMMIT]: what gorun --trace costs.
#
# 1. Ping-pong 8 B (tests/progs/tracebench, 20000 round trips per run):
#    three variants run alternately ROUNDS times: gorun and the program
#    built from BASE_COMMIT (default: main), from this tree with tracing
#    off, and from this tree with --trace. Prints each run's mean, p50 and
#    p99 one-way latency, then the mean of each over the runs.
# 2. The examples: each run with and without --trace FILE.json, alternately,
#    ROUNDS times; prints the mean and median wall time of each (a shared
#    machine's outliers move the means).
#
# Run it from the repository's root: bash tests/tracebench.sh 10 7b71c8f
set -euo pipefail
rounds=${1:-10}
base=${2:-main}
root=$(pwd)
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git worktree add --detach "$work/base" "$base" >/dev/null 2>&1
mkdir -p "$work/base/tests/progs/tracebench"
cp tests/progs/tracebench/main.go "$work/base/tests/progs/tracebench/"
(cd "$work/base" && go build -o "$work/gorun-base" ./cmd/gorun && go build -o "$work/bench-base" ./tests/progs/tracebench)
go build -o "$work/gorun" ./cmd/gorun
go build -o "$work/bench" ./tests/progs/tracebench

echo "# ping-pong 8 B, one-way latency in us (mean p50 p99), $rounds alternated runs of 20000 round trips"
for i in $(seq "$rounds"); do
	echo "base $("$work/gorun-base" -np 2 "$work/bench-base" -size 8 -iters 20000)"
	echo "off  $("$work/gorun" -np 2 "$work/bench" -size 8 -iters 20000)"
	echo "on   $("$work/gorun" -np 2 --trace "$work/t.json" "$work/bench" -size 8 -iters 20000)"
done | tee "$work/pingpong.txt"
awk '{n[$1]++; m[$1]+=$7; p[$1]+=$9; q[$1]+=$11}
	END {for (v in n) printf "%-4s mean of %d runs: mean %.3f us, p50 %.3f us, p99 %.3f us\n", v, n[v], m[v]/n[v], p[v]/n[v], q[v]/n[v]}' "$work/pingpong.txt" | sort

echo "# examples: wall time of a whole job (gorun -np 4), ms, $rounds alternated runs"
examples=(ring pi pool-map scalar-matrix pipeline producer-consumer bank taskfarm haversine)
for ex in "${examples[@]}"; do
	go build -o "$work/ex-$ex" "./examples/$ex"
done
for ex in "${examples[@]}"; do
	: >"$work/$ex.times"
	for i in $(seq "$rounds"); do
		t0=$(date +%s%N); "$work/gorun" -np 4 "$work/ex-$ex" >/dev/null; t1=$(date +%s%N)
		"$work/gorun" -np 4 --trace "$work/$ex.json" "$work/ex-$ex" >/dev/null; t2=$(date +%s%N)
		echo "$((t1 - t0)) $((t2 - t1))" >>"$work/$ex.times"
	done
	calls=$(grep -c '"ph":"X"' "$work/$ex.json" || true)
	# mean and median of each column
	sort -n -k1,1 "$work/$ex.times" | awk '{a[NR]=$1; s+=$1} END {print s/NR, (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}' >"$work/off"
	sort -n -k2,2 "$work/$ex.times" | awk '{a[NR]=$2; s+=$2} END {print s/NR, (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}' >"$work/on"
	read -r offMean offMed <"$work/off"
	read -r onMean onMed <"$work/on"
	awk -v ex="$ex" -v a="$offMean" -v b="$onMean" -v c="$offMed" -v d="$onMed" -v calls="$calls" \
		'BEGIN {printf "%-18s mean off %7.1f on %7.1f ms (%+5.1f%%)   median off %7.1f on %7.1f ms (%+5.1f%%)   %d calls traced\n", ex, a/1e6, b/1e6, (b-a)/a*100, c/1e6, d/1e6, (d-c)/c*100, calls}'
done
