package main

// round is one round's figures: one-way 8-byte latency in microseconds,
// 64 KiB streaming and 1 MiB ping-pong bandwidth in MB/s, each measured
// with raw nats.go and with gorun's transport through the same server.
type round struct {
	RawLatency    float64 `json:"raw_latency_us"`
	GorunLatency  float64 `json:"gorun_latency_us"`
	RawStream     float64 `json:"raw_stream_mbps"`
	GorunStream   float64 `json:"gorun_stream_mbps"`
	RawPingPong   float64 `json:"raw_pingpong_1mib_mbps"`
	GorunPingPong float64 `json:"gorun_pingpong_1mib_mbps"`
	// CPU time of the whole process per 1 MiB round trip, in
	// microseconds: both ends and the embedded server, if any. It shows
	// what a round trip costs whatever else the machine runs.
	RawPingPongCPU   float64 `json:"raw_pingpong_1mib_cpu_us"`
	GorunPingPongCPU float64 `json:"gorun_pingpong_1mib_cpu_us"`
}

// report is what -json prints: every round, and the median of each figure
// over the rounds.
type report struct {
	Rounds []round `json:"rounds"`
	Median round   `json:"median"`
}

// medians is the median of each figure over rounds.
func medians(rounds []round) round {
	pick := func(f func(round) float64) float64 {
		xs := make([]float64, len(rounds))
		for i, r := range rounds {
			xs[i] = f(r)
		}
		return median(xs)
	}
	return round{
		RawLatency:       pick(func(r round) float64 { return r.RawLatency }),
		GorunLatency:     pick(func(r round) float64 { return r.GorunLatency }),
		RawStream:        pick(func(r round) float64 { return r.RawStream }),
		GorunStream:      pick(func(r round) float64 { return r.GorunStream }),
		RawPingPong:      pick(func(r round) float64 { return r.RawPingPong }),
		GorunPingPong:    pick(func(r round) float64 { return r.GorunPingPong }),
		RawPingPongCPU:   pick(func(r round) float64 { return r.RawPingPongCPU }),
		GorunPingPongCPU: pick(func(r round) float64 { return r.GorunPingPongCPU }),
	}
}
