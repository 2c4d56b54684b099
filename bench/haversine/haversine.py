"""The mpi4py twin of examples/haversine's static split (the workload of
shared/WORKLOADS.md), written as a Python programmer would: numpy arrays,
sent with the buffer API, distances computed vectorized. The same work in
the same order as the Go program and the C twin: once every rank is ready
(a barrier) the clock starts; rank 0 generates the N requests, sends each
rank its share of whole requests (lengths differ by at most one request,
longer first), every rank sums its distances, rank 0 gathers and prints how
many requests each rank answered, and Reduce adds the sums on rank 0, which
prints the line the Go program prints last: total_km=... requests=N
ranks=P seconds=S.

    mpirun -np 4 /usr/bin/python3 bench/haversine/haversine.py -n 8000000
"""
import sys

import numpy as np
from mpi4py import MPI


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
    if rank == 0:
        i = np.arange(n, dtype=np.int64)
        coords = np.empty((n, 4))
        coords[:, 0] = ((i * 7919) % 180001) / 1000.0 - 90
        coords[:, 1] = ((i * 104729) % 360001) / 1000.0 - 180
        coords[:, 2] = ((i * 1299709) % 180001) / 1000.0 - 90
        coords[:, 3] = ((i * 15485863) % 360001) / 1000.0 - 180
        offset = counts[0]
        for r in range(1, size):
            comm.Send(coords[offset:offset + counts[r]], dest=r, tag=1)
            offset += counts[r]
        mine = coords[:counts[0]]
    else:
        mine = np.empty((counts[rank], 4))
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
