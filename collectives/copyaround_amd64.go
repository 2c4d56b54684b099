package collectives

// copyAroundCache copies n bytes from src to dst with non-temporal stores
// (MOVNTDQ), which write dst's lines to memory without reading them
// first or keeping them in the caches; n is a multiple of 64 and dst
// 16-byte aligned.
//
//go:noescape
func copyAroundCache(dst, src *byte, n uintptr)
