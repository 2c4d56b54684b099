package main

import (
	"os"
	"syscall"
)

// interruptLaunch handles a signal that arrives while launch requests are
// still out (a large program may be shipping): the job ends at once. The
// unanswered requests are given up, their agents told the job is over
// (an agent that starts the ranks anyway kills them when it reads it),
// and the ranks already started are ended as for a signal during the job.
// It reports false for a signal that ends nothing (SIGPIPE).
func (r *remoteRanks) interruptLaunch(s *supervisor, sig os.Signal, answered []bool) bool {
	if n, ok := sig.(syscall.Signal); !ok || n == syscall.SIGPIPE {
		return false
	}
	for h := range r.names {
		if answered[h] {
			continue
		}
		r.loseHost(h, "") // cancels its launch request; its ranks count as never started
		for rank, hr := range r.hostOf {
			if hr == h {
				s.st.ranks[rank].exited, s.st.ranks[rank].judged = true, true
			}
		}
		_ = r.down(h, downMsg{Kind: downEnd})
	}
	s.onSignal(sig)
	return true
}
