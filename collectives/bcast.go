package collectives

import (
	"errors"
	"fmt"
	"unsafe"
)

// Tags of Bcast.
const (
	bcastTagTree    = 0 // the binomial tree: header (and value, if small)
	bcastTagScatter = 1 // scatter_allgather: the binomial scatter
	bcastTagRing    = 2 // scatter_allgather: the ring allgather
)

// Bcast gives every rank root's v. Ranks that share an arena go through it
// (shmBcast). Otherwise only the root knows the value's size, so the root
// chooses the algorithm and its first message, sent down a binomial tree,
// tells the others: for a small value that message is the value itself; for
// a large one it announces the size, and the value follows by a binomial
// scatter of p chunks and a ring allgather, which spreads the sending over
// every rank. The root gets v itself back; the others get the decoded copy.
// An encoding failure on the root reaches every rank.
func Bcast[T any](c Conn, codec Codec[T], v T, root int) (T, error) {
	var zero T
	if err := checkRoot(c, root); err != nil {
		return zero, err
	}
	sig, err := begin(c, Signature{Call: Call{Kind: KindBcast}, Root: root, Elem: ElemOf[T](), Count: -1})
	if err != nil {
		return zero, err
	}
	if c.Size() == 1 {
		return v, nil
	}
	if a := arenaOf(c); a != nil {
		out, err := shmBcast(a, sig, checkCall(c), codec, v, root, nil)
		if !errors.Is(err, errUseMessages) {
			return out, err
		}
	}
	return bcastMessages(c, codec, v, root)
}

// BcastInto copies root's buf into every other rank's buf, as MPI_Bcast
// fills the caller's buffer. Each buf must have the root's length: a rank
// whose buf has another gets an error wrapping ErrLengthMismatch (only the
// ranks that can tell: the root cannot). Through an arena, a large vector
// of numbers goes in pieces straight into buf, the others copying out one
// piece while the root copies in the next, and nothing is allocated;
// otherwise the value goes as Bcast sends it and is copied into buf.
func BcastInto[E any](c Conn, codec Codec[[]E], buf []E, root int) error {
	if err := checkRoot(c, root); err != nil {
		return err
	}
	sig, err := begin(c, Signature{Call: Call{Kind: KindBcast}, Root: root, Elem: ElemOf[[]E](), Count: -1})
	if err != nil {
		return err
	}
	if c.Size() == 1 {
		return nil
	}
	if a := arenaOf(c); a != nil && isRaw(codec) {
		into := func(count int) ([]byte, error) {
			es := int(unsafe.Sizeof(*new(E)))
			if count != len(buf)*es {
				return nil, lengthMismatch(count/es, len(buf))
			}
			// Raw: the payload is buf's own bytes.
			return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), count), nil
		}
		_, err := shmBcast(a, sig, checkCall(c), codec, buf, root, into)
		if !errors.Is(err, errUseMessages) {
			return err
		}
	}
	got, err := bcastMessages(c, codec, buf, root)
	if err != nil || c.Rank() == root {
		return err
	}
	if len(got) != len(buf) {
		return lengthMismatch(len(got), len(buf))
	}
	copy(buf, got)
	return nil
}

// lengthMismatch is BcastInto's error on a rank whose buffer has mine
// elements where the root broadcasts roots.
func lengthMismatch(roots, mine int) error {
	return failf(ErrLengthMismatch, "the root broadcasts %d elements, this rank's buffer has %d", roots, mine)
}

// bcastMessages is Bcast by messages: the binomial tree, or the scatter
// and ring allgather.
func bcastMessages[T any](c Conn, codec Codec[T], v T, root int) (T, error) {
	var zero T
	p, me := c.Size(), c.Rank()
	vr := toVirtual(me, root, p)
	if vr == 0 {
		return v, bcastRoot(c, codec, v, root)
	}
	parent := fromVirtual(binomialParent(vr), root, p)
	got, err := c.Recv(parent, bcastTagTree)
	if err != nil {
		return zero, err
	}
	h, body, f := readFrame(me, got)
	if f != nil && f.local != nil {
		got = failureFrame(f)
	}
	if err := sendToChildren(c, vr, root, got, bcastTagTree); err != nil {
		return zero, err
	}
	if f != nil {
		return zero, f.err()
	}
	switch algorithm(h.alg) {
	case algBinomial:
		if uint64(len(body)) != h.count {
			return zero, failf(ErrProtocol, "broadcast value of %d bytes announced as %d", len(body), h.count)
		}
	case algScatterAllgather:
		if h.count > uint64(maxBcastBytes) {
			return zero, failf(ErrProtocol, "broadcast of %d bytes announced", h.count)
		}
		body = make([]byte, int(h.count))
		if err := scatterAllgather(c, root, body); err != nil {
			return zero, err
		}
	default:
		return zero, failf(ErrProtocol, "broadcast announced with algorithm %s", algorithm(h.alg))
	}
	out, err := codec.Decode(body)
	if err != nil {
		return zero, fmt.Errorf("decoding the broadcast value: %w", err)
	}
	return out, nil
}

