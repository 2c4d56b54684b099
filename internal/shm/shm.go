// Package shm is memory shared by the ranks of one job on one host: an
// anonymous memory file (memfd) that gorun creates and every rank inherits
// and maps, and futexes to sleep on words inside it.
//
// The file has no name in any file system, so nothing is left behind when
// the job ends however it ends: the kernel frees the memory once the last
// process holding it exits. Pages are allocated when first written, so a
// generous size costs nothing until it is used.
package shm

import (
	"errors"
	"fmt"
	"os"
)

// ErrUnsupported is returned where the operating system offers no memfd
// (every system but Linux); callers fall back to messages.
var ErrUnsupported = errors.New("shm: shared memory files are supported on Linux only")

// Region is a shared memory file mapped into this process.
type Region struct {
	mem []byte
}

// Bytes returns the mapped memory. It stays valid until Close.
func (r *Region) Bytes() []byte { return r.mem }

// Map maps size bytes of the shared memory file f, read and write, and
// closes f (the mapping keeps the memory).
func Map(f *os.File, size int) (*Region, error) {
	defer f.Close()
	if size <= 0 {
		return nil, fmt.Errorf("shm: cannot map %d bytes", size)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("shm: %s: %w", f.Name(), err)
	}
	if st.Size() < int64(size) {
		return nil, fmt.Errorf("shm: %s holds %d bytes, want %d", f.Name(), st.Size(), size)
	}
	mem, err := mapShared(f, size)
	if err != nil {
		return nil, fmt.Errorf("shm: mapping %d bytes of %s: %w", size, f.Name(), err)
	}
	return &Region{mem: mem}, nil
}

// Close unmaps the region; its memory must not be used afterwards.
func (r *Region) Close() error {
	if r.mem == nil {
		return nil
	}
	err := unmap(r.mem)
	r.mem = nil
	return err
}
