package mpi

import (
	"reflect"
	"slices"

	"github.com/gorun-mpi/gorun/collectives"
	"github.com/gorun-mpi/gorun/internal/shmcoll"
)

// hostConn is the sub-group of this rank's host in a phase of a
// hierarchical call, lent the host's shared memory (a job over several
// hosts, the world communicator): the collectives of that phase move their
// data through it instead of messages. Its call headers carry the
// hierarchical call's signature, so that ranks of one host in different
// calls find out there and name the calls they made; any messages a
// collective still sends (a value too large for the arena) go as subConn's.
type hostConn struct {
	*subConn
	region *shmcoll.Region
}

// shared returns the sub-group of this rank's host in phase, with the
// host's shared memory, or nil when there is none to use (another
// communicator, a call with a Go context, gorun gave none): the phase then
// runs by messages (local).
func (h *hierarchy) shared(k *collConn, phase int) *hostConn {
	members := h.hosts[h.host[k.c.rank]]
	region := k.hostMemory(members)
	if region == nil || !slices.Equal(region.Hooks().Names, members) {
		return nil
	}
	return &hostConn{subConn: newSubConn(k, members, phase), region: region}
}

// SharedMemory lends the host's memory (collectives' memoryConn).
func (s *hostConn) SharedMemory() *shmcoll.Region { return s.region }

// BeginCall gives the collective of the phase the hierarchical call's
// signature (collectives.CallConn), or the mismatch this rank has learned
// of since the call began.
func (s *hostConn) BeginCall(collectives.Signature) (collectives.Signature, error) {
	return s.k.sig(), s.k.CheckCall()
}

// CheckCall reports a mismatch learned since the call began.
func (s *hostConn) CheckCall() error { return s.k.CheckCall() }

// fixedNumber reports whether T is a number of fixed size, which
// collectives.Allreduce moves through shared memory.
func fixedNumber[T any]() bool {
	switch collectives.ElemOf[T]().Kind.Reflect() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	}
	return false
}

// rawCodec reports whether codec moves slices as their own bytes, as
// collectives needs to reduce them in shared memory.
func rawCodec[T any](codec collectives.Codec[T]) bool {
	r, ok := codec.(collectives.RawCodec)
	return ok && r.Raw()
}

// allreduceShared is allreducePhases through the host's shared memory:
// every rank of a host gets the host's part (an Allreduce in the arena,
// in rank order), its lowest rank allreduces the parts across hosts, and
// broadcasts the result in the arena.
func allreduceShared[T any](k *collConn, h *hierarchy, up *hostConn, codec collectives.Codec[T], v T, op collectives.Op[T]) (T, error) {
	part, err := collectives.Allreduce(up, codec, v, op)
	if err != nil {
		return part, err
	}
	if across := h.across(k, h.reps(-1)); across != nil {
		if part, err = collectives.Allreduce(across, codec, part, op); err != nil {
			return part, err
		}
	}
	return collectives.Bcast(h.shared(k, phaseDown), codec, part, 0)
}

// allreduceSliceShared is the data of hierAllreduceSlice through the
// host's shared memory, into out when into is set (of v's length, agreed
// on every rank; it may be v), else into a new slice, which the host's
// allreduce in the arena makes without clearing it first: each host's
// ranks allreduce v in the arena, the hosts' lowest ranks allreduce the
// result across hosts, and broadcast it in the arena.
func allreduceSliceShared[E any](k *collConn, h *hierarchy, up *hostConn, codec collectives.Codec[[]E], v, out []E, into bool, op collectives.Op[E]) ([]E, error) {
	var err error
	if into {
		err = collectives.AllreduceSliceInto(up, codec, v, out, op)
	} else {
		out, err = collectives.AllreduceSlice(up, codec, v, op)
	}
	if err != nil {
		return nil, err
	}
	if across := h.across(k, h.reps(-1)); across != nil {
		if err := collectives.AllreduceSliceInto(across, codec, out, out, op); err != nil {
			return nil, err
		}
	}
	return out, collectives.BcastInto(h.shared(k, phaseDown), codec, out, 0)
}

// agreeLengths is hierAllreduceSlice's agreement on lengths: {min
// length, max length, any bad out} of every rank, an element-wise maximum
// of {n, -n, badOut}. Each host's phases go through its shared memory
// where it has some (up, not nil), by messages where not; the phase across
// hosts is the same either way, so hosts with and without shared memory
// (one with a single rank) agree.
func agreeLengths(k *collConn, h *hierarchy, up *hostConn, n, badOut int) ([3]int, error) {
	buf := []int64{int64(n), -int64(n), int64(badOut)}
	codec := sliceCodec[int64]()
	op := collectives.Op[int64]{Fn: func(a, b int64) int64 { return max(a, b) }, Commutative: true}
	var err error
	if up != nil {
		err = collectives.AllreduceSliceInto(up, codec, buf, buf, op)
	} else {
		var part []int64
		if part, err = collectives.ReduceSlice(h.local(k, phaseUp), codec, buf, op, 0); part != nil {
			buf = part
		}
	}
	if err != nil {
		return [3]int{}, err
	}
	if across := h.across(k, h.reps(-1)); across != nil {
		if err := collectives.AllreduceSliceInto(across, codec, buf, buf, op); err != nil {
			return [3]int{}, err
		}
	}
	if up != nil {
		err = collectives.BcastInto(h.shared(k, phaseDown), codec, buf, 0)
	} else {
		err = collectives.BcastInto(h.local(k, phaseDown), codec, buf, 0)
	}
	if err != nil {
		return [3]int{}, err
	}
	return [3]int{int(-buf[1]), int(buf[0]), int(buf[2])}, nil
}
