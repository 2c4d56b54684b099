package collectives

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"unsafe"
)

// Tags of Allreduce and AllreduceSlice.
const (
	allreduceTagRD = 0             // recursive doubling (data, or the agreement before a ring)
	allreduceTagRS = rdTagSpan     // ring reduce-scatter
	allreduceTagAG = rdTagSpan + 1 // ring allgather
)

// Allreduce combines every rank's v with op, in rank order, and gives every
// rank the result: v0 op v1 op ... op v(p-1). It uses recursive doubling,
// which keeps rank order for any operator and gives every rank a
// bit-identical result.
func Allreduce[T any](c Conn, codec Codec[T], v T, op Op[T]) (T, error) {
	me := c.Rank()
	var zero T
	sig, err := begin(c, Signature{Call: Call{Kind: KindAllreduce}, Root: -1, Elem: ElemOf[T](), Count: -1})
	if err != nil {
		return zero, err
	}
	red := reduction[T]{me: me, codec: codec, comb: valueOp[T]{op.Fn}, sig: sig}
	mine := partial[T]{v: v, low: me, alg: algRecursiveDoubling}
	if op.Fn == nil {
		mine.fail = nilOpFailure(me, "Allreduce")
	}
	if a := arenaOf(c); a != nil && c.Size() > 1 && isFixedSizeNumber(sig.Elem.Kind.Reflect()) {
		res, err := allreduceValueShared(a, c, sig, v, op, mine.fail)
		if !errors.Is(err, errUseMessages) {
			return res, err
		}
	}
	res, err := recursiveDoubling(c, allreduceTagRD, mine, red.exchangeOps())
	switch {
	case err != nil:
		return zero, err
	case res.fail != nil:
		return zero, prefer(res.fail, mine.fail).err()
	}
	return res.v, nil
}

// allreduceValueShared is Allreduce of a fixed-size number through the
// arena, as AllreduceSlice of one element does it: the ranks agree in the
// headers, the value travels in them, and every rank folds the p values in
// rank order (the same bits everywhere). errUseMessages: the ranks agreed
// on recursive doubling (GORUN_COLL_ALLREDUCE), which follows by messages.
//
// Measured back to back (bench/ops allreduce_value, np=2 on 2 shared
// cores): recursive doubling by messages cost a mean of about 15 us a call
// (p50 3.8, p99 70 us), a socket round trip and an encoded frame each.
func allreduceValueShared[T any](a *arena, c Conn, sig Signature, v T, op Op[T], own *failure) (T, error) {
	var zero T
	alg, err := a.choose("Allreduce")
	if err != nil && own == nil {
		own = localFailure(c.Rank(), err)
	}
	if alg == 0 {
		alg = algRecursiveDoubling
	}
	res, err := inArena(a, "Allreduce", -1, sig, checkCall(c), func() (T, error) {
		return shmAllreduceValueLocked(a, v, op, alg, own)
	})
	if err != nil {
		return zero, err
	}
	return res, nil
}

