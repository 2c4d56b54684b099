#!/usr/bin/env bash
# tracebench.sh ROUNDS [BASE_COMMIT]: what gorun --trace costs, measured
# against BASE_COMMIT (default: main) on the same machine at the same time.
#
# 1. Ping-pong 8 B (tests/progs/tracebench, 20000 round trips per run):
#    three variants run alternately ROUNDS times: gorun and the program
#    built from BASE_COMMIT, from this tree with tracing off, and from this
#    tree with --trace. Prints each run's mean, p50 and p99 one-way
#    latency, then the mean of each over the runs.
# 2. The examples (gorun -np 4, each example and gorun built from each
#    tree): six variants run alternately ROUNDS times: base and this tree,
#    each without --trace, with --trace F.json and with --trace F.html.
#    Prints the mean and median wall time of each, the ratio of each
#    traced variant to the untraced one of the same tree, and the mean and
#    median CPU time (user+sys of gorun and its ranks, which load moves less
#    than wall time; perf stat's task-clock where perf runs, else GNU time's
#    10 ms ticks). The machine may be shared: alternating puts every variant
#    under the same load.
#
# Run it from the repository's root: bash tests/tracebench.sh 10 main
# TRACEBENCH_PARTS="examples" (or "pingpong") runs one part only;
# TRACEBENCH_EXAMPLES="bank ring" picks the examples.
set -euo pipefail
rounds=${1:-10}
base=${2:-main}
parts=${TRACEBENCH_PARTS:-pingpong examples}
examples=(${TRACEBENCH_EXAMPLES:-ring pi pool-map scalar-matrix pipeline producer-consumer bank taskfarm haversine})
root=$(pwd)
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/src-base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git worktree add --detach "$work/src-base" "$base" >/dev/null 2>&1
mkdir -p "$work/src-base/tests/progs/tracebench"
cp tests/progs/tracebench/main.go "$work/src-base/tests/progs/tracebench/"
for tree in base new; do
	dir="$work/src-base"
	[ "$tree" = new ] && dir="$root"
	(
		cd "$dir"
		go build -o "$work/$tree/gorun" ./cmd/gorun
		go build -o "$work/$tree/bench" ./tests/progs/tracebench
		for ex in "${examples[@]}"; do
			go build -o "$work/$tree/ex-$ex" "./examples/$ex"
		done
	)
done

# cputime FILE CMD...: runs CMD, writing to FILE the CPU time (user+sys)
# it and its children took, in ns: from perf stat's task-clock where perf
# runs (to the microsecond), else from GNU time (to 10 ms).
if perf stat -x, -e task-clock -o /dev/null true 2>/dev/null; then
	cputime() {
		local out=$1
		shift
		perf stat -x, -e task-clock -o "$out.raw" "$@" || return
		awk -F, '/task-clock/ {printf "%.0f\n", $1 * 1e6}' "$out.raw" >"$out"
	}
else
	cputime() {
		local out=$1
		shift
		/usr/bin/time -f "%U %S" -o "$out.raw" "$@" || return
		awk '{printf "%.0f\n", ($1 + $2) * 1e9}' "$out.raw" >"$out"
	}
fi

# stats FILE: mean and median of the numbers in FILE, one a line.
stats() {
	sort -n "$1" | awk '{a[NR]=$1; s+=$1} END {print s/NR, (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}

if [[ " $parts " == *" pingpong "* ]]; then
	echo "# ping-pong 8 B, one-way latency in us (mean p50 p99), $rounds alternated runs of 20000 round trips"
	for i in $(seq "$rounds"); do
		echo "base $("$work/base/gorun" -np 2 "$work/base/bench" -size 8 -iters 20000)"
		echo "off  $("$work/new/gorun" -np 2 "$work/new/bench" -size 8 -iters 20000)"
		echo "on   $("$work/new/gorun" -np 2 --trace "$work/t.json" "$work/new/bench" -size 8 -iters 20000)"
	done | tee "$work/pingpong.txt"
	awk '{n[$1]++; m[$1]+=$7; p[$1]+=$9; q[$1]+=$11}
		END {for (v in n) printf "%-4s mean of %d runs: mean %.3f us, p50 %.3f us, p99 %.3f us\n", v, n[v], m[v]/n[v], p[v]/n[v], q[v]/n[v]}' "$work/pingpong.txt" | sort
fi

if [[ " $parts " == *" examples "* ]]; then
	echo "# examples: wall time of a whole job (gorun -np 4) in ms, $rounds alternated runs of each variant;"
	echo "# ratio = traced / untraced of the same tree (mean, p50)"
	variants=(base-off base-json base-html new-off new-json new-html)
	for ex in "${examples[@]}"; do
		for v in "${variants[@]}"; do : >"$work/$ex.$v"; : >"$work/$ex.$v.cpu"; done
		for i in $(seq "$rounds"); do
			for v in "${variants[@]}"; do
				tree=${v%-*} kind=${v#*-}
				args=()
				[ "$kind" != off ] && args=(--trace "$work/$ex.$tree.$kind")
				t0=$(date +%s%N)
				if ! cputime "$work/cpu" "$work/$tree/gorun" -np 4 "${args[@]}" "$work/$tree/ex-$ex" >/dev/null; then
					echo "# a run of $ex $v failed (left out of the figures)" >&2
					continue
				fi
				t1=$(date +%s%N)
				echo "$((t1 - t0))" >>"$work/$ex.$v"
				cat "$work/cpu" >>"$work/$ex.$v.cpu"
			done
		done
		calls=$(grep -c '"ph":"X"' "$work/$ex.new.json" || true)
		for tree in base new; do
			read -r offMean offMed < <(stats "$work/$ex.$tree-off")
			line=$(awk -v ex="$ex" -v tree="$tree" -v calls="$calls" -v m="$offMean" -v p="$offMed" \
				'BEGIN {printf "%-18s %-4s %6d calls  off mean %6.1f p50 %6.1f", ex, tree, calls, m/1e6, p/1e6}')
			for kind in json html; do
				read -r m p < <(stats "$work/$ex.$tree-$kind")
				line+=$(awk -v k="$kind" -v m="$m" -v p="$p" -v om="$offMean" -v op="$offMed" \
					'BEGIN {printf "  | %s mean %6.1f p50 %6.1f (x%.2f, x%.2f)", k, m/1e6, p/1e6, m/om, p/op}')
			done
			read -r cOff cOffMed < <(stats "$work/$ex.$tree-off.cpu")
			read -r cJSON cJSONMed < <(stats "$work/$ex.$tree-json.cpu")
			read -r cHTML cHTMLMed < <(stats "$work/$ex.$tree-html.cpu")
			line+=$(awk -v a="$cOff" -v b="$cJSON" -v c="$cHTML" -v am="$cOffMed" -v bm="$cJSONMed" -v cm="$cHTMLMed" \
				'BEGIN {printf "  | cpu ms (mean/p50) off %.0f/%.0f json %.0f/%.0f html %.0f/%.0f", a/1e6, am/1e6, b/1e6, bm/1e6, c/1e6, cm/1e6}')
			echo "$line"
		done
	done
fi
