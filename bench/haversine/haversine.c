/* The C MPI twin of examples/haversine's static split (the workload of
 * shared/WORKLOADS.md), doing the same work in the same order: once every
 * rank is ready (a barrier), the clock starts; rank 0 generates each
 * rank's share of whole requests just before sending it (lengths differ by
 * at most one request, longer first, as mpi.Scatter cuts; its own share
 * last, all in one buffer); every rank sums its distances; rank 0 gathers
 * how many requests each rank answered and prints them; and MPI_Reduce
 * adds the sums on rank 0, which prints the line the Go program prints
 * last: total_km=... requests=N ranks=P seconds=S (S from the barrier to
 * the total, as in Go). The Go program's four named requests come before
 * its clock starts and are left out here. With -phases, each rank prints
 * on stderr when each phase ended, as the Go program's -phases does:
 * "phases rank R: gen1=ms sent1=ms ... reduced=ms" (ms from the clock's
 * start).
 *
 * With -upfront it takes the shape the Go program had when issue 17 was
 * filed (examples/haversine at d3447fe): the clock starts as soon as
 * MPI_Init returns, with no barrier, and rank 0 generates all n requests
 * before sending the first share (bench/haversine/thenandnow.sh compares
 * that program with this one's -upfront, and today's with today's).
 *
 *   mpicc -O2 -o /tmp/haversine bench/haversine/haversine.c -lm
 *   mpirun -np 4 /tmp/haversine -n 8000000
 *
 * gcc turns pow(x, 2) into x*x (no call); the Go program writes x*x itself.
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The -phases line of this rank: "name=ms" of each phase's end, in order. */
static int phases;
static double phases_start;
static char phases_line[512];
static size_t phases_len;

static void mark(const char *name, int r) {
    char n[16];
    if (!phases) return;
    snprintf(n, sizeof n, r >= 0 ? "%s%d" : "%s", name, r);
    phases_len += snprintf(phases_line + phases_len, sizeof phases_line - phases_len, " %s=%.1f", n,
                           (MPI_Wtime() - phases_start) * 1000);
    if (phases_len >= sizeof phases_line) phases_len = sizeof phases_line - 1;
}

static double rad(double deg) { return deg * M_PI / 180; }

static double haversine(double lat1, double lon1, double lat2, double lon2) {
    double dlat = rad(lat2 - lat1), dlon = rad(lon2 - lon1);
    double a = pow(sin(dlat / 2), 2) + cos(rad(lat1)) * cos(rad(lat2)) * pow(sin(dlon / 2), 2);
    return 6372.8 * 2 * asin(sqrt(a));
}

/* generate fills coords with requests first..first+n-1 of the generated
 * load, four numbers per request, as the Go program's generated does. */
static void generate(double *coords, long first, long n) {
    for (long k = 0; k < n; k++) {
        long i = first + k;
        coords[4 * k] = (double)((i * 7919) % 180001) / 1000.0 - 90;
        coords[4 * k + 1] = (double)((i * 104729) % 360001) / 1000.0 - 180;
        coords[4 * k + 2] = (double)((i * 1299709) % 180001) / 1000.0 - 90;
        coords[4 * k + 3] = (double)((i * 15485863) % 360001) / 1000.0 - 180;
    }
}

int main(int argc, char **argv) {
    long n = 80000;
    int rank, np;
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "-n")) n = atol(argv[i + 1]);
    int upfront = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-phases")) phases = 1;
        if (!strcmp(argv[i], "-upfront")) upfront = 1;
    }
    if (!upfront) MPI_Barrier(MPI_COMM_WORLD);
    double start = MPI_Wtime();
    phases_start = start;
    long *counts = malloc(sizeof(long) * np);
    for (int r = 0; r < np; r++) counts[r] = n / np + (r < n % np);
    long *firsts = calloc(np, sizeof(long));
    for (int r = 1; r < np; r++) firsts[r] = firsts[r - 1] + counts[r - 1];
    /* Rank 0 generates each share just before sending it, its own last,
     * into one buffer as large as the largest share (MPI_Send returns once
     * the buffer may be reused). */
    double *mine = malloc(sizeof(double) * 4 * (counts[0] > 0 ? counts[0] : 1));
    if (rank == 0 && upfront) {
        /* All requests first, then each share from where it lies. */
        double *all = malloc(sizeof(double) * 4 * (n > 0 ? n : 1));
        generate(all, 0, n);
        mark("gen", -1);
        for (int r = 1; r < np; r++) {
            MPI_Send(all + 4 * firsts[r], (int)(counts[r] * 4), MPI_DOUBLE, r, 1, MPI_COMM_WORLD);
            mark("sent", r);
        }
        free(mine);
        mine = all; /* rank 0's own share is the first */
    } else if (rank == 0) {
        for (int r = 1; r < np; r++) {
            generate(mine, firsts[r], counts[r]);
            mark("gen", r);
            MPI_Send(mine, (int)(counts[r] * 4), MPI_DOUBLE, r, 1, MPI_COMM_WORLD);
            mark("sent", r);
        }
        generate(mine, 0, counts[0]);
        mark("gen", 0);
    } else {
        MPI_Recv(mine, (int)(counts[rank] * 4), MPI_DOUBLE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        mark("recvd", -1);
    }
    double local = 0, total = 0;
    for (long i = 0; i < counts[rank]; i++)
        local += haversine(mine[4 * i], mine[4 * i + 1], mine[4 * i + 2], mine[4 * i + 3]);
    mark("computed", -1);
    long *answered = malloc(sizeof(long) * np);
    MPI_Gather(&counts[rank], 1, MPI_LONG, answered, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    mark("gathered", -1);
    if (rank == 0)
        for (int r = 0; r < np; r++) printf("rank %d answered %ld requests\n", r, answered[r]);
    MPI_Reduce(&local, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    mark("reduced", -1);
    if (phases) fprintf(stderr, "phases rank %d:%s\n", rank, phases_line);
    if (rank == 0)
        printf("total_km=%.6f requests=%ld ranks=%d seconds=%.3f\n", total, n, np, MPI_Wtime() - start);
    free(mine);
    free(counts);
    free(firsts);
    free(answered);
    MPI_Finalize();
    return 0;
}