// isFixedSizeNumber reports whether values of kind are numbers whose
// memory is their value (what a raw slice codec moves as bytes).
func isFixedSizeNumber(kind reflect.Kind) bool {
	switch kind {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}

// AllreduceSlice combines the ranks' slices element by element with op and
// gives every rank the result, bit-identical everywhere. Every rank must pass
// a slice of the same length; otherwise every rank gets an error wrapping
// ErrLengthMismatch. Ranks that share an arena (slices of numbers) agree and
// reduce through it (shmAllreduce). Otherwise small slices, and any slice
// with a non-commutative operator, use recursive doubling (rank order
// kept); large slices with a commutative operator use a ring reduce-scatter
// and allgather, which moves about twice the slice per rank whatever the
// number of ranks. The result never aliases v.
func AllreduceSlice[E any](c Conn, codec Codec[[]E], v []E, op Op[E]) ([]E, error) {
	return allreduceSlice(c, codec, v, nil, false, op)
}

// AllreduceSliceInto is AllreduceSlice writing the result into out, which
// must have v's length (on any rank where it has not, every rank gets an
// error wrapping ErrLengthMismatch) and may be v itself. Through an arena it
// allocates nothing, as MPI_Allreduce writes into the caller's buffer.
func AllreduceSliceInto[E any](c Conn, codec Codec[[]E], v, out []E, op Op[E]) error {
	res, err := allreduceSlice(c, codec, v, out, true, op)
	if err != nil {
		return err
	}
	if len(res) > 0 && &res[0] != &out[0] {
		copy(out, res)
	}
	return nil
}

// allreduceSlice is AllreduceSlice, into out when into is set.
func allreduceSlice[E any](c Conn, codec Codec[[]E], v, out []E, into bool, op Op[E]) ([]E, error) {
	p, me := c.Size(), c.Rank()
	// Lengths are not part of the signature the Conn checks: the ranks
	// compare them in the call (agree, merge), where every rank learns of a
	// difference, so the group stays usable.
	sig, err := begin(c, Signature{Call: Call{Kind: KindAllreduceSlice}, Root: -1, Elem: ElemOf[E](), Count: -1})
	if err != nil {
		return nil, err
	}
	sig.Count = len(v)
	mine := partial[[]E]{v: v, count: len(v), low: me}
	var arena *arena
	if isRaw(codec) {
		arena = arenaOf(c)
	}
	alg, err := chooseShared("Allreduce", p, len(v)*int(unsafe.Sizeof(*new(E))), arena != nil)
	switch {
	case err != nil:
		mine.fail = localFailure(me, err)
	case op.Fn == nil:
		mine.fail = nilOpFailure(me, "AllreduceSlice")
	case into && len(out) != len(v):
		mine.fail = localFailure(me, failf(ErrLengthMismatch, "the result slice has %d elements, the operand %d", len(out), len(v)))
	}
	if (alg == algRing || alg == algRabenseifner) && !op.Commutative {
		alg = algRecursiveDoubling // only built-in operators may be reordered
	}
	if alg == 0 {
		alg = algRecursiveDoubling
	}
	mine.alg = alg
	if p == 1 {
		if mine.fail != nil {
			return nil, mine.fail.err()
		}
		return slices.Clone(v), nil
	}
	agreed := false
	if arena != nil {
		// The ranks agree through shared memory, and reduce there when
		// they chose to.
		res, err := shmAllreduce(arena, sig, checkCall(c), v, out, op, alg, mine.fail)
		if !errors.Is(err, errUseMessages) {
			return res, err
		}
		agreed = true
	}
	red := reduction[[]E]{me: me, codec: codec, comb: sliceOp[E]{op.Fn}, sig: sig}
	if alg == algRing || alg == algRabenseifner {
		if agreed {
			if alg == algRing {
				return ringAllreduce(c, codec, v, op)
			}
			return rabenseifnerAllreduce(c, codec, v, op)
		}
		red.codec = nil // agree on lengths and algorithm first; data follows
	}
	res, err := recursiveDoubling(c, allreduceTagRD, mine, red.exchangeOps())
	switch {
	case err != nil:
		return nil, err
	case res.fail != nil:
		return nil, prefer(res.fail, mine.fail).err()
	case alg == algRing:
		return ringAllreduce(c, codec, v, op)
	case alg == algRabenseifner:
		return rabenseifnerAllreduce(c, codec, v, op)
	case !res.owned:
		return slices.Clone(res.v), nil
	}
	return res.v, nil
}

// ringAllreduce is the ring reduce-scatter + allgather for slices already
// known to have the same length everywhere. The slice is cut into p chunks;
// in p-1 reduce-scatter steps each rank sends a chunk to its right
// neighbour and folds the chunk from its left into the result, so that rank
// r ends owning the fully reduced chunk r+1; p-1 allgather steps then pass
// the reduced chunks around the ring. Each chunk is reduced on one rank only
// and copied bit for bit to the others. The result is written straight into
// a new slice: chunks of v are sent from v itself and never copied.
func ringAllreduce[E any](c Conn, codec Codec[[]E], v []E, op Op[E]) ([]E, error) {
	p, me := c.Size(), c.Rank()
	n := len(v)
	out := make([]E, n)
	chunk := func(i int) (int, int) { return partBounds(n, p, ((i%p)+p)%p) }
	right, left := (me+1)%p, (me-1+p)%p
	kernel := op.Kernel
	if kernel == nil {
		kernel = func(dst, a, b []E) {
			for i := range dst {
				dst[i] = op.Fn(a[i], b[i])
			}
		}
	}
	// With a raw codec and a Conn that receives into given memory, the
	// incoming chunks land in a scratch chunk (reduce-scatter) or in their
	// place in out (allgather): no allocation per step.
	buffered, _ := c.(BufferedConn)
	raw := isRaw(codec)
	var scratch []E
	if raw && buffered != nil {
		lo, hi := chunk(0) // the first chunk is the longest
		scratch = make([]E, hi-lo)
	}
	exchange := func(send []E, tag int, into []E, rlo, rhi int) ([]E, error) {
		payload, err := codec.Encode(send)
		if err != nil {
			return nil, fmt.Errorf("encoding a chunk of %d elements: %w", len(send), err)
		}
		var got []byte
		if scratch != nil {
			buf, _ := codec.Encode(into[:rhi-rlo])
			got, err = buffered.SendrecvInto(payload, right, tag, buf, left, tag)
		} else {
			got, err = c.Sendrecv(payload, right, tag, left, tag)
		}
		if err != nil {
			return nil, err
		}
		return decodeChunk(codec, got, rhi-rlo, left)
	}

	for k := 0; k < p-1; k++ {
		slo, shi := chunk(me - k)
		src := out[slo:shi]
		if k == 0 {
			src = v[slo:shi]
		}
		rlo, rhi := chunk(me - k - 1)
		in, err := exchange(src, allreduceTagRS, scratch, rlo, rhi)
		if err != nil {
			return nil, err
		}
		kernel(out[rlo:rhi], in, v[rlo:rhi])
	}
	for k := 0; k < p-1; k++ {
		slo, shi := chunk(me + 1 - k)
		rlo, rhi := chunk(me - k)
		in, err := exchange(out[slo:shi], allreduceTagAG, out[rlo:rhi], 0, rhi-rlo)
		if err != nil {
			return nil, err
		}
		if len(in) > 0 && &in[0] != &out[rlo] {
			copy(out[rlo:rhi], in)
		}
	}
	return out, nil
}

// isRaw reports whether codec's payloads are the slices' own memory.
func isRaw[T any](codec Codec[T]) bool {
	r, ok := codec.(RawCodec)
	return ok && r.Raw()
}

// decodeChunk decodes a ring chunk and checks its length.
func decodeChunk[E any](codec Codec[[]E], payload []byte, want, from int) ([]E, error) {
	in, err := codec.Decode(payload)
	if err != nil {
		return nil, failf(ErrProtocol, "decoding a chunk from rank %d: %w", from, err)
	}
	if len(in) != want {
		return nil, failf(ErrProtocol, "chunk of %d elements from rank %d, want %d", len(in), from, want)
	}
	return in, nil
}
