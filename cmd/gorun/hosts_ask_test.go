package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestAskAgentWaitsForItsSubscription: an agent whose subscription the
// launcher's server learns of only after the first question ("no
// responders", as when the agent sits on another server of a cluster) is
// still found; a name no agent takes fails placement, naming it.
func TestAskAgentWaitsForItsSubscription(t *testing.T) {
	connect := testServer(t, 0)
	agentNC, launcherNC := connect(), connect()

	// The agent answers only once the launcher has heard "no responders"
	// at least once.
	asked := make(chan struct{})
	go func() {
		defer close(asked)
		for {
			_, err := launcherNC.Request(agentSubject("late", "info"), nil, time.Second)
			if errors.Is(err, nats.ErrNoResponders) {
				return
			}
		}
	}()
	answered := make(chan agentInfo, 1)
	failed := make(chan error, 1)
	go func() {
		info, err := askAgent(launcherNC, "late", "nats://server")
		if err != nil {
			failed <- err
			return
		}
		answered <- info
	}()
	<-asked
	time.Sleep(50 * time.Millisecond) // let askAgent meet "no responders" too
	reply, _ := json.Marshal(agentInfo{Name: "late", Slots: 3})
	if _, err := agentNC.Subscribe(agentSubject("late", "info"), func(m *nats.Msg) { m.Respond(reply) }); err != nil {
		t.Fatal(err)
	}
	if err := agentNC.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case info := <-answered:
		if info.Name != "late" || info.Slots != 3 {
			t.Fatalf("answer %+v, want agent late with 3 slots", info)
		}
	case err := <-failed:
		t.Fatalf("an agent that subscribed late was not found: %v", err)
	}

	_, err := askAgent(launcherNC, "nobody", "nats://server")
	if !errors.Is(err, errPlacement) || !strings.Contains(err.Error(), "no agent named nobody answers at nats://server") {
		t.Fatalf("asking for an agent nobody runs: %v, want errPlacement naming it", err)
	}
}
