/* Open MPI twin of bench/pingpong: same sizes, same table.
 * mpicc -O2 -o /tmp/pingpong bench/pingpong/c/pingpong.c
 * mpirun --allow-run-as-root -np 2 --mca btl tcp,self /tmp/pingpong */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int rank, size, iters = 2000;
    long minSize = 8, maxSize = 16L << 20;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-min")) minSize = atol(argv[i + 1]);
        if (!strcmp(argv[i], "-max")) maxSize = atol(argv[i + 1]);
        if (!strcmp(argv[i], "-iters")) iters = atoi(argv[i + 1]);
    }
    if (rank == 0) {
        printf("# Open MPI pingpong, %d ranks\n", size);
        printf("%-10s %12s %12s %12s\n", "bytes", "median_us", "min_us", "MB/s");
    }
    char *buf = malloc(maxSize);
    memset(buf, 1, maxSize);
    for (long sz = minSize; sz <= maxSize; sz *= 2) {
        int n = iters;
        if ((256L << 20) / sz < n) n = (256L << 20) / sz;
        if (n < 20) n = 20;
        int warm = n / 10 + 2, total = n + warm;
        double *samples = malloc(sizeof(double) * total);
        int k = 0;
        for (int i = 0; i < total; i++) {
            double t0 = MPI_Wtime();
            if (rank == 0) {
                MPI_Send(buf, sz, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
                MPI_Recv(buf, sz, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else if (rank == 1) {
                MPI_Recv(buf, sz, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                MPI_Send(buf, sz, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
            }
            if (i >= warm) samples[k++] = (MPI_Wtime() - t0) / 2;
        }
        if (rank == 0) {
            qsort(samples, k, sizeof(double), cmp);
            double med = samples[k / 2];
            printf("%-10ld %12.2f %12.2f %12.1f\n", sz, med * 1e6, samples[0] * 1e6, sz / med / 1e6);
        }
        free(samples);
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
