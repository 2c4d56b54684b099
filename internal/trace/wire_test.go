package trace

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// randomRecord is a record with every field drawn, extremes included.
func randomRecord(rng *rand.Rand) Record {
	pick := func(vals ...int64) int64 { return vals[rng.IntN(len(vals))] }
	n := func() int { return int(pick(0, 1, -1, 1<<31-1, -1<<31, rng.Int64N(1<<40)-1<<39)) }
	return Record{Op: []string{"Send", "Recv", "WaitAny", "", "Allreduce"}[rng.IntN(5)], Flags: Flags(rng.IntN(16)),
		Comm: rng.Uint32(), Start: pick(0, 1e18, -5, rng.Int64()), End: rng.Int64(),
		Err: []string{"", "mpi: rank 1 Recv(from 0, tag 3): peer lost", "é\x00\""}[rng.IntN(3)], Note: []string{"", "found: source 1, tag 2, 8 B"}[rng.IntN(2)],
		Dest: n(), DestLocal: n(), SendTag: n(), SendSize: n(), SendSeq: rng.Uint64(),
		Source: n(), SourceLocal: n(), RecvTag: n(), RecvSize: n(), RecvPost: rng.Uint64()}
}

func TestRecordsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var want []Record
	var b []byte
	for i := 0; i < 1000; i++ {
		r := randomRecord(rng)
		want = append(want, r)
		b = AppendRecord(b, r)
	}
	got, err := DecodeRecords(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("records changed on their way")
	}
	for cut := 1; cut < 40; cut++ {
		if _, err := DecodeRecords(nil, b[:len(b)-cut]); !errors.Is(err, ErrMalformed) && cut < len(AppendRecord(nil, want[len(want)-1])) {
			t.Fatalf("records cut %d bytes short: %v", cut, err)
		}
	}
}

// FuzzDecodeRecords: whatever a rank sends, decoding returns records or an
// error wrapping ErrMalformed, never panics, and what decodes encodes back
// to the same bytes.
func FuzzDecodeRecords(f *testing.F) {
	rng := rand.New(rand.NewPCG(4, 4))
	f.Add(AppendRecord(nil, randomRecord(rng)))
	f.Add(AppendRecord(AppendRecord(nil, randomRecord(rng)), randomRecord(rng)))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{4, 'S', 'e', 'n', 'd'})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeRecords(nil, b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		var again []byte
		for _, r := range recs {
			again = AppendRecord(again, r)
		}
		back, err := DecodeRecords(nil, again)
		if err != nil || !reflect.DeepEqual(back, recs) {
			t.Fatalf("re-encoded records do not decode to themselves: %v", err)
		}
	})
}
