package comm

// CrashUnix makes u vanish as a killed process would: its connections and
// listener close without a goodbye and without the finished marker.
func CrashUnix(u *Unix) {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return
	}
	u.closed = true
	close(u.closing)
	in := append([]*inConn(nil), u.in...)
	for conn := range u.pending {
		conn.Close()
	}
	u.mu.Unlock()
	for i := range u.out {
		oc := &u.out[i]
		oc.mu.Lock()
		if oc.conn != nil {
			oc.conn.Close()
		}
		oc.err = ErrClosed
		oc.mu.Unlock()
	}
	u.listener.SetUnlinkOnClose(false) // a killed process leaves its socket
	u.listener.Close()
	for _, ic := range in {
		if ic != nil {
			ic.conn.Close()
		}
	}
	u.readers.Wait()
}

// UnixSecret returns u's job secret, for tests that speak the protocol by hand.
func UnixSecret(u *Unix) string { return u.cfg.Secret }

// CrashNATS makes t vanish as a killed process would: its connection to
// the server drops without a goodbye.
func CrashNATS(t *NATS) {
	t.mu.Lock()
	t.closed = true
	close(t.closing)
	t.mu.Unlock()
	t.nc.Close()
}

// NATSPending reports how many messages and bytes t's inbox subscription
// holds that the transport has not handled yet.
func NATSPending(t *NATS) (msgs, bytes int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.subs) == 0 {
		return 0, 0
	}
	msgs, bytes, _ = t.subs[0].Pending()
	return msgs, bytes
}

// CutWhileClosing returns how many connections u accepted and closed
// unanswered because its Close had begun.
func CutWhileClosing(u *Unix) int64 { return u.cutWhileClosing.Load() }

// HoldClosing makes u behave as a transport whose Close has begun, with its
// listener still open (the moment between Close's start and its listener
// closing), until release.
func HoldClosing(u *Unix) (release func()) {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	return func() {
		u.mu.Lock()
		u.closed = false
		u.mu.Unlock()
	}
}

// HoldReaders makes u's background readers wait, before they read, until
// release: meanwhile only Poll delivers what arrives.
func HoldReaders(u *Unix) (release func()) {
	gate := make(chan struct{})
	u.readerGate.Store(&gate)
	return func() {
		u.readerGate.Store(nil)
		close(gate)
	}
}
