package mpi

import (
	"encoding/binary"
	"fmt"

	"github.com/gorun-mpi/gorun/collectives"
)

// The collectives below run in phases over a communicator's hierarchy
// (hier.go) when it has one, and as the collectives package runs them
// otherwise. Every rank of a call takes the same path: the hierarchy
// follows from the placement and the group, which every rank knows.

// hierAllreduce is collectives.Allreduce: a reduction to each host's
// lowest rank, an allreduce among those, and a broadcast on each host.
func hierAllreduce[T any](conn collectives.Conn, codec collectives.Codec[T], v T, op collectives.Op[T]) (T, error) {
	k, h := hierFor(conn, op.Commutative, op.Fn != nil)
	if h == nil {
		return collectives.Allreduce(conn, codec, v, op)
	}
	sig := collectives.Signature{Call: collectives.Call{Kind: collectives.KindAllreduce}, Root: -1, Elem: collectives.ElemOf[T](), Count: -1}
	return hierCall(k, sig, func() (T, error) {
		if up := h.shared(k, phaseUp); up != nil && fixedNumber[T]() {
			return allreduceShared(k, h, up, codec, v, op)
		}
		return allreducePhases(k, h, codec, v, op)
	})
}

// allreducePhases are hierAllreduce's phases, for a call already begun.
func allreducePhases[T any](k *collConn, h *hierarchy, codec collectives.Codec[T], v T, op collectives.Op[T]) (T, error) {
	part, err := collectives.Reduce(h.local(k, phaseUp), codec, v, op, 0)
	if err != nil {
		return part, err
	}
	if across := h.across(k, h.reps(-1)); across != nil {
		if part, err = collectives.Allreduce(across, codec, part, op); err != nil {
			return part, err
		}
	}
	return collectives.Bcast(h.local(k, phaseDown), codec, part, 0)
}

// hierReduce is collectives.Reduce: a reduction on each host to its
// representative (root on root's host), then among the representatives to
// root.
func hierReduce[T any](conn collectives.Conn, codec collectives.Codec[T], v T, op collectives.Op[T], root int) (T, error) {
	k, h := hierFor(conn, op.Commutative, op.Fn != nil)
	if h == nil || root < 0 || root >= conn.Size() {
		return collectives.Reduce(conn, codec, v, op, root)
	}
	sig := collectives.Signature{Call: collectives.Call{Kind: collectives.KindReduce}, Root: root, Elem: collectives.ElemOf[T](), Count: -1}
	return hierCall(k, sig, func() (T, error) {
		up := h.shared(k, phaseUp)
		return reducePhases(k, h, root, func(local *subConn, to int) (T, error) {
			if up != nil && fixedNumber[T]() {
				// Every rank of the host gets its part, in shared memory.
				return collectives.Allreduce(up, codec, v, op)
			}
			return collectives.Reduce(local, codec, v, op, to)
		}, func(across *subConn, part T, to int) (T, error) {
			return collectives.Reduce(across, codec, part, op, to)
		})
	})
}

// hierReduceSlice is collectives.ReduceSlice in hierReduce's phases. Every
// message carries the call's signature, with its length: a rank whose
// slice has another length makes a mismatch, as in a flat call.
func hierReduceSlice[E any](conn collectives.Conn, codec collectives.Codec[[]E], v []E, op collectives.Op[E], root int) ([]E, error) {
	k, h := hierFor(conn, op.Commutative, op.Fn != nil)
	if h == nil || root < 0 || root >= conn.Size() {
		return collectives.ReduceSlice(conn, codec, v, op, root)
	}
	sig := collectives.Signature{Call: collectives.Call{Kind: collectives.KindReduceSlice}, Root: root, Elem: collectives.ElemOf[E](), Count: len(v)}
	return hierCall(k, sig, func() ([]E, error) {
		up := h.shared(k, phaseUp)
		return reducePhases(k, h, root, func(local *subConn, to int) ([]E, error) {
			if up != nil && rawCodec(codec) {
				// Every rank of the host gets its part, in shared memory
				// (which also compares the host's lengths).
				return collectives.AllreduceSlice(up, codec, v, op)
			}
			return collectives.ReduceSlice(local, codec, v, op, to)
		}, func(across *subConn, part []E, to int) ([]E, error) {
			return collectives.ReduceSlice(across, codec, part, op, to)
		})
	})
}

