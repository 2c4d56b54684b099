package collectives

import (
	"errors"
	"math"
	"testing"
)

func TestBinomialTreeCoversEveryRankOnce(t *testing.T) {
	for p := 1; p <= 40; p++ {
		seen := make([]int, p)
		for v := range p {
			size := 1
			for _, kid := range binomialChildren(v, p) {
				if kid <= v || kid >= p || binomialParent(kid) != v {
					t.Fatalf("p=%d: child %d of %d has parent %d", p, kid, v, binomialParent(kid))
				}
				seen[kid]++
				size += subtreeSize(kid, p)
			}
			if size != subtreeSize(v, p) {
				t.Fatalf("p=%d: subtree of %d: children account for %d, size says %d", p, v, size, subtreeSize(v, p))
			}
		}
		for v := 1; v < p; v++ {
			if seen[v] != 1 {
				t.Fatalf("p=%d: rank %d is a child %d times", p, v, seen[v])
			}
		}
	}
}

func TestFoldIsOrderPreserving(t *testing.T) {
	for p := 1; p <= 40; p++ {
		f := newFold(p)
		if f.pof2 > p || 2*f.pof2 <= p {
			t.Fatalf("p=%d: pof2 %d", p, f.pof2)
		}
		next := 0
		for n := range f.pof2 {
			old := f.oldRank(n)
			if f.sitsOut(old) || f.newRank(old) != n || f.blockLow(n) != next {
				t.Fatalf("p=%d: new rank %d -> old %d (block from %d, want %d)", p, n, old, f.blockLow(n), next)
			}
			next = old + 1
		}
		if next != p {
			t.Fatalf("p=%d: blocks end at %d", p, next)
		}
	}
}

func TestPartBounds(t *testing.T) {
	for n := 0; n < 30; n++ {
		for parts := 1; parts < 12; parts++ {
			prev, prevLen := 0, n+1
			for i := range parts {
				lo, hi := partBounds(n, parts, i)
				if lo != prev || hi-lo > prevLen || hi-lo < n/parts {
					t.Fatalf("n=%d parts=%d: part %d = [%d,%d)", n, parts, i, lo, hi)
				}
				prev, prevLen = hi, hi-lo
			}
			if prev != n {
				t.Fatalf("n=%d parts=%d: parts end at %d", n, parts, prev)
			}
		}
	}
}

func TestMalformedMessagesAreRejected(t *testing.T) {
	for _, bad := range [][]byte{
		nil,
		make([]byte, headerLen-1),
		append([]byte{9}, make([]byte, headerLen-1)...),                  // unknown status
		frame(header{status: statusFailed, count: 100}, []byte("short")), // text length lies
	} {
		if _, _, _, err := parseFrame(bad); !errors.Is(err, ErrProtocol) {
			t.Errorf("parseFrame(%x) = %v, want ErrProtocol", bad, err)
		}
	}
	good := bundle(header{}, [][]byte{[]byte("ab"), nil, []byte("cde")})
	h, body, f, err := parseFrame(good)
	if err != nil || f != nil {
		t.Fatal(err, f)
	}
	parts, err := unbundle(h, body, 3)
	if err != nil || string(parts[0]) != "ab" || len(parts[1]) != 0 || string(parts[2]) != "cde" {
		t.Fatalf("unbundle = %q, %v", parts, err)
	}
	if _, err := unbundle(h, body, 2); !errors.Is(err, ErrProtocol) {
		t.Errorf("wrong part count accepted: %v", err)
	}
	lying := append([]byte(nil), good...)
	lying[headerLen] = 0xff // first length: far more than the bundle holds
	h, body, _, _ = parseFrame(lying)
	if _, err := unbundle(h, body, 3); !errors.Is(err, ErrProtocol) {
		t.Errorf("lying length accepted: %v", err)
	}
	if _, err := unbundle(header{count: 1 << 40}, nil, math.MaxInt); !errors.Is(err, ErrProtocol) {
		t.Errorf("huge count accepted: %v", err)
	}
}

func TestFailureFrameRoundTrip(t *testing.T) {
	local := localFailure(3, errors.Join(ErrLengthMismatch, errors.New("rank 3 has 5 elements")))
	_, _, f, err := parseFrame(failureFrame(local))
	if err != nil || f == nil {
		t.Fatal(err, f)
	}
	got := f.err()
	var re *RemoteError
	if !errors.As(got, &re) || re.Rank != 3 || !errors.Is(got, ErrLengthMismatch) || !errors.Is(got, ErrPeerFailed) {
		t.Fatalf("remote error %v", got)
	}
	if local.err() == got || !errors.Is(local.err(), ErrLengthMismatch) {
		t.Fatalf("local error %v", local.err())
	}
}
