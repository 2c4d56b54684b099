package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// placementEnv is the test-only variable that makes gorun place the ranks
// of a job on this host as if on several hosts (see cmd/gorun/placement.go).
const placementEnv = "GORUN_TEST_PLACEMENT"

// alternate is the placement of np ranks on two pretend hosts, alternating:
// rank r on host r%2, so that neighbours talk through NATS and ranks two
// apart through Unix sockets.
func alternate(np int) string {
	hosts := make([]string, np)
	for r := range hosts {
		hosts[r] = fmt.Sprint(r % 2)
	}
	return strings.Join(hosts, ",")
}

// TestPlacementPointToPoint runs the point-to-point suite with half of the
// pairs of ranks forced through NATS and the others through Unix sockets.
func TestPlacementPointToPoint(t *testing.T) {
	for _, np := range []int{2, 3, 4, 5} {
		t.Run(fmt.Sprint("np=", np), func(t *testing.T) {
			t.Parallel()
			expectPointToPoint(t, np, runGorun(t, job{np: np, prog: "p2p", env: []string{placementEnv + "=" + alternate(np)}}))
		})
	}
}

// TestPlacementOrder runs the randomized ordering plan (internal/ordertest)
// over the composite transport: messages of every size, by every protocol
// (eager, rendezvous, single copy between same-host ranks), matched in
// order whichever transport carries them.
func TestPlacementOrder(t *testing.T) {
	for _, r := range []struct {
		np   int
		seed uint64
		env  string
	}{{3, 201, ""}, {5, 202, ""}, {8, 203, ""}, {5, 204, "GORUN_EAGER_LIMIT=1024"}, {4, 205, "GORUN_SYNC_SENDS=1"}} {
		name := fmt.Sprintf("np=%d/seed=%d", r.np, r.seed)
		if r.env != "" {
			name += "/" + r.env
		}
		t.Run(name, func(t *testing.T) {
			args := append([]string{"-seed", fmt.Sprint(r.seed)}, orderArgs...)
			j := job{np: r.np, prog: "order", flags: []string{"--timeout", "60s"}, args: args,
				env: []string{placementEnv + "=" + alternate(r.np)}}
			if r.env != "" {
				j.env = append(j.env, r.env)
			}
			res := runGorun(t, j)
			if ok := strings.Count(res.stdout, fmt.Sprintf(" ok order seed=%d ", r.seed)); res.code != 0 || ok != r.np {
				t.Fatalf("seed %d: exit status %d, %d of %d ranks ok; reproduce with\n\t%s=%s %s go run ./cmd/gorun -np %d ./tests/progs/order -seed %d %s\nstdout:\n%s\nstderr:\n%s",
					r.seed, res.code, ok, r.np, placementEnv, alternate(r.np), r.env, r.np, r.seed, strings.Join(orderArgs, " "), res.stdout, res.stderr)
			}
			noProcessLeft(t, res)
		})
	}
}

// TestPlacementUsesNATSOnlyAcrossHosts counts the connections a NATS
// server sees: with every rank on one host index no rank connects (only
// the launcher, which watches the server); with two, every rank that has a
// peer on the other host does.
func TestPlacementUsesNATSOnlyAcrossHosts(t *testing.T) {
	launcher := natsConnections(t, "0,0,0,0")
	for _, tc := range []struct {
		placement string
		ranks     uint64 // ranks that connect to the server
	}{{"0,0,1,1", 4}, {"0,0,0,1", 4}, {"0,1,1,1", 4}} {
		if got := natsConnections(t, tc.placement) - launcher; got != tc.ranks {
			t.Errorf("placement %s: %d ranks connected to the NATS server, want %d", tc.placement, got, tc.ranks)
		}
	}
}

// natsConnections runs the point-to-point suite at np 4 with placement
// through a NATS server of its own, and returns how many connections the
// server saw.
func natsConnections(t *testing.T, placement string) uint64 {
	t.Helper()
	s := &natsServer{user: "gorun-test", pass: newMarker()}
	monitor := freePort(t)
	startNATSServerWith(t, s, fmt.Sprintf("http: \"127.0.0.1:%d\"\nauthorization { users = [ { user: %q, password: %q } ] }\n", monitor, s.user, s.pass))
	res := runGorun(t, job{np: 4, prog: "p2p", flags: []string{"--nats", s.url(s.pass)},
		env: []string{placementEnv + "=" + placement}})
	expectPointToPoint(t, 4, res)
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/varz", monitor))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var varz struct {
		TotalConnections uint64 `json:"total_connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&varz); err != nil {
		t.Fatal(err)
	}
	return varz.TotalConnections
}

// TestPlacementDeadlockVerdict: the deadlock verdict rests on the same
// counted frames over the composite transport: the classic deadlocks are
// still named, with pairs on different pretend hosts.
func TestPlacementDeadlockVerdict(t *testing.T) {
	for _, tc := range []struct {
		mode string
		np   int
		line string
	}{
		{"recv-first", 3, "gorun: deadlock: every rank is blocked: rank 0 in Recv(source 1, tag 5); rank 1 in Recv(source 2, tag 5); rank 2 in Recv(source 0, tag 5)"},
		{"send-send", 2, "gorun: deadlock: every rank is blocked: rank 0 in Send(dest 1, tag 1); rank 1 in Send(dest 0, tag 1)"},
		{"wrong-tag", 2, "gorun: deadlock: every rank is blocked: rank 0 in Recv(source 1, tag 5); rank 1 in Recv(source 0, tag 7)"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			res := runGorun(t, job{np: tc.np, prog: "verdict", args: []string{"-mode", tc.mode},
				env: []string{placementEnv + "=" + alternate(tc.np)}})
			g := gorunLines(res.stderr)
			if res.code != 1 || len(g) == 0 || g[0] != tc.line {
				t.Fatalf("exit status %d, gorun said %q; want 1 and %q\nstderr:\n%s", res.code, g, tc.line, res.stderr)
			}
			for _, want := range explained[tc.mode] {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("gorun's report lacks %q:\n%s", want, res.stderr)
				}
			}
			noProcessLeft(t, res)
		})
	}
}
