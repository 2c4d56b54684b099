"""The mpi4py twin of bench/ops: same operations, sizes, loops, statistics
and table (see bench/ops/main.go's doc), with mpi4py's buffer API (upper-case
methods on numpy arrays), which writes into the caller's buffer: the plain
and _into rows are the same call, printed under both names.

    mpirun -np 4 /usr/bin/python3 bench/ops/py/ops.py -kind coll -sizes 8,8192

Flags as bench/ops: -kind, -sizes, -ops, -budget, -miniters, -maxiters.
"""
import sys

import numpy as np
from mpi4py import MPI


def main():
    args = dict(kind="coll", sizes="", ops="barrier,allreduce_value,allreduce,allreduce_into,bcast,bcast_into,gather,gather_into,alltoall,alltoall_into",
                budget=str(128 << 20), miniters="20", maxiters="1000")
    argv = sys.argv[1:]
    for i in range(0, len(argv) - 1, 2):
        name = argv[i].lstrip("-")
        if name not in args:
            sys.exit("ops.py: unknown flag " + argv[i])
        args[name] = argv[i + 1]
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    kind, ops = args["kind"], args["ops"].split(",")
    budget, lo, hi = int(args["budget"]), int(args["miniters"]), int(args["maxiters"])
    if args["sizes"]:
        sizes = [int(s) for s in args["sizes"].split(",")]
    elif kind == "pingpong":
        sizes = [8 << k for k in range(22)]
    else:
        sizes = [8, 8192, 1 << 20, 8 << 20]

    def iters(nbytes):
        return min(max(budget // max(nbytes, 1), lo), hi)

    def report(name, call, nbytes, n, scale=1.0, twice=False):
        for _ in range(max(n // 10, 10)):  # warm-up, as bench/ops's warmupCalls
            call()
        each = np.empty(n)
        wtime = MPI.Wtime
        comm.Barrier()  # the mean: nothing but the calls in the loop (as bench/ops)
        loop = wtime()
        for _ in range(n):
            call()
        mean = (wtime() - loop) * 1e6 / n / scale
        comm.Barrier()  # p50, p99: the same calls, each timed
        for i in range(n):
            t = wtime()
            call()
            each[i] = (wtime() - t) * 1e6 / scale
        osu = 0.0
        for _ in range(n):
            comm.Barrier()
            t = wtime()
            call()
            osu += (wtime() - t) * 1e6 / scale
        each.sort()
        k50, k99 = (n * 50 + 99) // 100, (n * 99 + 99) // 100
        mine = np.array([mean, osu / n, each[max(k50 - 1, 0)], each[max(k99 - 1, 0)]])
        worst = np.empty(4)
        comm.Allreduce(mine, worst, op=MPI.MAX)
        if rank == 0:
            names = [name, name + "_into"] if twice else [name]
            if name == "allreduce" and nbytes == 8:
                names.append("allreduce_value")  # one value: the same call
            for full in names:
                print("%-16s %10d %7d %12.3f %12.3f %12.3f %12.3f" % (full, nbytes, n, *worst), flush=True)

    if rank == 0:
        print("# mpi4py ops %s, %d ranks; microseconds, largest over the ranks" % (kind, size))
        print("%-16s %10s %7s %12s %12s %12s %12s" % ("op", "bytes", "iters", "mean_us", "osu_mean_us", "p50_us", "p99_us"))
    if kind == "pingpong":
        for nbytes in sizes:
            msg = np.zeros(nbytes, dtype=np.uint8)

            def round_trip():
                if rank == 0:
                    comm.Send(msg, dest=1, tag=1)
                    comm.Recv(msg, source=1, tag=1)
                elif rank == 1:
                    comm.Recv(msg, source=0, tag=1)
                    comm.Send(msg, dest=0, tag=1)
            report("pingpong", round_trip, nbytes, iters(nbytes), scale=2.0)
    else:
        if "barrier" in ops:
            report("barrier", comm.Barrier, 0, hi)
        for nbytes in sizes:
            count = nbytes // 8
            v = np.arange(count, dtype=np.float64) + rank
            out = np.empty(count)
            gathered = np.empty(count * size) if rank == 0 else None
            blocks = np.tile(v, size)
            received = np.empty(count * size)
            n = iters(nbytes)
            if "allreduce" in ops or "allreduce_into" in ops or "allreduce_value" in ops:
                report("allreduce", lambda: comm.Allreduce(v, out, op=MPI.SUM), nbytes, n, twice=True)
            if "bcast" in ops or "bcast_into" in ops:
                report("bcast", lambda: comm.Bcast(v, root=0), nbytes, n, twice=True)
            if "gather" in ops or "gather_into" in ops:
                report("gather", lambda: comm.Gather(v, gathered, root=0), nbytes, n, twice=True)
            if "alltoall" in ops or "alltoall_into" in ops:
                report("alltoall", lambda: comm.Alltoall(blocks, received), nbytes, n, twice=True)


main()
