package collectives

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
)

// ErrCollectiveMismatch: ranks of one group entered different collectives
// at the same point of their sequence of calls, or the same collective with
// different roots, element types or (where they must agree) lengths. The
// error names both calls.
var ErrCollectiveMismatch = errors.New("collectives: collective mismatch")

// Kind names a collective in a Signature.
type Kind uint8

// The collectives a Signature names. KindSplit stands for the mpi package's
// communicator constructors (Split and Dup), which run a collective
// exchange of their own.
const (
	KindBarrier Kind = 1 + iota
	KindBcast
	KindScatter
	KindGather
	KindAllgather
	KindAlltoall
	KindReduce
	KindAllreduce
	KindReduceSlice
	KindAllreduceSlice
	KindScan
	KindSplit
)

var kindNames = [...]string{
	KindBarrier: "Barrier", KindBcast: "Bcast", KindScatter: "Scatter", KindGather: "Gather",
	KindAllgather: "Allgather", KindAlltoall: "Alltoall", KindReduce: "Reduce",
	KindAllreduce: "Allreduce", KindReduceSlice: "ReduceSlice", KindAllreduceSlice: "AllreduceSlice",
	KindScan: "Scan", KindSplit: "Split or Dup",
}

// String is the collective's name, as the mpi package calls it.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("collective(%d)", uint8(k))
}

// Elem identifies the element type of a call: its reflect.Kind and a hash
// of its full name. The zero Elem is a call without data (Barrier).
type Elem struct {
	Hash uint32
	Kind ElemKind
}

// ElemKind is a reflect.Kind in a byte (see Signature for why it is small).
type ElemKind uint8

// Reflect returns k as a reflect.Kind.
func (k ElemKind) Reflect() reflect.Kind { return reflect.Kind(k) }

// String is the kind's name, as reflect.Kind's.
func (k ElemKind) String() string { return k.Reflect().String() }

// ElemOf is the Elem of T.
func ElemOf[T any]() Elem {
	t := reflect.TypeFor[T]()
	if known := elems.Load(); known != nil {
		for _, k := range *known {
			if k.t == t {
				return k.elem
			}
		}
	}
	h := uint32(2166136261) // FNV-1a of the type's name
	for _, b := range []byte(t.String()) {
		h = (h ^ uint32(b)) * 16777619
	}
	e := Elem{Kind: ElemKind(t.Kind()), Hash: h}
	for {
		old := elems.Load()
		var next []knownElem
		if old != nil {
			next = append(next, (*old)[:min(len(*old), maxKnownElems-1)]...)
		}
		next = append([]knownElem{{t, e}}, next...)
		if elems.CompareAndSwap(old, &next) {
			return e
		}
	}
}

// elems caches ElemOf for the types a program's collectives use (the
// lookup by name costs more than the whole signature check otherwise): a
// short list, replaced whole on each addition, read without a lock.
var elems atomic.Pointer[[]knownElem]

type knownElem struct {
	t    reflect.Type
	elem Elem
}

const maxKnownElems = 32

// Signature is what the ranks of one collective call must agree on: the
// collective, its root, its element type and, where every rank must pass
// the same number of elements, that number. Seq numbers the call on its
// communicator (the Conn fills it in). Ranks compare signatures, carried
// by every collective message and published in shared-memory call headers,
// and fail with ErrCollectiveMismatch where they differ.
//
// It has four fields of 32 bytes in all, the most the compiler keeps in
// registers: a larger struct lives in memory, and one passed on or
// returned right after its fields were stored is copied 16 bytes at a
// time over those narrower stores, which the processor cannot forward
// (a stall of some 20 cycles, at several places of each small
// collective call: issue 17's profile of Bcast and Barrier).
type Signature struct {
	Call       // the collective and its number
	Elem  Elem // the element type; zero for none
	Root  int  // -1: the collective has no root
	Count int  // -1: ranks may pass different lengths (or there is no length)
}

// Call is the part of a Signature that says which call it is: the
// collective, and the number of the call on its communicator (Seq; the
// Conn fills it in).
type Call struct {
	Kind Kind
	Seq  uint32
}

// CallConn is an optional ability of a Conn: checking that every rank is in
// the same call. BeginCall is called once, before the call's first message,
// with the call's Signature; it returns it with Seq set, or the mismatch the
// Conn already knows of (from an earlier call), which ends the call at once.
// The Conn stamps each message with the signature and fails a receive whose
// message carries another. CheckCall reports a mismatch learned since
// (another rank's alarm): waits in shared memory call it every few
// milliseconds.
type CallConn interface {
	BeginCall(s Signature) (Signature, error)
	CheckCall() error
}

// begin starts a call with signature s on c.
func begin(c Conn, s Signature) (Signature, error) {
	if cc, ok := c.(CallConn); ok {
		return cc.BeginCall(s)
	}
	return s, nil
}

// checkCall is c as a CallConn, or nil.
func checkCall(c Conn) CallConn {
	cc, _ := c.(CallConn)
	return cc
}

