package trace

import (
	"runtime"
	"sync"
)

// encodeParts returns encode(0), ..., encode(n-1), run on up to GOMAXPROCS
// goroutines at once: the writers encode each lane, and the flows, apart
// and write the parts in order, so that a trace is written in about
// 1/cores of the time it takes to encode (once its job is over, gorun's
// cores are free).
func encodeParts(n int, encode func(i int) []byte) [][]byte {
	parts := make([][]byte, n)
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range parts {
			parts[i] = encode(i)
		}
		return parts
	}
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				parts[i] = encode(i)
			}
		})
	}
	wg.Wait()
	return parts
}