// reducePhases runs a rooted reduction: local to each host's
// representative, then across them to root.
func reducePhases[R any](k *collConn, h *hierarchy, root int,
	local func(local *subConn, to int) (R, error), across func(across *subConn, part R, to int) (R, error)) (R, error) {
	reps := h.reps(root)
	mine := h.local(k, phaseUp)
	part, err := local(mine, mine.index(reps[h.host[k.c.rank]]))
	if err != nil {
		return part, err
	}
	var zero R
	if a := h.across(k, reps); a != nil {
		part, err = across(a, part, h.host[root])
		if err != nil || k.c.rank != root {
			return zero, err
		}
		return part, nil
	}
	return zero, nil
}

// hierBcast is collectives.Bcast: among one representative per host (root
// on its own), then on each host from its representative.
func hierBcast[T any](conn collectives.Conn, codec collectives.Codec[T], v T, root int) (T, error) {
	k, h := hierFor(conn, true, true)
	if h == nil || root < 0 || root >= conn.Size() {
		return collectives.Bcast(conn, codec, v, root)
	}
	sig := collectives.Signature{Call: collectives.Call{Kind: collectives.KindBcast}, Root: root, Elem: collectives.ElemOf[T](), Count: -1}
	return hierCall(k, sig, func() (T, error) {
		reps := h.reps(root)
		var err error
		if across := h.across(k, reps); across != nil {
			if v, err = collectives.Bcast(across, codec, v, h.host[root]); err != nil {
				return v, err
			}
		}
		if down := h.shared(k, phaseDown); down != nil {
			return collectives.Bcast(down, codec, v, down.index(reps[h.host[k.c.rank]]))
		}
		local := h.local(k, phaseDown)
		return collectives.Bcast(local, codec, v, local.index(reps[h.host[k.c.rank]]))
	})
}

