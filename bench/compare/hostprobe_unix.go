//go:build unix

package main

import (
	"syscall"
	"time"
)

// pageFaultCost maps size bytes of fresh anonymous memory, writes one
// byte in each 4 KiB page, and returns the time per page.
func pageFaultCost(size int) (time.Duration, error) {
	const page = 4096
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return 0, err
	}
	defer syscall.Munmap(mem)
	start := time.Now()
	for i := 0; i < size; i += page {
		mem[i] = 1
	}
	return time.Since(start) / time.Duration(size/page), nil
}
