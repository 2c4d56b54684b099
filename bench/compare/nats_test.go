package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNATSSectionRatiosAreSameRoundMedians: the ratio column is the median
// of each round's gorun/raw, not the ratio of the medians, and every round
// is listed.
func TestNATSSectionRatiosAreSameRoundMedians(t *testing.T) {
	// bench/natsbench -json's shape (its report type).
	out := `{"rounds":[
	 {"raw_latency_us":10,"gorun_latency_us":20,"raw_stream_mbps":100,"gorun_stream_mbps":100,"raw_pingpong_1mib_mbps":100,"gorun_pingpong_1mib_mbps":90},
	 {"raw_latency_us":20,"gorun_latency_us":22,"raw_stream_mbps":200,"gorun_stream_mbps":300,"raw_pingpong_1mib_mbps":200,"gorun_pingpong_1mib_mbps":100},
	 {"raw_latency_us":40,"gorun_latency_us":44,"raw_stream_mbps":400,"gorun_stream_mbps":200,"raw_pingpong_1mib_mbps":300,"gorun_pingpong_1mib_mbps":600}],
	 "median":{}}`
	var report struct {
		Rounds []natsRound `json:"rounds"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatal(err)
	}
	doc := natsMarkdown(natsResult{rounds: report.Rounds, command: []string{"/tmp/w/natsbench", "-json"}}, "/tmp/w", "/b")
	for _, want := range []string{
		// latency ratios 2, 1.1, 1.1: median 1.1
		"| 8 B latency, one way | 20 us | 22 us | 1.10x |",
		// stream ratios 1, 1.5, 0.5: median 1
		"| 64 KiB streaming | 200 MB/s | 200 MB/s | 1.00x |",
		// ping-pong ratios 0.9, 0.5, 2: median 0.9, where the medians'
		// ratio would be 100/200 = 0.5
		"| 1 MiB ping-pong | 200 MB/s | 100 MB/s | 0.90x |",
		"10 / 20, 20 / 22, 40 / 44",
		"BIN/natsbench -json",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the NATS section lacks %q:\n%s", want, doc)
		}
	}
}

// TestNATSSectionSaysWhyItIsEmpty: a failed run is reported, not a table of
// zeros.
func TestNATSSectionSaysWhyItIsEmpty(t *testing.T) {
	doc := natsMarkdown(natsResult{failure: "go build ./natsbench: exit status 1"}, "/tmp/w", "/b")
	if !strings.Contains(doc, "Not measured: go build ./natsbench: exit status 1") || strings.Contains(doc, "| figure |") {
		t.Errorf("section:\n%s", doc)
	}
}
