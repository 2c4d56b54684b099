package main

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestPlaceBySlotAndByNode(t *testing.T) {
	hosts := []hostSlots{{"a", 3}, {"b", 2}}
	for _, c := range []struct {
		np     int
		mapBy  string
		over   bool
		want   []int
		errSub string
	}{
		{np: 4, mapBy: mapBySlot, want: []int{0, 0, 0, 1}},
		{np: 5, mapBy: mapBySlot, want: []int{0, 0, 0, 1, 1}},
		{np: 4, mapBy: mapByNode, want: []int{0, 1, 0, 1}},
		{np: 5, mapBy: mapByNode, want: []int{0, 1, 0, 1, 0}},
		{np: 7, mapBy: mapBySlot, over: true, want: []int{0, 0, 0, 0, 1, 1, 1}},
		{np: 6, mapBy: mapBySlot, errSub: "6 ranks asked, 5 slots given (a:3, b:2)"},
	} {
		got, err := place(c.np, hosts, c.mapBy, c.over)
		if c.errSub != "" {
			if !errors.Is(err, errPlacement) || !strings.Contains(err.Error(), c.errSub) {
				t.Errorf("place(%d, %s): error %v, want one with %q", c.np, c.mapBy, err, c.errSub)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("place(%d, %s, over %v) = %v, %v; want %v", c.np, c.mapBy, c.over, got, err, c.want)
		}
	}
}

// TestPlaceRespectsSlots checks random host lists: every rank placed, no
// host beyond its slots unless oversubscribing, ranks of a host
// consecutive by slot.
func TestPlaceRespectsSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	for range 500 {
		hosts := make([]hostSlots, 1+rng.IntN(4))
		total := 0
		for i := range hosts {
			hosts[i] = hostSlots{name: string(rune('a' + i)), slots: 1 + rng.IntN(5)}
			total += hosts[i].slots
		}
		np := 1 + rng.IntN(total+3)
		mapBy := []string{mapBySlot, mapByNode}[rng.IntN(2)]
		got, err := place(np, hosts, mapBy, false)
		if np > total {
			if err == nil {
				t.Fatalf("place(%d, %v) on %d slots: no error", np, hosts, total)
			}
			continue
		}
		if err != nil || len(got) != np {
			t.Fatalf("place(%d, %v, %s) = %v, %v", np, hosts, mapBy, got, err)
		}
		used := make([]int, len(hosts))
		for r, h := range got {
			used[h]++
			if mapBy == mapBySlot && r > 0 && h < got[r-1] {
				t.Fatalf("by slot, ranks not grouped by host: %v", got)
			}
		}
		for i, h := range hosts {
			if used[i] > h.slots {
				t.Fatalf("place(%d, %v, %s) = %v: host %s over its slots", np, hosts, mapBy, got, h.name)
			}
		}
	}
}

func TestParseHostListAndHostfile(t *testing.T) {
	hosts, err := parseHostList("a:4,b, c:2")
	if err != nil || !reflect.DeepEqual(hosts, []hostSlots{{"a", 4}, {"b", 1}, {"c", 2}}) {
		t.Errorf("parseHostList = %v, %v", hosts, err)
	}
	for _, bad := range []string{"a:0", "a:x", "a,a", "a.b:2", ""} {
		if _, err := parseHostList(bad); err == nil {
			t.Errorf("parseHostList(%q): no error", bad)
		}
	}
	path := filepath.Join(t.TempDir(), "hosts")
	os.WriteFile(path, []byte("# cluster\nnode1 slots=4\n\nnode2   # one slot\n"), 0o644)
	hosts, err = readHostfile(path)
	if err != nil || !reflect.DeepEqual(hosts, []hostSlots{{"node1", 4}, {"node2", 1}}) {
		t.Errorf("readHostfile = %v, %v", hosts, err)
	}
	os.WriteFile(path, []byte("node1 slots=4\nnode2 cpus=2\n"), 0o644)
	if _, err := readHostfile(path); err == nil || !strings.Contains(err.Error(), ":2: \"cpus=2\"") {
		t.Errorf("readHostfile with a bad field: %v", err)
	}
}

func TestPlacementSummary(t *testing.T) {
	got := placementSummary([]int{0, 1, 0, 1, 1}, []string{"a", "b"})
	if want := "ranks 0,2 on a, ranks 1,3,4 on b"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := placementSummary([]int{1, 1, 0}, []string{"a", "b"}); got != "rank 2 on a, ranks 0-1 on b" {
		t.Errorf("got %q", got)
	}
}
