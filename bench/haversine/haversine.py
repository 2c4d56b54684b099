"""The mpi4py twin of examples/haversine's static split (the workload of
shared/WORKLOADS.md), written as a Python programmer would: numpy arrays,
sent with the buffer API, distances computed vectorized. The same work in
the same order as the Go program and the C twin: once every rank is ready
(a barrier) the clock starts; rank 0 generates each rank's share of whole
requests just before sending it (lengths differ by at most one request,
longer first; its own share last), every rank sums its distances, rank 0 gathers and prints how
many requests each rank answered, and Reduce adds the sums on rank 0, which
prints the line the Go program prints last: total_km=... requests=N
ranks=P seconds=S.

    mpirun -np 4 /usr/bin/python3 bench/haversine/haversine.py -n 8000000
"""
import sys

import numpy as np
from mpi4py import MPI


def generate(coords, first):
    """Fills coords (k rows of 4) with requests first..first+k-1."""
    i = np.arange(first, first + len(coords), dtype=np.int64)
    coords[:, 0] = ((i * 7919) % 180001) / 1000.0 - 90
    coords[:, 1] = ((i * 104729) % 360001) / 1000.0 - 180
    coords[:, 2] = ((i * 1299709) % 180001) / 1000.0 - 90
    coords[:, 3] = ((i * 15485863) % 360001) / 1000.0 - 180


def main():
    n = 80000
    argv = sys.argv[1:]
    for i in range(0, len(argv) - 1, 2):
        if argv[i] == "-n":
            n = int(argv[i + 1])
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    comm.Barrier()
    start = MPI.Wtime()
    counts = [n // size + (1 if r < n % size else 0) for r in range(size)]
    firsts = [sum(counts[:r]) for r in range(size)]
    # Rank 0 generates each share just before sending it, its own last,
    # into one buffer as large as the largest share.
    mine = np.empty((counts[0] if rank == 0 else counts[rank], 4))
    if rank == 0:
        for r in range(1, size):
            share = mine[:counts[r]]
            generate(share, firsts[r])
            comm.Send(share, dest=r, tag=1)
        generate(mine, 0)
    else:
        comm.Recv(mine, source=0, tag=1)
    lat1, lon1, lat2, lon2 = (np.radians(mine[:, k]) for k in range(4))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    local = np.array([np.sum(6372.8 * 2 * np.arcsin(np.sqrt(a)))])
    answered = np.zeros(size, dtype=np.int64) if rank == 0 else None
    comm.Gather(np.array([counts[rank]], dtype=np.int64), answered, root=0)
    if rank == 0:
        for r in range(size):
            print("rank %d answered %d requests" % (r, answered[r]))
    total = np.zeros(1)
    comm.Reduce(local, total, op=MPI.SUM, root=0)
    if rank == 0:
        print("total_km=%.6f requests=%d ranks=%d seconds=%.3f" % (total[0], n, size, MPI.Wtime() - start))


main()
