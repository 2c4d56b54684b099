package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestFetchGivesUpOnTheLauncher: an agent fetching a program from a
// launcher that stops answering gives the fetch up, with the reason, when
// the launcher says the job is over (downEnd) or when its heartbeats stop
// for a lease, long before the chunk's own timeout (shipTimeout).
func TestFetchGivesUpOnTheLauncher(t *testing.T) {
	connect := testServer(t, 0)
	launcherNC, agentNC := connect(), connect()
	// A launcher that takes the chunk requests and never answers them.
	if _, err := launcherNC.Subscribe("ctl.ship", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := launcherNC.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, want string
		beats      time.Duration // how long the launcher beats before it falls silent
		end        bool          // whether it then sends downEnd
	}{
		{"downEnd", "the launcher gave the job up", 10 * time.Second, true},
		{"silent", "no heartbeat from the launcher", 1500 * time.Millisecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			a := &agent{cfg: agentConfig{name: "t", cache: dir}, nc: agentNC, logw: io.Discard}
			req := launchRequest{Job: "j-" + c.name, Secret: "s", Host: 0, Ctl: "ctl",
				Prog: shipSpec{Digest: strings.Repeat("ab", 32), Size: 1 << 20, Name: "prog", Subject: "ctl.ship"}}
			j := &agentJob{agent: a, req: req, relay: newRelayAuth(req.Job, req.Secret)}
			launcher := newRelayAuth(req.Job, req.Secret)
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				tick := time.NewTicker(heartbeatEvery / 2)
				defer tick.Stop()
				silentAt := time.Now().Add(c.beats)
				endAt := time.Now().Add(time.Second)
				for {
					select {
					case <-stop:
						return
					case now := <-tick.C:
						if now.Before(silentAt) {
							_ = launcher.publish(launcherNC, req.Ctl+".hb", nil)
						}
						if c.end && now.After(endAt) {
							_ = launcher.publish(launcherNC, req.Ctl+".down.0", mustJSON(downMsg{Kind: downEnd}))
							return
						}
					}
				}
			}()
			start := time.Now()
			_, _, err := j.fetchProgram()
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("fetch ended with %v, want %q", err, c.want)
			}
			if took >= shipTimeout {
				t.Fatalf("the fetch was given up after %v, not before the chunk's timeout (%v)", took, shipTimeout)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "fetch-*")); len(left) != 0 {
				t.Fatalf("the partial program was kept: %v", left)
			}
			if _, err := os.Stat(filepath.Join(dir, req.Prog.Digest)); err == nil {
				t.Fatal("a program was cached")
			}
			t.Logf("%s: %v after %v", c.name, err, took.Round(time.Millisecond))
		})
	}
}