// SignatureLen is the size of an encoded Signature.
const SignatureLen = 24

// signatureMagic starts every encoded Signature.
const signatureMagic = 0xC5

const (
	sigHasRoot  = 1
	sigHasCount = 2
)

// Put encodes s into b, which has at least SignatureLen bytes:
//
//	byte 0      signatureMagic
//	byte 1      Kind
//	byte 2      Elem.Kind
//	byte 3      flags: sigHasRoot, sigHasCount
//	bytes 4-7   Seq, little endian
//	bytes 8-11  Root
//	bytes 12-15 Elem.Hash
//	bytes 16-23 Count
func (s Signature) Put(b []byte) {
	_ = b[SignatureLen-1]
	var flags byte
	if s.Root >= 0 {
		flags |= sigHasRoot
	}
	if s.Count >= 0 {
		flags |= sigHasCount
	}
	b[0], b[1], b[2], b[3] = signatureMagic, byte(s.Kind), byte(s.Elem.Kind), flags
	binary.LittleEndian.PutUint32(b[4:], s.Seq)
	binary.LittleEndian.PutUint32(b[8:], uint32(max(s.Root, 0)))
	binary.LittleEndian.PutUint32(b[12:], s.Elem.Hash)
	binary.LittleEndian.PutUint64(b[16:], uint64(max(s.Count, 0)))
}

// ParseSignature decodes a Signature encoded by Put; false if b is not one.
func ParseSignature(b []byte) (Signature, bool) {
	if len(b) < SignatureLen || b[0] != signatureMagic {
		return Signature{}, false
	}
	s := Signature{
		Call: Call{Kind: Kind(b[1]), Seq: binary.LittleEndian.Uint32(b[4:])},
		Elem: Elem{Kind: ElemKind(b[2]), Hash: binary.LittleEndian.Uint32(b[12:])},
		Root: -1, Count: -1,
	}
	if b[3]&sigHasRoot != 0 {
		s.Root = int(binary.LittleEndian.Uint32(b[8:]))
	}
	if b[3]&sigHasCount != 0 {
		s.Count = int(binary.LittleEndian.Uint64(b[16:]))
	}
	return s, true
}

// Matches reports whether calls s and o can be one call: the same
// collective, root and element type, and the same count where both have
// one. Seq is not compared.
func (s Signature) Matches(o Signature) bool {
	return s.Kind == o.Kind && s.Root == o.Root && s.Elem == o.Elem &&
		(s.Count < 0 || o.Count < 0 || s.Count == o.Count)
}

// String describes the call, e.g. "Bcast(root 1)".
func (s Signature) String() string {
	return s.describe(Signature{Call: Call{Kind: s.Kind}, Root: s.Root, Elem: s.Elem, Count: s.Count})
}

// describe describes s, naming the element type and count only where
// they differ from o's (the call it is compared with) in the same
// collective, and the call's number where it differs from o's.
func (s Signature) describe(o Signature) string {
	var args []string
	if s.Root >= 0 {
		args = append(args, fmt.Sprintf("root %d", s.Root))
	}
	if s.Kind == o.Kind && s.Elem != o.Elem && s.Elem.Kind.Reflect() != reflect.Invalid {
		name := s.Elem.Kind.String()
		if o.Elem.Kind == s.Elem.Kind {
			name = fmt.Sprintf("%s type %08x", name, s.Elem.Hash) // same kind, another type
		}
		args = append(args, "of "+name)
	}
	if s.Kind == o.Kind && s.Count >= 0 && o.Count >= 0 && s.Count != o.Count {
		args = append(args, fmt.Sprintf("%d elements", s.Count))
	}
	if s.Seq != o.Seq {
		args = append(args, fmt.Sprintf("collective call %d", s.Seq))
	}
	if len(args) == 0 {
		return s.Kind.String()
	}
	return s.Kind.String() + "(" + strings.Join(args, ", ") + ")"
}

// Mismatch is the error of rank me, in call mine, on learning that rank
// peer is in call theirs: it wraps ErrCollectiveMismatch (and
// ErrLengthMismatch when only the counts differ) and names both calls.
func Mismatch(me int, mine Signature, peer int, theirs Signature) error {
	return &mismatchError{
		text:   fmt.Sprintf("rank %d called %s while rank %d called %s", me, mine.describe(theirs), peer, theirs.describe(mine)),
		length: mine.Kind == theirs.Kind && mine.Root == theirs.Root && mine.Elem == theirs.Elem,
	}
}

// mismatchError reads "collective mismatch: rank 0 called Barrier while
// rank 1 called Bcast(root 1)".
type mismatchError struct {
	text   string
	length bool // only the lengths differ
}

func (e *mismatchError) Error() string { return "collective mismatch: " + e.text }

// Unwrap returns ErrCollectiveMismatch, and ErrLengthMismatch when only
// the lengths differ.
func (e *mismatchError) Unwrap() []error {
	if e.length {
		return []error{ErrCollectiveMismatch, ErrLengthMismatch}
	}
	return []error{ErrCollectiveMismatch}
}
