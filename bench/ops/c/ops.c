/* The C MPI twin of bench/ops: same operations, sizes, loops, statistics
 * and table (see bench/ops/main.go's doc). MPI calls always write into the
 * caller's buffer, so "allreduce" and "allreduce_into" (likewise bcast)
 * are the same call, printed under both names.
 *
 *   mpicc -O2 -o /tmp/ops bench/ops/c/ops.c
 *   mpirun -np 2 /tmp/ops -kind pingpong
 *   mpirun -np 4 /tmp/ops -kind coll -sizes 8,8192,1048576,8388608
 *
 * Flags as bench/ops: -kind, -sizes, -ops, -budget, -miniters, -maxiters,
 * -stats (each rank's histogram of the timed back-to-back calls' times and
 * their mean under 1 ms, on stderr, with bench/ops's buckets, so that the
 * two tails can be compared bucket by bucket). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long budget = 128L << 20;
static int min_iters = 20, max_iters = 1000, rank, np, stats;
static double *v, *out, *gathered, *sendblocks, *recvblocks;
static char *msg;

/* print_stats prints the histogram of the calls' times (microseconds) as
 * bench/ops -stats does. */
static void print_stats(const char *name, long size, const double *each, int n) {
    static const double bounds[] = {0.5, 1, 2, 4, 8, 16, 32, 64, 128};
    const int nb = sizeof bounds / sizeof bounds[0];
    int counts[sizeof bounds / sizeof bounds[0] + 1] = {0}, shortn = 0;
    double shortsum = 0;
    for (int i = 0; i < n; i++) {
        int b = 0;
        while (b < nb && each[i] >= bounds[b]) b++;
        counts[b]++;
        if (each[i] < 1000) shortn++, shortsum += each[i];
    }
    char line[512];
    int w = snprintf(line, sizeof line, "stats %s %ld rank %d:", name, size, rank);
    for (int b = 0; b <= nb && w < (int)sizeof line; b++)
        w += b < nb ? snprintf(line + w, sizeof line - w, " <%g:%d", bounds[b], counts[b])
                    : snprintf(line + w, sizeof line - w, " >=%g:%d", bounds[nb - 1], counts[b]);
    fprintf(stderr, "%s | mean under 1 ms %.3f us, %d calls over\n", line, shortsum / (shortn > 0 ? shortn : 1), n - shortn);
}

static int iters(long size) {
    long n = budget / (size > 0 ? size : 1);
    if (n < min_iters) n = min_iters;
    if (n > max_iters) n = max_iters;
    return (int)n;
}

