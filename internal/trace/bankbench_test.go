package trace

import (
	"io"
	"math/rand/v2"
	"testing"
)

// bankBuffers are the trace buffers of examples/bank at -np 4 (-n 1000):
// ranks 1..3 each send rank 0 2001 messages of 16 B on tag 1, rank 0
// receives the 6003 from any source, in a seeded random interleaving.
func bankBuffers(tb testing.TB) [][]byte {
	const np, perClient = 4, 2001
	rng := rand.New(rand.NewPCG(1, 2))
	bufs := make([]*Buffer, np)
	mems := make([][]byte, np)
	for r := range bufs {
		bufs[r], mems[r] = newTestBuffer(tb, 2*(perClient*(np-1)+1))
	}
	sent := make([]int, np)
	now := int64(1_700_000_000_000_000_000)
	post := uint64(0)
	for left := perClient * (np - 1); left > 0; left-- {
		src := 1 + rng.IntN(np-1)
		for sent[src] == perClient {
			src = 1 + (src % (np - 1))
		}
		sent[src]++
		start := now + rng.Int64N(1000)
		put(tb, bufs[src], Record{Op: "Send", Flags: HasSend, Start: start, End: start + 300 + rng.Int64N(900),
			Dest: 0, DestLocal: 0, SendTag: 1, SendSize: 16, SendSeq: uint64(sent[src])}, false)
		post++
		put(tb, bufs[0], Record{Op: "Recv", Flags: HasRecv, Start: now, End: now + 800 + rng.Int64N(3000),
			Source: src, SourceLocal: src, RecvTag: 1, RecvSize: 16, RecvPost: post}, false)
		now += 1000 + rng.Int64N(3000)
	}
	return mems
}

// bankTimeline reads and merges bankBuffers as gorun does.
func bankTimeline(tb testing.TB, mems [][]byte) *Timeline {
	ranks := make([]Rank, len(mems))
	for r, mem := range mems {
		recs, _, err := ReadBuffer(nil, mem, 0)
		if err != nil {
			tb.Fatal(err)
		}
		ranks[r] = Rank{Records: recs, Clock: "same host as gorun, one clock: offset 0"}
	}
	return Merge(ranks)
}

// BenchmarkBankRead measures reading the four buffers of the bank example
// (ns/op is per trace of 12,006 calls).
func BenchmarkBankRead(b *testing.B) {
	mems := bankBuffers(b)
	for b.Loop() {
		for _, mem := range mems {
			if _, _, err := ReadBuffer(nil, mem, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// readBank reads the records of bankBuffers' memories, a Rank each.
func readBank(mems [][]byte) []Rank {
	ranks := make([]Rank, len(mems))
	for r, mem := range mems {
		ranks[r].Records, _, _ = ReadBuffer(nil, mem, 0)
	}
	return ranks
}

// BenchmarkBankMerge measures merging them.
func BenchmarkBankMerge(b *testing.B) {
	mems := bankBuffers(b)
	for b.Loop() {
		b.StopTimer()
		ranks := readBank(mems)
		b.StartTimer()
		Merge(ranks)
	}
}

// BenchmarkBankJSON and BenchmarkBankHTML measure writing the merged trace.
func BenchmarkBankJSON(b *testing.B) {
	tl := bankTimeline(b, bankBuffers(b))
	for b.Loop() {
		if err := WriteJSON(io.Discard, tl); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBankHTML(b *testing.B) {
	tl := bankTimeline(b, bankBuffers(b))
	for b.Loop() {
		if err := WriteHTML(io.Discard, tl, "bank"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBankMergeJSON measures merging the bank example's records and
// writing them as JSON, the messages joined before the lanes are written
// (Merge) or while they are (MergeMatching): wall time per trace, which
// the second takes down where a second core is free.
func BenchmarkBankMergeJSON(b *testing.B) {
	mems := bankBuffers(b)
	for _, merge := range []struct {
		name string
		fn   func([]Rank) *Timeline
	}{{"Merge", Merge}, {"MergeMatching", MergeMatching}} {
		b.Run(merge.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				ranks := readBank(mems)
				b.StartTimer()
				if err := WriteJSON(io.Discard, merge.fn(ranks)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
