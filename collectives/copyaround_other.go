//go:build !amd64

package collectives

import "unsafe"

// copyAroundCache is copy where non-temporal stores are not known.
func copyAroundCache(dst, src *byte, n uintptr) {
	copy(unsafe.Slice(dst, n), unsafe.Slice(src, n))
}
