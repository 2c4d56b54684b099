package comm

// UnixRingTo reports whether u's connection to dest carries a
// shared-memory ring.
func UnixRingTo(u *Unix, dest int) bool {
	oc := &u.out[dest]
	oc.mu.Lock()
	defer oc.mu.Unlock()
	return oc.ring != nil
}

// ScribbleUnixRingHead stores head into the shared head of the ring src
// writes to u, as a hostile peer could, and reports whether there is one.
func ScribbleUnixRingHead(u *Unix, src int, head uint64) bool {
	u.mu.Lock()
	ic := u.in[src]
	u.mu.Unlock()
	if ic == nil {
		return false
	}
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.ring == nil {
		return false
	}
	ic.ring.headPtr().Store(head)
	return true
}

// MarkUnixRingReaderAsleep sets the sleeping flag of u's ring to dest, as
// its reader does before it sleeps: u's next frame through it sends a
// wake-up. It reports false when u has no ring to dest.
func MarkUnixRingReaderAsleep(u *Unix, dest int) bool {
	oc := &u.out[dest]
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if oc.ring == nil {
		return false
	}
	oc.ring.sleepingPtr().Store(1)
	return true
}
