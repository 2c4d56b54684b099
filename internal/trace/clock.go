package trace

import (
	"fmt"
	"os"
	"strings"
)

// Sample is one clock exchange between the launcher and a rank, as NTP
// makes them: the launcher's clock when it asked (Sent), the rank's clock
// when it answered (Remote), and the launcher's clock when the answer came
// back (Received). All in nanoseconds.
type Sample struct {
	Sent, Remote, Received int64
}

// Offset estimates how far the rank's clock is ahead of the launcher's
// (subtract it from the rank's times to put them on the launcher's clock)
// from the sample with the shortest round trip: the rank read its clock
// somewhere in that round trip, so the error is at most half of it, which
// Offset returns as bound. With no usable sample it fails.
func Offset(samples []Sample) (offset, bound int64, err error) {
	best := -1
	for i, s := range samples {
		if s.Received < s.Sent {
			continue // the launcher's clock cannot go back: a broken sample
		}
		if best < 0 || s.Received-s.Sent < samples[best].Received-samples[best].Sent {
			best = i
		}
	}
	if best < 0 {
		return 0, 0, fmt.Errorf("trace: no usable clock sample among %d", len(samples))
	}
	s := samples[best]
	mid := s.Sent + (s.Received-s.Sent)/2
	return s.Remote - mid, (s.Received - s.Sent + 1) / 2, nil
}

// HostID is the boot id of the running kernel ("" where there is none to
// read): processes that report the same one read the same clock (the Unix
// time of one kernel), so their offset is 0 exactly, whatever an exchange
// of messages would estimate.
func HostID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
