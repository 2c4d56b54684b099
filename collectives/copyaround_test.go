package collectives

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestCopyAroundCopiesExactly: copyAround writes exactly src into dst, at
// every alignment of either and every length around the 64-byte blocks
// and 16-byte alignment its assembly needs, and not one byte beyond dst.
func TestCopyAroundCopiesExactly(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 1))
	// The bytes come from a ChaCha8 stream seeded from rng, a slice at a
	// time: filled byte by byte, the test took 18 s under -race.
	var key [32]byte
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	bytesRNG := rand.NewChaCha8(key)
	const guard = 64
	for range 2000 {
		n := rng.IntN(4096)
		if rng.IntN(8) == 0 {
			n = rng.IntN(1 << 20)
		}
		dstOff, srcOff := rng.IntN(64), rng.IntN(64)
		src := make([]byte, n+srcOff)
		bytesRNG.Read(src)
		buf := bytes.Repeat([]byte{0xA5}, dstOff+n+guard)
		want := bytes.Clone(buf)
		copy(want[dstOff:], src[srcOff:])
		copyAround(buf[dstOff:dstOff+n], src[srcOff:])
		if !bytes.Equal(buf, want) {
			i := 0
			for buf[i] == want[i] {
				i++
			}
			t.Fatalf("seed %d: n=%d dst offset %d src offset %d: byte %d is %#x, want %#x", seed, n, dstOff, srcOff, i, buf[i], want[i])
		}
	}
}