// maxBcastBytes bounds the size a broadcast header may announce, so that a
// corrupt header cannot make a rank allocate without limit.
const maxBcastBytes = 1 << 40

func bcastRoot[T any](c Conn, codec Codec[T], v T, root int) error {
	p, me := c.Size(), c.Rank()
	payload, err := codec.Encode(v)
	var f *failure
	alg := algBinomial
	if err != nil {
		f = localFailure(me, fmt.Errorf("encoding the broadcast value: %w", err))
	} else if alg, err = choose("Bcast", p, len(payload)); err != nil {
		f = localFailure(me, err)
	}
	var msg []byte
	switch {
	case f != nil:
		msg = failureFrame(f)
	case alg == algBinomial:
		msg = frame(header{alg: byte(alg), count: uint64(len(payload))}, payload)
	default:
		msg = frame(header{alg: byte(alg), count: uint64(len(payload))}, nil)
	}
	if err := sendToChildren(c, 0, root, msg, bcastTagTree); err != nil {
		return err
	}
	if f != nil {
		return f.err()
	}
	if alg == algScatterAllgather {
		return scatterAllgather(c, root, payload)
	}
	return nil
}

// sendToChildren sends msg to virtual rank vr's children, the largest
// subtree first.
func sendToChildren(c Conn, vr, root int, msg []byte, tag int) error {
	p := c.Size()
	for _, kid := range binomialChildren(vr, p) {
		if err := c.Send(msg, fromVirtual(kid, root, p), tag); err != nil {
			return err
		}
	}
	return nil
}

// scatterAllgather spreads buf (filled on the root, to be filled elsewhere)
// from the root: chunk i of p belongs to virtual rank i; a binomial scatter
// gives every rank its subtree's chunks, then p-1 ring steps over the virtual
// ranks pass every chunk to every rank. The ring does not close through the
// root, which has everything already: virtual rank p-1 does not send and the
// root does not receive.
func scatterAllgather(c Conn, root int, buf []byte) error {
	p, me := c.Size(), c.Rank()
	n := len(buf)
	vr := toVirtual(me, root, p)
	span := func(first, count int) (int, int) {
		lo, _ := partBounds(n, p, first)
		_, hi := partBounds(n, p, first+count-1)
		return lo, hi
	}
	if vr != 0 {
		lo, hi := span(vr, subtreeSize(vr, p))
		got, err := c.Recv(fromVirtual(binomialParent(vr), root, p), bcastTagScatter)
		if err != nil {
			return err
		}
		if len(got) != hi-lo {
			return failf(ErrProtocol, "broadcast scatter of %d bytes, want %d", len(got), hi-lo)
		}
		copy(buf[lo:hi], got)
	}
	for _, kid := range binomialChildren(vr, p) {
		lo, hi := span(kid, subtreeSize(kid, p))
		if err := c.Send(buf[lo:hi], fromVirtual(kid, root, p), bcastTagScatter); err != nil {
			return err
		}
	}
	right := fromVirtual(vr+1, root, p)
	left := fromVirtual(vr-1+p, root, p)
	for k := 0; k < p-1; k++ {
		slo, shi := partBounds(n, p, (vr-k+p)%p)
		rlo, rhi := partBounds(n, p, (vr-k-1+2*p)%p)
		var got []byte
		var err error
		switch vr {
		case 0:
			err = c.Send(buf[slo:shi], right, bcastTagRing)
		case p - 1:
			got, err = c.Recv(left, bcastTagRing)
		default:
			got, err = c.Sendrecv(buf[slo:shi], right, bcastTagRing, left, bcastTagRing)
		}
		if err != nil {
			return err
		}
		if vr == 0 {
			continue
		}
		if len(got) != rhi-rlo {
			return failf(ErrProtocol, "broadcast chunk of %d bytes, want %d", len(got), rhi-rlo)
		}
		copy(buf[rlo:rhi], got)
	}
	return nil
}