// hierBarrier is collectives.Barrier: on each host, among one rank per
// host, then on each host again (a rank leaves once its host's first rank
// has seen every host arrive).
func hierBarrier(conn collectives.Conn) error {
	k, h := hierFor(conn, true, true)
	if h == nil {
		return collectives.Barrier(conn)
	}
	sig := collectives.Signature{Call: collectives.Call{Kind: collectives.KindBarrier}, Root: -1, Count: -1}
	_, err := hierCall(k, sig, func() (struct{}, error) {
		up, down := collectives.Conn(h.local(k, phaseUp)), collectives.Conn(h.local(k, phaseDown))
		if shared := h.shared(k, phaseUp); shared != nil {
			up, down = shared, h.shared(k, phaseDown)
		}
		if err := collectives.Barrier(up); err != nil {
			return struct{}{}, err
		}
		if across := h.across(k, h.reps(-1)); across != nil {
			if err := collectives.Barrier(across); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, collectives.Barrier(down)
	})
	return err
}

// hierAllreduceSlice is collectives.AllreduceSlice (into out when into is
// set): the ranks first agree on the lengths (a small hierarchical
// allreduce), so that a difference ends the call on every rank with
// ErrLengthMismatch and leaves the communicator usable, as a flat call
// does; then each host reduces to its lowest rank, those allreduce, and
// each broadcasts the result on its host. Only the representatives'
// allreduce crosses between hosts (at 2 hosts x 2 ranks and 8 MiB: 2 x 8
// MiB through the NATS server per call, against 3 x 8 MiB flat).
func hierAllreduceSlice[E any](conn collectives.Conn, codec collectives.Codec[[]E], v, out []E, into bool, op collectives.Op[E]) ([]E, error) {
	k, h := hierFor(conn, op.Commutative, op.Fn != nil)
	if h == nil {
		if into {
			return out, collectives.AllreduceSliceInto(conn, codec, v, out, op)
		}
		return collectives.AllreduceSlice(conn, codec, v, op)
	}
	sig := collectives.Signature{Call: collectives.Call{Kind: collectives.KindAllreduceSlice}, Root: -1, Elem: collectives.ElemOf[E](), Count: -1}
	return hierCall(k, sig, func() ([]E, error) {
		badOut := 0
		if into && len(out) != len(v) {
			badOut = 1
		}
		up := h.shared(k, phaseUp)
		agreed, err := agreeLengths(k, h, up, len(v), badOut)
		switch {
		case err != nil:
			return nil, err
		case agreed[0] != agreed[1]:
			return nil, agreedErr{&lengthsError{rank: k.c.rank, n: len(v), lo: agreed[0], hi: agreed[1]}}
		case agreed[2] != 0:
			return nil, agreedErr{fmt.Errorf("%w: AllreduceSliceInto: a rank's out does not have its v's length (here out has %d elements, v %d)",
				collectives.ErrLengthMismatch, len(out), len(v))}
		}
		if up != nil && rawCodec(codec) {
			return allreduceSliceShared(k, h, up, codec, v, out, into, op)
		}
		part, err := collectives.ReduceSlice(h.local(k, phaseUp), codec, v, op, 0)
		if err != nil {
			return nil, err
		}
		local := h.local(k, phaseDown)
		if across := h.across(k, h.reps(-1)); across != nil {
			if into {
				err = collectives.AllreduceSliceInto(across, codec, part, out, op)
				part = out
			} else {
				part, err = collectives.AllreduceSlice(across, codec, part, op)
			}
			if err != nil {
				return nil, err
			}
		}
		if into {
			return out, collectives.BcastInto(local, codec, out, 0)
		}
		return collectives.Bcast(local, codec, part, 0)
	})
}

// agreedErr is an error every rank of the call found alike (it breaks
// nothing).
type agreedErr struct{ error }

func (e agreedErr) Unwrap() error { return e.error }

// lengthsError: the ranks of a hierarchical AllreduceSlice passed slices
// of different lengths.
type lengthsError struct{ rank, n, lo, hi int }

func (e *lengthsError) Error() string {
	other := e.lo
	if other == e.n {
		other = e.hi
	}
	return fmt.Sprintf("collective mismatch: rank %d called AllreduceSlice(%d elements) while another rank called AllreduceSlice(%d elements)", e.rank, e.n, other)
}

// Unwrap returns ErrCollectiveMismatch and ErrLengthMismatch.
func (e *lengthsError) Unwrap() []error {
	return []error{collectives.ErrCollectiveMismatch, collectives.ErrLengthMismatch}
}

// index is the sub-group rank of communicator rank r (-1 if absent).
func (s *subConn) index(r int) int {
	for i, m := range s.members {
		if m == r {
			return i
		}
	}
	return -1
}

// hierAllgather is collectives.Allgather, joined (every rank's part in
// rank order): each host gathers its ranks' parts to its lowest rank,
// those exchange their hosts' bundles, and each broadcasts the joined
// result on its host. Rank order does not need consecutive hosts: a
// bundle's parts are put back at their ranks.
func hierAllgather[T any](conn collectives.Conn, codec collectives.Codec[[]T], part []T) ([]T, error) {
	k, h := hierFor(conn, true, true)
	if h == nil {
		return collectives.AllgatherJoined(conn, codec, part)
	}
	sig := collectives.Signature{Call: collectives.Call{Kind: collectives.KindAllgather}, Root: -1, Elem: collectives.ElemOf[[]T](), Count: -1}
	return hierCall(k, sig, func() ([]T, error) {
		joined, err := gatherPhases(k, h, codec, part, -1)
		if err != nil {
			return nil, err
		}
		if down := h.shared(k, phaseDown); down != nil {
			return collectives.Bcast(down, codec, joined, 0)
		}
		return collectives.Bcast(h.local(k, phaseDown), codec, joined, 0)
	})
}

// hierGather is collectives.Gather, joined: each host gathers to its
// representative (root on root's host), the representatives to root.
func hierGather[T any](conn collectives.Conn, codec collectives.Codec[[]T], part []T, root int) ([]T, error) {
	k, h := hierFor(conn, true, true)
	if h == nil || root < 0 || root >= conn.Size() {
		return collectives.GatherJoined(conn, codec, part, root)
	}
	sig := collectives.Signature{Call: collectives.Call{Kind: collectives.KindGather}, Root: root, Elem: collectives.ElemOf[[]T](), Count: -1}
	return hierCall(k, sig, func() ([]T, error) {
		joined, err := gatherPhases(k, h, codec, part, root)
		if err != nil || k.c.rank != root {
			return nil, err
		}
		return joined, nil
	})
}

// gatherPhases gathers every rank's part, joined in rank order, to root
// (root < 0: to every host's lowest rank); others get nil.
func gatherPhases[T any](k *collConn, h *hierarchy, codec collectives.Codec[[]T], part []T, root int) ([]T, error) {
	reps := h.reps(root)
	mine := h.local(k, phaseUp)
	parts, err := collectives.Gather(mine, codec, part, mine.index(reps[h.host[k.c.rank]]))
	if err != nil {
		return nil, err
	}
	across := h.across(k, reps)
	if across == nil {
		return nil, nil
	}
	bundle, err := encodeBundle(codec, parts)
	if err != nil {
		return nil, err
	}
	var bundles [][]byte
	if root < 0 {
		bundles, err = collectives.Allgather(across, bytesCodec{}, bundle)
	} else {
		bundles, err = collectives.Gather(across, bytesCodec{}, bundle, h.host[root])
	}
	if err != nil || bundles == nil {
		return nil, err
	}
	byRank := make([][]T, len(h.host))
	for i, b := range bundles {
		ps, err := decodeBundle(codec, b, len(h.hosts[i]))
		if err != nil {
			return nil, err
		}
		for j, r := range h.hosts[i] {
			byRank[r] = ps[j]
		}
	}
	return collectives.JoinParts(byRank), nil
}

// bytesCodec moves payloads as they are.
type bytesCodec struct{}

func (bytesCodec) Encode(v []byte) ([]byte, error)       { return v, nil }
func (bytesCodec) Decode(payload []byte) ([]byte, error) { return payload, nil }

// encodeBundle frames parts, each encoded by codec, with their lengths.
func encodeBundle[T any](codec collectives.Codec[[]T], parts [][]T) ([]byte, error) {
	var out []byte
	for _, p := range parts {
		enc, err := codec.Encode(p)
		if err != nil {
			return nil, err
		}
		out = binary.AppendUvarint(out, uint64(len(enc)))
		out = append(out, enc...)
	}
	return out, nil
}

// decodeBundle is encodeBundle's inverse, for a bundle of n parts.
func decodeBundle[T any](codec collectives.Codec[[]T], b []byte, n int) ([][]T, error) {
	parts := make([][]T, n)
	for i := range parts {
		size, used := binary.Uvarint(b)
		if used <= 0 || size > uint64(len(b)-used) {
			return nil, fmt.Errorf("%w: a hierarchical gather's bundle is cut short at part %d of %d", collectives.ErrProtocol, i, n)
		}
		p, err := codec.Decode(b[used : used+int(size)])
		if err != nil {
			return nil, err
		}
		parts[i], b = p, b[used+int(size):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: a hierarchical gather's bundle has %d bytes after its %d parts", collectives.ErrProtocol, len(b), n)
	}
	return parts, nil
}
