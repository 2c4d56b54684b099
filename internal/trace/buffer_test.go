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

// put records r into b as package mpi does: begun, and ended unless open.
func put(t testing.TB, b *Buffer, r Record, open bool) *Slot {
	t.Helper()
	s, _ := b.Take()
	if s == nil {
		t.Fatal("no slot left")
	}
	if s.Op = OpCode(r.Op); s.Op == 0 {
		b.SetName(s, r.Op)
	}
	s.Comm, s.Start, s.State = r.Comm, r.Start, SlotBegun
	s.Flags = r.Flags &^ Unfinished
	if r.Flags.Has(HasSend) {
		s.Dest, s.DestLocal, s.SendTag, s.SendSize, s.SendSeq = int32(r.Dest), int32(r.DestLocal), int32(r.SendTag), int64(r.SendSize), r.SendSeq
	}
	if r.Note != "" {
		b.SetNote(s, r.Note)
	}
	if open {
		return s
	}
	if r.Flags.Has(HasRecv) {
		s.Source, s.SourceLocal, s.RecvTag, s.RecvSize, s.RecvPost = int32(r.Source), int32(r.SourceLocal), int32(r.RecvTag), int64(r.RecvSize), r.RecvPost
	}
	if r.Err != "" {
		b.SetErr(s, r.Err)
	}
	s.End, s.State = r.End, SlotEnded
	return s
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
		s := put(t, b, Record{Op: "Wait", Start: start}, true)
		s.WaitOp, s.WaitWord, s.WaitPeer, s.WaitTag = OpCode("Irecv"), WaitSource|WaitAnyPeer, -1, 5
		const died = int64(1 << 55)
		open.End = died
		want = append(want, open)
		if b.Used() != n+1 {
			t.Fatalf("seed %d: %d slots used, want %d", seed, b.Used(), n+1)
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
		s := put(t, b, Record{Op: c.op, Start: 10}, true)
		s.WaitOp, s.WaitWord, s.WaitPeer, s.WaitTag = OpCode(c.waitOpName), c.word, c.peer, c.tag
		got, _, err := ReadBuffer(nil, mem, 20)
		if err != nil || len(got) != 1 || got[0].Note != c.want || got[0].End != 20 {
			t.Fatalf("%s waiting (%#x, %d, %d): %+v, %v; want note %q", c.op, c.word, c.peer, c.tag, got, err, c.want)
		}
	}
}

// TestBufferFull: slots and the text area run out without harm.
func TestBufferFull(t *testing.T) {
	b, mem := newTestBuffer(t, 2)
	put(t, b, Record{Op: "Send", Start: 1, End: 2}, false)
	put(t, b, Record{Op: "Send", Start: 2, End: 3}, false)
	if s, i := b.Take(); s != nil || i != -1 {
		t.Fatalf("a third slot of 2: %d", i)
	}
	b.Drop()
	// Fill the text area: later texts are left out, a failure keeps its flag.
	long := strings.Repeat("x", maxString+100)
	for b.h.textUsed+maxString <= b.h.textCap {
		b.SetNote(&b.slots[0], long)
	}
	s := &b.slots[1]
	s.Flags |= Failed
	b.SetErr(s, long)
	got, dropped, err := ReadBuffer(nil, mem, 0)
	if err != nil || dropped != 1 || len(got) != 2 {
		t.Fatalf("%d records, %d dropped, %v", len(got), dropped, err)
	}
	if len(got[0].Note) != maxString {
		t.Fatalf("a note of %d bytes kept, want it cut at %d", len(got[0].Note), maxString)
	}
	if !got[1].Flags.Has(Failed) || !strings.Contains(got[1].Err, "not kept") {
		t.Fatalf("a failure whose text did not fit: %+v", got[1])
	}
}

// TestReadBufferChecksTheMemory: a rank may scribble over its buffer; the
// reader keeps the records that hold and says what does not.
func TestReadBufferChecksTheMemory(t *testing.T) {
	fresh := func() (*Buffer, []byte) {
		b, mem := newTestBuffer(t, 4)
		put(t, b, Record{Op: "Send", Start: 1, End: 2, Note: "a"}, false)
		put(t, b, Record{Op: "Recv", Start: 3, End: 4}, false)
		put(t, b, Record{Op: "Barrier", Start: 5, End: 6}, false)
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
		{"slot size", func(b *Buffer) { b.h.slotSize = 8 }, 0, "another layout"},
		{"capacity", func(b *Buffer) { b.h.capacity = 1 << 30 }, 0, "does not fit"},
		{"used", func(b *Buffer) { b.h.used = 99 }, 3, "99 slots used of 4"},
		{"state", func(b *Buffer) { b.slots[1].State = 7 }, 2, "slot 1: state 7"},
		{"op", func(b *Buffer) { b.slots[0].Op = 200 }, 2, "slot 0: unknown call code 200"},
		{"flags", func(b *Buffer) { b.slots[2].Flags = 0x80 }, 2, "slot 2: unknown flags"},
		{"text", func(b *Buffer) { b.slots[0].note = textRef{off: 1 << 31, len: 5} }, 2, "slot 0: a text at"},
		{"text used", func(b *Buffer) { b.h.textUsed = 0 }, 2, "slot 0: a text at"},
		{"name", func(b *Buffer) { b.slots[2].Op = 0 }, 2, "neither code nor name"},
	} {
		b, mem := fresh()
		c.scribble(b)
		got, _, err := ReadBuffer(nil, mem, 0)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.why) || len(got) != c.kept {
			t.Errorf("%s: %d records kept, %v; want %d kept and an error saying %q", c.name, len(got), err, c.kept, c.why)
		}
	}
	// A slot taken but never written (the rank died in between) is no fault.
	b, mem := fresh()
	b.Take()
	if got, _, err := ReadBuffer(nil, mem, 0); err != nil || len(got) != 3 {
		t.Fatalf("a slot taken, not written: %d records, %v", len(got), err)
	}
}

// FuzzReadBuffer: whatever the memory holds, ReadBuffer neither panics nor
// returns a record that breaks the limits gorun relies on.
func FuzzReadBuffer(f *testing.F) {
	b, mem := newTestBuffer(f, 3)
	put(f, b, Record{Op: "Send", Flags: HasSend, Start: 1, End: 2, Note: "n", SendSeq: 1}, false)
	put(f, b, Record{Op: "Exscan", Flags: Failed, Start: 3, End: 4, Err: "boom"}, false)
	put(f, b, Record{Op: "Recv", Start: 5}, true).WaitWord = WaitSource
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
	n := 3*slotsAtOnce + 17
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
	if err := f.Truncate(int64(headerSize + n/2*slotSize)); err != nil {
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

// TestBufferLayoutHasNoPadding: a buffer's header and slots leave the
// compiler no padding to add, so that their layout is the same where a
// 64-bit integer aligns to 4 bytes (386) as where it aligns to 8: a rank
// and the gorun or agent that reads its buffer may be built for either.
func TestBufferLayoutHasNoPadding(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[header](), reflect.TypeFor[Slot]()} {
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
