package trace

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// newTestBuffer formats fresh memory as a buffer of capacity slots.
func newTestBuffer(t testing.TB, capacity int) (*Buffer, []byte) {
	t.Helper()
	words := make([]uint64, (BufferSize(capacity)+7)/8)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), BufferSize(capacity))
	b, err := NewBuffer(mem, capacity)
	if err != nil {
		t.Fatal(err)
	}
	return b, mem
}

// put records r into b as package mpi does: begun, and ended unless
// open; it returns the call's number.
func put(t testing.TB, b *Buffer, r Record, open bool) int {
	t.Helper()
	return putWaiting(t, b, r, open, Wait{})
}

// putWaiting is put for a call that waits as w says.
func putWaiting(t testing.TB, b *Buffer, r Record, open bool, w Wait) int {
	t.Helper()
	call := b.Begin(r.Op, r.Comm, r.Start, w)
	if call < 0 {
		t.Fatal("no room for a call left")
	}
	if r.Flags.Has(HasSend) {
		b.Send(call, SendPart{Dest: r.Dest, DestLocal: r.DestLocal, Tag: r.SendTag, Size: r.SendSize, Seq: r.SendSeq})
	}
	if r.Note != "" {
		b.Note(call, r.Note)
	}
	if open {
		return call
	}
	var got *RecvPart
	if r.Flags.Has(HasRecv) {
		got = &RecvPart{Source: r.Source, SourceLocal: r.SourceLocal, Tag: r.RecvTag, Size: r.RecvSize, Post: r.RecvPost}
	}
	b.End(call, r.End, got, r.Flags.Has(Failed), r.Err)
	return call
}

// randomEndedRecord is a record of a call that returned, drawn from rng.
func randomEndedRecord(rng *rand.Rand, start int64) Record {
	ops := append(append([]string{}, knownOps...), "Exscan", "Ialltoallw")
	r := Record{Op: ops[rng.IntN(len(ops))], Comm: rng.Uint32N(4), Start: start, End: start + rng.Int64N(5000)}
	if rng.IntN(2) == 0 {
		r.Flags |= HasSend
		r.Dest, r.DestLocal, r.SendTag, r.SendSize, r.SendSeq = rng.IntN(64), rng.IntN(64), int(rng.Int32N(math.MaxInt32))-5, rng.IntN(1<<30), rng.Uint64N(1000)+1
		if rng.IntN(8) == 0 {
			r.SendTag, r.SendSize = math.MaxInt32, math.MaxInt // mpi.MaxTag; the largest size
		}
	}
	if rng.IntN(2) == 0 {
		r.Flags |= HasRecv
		r.Source, r.SourceLocal, r.RecvTag, r.RecvSize, r.RecvPost = rng.IntN(64), rng.IntN(64), -rng.IntN(100), rng.IntN(1<<20), rng.Uint64N(1000)+1
	}
	if rng.IntN(5) == 0 {
		r.Flags |= Failed
		r.Err = fmt.Sprintf("mpi: rank %d: peer lost \"quoted\" é", rng.IntN(9))
	}
	if rng.IntN(4) == 0 {
		r.Note = fmt.Sprintf("root %d", rng.IntN(8))
	}
	return r
}

