package comm

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// ringsSupported: this system can share rings between processes.
const ringsSupported = true

// createRing makes a ring with a data area of size bytes in a memfd sealed
// against shrinking and growing, and maps it. The caller passes fd to the
// peer and then closes it.
func createRing(size int) (fd int, mem []byte, err error) {
	fd, err = unix.MemfdCreate("gorun-ring", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, nil, fmt.Errorf("memfd_create: %w", err)
	}
	fail := func(what string, err error) (int, []byte, error) {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("ring memfd: %s: %w", what, err)
	}
	total := ringCtrlLen + size
	if err := unix.Ftruncate(fd, int64(total)); err != nil {
		return fail("ftruncate", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		return fail("sealing", err)
	}
	mem, err = unix.Mmap(fd, 0, total, unix.PROT_READ|unix.PROT_WRITE, ringMapFlags)
	if err != nil {
		return fail("mmap", err)
	}
	return fd, mem, nil
}

// ringMapFlags maps a ring shared and populated: the kernel allocates and
// maps every page of the ring in the mmap call, instead of one page fault
// per page the first time the writer (4.7 us each on a 2-core AMD EPYC VM,
// a new page of a memfd) and the reader (0.3 us, a page that exists) reach
// it. Without it, the first lap of each ring after Init (4096 records of
// an 8-byte message in a 256 KiB ring) paid about 100 faults between
// the two rings of a ping-pong, in the loop a program runs first.
const ringMapFlags = unix.MAP_SHARED | unix.MAP_POPULATE

// mapPeerRing maps a ring a peer passed us, after checking that it is a
// memfd sealed against shrinking (so our accesses cannot fault) of a
// size a ring can have. It does not close fd.
func mapPeerRing(fd int) ([]byte, error) {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("the ring passed is not a sealable memfd: %v: %w", err, ErrBadFrame)
	}
	if seals&unix.F_SEAL_SHRINK == 0 {
		return nil, fmt.Errorf("the ring passed is not sealed against shrinking: %w", ErrBadFrame)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("the ring passed: fstat: %w", err)
	}
	size := st.Size - ringCtrlLen
	if st.Mode&unix.S_IFMT != unix.S_IFREG || size < minRingSize || size > maxRingSize || size&(size-1) != 0 {
		return nil, fmt.Errorf("the ring passed has %d bytes: %w", st.Size, ErrBadFrame)
	}
	mem, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, ringMapFlags)
	if err != nil {
		return nil, fmt.Errorf("mapping the ring passed: %w", err)
	}
	return mem, nil
}

// unmapRing releases a ring's mapping.
func unmapRing(mem []byte) {
	unix.Munmap(mem)
}

// closeFD closes a descriptor received or created for a ring.
func closeFD(fd int) {
	unix.Close(fd)
}

// writeWithFD writes msg on conn with fd attached (SCM_RIGHTS).
func writeWithFD(conn *net.UnixConn, msg []byte, fd int) error {
	n, _, err := conn.WriteMsgUnix(msg, unix.UnixRights(fd), nil)
	if err == nil && n < len(msg) {
		_, err = conn.Write(msg[n:])
	}
	return err
}

// receivedFDs returns the descriptors passed in oob (control messages).
func receivedFDs(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if rights, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, rights...)
		}
	}
	return fds
}
