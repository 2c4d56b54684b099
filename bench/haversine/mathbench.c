/* The C side of examples/haversine's benchmarks (workload_bench_test.go):
 * the same loops over the same generated requests, timed per request or
 * per call, so that Go's math package can be set beside glibc's libm.
 *
 *   gcc -O2 -o /tmp/mathbench bench/haversine/mathbench.c -lm && /tmp/mathbench [CALLS] [ROUNDS]
 *   go test -run '^$' -bench . -benchtime 4000000x -count 5 ./examples/haversine
 *
 * Each benchmark runs ROUNDS times (5) over CALLS calls (4,000,000) and
 * prints every round's wall and CPU time per call (ns/op, cpu-ns/op), as
 * go test -count does with the Go benchmarks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define REQUESTS (1 << 17) /* as benchRequests: 4 MiB of coordinates */

static double sink;

static double rad(double deg) { return deg * M_PI / 180; }

/* haversine is bench/haversine/haversine.c's formula, word for word. */
static double haversine(double lat1, double lon1, double lat2, double lon2) {
    double dlat = rad(lat2 - lat1), dlon = rad(lon2 - lon1);
    double a = pow(sin(dlat / 2), 2) + cos(rad(lat1)) * cos(rad(lat2)) * pow(sin(dlon / 2), 2);
    return 6372.8 * 2 * asin(sqrt(a));
}

static double *generated(long n) {
    double *coords = malloc(sizeof(double) * 4 * (n > 0 ? n : 1));
    for (long i = 0; i < n; i++) {
        coords[4 * i] = (double)((i * 7919) % 180001) / 1000.0 - 90;
        coords[4 * i + 1] = (double)((i * 104729) % 360001) / 1000.0 - 180;
        coords[4 * i + 2] = (double)((i * 1299709) % 180001) / 1000.0 - 90;
        coords[4 * i + 3] = (double)((i * 15485863) % 360001) / 1000.0 - 180;
    }
    return coords;
}

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* A timer reads wall time and the thread's CPU time, as the Go benchmarks
 * report ns/op and cpu-ns/op. */
struct timer { double wall, cpu; };

static struct timer start(void) {
    return (struct timer){clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_THREAD_CPUTIME_ID)};
}

static void report(const char *name, struct timer t, long calls) {
    double wall = clock_s(CLOCK_MONOTONIC) - t.wall, cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - t.cpu;
    printf("%-14s %10ld %10.2f ns/op %10.2f cpu-ns/op\n", name, calls, wall / calls * 1e9, cpu / calls * 1e9);
}

/* The arguments each function gets in the formula (as the Go benchmarks). */
static double square(double x) { return x * x; }
static double half_dlat(const double *c) { return rad(c[2] - c[0]) / 2; }
static double lat1_rad(const double *c) { return rad(c[0]); }
static double sqrt_a(const double *c) { /* asin's argument: sqrt(a), in [0, 1] */
    return sqrt(square(sin(half_dlat(c))) + cos(lat1_rad(c)) * cos(rad(c[2])) * square(sin(rad(c[3] - c[1]) / 2)));
}
/* pow through a volatile exponent, so that gcc cannot turn it into x*x. */
static volatile double two = 2;
static double pow2(double x) { return pow(x, two); }

/* bench_math times f as the Go benchmarks' benchMath does: with chained,
 * each call's argument waits for the previous call's result (it adds
 * zero times that result), so calls cannot overlap. */
static volatile double zero = 0;

static void bench_math(const char *name, double (*f)(double), double (*arg)(const double *),
                       const double *coords, long calls, int chained) {
    double *args = malloc(sizeof(double) * REQUESTS);
    for (long i = 0; i < REQUESTS; i++) args[i] = arg(coords + 4 * i);
    double s = 0, last = 0, z = zero;
    struct timer t = start();
    for (long i = 0; i < calls; i++) {
        double x = args[i % REQUESTS];
        if (chained) x += z * last;
        last = f(x);
        s += last;
    }
    report(name, t, calls);
    sink += s;
    free(args);
}

int main(int argc, char **argv) {
    long calls = argc > 1 ? atol(argv[1]) : 4000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    double *coords = generated(REQUESTS);
    for (int round = 0; round < rounds; round++) {
        struct timer t = start();
        double *g = generated(calls);
        sink += g[4 * calls - 1];
        report("Generated", t, calls);
        free(g);
        t = start();
        for (long done = 0; done < calls; done += REQUESTS) {
            long k = calls - done < REQUESTS ? calls - done : REQUESTS;
            double sum = 0;
            for (long i = 0; i < k; i++)
                sum += haversine(coords[4 * i], coords[4 * i + 1], coords[4 * i + 2], coords[4 * i + 3]);
            sink += sum;
        }
        report("SumDistances", t, calls);
        /* Through a pointer, as the Go benchmarks call through a func value. */
        bench_math("MathSin", sin, half_dlat, coords, calls, 0);
        bench_math("MathCos", cos, lat1_rad, coords, calls, 0);
        bench_math("MathAsin", asin, sqrt_a, coords, calls, 0);
        bench_math("MathSqrt", sqrt, sqrt_a, coords, calls, 0);
        bench_math("MathPow2", pow2, half_dlat, coords, calls, 0);
        bench_math("Square", square, half_dlat, coords, calls, 0);
        bench_math("MathSinChained", sin, half_dlat, coords, calls, 1);
        bench_math("MathCosChained", cos, lat1_rad, coords, calls, 1);
        bench_math("MathAsinChained", asin, sqrt_a, coords, calls, 1);
    }
    free(coords);
    return sink == 42; /* keeps sink alive */
}
