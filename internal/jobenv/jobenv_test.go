package jobenv

import (
	"slices"
	"strings"
	"testing"
)

func TestPlacementRoundTrip(t *testing.T) {
	for _, hosts := range [][]int{{0}, {0, 0, 1, 1}, {3, 0, 2, 0, 1}} {
		text := FormatPlacement(hosts)
		got, err := ParsePlacement(text, len(hosts))
		if err != nil || !slices.Equal(got, hosts) {
			t.Errorf("ParsePlacement(%q) = %v, %v; want %v", text, got, err, hosts)
		}
	}
}

func TestPlacementRefusesMalformed(t *testing.T) {
	for _, tc := range []struct {
		text string
		size int
		says string
	}{
		{"0,0,1", 4, "names 3 ranks, the job has 4"},
		{"0,x,1,1", 4, `rank 1's host index "x"`},
		{"0,-1", 2, `rank 1's host index "-1"`},
		{"", 1, `rank 0's host index ""`},
	} {
		_, err := ParsePlacement(tc.text, tc.size)
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), Placement) {
			t.Errorf("ParsePlacement(%q, %d) = %v; want an error naming %s and saying %q", tc.text, tc.size, err, Placement, tc.says)
		}
	}
}

func TestSpansHosts(t *testing.T) {
	for _, tc := range []struct {
		hosts []int
		want  bool
	}{{nil, false}, {[]int{2, 2, 2}, false}, {[]int{0, 0, 1}, true}, {[]int{1, 0}, true}} {
		if got := SpansHosts(tc.hosts); got != tc.want {
			t.Errorf("SpansHosts(%v) = %v, want %v", tc.hosts, got, tc.want)
		}
	}
}

func TestEnvironCarriesPlacement(t *testing.T) {
	env := Job{Rank: 1, Size: 4, Placement: []int{0, 0, 1, 1}}.Environ()
	if !slices.Contains(env, Placement+"=0,0,1,1") {
		t.Errorf("Environ() = %v, lacks %s=0,0,1,1", env, Placement)
	}
	for _, kv := range (Job{Rank: 0, Size: 2}).Environ() {
		if strings.HasPrefix(kv, Placement+"=") {
			t.Errorf("Environ() without a placement sets %s", kv)
		}
	}
}

func TestHostRanks(t *testing.T) {
	hosts := []int{1, 0, 1, 2, 0, 1}
	for rank, want := range [][]int{{0, 2, 5}, {1, 4}, {0, 2, 5}, {3}, {1, 4}, {0, 2, 5}} {
		if got := HostRanks(hosts, rank); !slices.Equal(got, want) {
			t.Errorf("HostRanks(%v, %d) = %v, want %v", hosts, rank, got, want)
		}
	}
}
