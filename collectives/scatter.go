package collectives

import (
	"fmt"
)

// scatterTag is the one tag Scatter uses.
const scatterTag = 0

// Scatter sends parts[i] from root to rank i and returns this rank's part;
// the root gets parts[root] itself. Only the root's parts are read; they must
// number Size, or every rank gets an error wrapping ErrParts. By default a
// binomial tree carries bundles of the parts for each subtree (log2 p steps
// for the root); GORUN_COLL_SCATTER=linear sends each part straight from the
// root instead.
func Scatter[T any](c Conn, codec Codec[T], parts []T, root int) (T, error) {
	return scatter(c, codec, parts, root, nil, -1)
}

// scatter is Scatter with this rank's failure own (the root's reaches every
// rank) and the length count every rank's part must have (-1: any).
func scatter[T any](c Conn, codec Codec[T], parts []T, root int, own *failure, count int) (T, error) {
	var zero T
	p, me := c.Size(), c.Rank()
	if err := checkRoot(c, root); err != nil {
		return zero, err
	}
	alg, err := choose("Scatter", p, 0)
	if err != nil {
		return zero, err
	}
	if _, err := begin(c, Signature{Call: Call{Kind: KindScatter}, Root: root, Elem: ElemOf[T](), Count: count}); err != nil {
		return zero, err
	}
	if me == root {
		return scatterRoot(c, codec, parts, root, alg, own)
	}
	from := root
	vr := toVirtual(me, root, p)
	if alg == algBinomial {
		from = fromVirtual(binomialParent(vr), root, p)
	}
	got, err := c.Recv(from, scatterTag)
	if err != nil {
		return zero, err
	}
	h, body, f := readFrame(me, got)
	if f == nil && algorithm(h.alg) != alg {
		f = localFailure(me, failf(ErrAlgorithm, "rank %d scattered by %s, this rank expected %s", root, algorithm(h.alg), alg))
	}
	var mine []byte
	if alg == algBinomial {
		var bundles [][]byte
		if f == nil {
			var parts [][]byte
			parts, err = unbundle(h, body, subtreeSize(vr, p))
			if err != nil {
				f = localFailure(me, err)
			} else {
				mine, bundles = parts[0], subtreeBundles(h, parts, vr, p)
			}
		}
		if err := sendBundles(c, vr, root, bundles, f); err != nil {
			return zero, err
		}
	} else if f == nil {
		mine = body
	}
	if f != nil {
		return zero, f.err()
	}
	v, err := codec.Decode(mine)
	if err != nil {
		return zero, fmt.Errorf("decoding this rank's part: %w", err)
	}
	return v, nil
}

func scatterRoot[T any](c Conn, codec Codec[T], parts []T, root int, alg algorithm, own *failure) (T, error) {
	var zero T
	p, me := c.Size(), c.Rank()
	f := own
	enc := make([][]byte, p) // by virtual rank
	switch {
	case f != nil:
	case len(parts) != p:
		f = localFailure(me, failf(ErrParts, "%d parts for %d ranks", len(parts), p))
	default:
		for i := range enc {
			b, err := codec.Encode(parts[fromVirtual(i, root, p)])
			if err != nil {
				f = localFailure(me, fmt.Errorf("encoding the part for rank %d: %w", fromVirtual(i, root, p), err))
				break
			}
			enc[i] = b
		}
	}
	h := header{alg: byte(alg), rank: uint32(root)}
	if alg == algBinomial {
		var bundles [][]byte
		if f == nil {
			bundles = subtreeBundles(h, enc, 0, p)
		}
		if err := sendBundles(c, 0, root, bundles, f); err != nil {
			return zero, err
		}
	} else {
		for i := 1; i < p; i++ {
			msg := []byte(nil)
			if f != nil {
				msg = failureFrame(f)
			} else {
				msg = frame(h, enc[i])
			}
			if err := c.Send(msg, fromVirtual(i, root, p), scatterTag); err != nil {
				return zero, err
			}
		}
	}
	if f != nil {
		return zero, f.err()
	}
	return parts[root], nil
}

// subtreeBundles cuts parts (those of virtual ranks vr, vr+1, ...) into one
// bundle per child of vr, in binomialChildren order.
func subtreeBundles(h header, parts [][]byte, vr, p int) [][]byte {
	kids := binomialChildren(vr, p)
	out := make([][]byte, len(kids))
	for i, kid := range kids {
		lo := kid - vr
		out[i] = bundle(h, parts[lo:lo+subtreeSize(kid, p)])
	}
	return out
}

// sendBundles sends each child of vr its bundle, or the failure f instead.
func sendBundles(c Conn, vr, root int, bundles [][]byte, f *failure) error {
	p := c.Size()
	for i, kid := range binomialChildren(vr, p) {
		msg := []byte(nil)
		if f != nil {
			msg = failureFrame(f)
		} else {
			msg = bundles[i]
		}
		if err := c.Send(msg, fromVirtual(kid, root, p), scatterTag); err != nil {
			return err
		}
	}
	return nil
}