// TestBufferRoundTrip records seeded random calls the way a rank does and
// reads them back as gorun does: the same records, in the order they began,
// the open ones marked Unfinished, ending when the rank stopped, and saying
// what they waited for.
func TestBufferRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 1 + rng.IntN(300)
		b, mem := newTestBuffer(t, n+1)
		var want []Record
		start := rng.Int64N(1 << 50)
		for i := 0; i < n; i++ {
			r := randomEndedRecord(rng, start)
			start += rng.Int64N(3000) - 500 // a Test's start may lie before the last call's
			put(t, b, r, false)
			want = append(want, r)
		}
		open := Record{Op: "Wait", Start: start, Flags: Unfinished, Note: "Irecv source any, tag 5"}
		putWaiting(t, b, Record{Op: "Wait", Start: start}, true, Wait{Op: OpCode("Irecv"), Word: WaitSource | WaitAnyPeer, Peer: -1, Tag: 5})
		const died = int64(1 << 55)
		open.End = died
		want = append(want, open)
		if b.Used() != n+1 {
			t.Fatalf("seed %d: %d calls recorded, want %d", seed, b.Used(), n+1)
		}
		got, dropped, err := ReadBuffer(nil, mem, died)
		if err != nil || dropped != 0 {
			t.Fatalf("seed %d: %v, %d dropped", seed, err, dropped)
		}
		if !reflect.DeepEqual(got, want) {
			for i := range min(len(got), len(want)) {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("seed %d: record %d is\n%+v, want\n%+v", seed, i, got[i], want[i])
				}
			}
			t.Fatalf("seed %d: %d records read, want %d", seed, len(got), len(want))
		}
		// Closed (Finalize): the open call ends at the close, not at the death.
		b.Close(start + 10)
		got, _, _ = ReadBuffer(nil, mem, died)
		if last := got[len(got)-1]; last.End != start+10 || !last.Flags.Has(Unfinished) {
			t.Fatalf("seed %d: after Close the open call is %+v", seed, last)
		}
	}
}

// TestBufferWaitTexts: what an open call says it waited for.
func TestBufferWaitTexts(t *testing.T) {
	for _, c := range []struct {
		op         string
		word       uint8
		peer, tag  int32
		want       string
		waitOpName string
	}{
		{"Recv", WaitSource, 1, 5, "source 1, tag 5", ""},
		{"Recv", WaitSource | WaitAnyPeer | WaitAnyTag, -1, -1, "source any, tag any", ""},
		{"Wait", WaitDest, 3, 0, "Isend dest 3, tag 0", "Isend"},
		{"Wait", WaitSource | WaitAnyTag, 2, -1, "Irecv source 2, tag any", "Irecv"},
		{"Barrier", 0, 0, 0, "", ""},
	} {
		b, mem := newTestBuffer(t, 1)
		putWaiting(t, b, Record{Op: c.op, Start: 10}, true, Wait{Op: OpCode(c.waitOpName), Word: c.word, Peer: c.peer, Tag: c.tag})
		got, _, err := ReadBuffer(nil, mem, 20)
		if err != nil || len(got) != 1 || got[0].Note != c.want || got[0].End != 20 {
			t.Fatalf("%s waiting (%#x, %d, %d): %+v, %v; want note %q", c.op, c.word, c.peer, c.tag, got, err, c.want)
		}
	}
}

// TestBufferFull: calls and the text area run out without harm.
func TestBufferFull(t *testing.T) {
	b, mem := newTestBuffer(t, 2)
	long := strings.Repeat("x", maxString+100)
	put(t, b, Record{Op: "Send", Start: 1, End: 2, Note: long}, false)
	failing := b.Begin("Send", 0, 2, Wait{})
	if call := b.Begin("Send", 0, 3, Wait{}); call != -1 {
		t.Fatalf("a third call of 2: %d", call)
	}
	b.Drop()
	// Fill the text area: later texts are left out, a failure keeps its flag.
	for b.h.textUsed+maxString <= b.h.textCap {
		b.store(long)
	}
	b.End(failing, 3, nil, true, long)
	got, dropped, err := ReadBuffer(nil, mem, 0)
	if err != nil || dropped != 1 || len(got) != 2 {
		t.Fatalf("%d records, %d dropped, %v", len(got), dropped, err)
	}
	if len(got[0].Note) != maxString {
		t.Fatalf("a note of %d bytes kept, want it cut at %d", len(got[0].Note), maxString)
	}
	if !got[1].Flags.Has(Failed) || !strings.Contains(got[1].Err, "not kept") || got[1].End != 3 {
		t.Fatalf("a failure whose text did not fit: %+v", got[1])
	}
}

