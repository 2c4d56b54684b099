package collectives

import "unsafe"

// copyAround copies src into dst (of the same length) around the caches
// (copyAroundCache), the bytes at either end that are not whole 64-byte
// blocks of 16-byte aligned memory by copy.
func copyAround(dst, src []byte) {
	n := min(len(dst), len(src))
	if n == 0 {
		return
	}
	head := int(-uintptr(unsafe.Pointer(unsafe.SliceData(dst))) % 16)
	if head >= n {
		copy(dst[:n], src[:n])
		return
	}
	copy(dst[:head], src[:head])
	body := (n - head) &^ 63
	if body > 0 {
		copyAroundCache(&dst[head], &src[head], uintptr(body))
	}
	copy(dst[head+body:n], src[head+body:n])
}
