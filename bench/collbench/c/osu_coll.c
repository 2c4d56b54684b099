/* The C twin of bench/collbench for Open MPI: same operations, sizes and
 * statistic (median per rank, max over ranks, microseconds).
 *
 *   mpicc -O2 -o osu_coll bench/collbench/c/osu_coll.c
 *   mpirun -np 4 ./osu_coll [ITERS]    (add --oversubscribe beyond the cores;
 *                                      ITERS as collbench -iters, default 200)
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int iters_for(long size, int iters) {
    if (size >= (1 << 20)) return iters / 10 > 10 ? iters / 10 : 10;
    if (size >= (64 << 10)) return iters / 2 > 10 ? iters / 2 : 10;
    return iters;
}

/* op: 0 barrier, 1 bcast, 2 allreduce */
static double measure(int op, double *v, double *out, long count, int n) {
    double *times = malloc(sizeof(double) * n), med, worst;
    for (int i = 0; i < n / 10 + 1 + n; i++) {
        int timed = i >= n / 10 + 1;
        if (timed) MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        if (op == 0) MPI_Barrier(MPI_COMM_WORLD);
        if (op == 1) MPI_Bcast(v, count, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        if (op == 2) MPI_Allreduce(v, out, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (timed) times[i - (n / 10 + 1)] = (MPI_Wtime() - t) * 1e6;
    }
    qsort(times, n, sizeof(double), cmp);
    med = times[n / 2];
    MPI_Allreduce(&med, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    free(times);
    return worst;
}

int main(int argc, char **argv) {
    long sizes[] = {8, 8192, 8388608};
    int iters = 200, rank, np;
    MPI_Init(&argc, &argv);
    if (argc > 1) iters = atoi(argv[1]); /* like collbench -iters */
    if (iters < 1) iters = 200;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    if (rank == 0) {
        printf("# Open MPI collbench, %d ranks; median per rank, max over ranks\n", np);
        printf("%-10s %10s %12s\n", "op", "bytes", "median_us");
    }
    double b = measure(0, NULL, NULL, 0, iters * 5);
    if (rank == 0) printf("%-10s %10d %12.2f\n", "barrier", 0, b);
    for (int s = 0; s < 3; s++) {
        long count = sizes[s] / 8;
        double *v = malloc(sizeof(double) * count), *out = malloc(sizeof(double) * count);
        for (long i = 0; i < count; i++) v[i] = rank + i;
        int n = iters_for(sizes[s], iters);
        double t = measure(1, v, out, count, n);
        if (rank == 0) printf("%-10s %10ld %12.2f\n", "bcast", sizes[s], t);
        t = measure(2, v, out, count, n);
        if (rank == 0) printf("%-10s %10ld %12.2f\n", "allreduce", sizes[s], t);
        free(v);
        free(out);
    }
    MPI_Finalize();
    return 0;
}