// TestReadBufferChecksTheMemory: a rank may scribble over its buffer; the
// reader keeps the records that hold and says what does not.
func TestReadBufferChecksTheMemory(t *testing.T) {
	// Three calls; at[i] is where call i's begin entry lies in the log,
	// ends[i] its end entry.
	var at, ends [3]int
	fresh := func() (*Buffer, []byte) {
		b, mem := newTestBuffer(t, 4)
		for i, r := range []Record{{Op: "Send", Start: 1, End: 2, Note: "a"}, {Op: "Recv", Start: 3, End: 4}, {Op: "Barrier", Start: 5, End: 6}} {
			at[i] = b.used
			call := putWaiting(t, b, r, true, Wait{})
			ends[i] = b.used
			b.End(call, r.End, nil, false, "")
		}
		return b, mem
	}
	if _, _, err := ReadBuffer(nil, make([]byte, 10), 0); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a short buffer: %v", err)
	}
	if _, _, err := ReadBuffer(nil, make([]byte, BufferSize(4)), 0); !errors.Is(err, ErrNotFormatted) {
		t.Fatalf("an unformatted buffer: %v", err)
	}
	for _, c := range []struct {
		name     string
		scribble func(b *Buffer)
		kept     int
		why      string
	}{
		{"magic", func(b *Buffer) { b.h.magic++ }, 0, "another layout"},
		{"version 2", func(b *Buffer) { b.h.magic = 0x0002_6372_7472_6f67 }, 0, "version 2; this gorun reads version 3"},
		{"call size", func(b *Buffer) { b.h.callMax = 8 }, 0, "another layout"},
		{"capacity", func(b *Buffer) { b.h.capacity = 1 << 30 }, 0, "does not fit"},
		{"calls", func(b *Buffer) { b.h.calls = 99 }, 3, "99 calls begun of 4"},
		{"log used", func(b *Buffer) { b.h.logUsed = 1 << 40 }, 3, "bytes of log used of"},
		{"op", func(b *Buffer) { b.log[at[1]+1] = 200 }, 2, "call 1: unknown call code 200"},
		{"flags", func(b *Buffer) { b.log[ends[2]+3] = 0x40 }, 2, "call 2: unknown flags 0x40"},
		{"text", func(b *Buffer) { b.log[ends[0]-2] = 0x7f }, 2, "call 0: a text at 127"},
		{"text used", func(b *Buffer) { b.h.textUsed = 0 }, 2, "call 0: a text at"},
		{"kind", func(b *Buffer) { b.log[at[2]] = 9 }, 2, "unknown entry kind 9"},
		{"cut short", func(b *Buffer) { b.h.logUsed-- }, 3, "cut short"},
		{"ended twice", func(b *Buffer) { b.log[ends[2]+1] = 1 }, 3, "of call 1, which had ended"},
		{"no such call", func(b *Buffer) { b.log[ends[0]+1] = 5 }, 1, "of the call 5 back, of 1 begun"},
	} {
		b, mem := fresh()
		c.scribble(b)
		got, _, err := ReadBuffer(nil, mem, 0)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.why) || len(got) != c.kept {
			t.Errorf("%s: %d records kept, %v; want %d kept and an error saying %q", c.name, len(got), err, c.kept, c.why)
		}
	}
	// An entry written but not counted yet (the rank died in between) is
	// no fault: it is not there.
	b, mem := fresh()
	copy(b.log[b.used:], []byte{entryBegin, 200, 7, 7, 7})
	if got, _, err := ReadBuffer(nil, mem, 0); err != nil || len(got) != 3 {
		t.Fatalf("an entry written, not counted: %d records, %v", len(got), err)
	}
}

