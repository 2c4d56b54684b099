package trace

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// randomRecord is a record with every field drawn, extremes included.
func randomRecord(rng *rand.Rand) Record {
	pick := func(vals ...int64) int64 { return vals[rng.IntN(len(vals))] }
	n := func() int { return int(pick(0, 1, -1, 1<<31-1, -1<<31, rng.Int64N(1<<40)-1<<39)) }
	r := Record{Op: []string{"Send", "Recv", "WaitAny", "", "Allreduce", "MyOwnCall"}[rng.IntN(6)], Flags: Flags(rng.IntN(16)),
		Comm: rng.Uint32(), Start: pick(0, 1e18, -5, rng.Int64()), End: rng.Int64(),
		Err: []string{"", "mpi: rank 1 Recv(from 0, tag 3): peer lost", "é\x00\""}[rng.IntN(3)], Note: []string{"", "found: source 1, tag 2, 8 B"}[rng.IntN(2)],
		Dest: n(), DestLocal: n(), SendTag: n(), SendSize: n(), SendSeq: rng.Uint64(),
		Source: n(), SourceLocal: n(), RecvTag: n(), RecvSize: n(), RecvPost: rng.Uint64()}
	// Only the parts the flags say a record holds travel.
	if !r.Flags.Has(HasSend) {
		r.Dest, r.DestLocal, r.SendTag, r.SendSize, r.SendSeq = 0, 0, 0, 0, 0
	}
	if !r.Flags.Has(HasRecv) {
		r.Source, r.SourceLocal, r.RecvTag, r.RecvSize, r.RecvPost = 0, 0, 0, 0, 0
	}
	return r
}

func TestRecordsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var want []Record
	for i := 0; i < 1000; i++ {
		want = append(want, randomRecord(rng))
	}
	b := EncodeRecords(want)
	got, err := DecodeRecords(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("records changed on their way")
	}
	last := len(b) - len(EncodeRecords(want[:len(want)-1])) // the last record's bytes
	for cut := 1; cut < last; cut++ {
		if _, err := DecodeRecords(nil, b[:len(b)-cut]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("records cut %d bytes short: %v", cut, err)
		}
	}
	old := []byte{4, 'S', 'e', 'n', 'd', 1, 0} // the older form's start
	if _, err := DecodeRecords(nil, old); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "another version") {
		t.Fatalf("records in another form: %v", err)
	}
}

// TestRecordsAreSmall: a point-to-point call's record, as a ping-pong or
// the bank example makes thousands of, takes at most 16 bytes on the wire.
func TestRecordsAreSmall(t *testing.T) {
	var recs []Record
	start := int64(1.7e18)
	for i := 1; i <= 1000; i++ {
		recs = append(recs,
			Record{Op: "Send", Flags: HasSend, Start: start, End: start + 900, Dest: 1, DestLocal: 1, SendTag: 1, SendSize: 16, SendSeq: uint64(i)},
			Record{Op: "Recv", Flags: HasRecv, Start: start + 1000, End: start + 5000, Source: 1, SourceLocal: 1, RecvTag: 1, RecvSize: 16, RecvPost: uint64(i)})
		start += 6000
	}
	if n := len(EncodeRecords(recs)); n > 16*len(recs) {
		t.Fatalf("%d records take %d bytes, %.1f each: more than 16", len(recs), n, float64(n)/float64(len(recs)))
	}
}

// FuzzDecodeRecords: whatever a rank sends, decoding returns records or an
// error wrapping ErrMalformed, never panics, and what decodes encodes back
// to the same bytes.
func FuzzDecodeRecords(f *testing.F) {
	rng := rand.New(rand.NewPCG(4, 4))
	f.Add(EncodeRecords([]Record{randomRecord(rng)}))
	f.Add(EncodeRecords([]Record{randomRecord(rng), randomRecord(rng)}))
	f.Add([]byte{Format, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{Format, 0, 4, 'S', 'e', 'n', 'd'})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeRecords(nil, b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		back, err := DecodeRecords(nil, EncodeRecords(recs))
		if err != nil || !reflect.DeepEqual(back, recs) {
			t.Fatalf("re-encoded records do not decode to themselves: %v", err)
		}
	})
}
