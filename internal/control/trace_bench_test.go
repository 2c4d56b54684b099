package control

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gorun-mpi/gorun/internal/trace"
)

// BenchmarkTraceChunk measures handing over one recorded call: encoding
// it in a rank's TypeTrace message and decoding it in gorun (ns/op is per
// call).
func BenchmarkTraceChunk(b *testing.B) {
	recs := make([]trace.Record, 4096)
	for i := range recs {
		recs[i] = trace.Record{Op: "Send", Flags: trace.HasSend, Start: 1e18 + int64(i)*1000, End: 1e18 + int64(i)*1000 + 500,
			Dest: 1, DestLocal: 1, SendTag: 3, SendSize: 8, SendSeq: uint64(i + 1)}
	}
	var buf bytes.Buffer
	b.ResetTimer()
	for done := 0; done < b.N; done += len(recs) {
		buf.Reset()
		if err := json.NewEncoder(&buf).Encode(Message{Type: TypeTrace, Trace: encode(recs)}); err != nil {
			b.Fatal(err)
		}
		if _, err := NewReader(&buf).Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func encode(recs []trace.Record) []byte { return trace.EncodeRecords(recs) }