// FuzzReadBuffer: whatever the memory holds, ReadBuffer neither panics nor
// returns a record that breaks the limits gorun relies on.
func FuzzReadBuffer(f *testing.F) {
	b, mem := newTestBuffer(f, 3)
	put(f, b, Record{Op: "Send", Flags: HasSend, Start: 1, End: 2, Note: "n", SendSeq: 1}, false)
	put(f, b, Record{Op: "Exscan", Flags: Failed, Start: 3, End: 4, Err: "boom"}, false)
	putWaiting(f, b, Record{Op: "Recv", Start: 5}, true, Wait{Word: WaitSource})
	f.Add(mem)
	f.Add(mem[:headerSize+10])
	f.Fuzz(func(t *testing.T, mem []byte) {
		recs, _, err := ReadBuffer(nil, mem, 100)
		if err != nil && len(recs) > 0 && !errors.Is(err, ErrMalformed) {
			t.Fatalf("records with an error that is not ErrMalformed: %v", err)
		}
		capacity := 0
		if len(mem) >= headerSize {
			var h header
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&h)), headerSize), mem)
			capacity = int(h.capacity)
		}
		if len(recs) > capacity {
			t.Fatalf("%d records from a buffer of %d slots", len(recs), capacity)
		}
		for _, r := range recs {
			if r.Op == "" || len(r.Op) > maxString || len(r.Note) > maxString || len(r.Err) > maxString {
				t.Fatalf("a record out of bounds: %+v", r)
			}
			if r.Flags&^(HasSend|HasRecv|Failed|Unfinished) != 0 || (r.Flags.Has(Failed) && r.Err == "") {
				t.Fatalf("a record with flags %#x and error %q", r.Flags, r.Err)
			}
		}
	})
}

// TestReadBufferAtAFile: a buffer read from the file it lies in, in
// chunks, holds what it holds read from memory; a buffer handed over
// fails with ErrHandedOver, one whose file is cut short with an error.
func TestReadBufferAtAFile(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	n := 3*logChunk/20 + 17 // past three chunks of the log
	b, mem := newTestBuffer(t, n)
	start := int64(1 << 40)
	for range n {
		start += rng.Int64N(3000)
		put(t, b, randomEndedRecord(rng, start), false)
	}
	path := filepath.Join(t.TempDir(), "buffer")
	if err := os.WriteFile(path, mem, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, _, err := ReadBuffer(nil, mem, 0)
	if err != nil || len(want) != n {
		t.Fatalf("from memory: %d records, %v", len(want), err)
	}
	got, _, err := ReadBufferAt(nil, f, int64(len(mem)), 0)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("from the file: %d records (%v), not the %d read from memory", len(got), err, len(want))
	}
	if b.used < 3*logChunk {
		t.Fatalf("%d calls took %d bytes of log, not the three chunks wanted", n, b.used)
	}
	if err := f.Truncate(int64(headerSize + b.used/2)); err != nil {
		t.Fatal(err)
	}
	if got, _, err := ReadBufferAt(nil, f, int64(len(mem)), 0); err == nil || len(got) > n/2 {
		t.Fatalf("a file cut short: %d records, %v", len(got), err)
	}
	b.HandedOver(start)
	if _, _, err := ReadBuffer(nil, mem, 0); !errors.Is(err, ErrHandedOver) {
		t.Fatalf("a buffer handed over: %v, want ErrHandedOver", err)
	}
}

// TestBufferLayoutHasNoPadding: a buffer's header leaves the
// compiler no padding to add, so that their layout is the same where a
// 64-bit integer aligns to 4 bytes (386) as where it aligns to 8: a rank
// and the gorun or agent that reads its buffer may be built for either.
func TestBufferLayoutHasNoPadding(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[header]()} {
		next := uintptr(0)
		for i := range typ.NumField() {
			f := typ.Field(i)
			if f.Offset != next {
				t.Fatalf("%s.%s lies at %d, not right after the field before (%d): the compiler padded it", typ.Name(), f.Name, f.Offset, next)
			}
			next = f.Offset + f.Type.Size()
		}
		if next != typ.Size() || typ.Size()%8 != 0 {
			t.Fatalf("%s: fields end at %d of %d bytes (a multiple of 8 wanted)", typ.Name(), next, typ.Size())
		}
	}
}
