package tests

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestFloodOfASleepingReceiver: 100,000 messages of 1 KiB from each sender
// to a rank that sleeps 3 s before receiving, with one sender and with
// seven; every message arrives, in order, on both transports.
func TestFloodOfASleepingReceiver(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short")
	}
	for _, tr := range transports {
		for _, np := range []int{2, 8} {
			t.Run(fmt.Sprintf("%s/np=%d", tr.name, np), func(t *testing.T) {
				res := runGorun(t, job{np: np, prog: "stream", flags: tr.flags, args: []string{"-mode", "flood"}})
				want := fmt.Sprintf("flood: %d messages from %d senders, all in order\n", 100000*(np-1), np-1)
				if res.code != 0 || !strings.Contains(res.stdout, want) {
					t.Fatalf("exit status %d, want 0 and %q\nstdout:\n%s\nstderr:\n%s", res.code, want, res.stdout, res.stderr)
				}
				noProcessLeft(t, res)
			})
		}
	}
}

// TestLargeMessage sends one 256 MiB message on each transport (in 1 MiB
// chunks over NATS): it arrives intact, and neither side's peak memory
// reaches three times its size.
func TestLargeMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const mib = 256
	peak := regexp.MustCompile(`rank (\d) peak MiB (\d+)`)
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			res := runGorun(t, job{np: 2, prog: "stream", flags: tr.flags, args: []string{"-mode", "big", "-mib", strconv.Itoa(mib)}})
			if res.code != 0 || !strings.Contains(res.stdout, fmt.Sprintf("big: %d MiB intact\n", mib)) {
				t.Fatalf("exit status %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
			}
			found := peak.FindAllStringSubmatch(res.stdout, -1)
			if len(found) != 2 {
				t.Fatalf("want both ranks' peak memory:\n%s", res.stdout)
			}
			for _, m := range found {
				if used, _ := strconv.Atoi(m[2]); used >= 3*mib {
					t.Errorf("rank %s peaked at %d MiB for a %d MiB message", m[1], used, mib)
				}
			}
			t.Log(strings.Join(peak.FindAllString(res.stdout, -1), "; "))
		})
	}
}
