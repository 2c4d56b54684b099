#!/usr/bin/env bash
# phases.sh [PAIRS [NP [N]]]: runs examples/haversine (gorun) and its C twin
# (mpirun --oversubscribe, built with mpicc -O2) alternately, PAIRS times
# each (default 6) at -np NP (4) on N requests (8000000), both with
# -phases, and prints, per phase, the median time it took in each program:
# rank 0's phases (genR: generating rank R's share, sentR: sending it,
# gen0, computed: its own share, gathered, reduced), each other rank's
# compute time and when its share arrived, and the programs' seconds.
# MPIRUN_FLAGS adds mpirun flags (e.g. "--bind-to core:overload-allowed",
# gorun's binding), GORUN_FLAGS gorun's. Run from anywhere.
set -euo pipefail
pairs=${1:-6} np=${2:-4} n=${3:-8000000}
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$(mktemp -d)"; trap 'rm -rf "$bin"' EXIT
(cd "$root" && go build -o "$bin/gorun" ./cmd/gorun && go build -o "$bin/haversine" ./examples/haversine)
mpicc -O2 -o "$bin/haversine_c" "$root/bench/haversine/haversine.c" -lm
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
for i in $(seq "$pairs"); do
	# Each run's lines, prefixed with the program's name.
	"$bin/gorun" -np "$np" ${GORUN_FLAGS:-} "$bin/haversine" -n "$n" -phases 2>&1 | sed "s/^/go /"
	sleep 1
	mpirun --oversubscribe ${MPIRUN_FLAGS:-} -np "$np" "$bin/haversine_c" -n "$n" -phases 2>&1 | sed "s/^/c /"
	sleep 1
done >"$bin/runs"
printf "%-28s %8s %8s  (medians of %d runs each, ms)\n" "phase" "gorun" "C" "$pairs"
awk '
	# A row key starts with two digits that order the rows (cut below).
	$2 == "phases" {
		rank = $4; sub(":", "", rank); prev = 0
		for (f = 5; f <= NF; f++) {
			split($f, kv, "="); t = kv[2] + 0
			if (rank == 0) add($1, sprintf("%02d rank 0 %s", f, kv[1]), t - prev)
			else if (kv[1] == "recvd") add($1, sprintf("%02d rank %s share in at", 50 + rank, rank), t)
			else if (kv[1] == "computed") add($1, sprintf("%02d rank %s computed", 70 + rank, rank), t - prev)
			prev = t
		}
	}
	$2 ~ /^total_km=/ { for (f = 2; f <= NF; f++) if ($f ~ /^seconds=/) { split($f, kv, "="); add($1, "99 seconds", kv[2] * 1000) } }
	function add(prog, key, v) { keys[key] = 1; n[prog, key]++; val[prog, key, n[prog, key]] = v }
	function median(prog, key,   k, i, j, t, a) {
		k = n[prog, key]
		if (k == 0) return -1
		for (i = 1; i <= k; i++) a[i] = val[prog, key, i]
		for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return (k % 2) ? a[(k+1)/2] : (a[k/2] + a[k/2+1]) / 2
	}
	END { for (key in keys) printf "%-31s %8.1f %8.1f\n", key, median("go", key), median("c", key) }
' "$bin/runs" | sort | cut -c4-
