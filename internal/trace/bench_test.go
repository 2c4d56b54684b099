package trace

import (
	"io"
	"testing"
)

// benchTimeline is two ranks' ping-pong of n messages each way.
func benchTimeline(n int) []Rank {
	ranks := make([]Rank, 2)
	for i := 0; i < n; i++ {
		t := int64(i) * 1000
		for r := 0; r < 2; r++ {
			ranks[r].Records = append(ranks[r].Records,
				Record{Op: "Send", Flags: HasSend, Start: t, End: t + 100, Dest: 1 - r, DestLocal: 1 - r, SendTag: 1, SendSize: 8, SendSeq: uint64(i + 1)},
				Record{Op: "Recv", Flags: HasRecv, Start: t + 100, End: t + 900, Source: 1 - r, SourceLocal: 1 - r, RecvTag: 1, RecvSize: 8, RecvPost: uint64(i + 1)})
		}
	}
	return ranks
}

// BenchmarkMergeAndWriteJSON measures what gorun does with a trace once the
// job is over, per call recorded (ns/op is per call).
func BenchmarkMergeAndWriteJSON(b *testing.B) {
	ranks := benchTimeline(b.N/4 + 1)
	b.ResetTimer()
	if err := WriteJSON(io.Discard, Merge(ranks)); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMergeAndWriteHTML is BenchmarkMergeAndWriteJSON for the page.
func BenchmarkMergeAndWriteHTML(b *testing.B) {
	ranks := benchTimeline(b.N/4 + 1)
	b.ResetTimer()
	if err := WriteHTML(io.Discard, Merge(ranks), "bench"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReadBuffer measures what gorun does to take a rank's records
// out of its shared buffer, per call recorded (ns/op is per call).
func BenchmarkReadBuffer(b *testing.B) {
	buf, mem := newTestBuffer(b, b.N+1)
	for i := 0; i < b.N; i++ {
		put(b, buf, Record{Op: "Send", Flags: HasSend, Start: int64(i) * 1000, End: int64(i)*1000 + 100,
			Dest: 1, DestLocal: 1, SendTag: 1, SendSize: 8, SendSeq: uint64(i + 1)}, false)
	}
	b.ResetTimer()
	recs, _, err := ReadBuffer(nil, mem, 0)
	if err != nil || len(recs) != b.N {
		b.Fatal(len(recs), err)
	}
}
