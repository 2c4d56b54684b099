package main

import (
	"math"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// The benchmarks below time the pieces of one rank's work so that they can
// be set beside bench/haversine/mathbench.c, the same loops in C built with
// gcc -O2 against glibc's libm:
//
//	go test -run '^$' -bench . -benchtime 4000000x -count 5 ./examples/haversine
//	gcc -O2 -o /tmp/mathbench bench/haversine/mathbench.c -lm && /tmp/mathbench 4000000 5
//
// ns/op is per request (Generated, SumDistances) or per call (the math
// functions). cpu-ns/op is the same in the CPU time of the benchmark's
// thread: on a machine shared with other work it leaves out the time the
// thread waited for a core, which wall time (ns/op) does not.
//
// Every loop gets the generated load's own arguments and keeps every
// result, so that nothing is optimized away.

// benchRequests is how many generated requests the benchmarks cycle over
// (4 MiB of coordinates).
const benchRequests = 1 << 17

var (
	sink      float64
	benchZero = 0.0 // a variable, so that benchZero*x is computed
)

// cpuTimer measures the CPU time of the benchmark's goroutine, locked to
// its thread meanwhile.
type cpuTimer struct{ start int64 }

func threadCPU(b *testing.B) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatalf("thread CPU clock: %v", err)
	}
	return ts.Nano()
}

func startCPU(b *testing.B) cpuTimer {
	runtime.LockOSThread()
	b.ResetTimer()
	return cpuTimer{threadCPU(b)}
}

// stop reports cpu-ns/op.
func (t cpuTimer) stop(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(threadCPU(b)-t.start)/float64(b.N), "cpu-ns/op")
	runtime.UnlockOSThread()
}

// BenchmarkGenerated is rank 0's request generation, allocation included:
// an op is a request.
func BenchmarkGenerated(b *testing.B) {
	t := startCPU(b)
	sink += generated(0, b.N)[4*b.N-1]
	t.stop(b)
}

// BenchmarkSumDistances is one rank's computation: an op is a request.
func BenchmarkSumDistances(b *testing.B) {
	coords := generated(0, benchRequests)
	t := startCPU(b)
	for done := 0; done < b.N; done += benchRequests {
		sink += sumDistances(coords[:4*min(benchRequests, b.N-done)])
	}
	t.stop(b)
}

// benchMath times f on the arguments the haversine formula gives it. With
// chained, each call's argument waits for the previous call's result (it
// adds 0 times that result), so calls cannot overlap, as in the formula, where
// asin waits for the square root, which waits for the sines and cosines.
func benchMath(b *testing.B, f func(float64) float64, arg func(request []float64) float64, chained bool) {
	coords := generated(0, benchRequests)
	args := make([]float64, benchRequests)
	for i := range args {
		args[i] = arg(coords[4*i : 4*i+4])
	}
	t := startCPU(b)
	s, last := 0.0, 0.0
	for i := 0; i < b.N; i++ {
		x := args[i%benchRequests]
		if chained {
			x += benchZero * last
		}
		last = f(x)
		s += last
	}
	t.stop(b)
	sink += s
}

func halfDlat(c []float64) float64 { return radians(c[2]-c[0]) / 2 }
func lat1Rad(c []float64) float64  { return radians(c[0]) }
func sqrtA(c []float64) float64 { // asin's argument: sqrt(a), in [0, 1]
	return math.Sqrt(square(math.Sin(halfDlat(c))) + math.Cos(lat1Rad(c))*math.Cos(radians(c[2]))*square(math.Sin(radians(c[3]-c[1])/2)))
}

func pow2(x float64) float64 { return math.Pow(x, 2) }

// The math functions one at a time, each call independent of the others
// (so that calls overlap, as far as the processor can) and Chained.

func BenchmarkMathSin(b *testing.B)         { benchMath(b, math.Sin, halfDlat, false) }
func BenchmarkMathCos(b *testing.B)         { benchMath(b, math.Cos, lat1Rad, false) }
func BenchmarkMathAsin(b *testing.B)        { benchMath(b, math.Asin, sqrtA, false) }
func BenchmarkMathSqrt(b *testing.B)        { benchMath(b, math.Sqrt, sqrtA, false) }
func BenchmarkMathPow2(b *testing.B)        { benchMath(b, pow2, halfDlat, false) }
func BenchmarkSquare(b *testing.B)          { benchMath(b, square, halfDlat, false) }
func BenchmarkMathSinChained(b *testing.B)  { benchMath(b, math.Sin, halfDlat, true) }
func BenchmarkMathCosChained(b *testing.B)  { benchMath(b, math.Cos, lat1Rad, true) }
func BenchmarkMathAsinChained(b *testing.B) { benchMath(b, math.Asin, sqrtA, true) }