/* op: 0 pingpong, 1 barrier, 2 allreduce, 3 bcast, 4 gather, 5 alltoall */
static void call(int op, long size) {
    long count = size / 8;
    switch (op) {
    case 0:
        if (rank == 0) {
            MPI_Send(msg, size, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
            MPI_Recv(msg, size, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(msg, size, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(msg, size, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
        }
        break;
    case 1: MPI_Barrier(MPI_COMM_WORLD); break;
    case 2: MPI_Allreduce(v, out, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); break;
    case 3: MPI_Bcast(v, count, MPI_DOUBLE, 0, MPI_COMM_WORLD); break;
    case 4: MPI_Gather(v, count, MPI_DOUBLE, gathered, count, MPI_DOUBLE, 0, MPI_COMM_WORLD); break;
    case 5: MPI_Alltoall(sendblocks, count, MPI_DOUBLE, recvblocks, count, MPI_DOUBLE, MPI_COMM_WORLD); break;
    }
}

/* report measures op and prints its row under name, and under
 * name_into when twice (and under allreduce_value for an 8-byte allreduce,
 * which is one value). */
static void report(const char *name, int op, long size, int n, double scale, int twice) {
    /* warm-up: as bench/ops's warmupCalls, a tenth of n and at least 10 */
    for (int i = 0; i < (n / 10 > 10 ? n / 10 : 10); i++) call(op, size);
    double *each = malloc(sizeof(double) * n), mine[4], worst[4], osu = 0;
    /* the mean: nothing but the calls in the loop (as bench/ops) */
    MPI_Barrier(MPI_COMM_WORLD);
    double loop = MPI_Wtime();
    for (int i = 0; i < n; i++) call(op, size);
    mine[0] = (MPI_Wtime() - loop) * 1e6 / n / scale;
    /* p50, p99: the same calls, each timed */
    MPI_Barrier(MPI_COMM_WORLD);
    for (int i = 0; i < n; i++) {
        double t = MPI_Wtime();
        call(op, size);
        each[i] = (MPI_Wtime() - t) * 1e6 / scale;
    }
    if (stats) print_stats(name, size, each, n);
    for (int i = 0; i < n; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        call(op, size);
        osu += (MPI_Wtime() - t) * 1e6 / scale;
    }
    mine[1] = osu / n;
    qsort(each, n, sizeof(double), cmp);
    int k50 = (n * 50 + 99) / 100, k99 = (n * 99 + 99) / 100;
    mine[2] = each[k50 > 0 ? k50 - 1 : 0];
    mine[3] = each[k99 > 0 ? k99 - 1 : 0];
    MPI_Allreduce(mine, worst, 4, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        for (int t = 0; t <= twice + (op == 2 && size == 8); t++) {
            char full[64];
            snprintf(full, sizeof full, "%s%s", name, t == 0 ? "" : t == 1 ? "_into" : "_value");
            printf("%-16s %10ld %7d %12.3f %12.3f %12.3f %12.3f\n", full, size, n, worst[0], worst[1], worst[2], worst[3]);
        }
        fflush(stdout);
    }
    free(each);
}

static int has(const char *list, const char *op) {
    char buf[512];
    snprintf(buf, sizeof buf, ",%s,", list);
    char want[64];
    snprintf(want, sizeof want, ",%s,", op);
    return strstr(buf, want) != NULL;
}

int main(int argc, char **argv) {
    const char *kind = "coll", *sizes = NULL;
    const char *ops = "barrier,allreduce_value,allreduce,allreduce_into,bcast,bcast_into,gather,gather_into,alltoall,alltoall_into";
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "-stats")) { stats = 1; continue; }
        if (val == NULL) {
            if (rank == 0) fprintf(stderr, "ops: flag %s needs a value\n", f);
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
        i++;
        if (!strcmp(f, "-kind")) kind = val;
        else if (!strcmp(f, "-sizes")) sizes = val;
        else if (!strcmp(f, "-ops")) ops = val;
        else if (!strcmp(f, "-budget")) budget = atol(val);
        else if (!strcmp(f, "-miniters")) min_iters = atoi(val);
        else if (!strcmp(f, "-maxiters")) max_iters = atoi(val);
        else {
            if (rank == 0) fprintf(stderr, "ops: unknown flag %s\n", f);
            MPI_Abort(MPI_COMM_WORLD, 2);
        }
    }
    int pingpong = !strcmp(kind, "pingpong");
    if (!pingpong && strcmp(kind, "coll")) {
        if (rank == 0) fprintf(stderr, "ops: -kind %s: want pingpong or coll\n", kind);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    long list[64];
    int nsizes = 0;
    if (sizes == NULL) {
        if (pingpong)
            for (long s = 8; s <= 16L << 20; s *= 2) list[nsizes++] = s;
        else {
            long d[] = {8, 8192, 1L << 20, 8L << 20};
            for (int i = 0; i < 4; i++) list[nsizes++] = d[i];
        }
    } else {
        char *copy = strdup(sizes);
        for (char *tok = strtok(copy, ","); tok && nsizes < 64; tok = strtok(NULL, ",")) list[nsizes++] = atol(tok);
        free(copy);
    }
    long largest = 8;
    for (int i = 0; i < nsizes; i++)
        if (list[i] > largest) largest = list[i];
    if (rank == 0) {
        printf("# Open MPI ops %s, %d ranks; microseconds, largest over the ranks\n", kind, np);
        printf("%-16s %10s %7s %12s %12s %12s %12s\n", "op", "bytes", "iters", "mean_us", "osu_mean_us", "p50_us", "p99_us");
    }
    if (pingpong) {
        msg = calloc(largest, 1);
        for (int i = 0; i < nsizes; i++) report("pingpong", 0, list[i], iters(list[i]), 2, 0);
    } else {
        v = malloc(largest);
        out = malloc(largest);
        gathered = malloc(largest * np);
        sendblocks = malloc(largest * np);
        recvblocks = malloc(largest * np);
        for (long i = 0; i < largest / 8; i++) v[i] = rank + i;
        for (long i = 0; i < largest / 8 * np; i++) sendblocks[i] = rank + i;
        if (has(ops, "barrier")) report("barrier", 1, 0, max_iters, 1, 0);
        for (int i = 0; i < nsizes; i++) {
            long s = list[i];
            int n = iters(s);
            if (has(ops, "allreduce") || has(ops, "allreduce_into") || has(ops, "allreduce_value")) report("allreduce", 2, s, n, 1, 1);
            if (has(ops, "bcast") || has(ops, "bcast_into")) report("bcast", 3, s, n, 1, 1);
            if (has(ops, "gather") || has(ops, "gather_into")) report("gather", 4, s, n, 1, 1);
            if (has(ops, "alltoall") || has(ops, "alltoall_into")) report("alltoall", 5, s, n, 1, 1);
        }
    }
    MPI_Finalize();
    return 0;
}
