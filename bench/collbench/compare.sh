#!/usr/bin/env bash
# compare.sh: gorun's collbench against its Open MPI twin (c/osu_coll.c),
# alternating runs in one session, so that both see the same load. For each
# operation it prints the median over the runs of each side and the median
# of the per-run ratios gorun / Open MPI (each ratio from runs made seconds
# apart).
#
#   bench/collbench/compare.sh [RUNS] [NP] [SIZE] [OPS]
#   bench/collbench/compare.sh 15 4 8388608 "allreduce allreduce_into"
#
# Defaults: 9 runs, 4 ranks, 8 MiB of float64, "allreduce allreduce_into".
# OPS are collbench's (barrier, bcast, bcast_into, allreduce,
# allreduce_into); an _into operation is compared with Open MPI's plain one,
# which also writes into the caller's buffer. Needs go, mpicc and mpirun
# (Debian: apt-get install openmpi-bin libopenmpi-dev). Run from the
# repository's root.
set -euo pipefail

runs=${1:-9}
np=${2:-4}
size=${3:-8388608}
ops=${4:-"allreduce allreduce_into"}
iters=1000

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/gorun" ./cmd/gorun
go -C bench build -o "$work/collbench" ./collbench
mpicc -O2 -o "$work/osu_coll" bench/collbench/c/osu_coll.c
mpirun_flags=(--oversubscribe)
if [ "$(id -u)" = 0 ]; then
	mpirun_flags+=(--allow-run-as-root)
fi

# value OP SIZE: the median_us column of OP's row at SIZE in a table on stdin.
value() { awk -v op="$1" -v size="$2" '$1 == op && $2 == size { print $3 }'; }

for op in $ops; do
	: >"$work/$op.pairs"
done
for ((i = 1; i <= runs; i++)); do
	for op in $ops; do
		case $op in
		barrier) sz=0 ;;
		*) sz=$size ;;
		esac
		g=$("$work/gorun" -np "$np" "$work/collbench" -iters "$iters" -sizes "$size" -ops "$op" | value "$op" "$sz")
		o=$(mpirun "${mpirun_flags[@]}" -np "$np" "$work/osu_coll" "$iters" 2>/dev/null | value "${op%_into}" "$sz")
		echo "$g $o" >>"$work/$op.pairs"
	done
done

printf '# %d alternating runs, np=%d, %d bytes; microseconds, medians\n' "$runs" "$np" "$size"
printf '%-16s %12s %12s %14s\n' op gorun openmpi gorun/openmpi
for op in $ops; do
	awk -v op="$op" '
		function median(a, n,    i, j, t) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
		}
		{ n++; g[n] = $1; o[n] = $2; r[n] = $1 / $2 }
		END { printf "%-16s %12.2f %12.2f %14.3f\n", op, median(g, n), median(o, n), median(r, n) }
	' "$work/$op.pairs"
done
