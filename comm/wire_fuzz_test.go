package comm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"

	"github.com/nats-io/nats.go"
)

// fuzzMaxFrame is the frame limit the wire fuzzers configure: small, so
// that a frame within the limit is cheap to allocate, and a claim beyond it
// easy to produce.
const fuzzMaxFrame = 1 << 16

// allocated returns the bytes this process has allocated so far.
func allocated() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// recorder is a Handler that records what it is given.
type recorder struct {
	frames []Frame
	gone   map[int]error
	// goneBefore[i] is true when frame i arrived after its source was gone.
	lateFrame bool
}

func (r *recorder) Deliver(f Frame) {
	if _, gone := r.gone[int(f.Source)]; gone {
		r.lateFrame = true
	}
	r.frames = append(r.frames, f)
}

func (r *recorder) PeerGone(rank int, err error) {
	if r.gone == nil {
		r.gone = make(map[int]error)
	}
	if _, again := r.gone[rank]; again {
		r.gone[rank] = errors.New("PeerGone called twice")
		return
	}
	r.gone[rank] = err
}

// provider is a recorder that supplies rendezvous bodies (BufferProvider),
// as the mpi layer does.
type provider struct{ recorder }

func (p *provider) BufferFor(h Header, length int) []byte {
	if length > fuzzMaxFrame {
		return nil
	}
	return make([]byte, length)
}

// frameBytes is a Unix-transport frame: header and payload.
func frameBytes(h Header, payload []byte) []byte {
	b := make([]byte, frameHeaderLen, frameHeaderLen+len(payload))
	encodeHeader(b, &h, len(payload))
	return append(b, payload...)
}

// unixStreamSeeds are streams a rank may read on a connection: valid
// frames of every kind, then hostile ones.
func unixStreamSeeds() [][]byte {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	eager := frameBytes(Header{Kind: tkEager, Context: 1, Tag: 3, Seq: 1}, []byte("hello"))
	rts := frameBytes(Header{Kind: tkRTS, Tag: 4, Seq: 2}, []byte{2, 8, 0, 0, 0, 0, 0, 0})
	big := frameBytes(Header{Kind: tkData, Seq: 2}, bytes.Repeat([]byte{7}, 20000))
	bye := frameBytes(Header{Kind: unixGoodbye}, nil)
	lie := frameBytes(Header{Kind: tkEager}, nil)
	binary.LittleEndian.PutUint64(lie[24:], 1<<40) // 1 TiB claimed
	short := frameBytes(Header{Kind: tkEager}, []byte("abc"))
	binary.LittleEndian.PutUint64(short[24:], 100) // truncated payload
	return [][]byte{
		cat(eager, rts, big, bye),
		cat(eager, eager, frameBytes(Header{Kind: tkCTS, Seq: 9}, nil), frameBytes(Header{Kind: tkRTS, Seq: 5}, make([]byte, 24))),
		cat(eager, lie),
		cat(short),
		cat(eager[:30]),
		cat(eager, []byte{0xff, 1, 2, 3}, make([]byte, 28)),
		cat(frameBytes(Header{Kind: FirstReservedKind}, nil), frameBytes(Header{Kind: tkControl, Tag: -1}, []byte{1})),
	}
}

// FuzzUnixFrameHeader: decodeHeader accepts exactly the headers
// encodeHeader writes (decoding then encoding gives the same bytes back),
// never a payload length beyond the limit.
func FuzzUnixFrameHeader(f *testing.F) {
	for _, s := range unixStreamSeeds() {
		if len(s) >= frameHeaderLen {
			f.Add(s[:frameHeaderLen])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < frameHeaderLen {
			return
		}
		h, n, err := decodeHeader(b, 1, fuzzMaxFrame)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("decodeHeader: %v, neither ErrBadFrame nor ErrFrameTooLarge", err)
			}
			return
		}
		if n > fuzzMaxFrame {
			t.Fatalf("decodeHeader accepted a %d-byte payload, limit %d", n, fuzzMaxFrame)
		}
		var again [frameHeaderLen]byte
		encodeHeader(again[:], &h, int(n))
		if !bytes.Equal(again[:], b[:frameHeaderLen]) {
			t.Fatalf("decode then encode:\n got % x\nwant % x", again, b[:frameHeaderLen])
		}
	})
}

// FuzzUnixStream feeds a byte stream to a connection's reader (inConn) as a
// peer would send it, in writes of chunk bytes, through a socket pair, with
// a read buffer of 40+bufExtra bytes. The frames delivered must be those
// the stream holds, in order, up to the first bad frame, truncation or
// goodbye; PeerGone comes exactly once, with ErrPeerFinished only after a
// goodbye; the reader never hangs, and never allocates beyond the frame
// limit whatever a length field claims.
func FuzzUnixStream(f *testing.F) {
	for i, s := range unixStreamSeeds() {
		f.Add(s, uint16(1+i*997), uint16(i*300), i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, stream []byte, chunk, bufExtra uint16, provide bool) {
		if len(stream) > 1<<20 {
			return
		}
		var rec *recorder
		var h Handler
		if provide {
			p := &provider{}
			rec, h = &p.recorder, p
		} else {
			rec = &recorder{}
			h = rec
		}
		before := allocated()
		readStream(t, h, stream, max(1, int(chunk)), frameHeaderLen+int(bufExtra)%(readBufferLen-frameHeaderLen+1))
		if grew := allocated() - before; grew > fuzzMaxFrame+4*uint64(len(stream))+1<<20 {
			t.Fatalf("reading a %d-byte stream allocated %d bytes", len(stream), grew)
		}
		want, finished := parseStream(stream)
		if len(rec.frames) != len(want) {
			t.Fatalf("delivered %d frames, the stream holds %d", len(rec.frames), len(want))
		}
		for i, got := range rec.frames {
			w := want[i]
			if got.Header != w.Header || !bytes.Equal(got.Payload, w.Payload) {
				t.Fatalf("frame %d: got %+v (%d bytes), want %+v (%d bytes)", i, got.Header, len(got.Payload), w.Header, len(w.Payload))
			}
		}
		if rec.lateFrame {
			t.Fatal("a frame was delivered after PeerGone")
		}
		err, ok := rec.gone[1]
		if !ok || len(rec.gone) != 1 {
			t.Fatalf("PeerGone calls: %v", rec.gone)
		}
		if finished != errors.Is(err, ErrPeerFinished) || !finished && !errors.Is(err, ErrPeerLost) {
			t.Fatalf("PeerGone(%v), stream finished: %v", err, finished)
		}
	})
}

// parseStream is the reference reading of a connection's bytes: the frames
// before the first bad or truncated frame or goodbye, and whether it ended
// with a goodbye.
func parseStream(b []byte) (frames []Frame, finished bool) {
	for len(b) >= frameHeaderLen {
		h, n, err := decodeHeader(b, 1, fuzzMaxFrame)
		if err != nil {
			return frames, false
		}
		b = b[frameHeaderLen:]
		if h.Kind == unixGoodbye {
			return frames, true
		}
		if uint64(len(b)) < n {
			return frames, false
		}
		frames = append(frames, Frame{Header: h, Payload: b[:n]})
		b = b[n:]
	}
	return frames, false
}

// readStream runs an inConn of rank 0, whose peer is rank 1, over a
// non-blocking socket pair: it writes stream in chunks, reading what it can
// after each, then closes the writing end and reads to the end.
func readStream(t *testing.T, h Handler, stream []byte, chunk, bufLen int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	defer syscall.Close(fds[0])
	u := &Unix{
		cfg:     UnixConfig{Rank: 0, Size: 2, MaxFrame: fuzzMaxFrame},
		handler: h,
		in:      make([]*inConn, 2),
		gone:    make([]bool, 2),
		closing: make(chan struct{}),
	}
	ic := &inConn{u: u, src: 1, buf: make([]byte, bufLen)}
	for off := 0; off < len(stream) && !ic.ended; {
		n, err := syscall.Write(fds[1], stream[off:min(off+chunk, len(stream))])
		switch {
		case err == syscall.EAGAIN || err == syscall.EINTR:
		case err != nil:
			t.Fatalf("write: %v", err)
		default:
			off += n
		}
		ic.progress(fds[0])
	}
	syscall.Close(fds[1])
	for i := 0; !ic.ended; i++ {
		if i == 1000 {
			t.Fatal("the reader does not end after its peer closed")
		}
		ic.progress(fds[0])
	}
}

// TestUnixLyingLengthAllocatesNothing: a header claiming a 1 TiB payload is
// refused, with the default limit, before anything of its size is
// allocated.
func TestUnixLyingLengthAllocatesNothing(t *testing.T) {
	lie := frameBytes(Header{Kind: tkEager}, nil)
	binary.LittleEndian.PutUint64(lie[24:], 1<<40)
	rec := &recorder{}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	u := &Unix{cfg: UnixConfig{Rank: 0, Size: 2, MaxFrame: DefaultMaxFrame}, handler: rec, in: make([]*inConn, 2), gone: make([]bool, 2)}
	ic := &inConn{u: u, src: 1, buf: make([]byte, readBufferLen)}
	if _, err := syscall.Write(fds[1], lie); err != nil {
		t.Fatal(err)
	}
	before := allocated()
	ic.progress(fds[0])
	if grew := allocated() - before; grew > 64<<10 {
		t.Errorf("reading a header claiming 1 TiB allocated %d bytes", grew)
	}
	if !ic.ended || !errors.Is(rec.gone[1], ErrFrameTooLarge) || !errors.Is(rec.gone[1], ErrPeerLost) {
		t.Errorf("ended %v, PeerGone(%v); want ErrFrameTooLarge and ErrPeerLost", ic.ended, rec.gone[1])
	}
}

// handshakeBytes is a dialer's handshake: magic, rank, secret.
func handshakeBytes(rank uint32, secret string) []byte {
	b := []byte(handshakeMagic)
	b = binary.LittleEndian.AppendUint32(b, rank)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(secret)))
	return append(b, secret...)
}

// FuzzUnixHandshake feeds bytes to the acceptor's handshake check
// (acceptHandshake) over a socket pair. It accepts exactly a handshake with
// the magic, a rank of the job other than its own and the job's secret,
// returns ErrBadFrame otherwise, and does not wait for more once the
// dialer's end is closed.
func FuzzUnixHandshake(f *testing.F) {
	const secret = "0123456789abcdef"
	f.Add(handshakeBytes(1, secret))
	f.Add(handshakeBytes(2, secret))
	f.Add(handshakeBytes(0, secret))             // our own rank
	f.Add(handshakeBytes(3, secret))             // outside the job
	f.Add(handshakeBytes(0xffffffff, secret))    // negative as a 32-bit int
	f.Add(handshakeBytes(1, "0123456789abcdeX")) // wrong secret
	f.Add(handshakeBytes(1, secret)[:20])        // truncated secret
	long := handshakeBytes(1, "")
	long[12], long[13] = 0xff, 0xff // a secret of 65535 bytes claimed
	f.Add(long)
	f.Add([]byte("GORUNv2\x00\x01\x00\x00\x00\x00\x00")) // wrong magic
	f.Fuzz(func(t *testing.T, hello []byte) {
		if len(hello) > 64<<10 {
			return
		}
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatalf("socketpair: %v", err)
		}
		dialer, acceptor := fileConn(t, fds[0]), fileConn(t, fds[1])
		defer acceptor.Close()
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			_, _ = dialer.Write(hello)
			dialer.Close()
		}()
		u := &Unix{cfg: UnixConfig{Rank: 0, Size: 3, Secret: secret}}
		rank, ringFD, err := u.acceptHandshake(acceptor)
		if ringFD != -1 {
			t.Fatalf("acceptHandshake returned ring descriptor %d; none was passed", ringFD)
		}
		acceptor.Close() // a writer blocked on a full buffer gives up
		<-wrote
		want, ok := -1, false
		if len(hello) >= 14 && string(hello[:8]) == handshakeMagic {
			r := binary.LittleEndian.Uint32(hello[8:])
			n := int(binary.LittleEndian.Uint16(hello[12:]))
			if r >= 1 && r < 3 && len(hello) >= 14+n && string(hello[14:14+n]) == secret {
				want, ok = int(r), true
			}
		}
		if ok != (err == nil) || rank != want {
			t.Fatalf("acceptHandshake = %d, %v; want rank %d", rank, err, want)
		}
		if err != nil && !errors.Is(err, ErrBadFrame) {
			t.Fatalf("acceptHandshake: %v, not ErrBadFrame", err)
		}
	})
}

// fileConn wraps a socket descriptor in a *net.UnixConn.
func fileConn(t *testing.T, fd int) *net.UnixConn {
	t.Helper()
	file := os.NewFile(uintptr(fd), "socketpair")
	defer file.Close()
	c, err := net.FileConn(file)
	if err != nil {
		t.Fatalf("FileConn: %v", err)
	}
	return c.(*net.UnixConn)
}

// tagProvider provides the memory of frames of an even tag only, so that
// both ways of putting a chunked NATS frame back together are exercised.
type tagProvider struct{ recorder }

func (p *tagProvider) BufferFor(h Header, length int) []byte {
	if h.Tag%2 != 0 || length > fuzzMaxFrame {
		return nil
	}
	return make([]byte, length)
}

// natsFuzzConfig is the configuration of the NATS transport under fuzz:
// rank 0 of 3, with a small frame limit.
var natsFuzzConfig = NATSConfig{Rank: 0, Size: 3, JobID: "job", Secret: "secret", MaxFrame: fuzzMaxFrame, Window: 1 << 20}

// natsMessage builds a message of the NATS transport's wire format.
func natsMessage(t *NATS, typ byte, src uint32, value uint64, rest ...[]byte) []byte {
	b := make([]byte, natsCtlHeaderLen)
	copy(b, t.auth[:])
	b[16] = typ
	binary.LittleEndian.PutUint32(b[17:], src)
	binary.LittleEndian.PutUint64(b[21:], value)
	for _, r := range rest {
		b = append(b, r...)
	}
	return b
}

// natsFrameHeader is the frame header part of a msgFrame or msgFrameStart.
func natsFrameHeader(h Header) []byte {
	b := make([]byte, natsFrameHeaderLen)
	putFrameHeader(b, h)
	return b[natsCtlHeaderLen:]
}

// natsRecords encodes messages as FuzzNATSMessages reads them: each one a
// flags byte, a 16-bit big-endian length and the message without its
// authenticator (flags bit 0 set: the harness prepends the job's; bit 1:
// it also sets the pair sequence to the one expected; bit 2: the fixed
// part of the message travels in a NATS header; bit 3: the message's
// bytes are the value of that header, raw).
func natsRecords(flags byte, msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		m = m[authLen:]
		b = append(b, flags, byte(len(m)>>8), byte(len(m)))
		b = append(b, m...)
	}
	return b
}

// FuzzNATSMessages feeds a sequence of messages to the NATS transport's
// receive path (onMsg), as the server would deliver them to rank 0's inbox.
// Whatever they hold: no panic; delivered frames have a kind of the layer
// above (never one reserved for transports), a source of the job other than
// ours, and a payload within the frame limit; PeerGone comes at most once per rank and no frame of a
// rank follows it; and nothing is allocated beyond the frame limit,
// whatever a length field claims.
func FuzzNATSMessages(f *testing.F) {
	t0 := newNATS(natsFuzzConfig)
	hdr := natsFrameHeader
	total := func(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }
	eager := natsMessage(t0, msgFrame, 1, 1, hdr(Header{Kind: tkEager, Tag: 5, Seq: 1}), []byte("hi"))
	rts := natsMessage(t0, msgFrame, 2, 1, hdr(Header{Kind: tkRTS, Seq: 7}), []byte{2, 8, 0, 0, 0, 0, 0, 0})
	start := natsMessage(t0, msgFrameStart, 1, 2, hdr(Header{Kind: tkData, Seq: 7}), total(10), []byte("abcd"))
	chunk := natsMessage(t0, msgChunk, 1, 3, []byte("efghij"))
	bye := natsMessage(t0, msgGoodbye, 1, 4)
	f.Add(natsRecords(1, eager, rts, start, chunk, bye))
	f.Add(natsRecords(5, eager, rts, start, chunk, bye))                  // fixed parts in NATS headers
	f.Add(append(natsRecords(1, eager), natsRecords(9, start, chunk)...)) // headers that are not base64 of a fixed part
	f.Add(natsRecords(3, eager, eager, eager))
	f.Add(natsRecords(1, natsMessage(t0, msgAlive, 2, 0), natsMessage(t0, msgAliveAck, 1, 0), natsMessage(t0, msgCredit, 2, 1<<20)))
	f.Add(natsRecords(3, natsMessage(t0, msgFrameStart, 1, 1, hdr(Header{Kind: tkEager}), total(1<<40), []byte("x")))) // 1 TiB claimed
	f.Add(natsRecords(3, start, start))                                                                                // a start inside a frame
	f.Add(natsRecords(3, chunk))                                                                                       // a chunk of no frame
	f.Add(natsRecords(3, start, natsMessage(t0, msgChunk, 1, 3, make([]byte, 100))))                                   // a chunk past the end
	f.Add(natsRecords(3, start, bye))                                                                                  // goodbye inside a frame
	f.Add(natsRecords(3, natsMessage(t0, msgFrame, 1, 1, hdr(Header{Kind: FirstReservedKind}))))                       // a kind reserved for transports
	f.Add(natsRecords(3, natsMessage(t0, msgFrame, 1, 1, hdr(Header{Kind: 0}), []byte("?"))))                          // kind 0: carried unread
	f.Add(natsRecords(1, natsMessage(t0, msgFrame, 1, 9, hdr(Header{Kind: tkEager}))))                                 // a sequence gap
	f.Add(natsRecords(0, eager))                                                                                       // no authenticator
	f.Add(natsRecords(3, natsMessage(t0, msgFrame, 0, 1, hdr(Header{Kind: tkEager})), natsMessage(t0, msgFrame, 7, 1)))
	f.Add(natsRecords(3, natsMessage(t0, msgFrame, 1, 1, hdr(Header{Kind: tkEager}))[:40]))
	// Frames of an odd tag get no memory from the handler (tagProvider):
	// the transport makes it at their second message.
	oddStart := func(total uint64, first string) []byte {
		return natsMessage(t0, msgFrameStart, 1, 1, hdr(Header{Kind: tkData, Tag: 1}), binary.LittleEndian.AppendUint64(nil, total), []byte(first))
	}
	chunkOf := func(s string) []byte { return natsMessage(t0, msgChunk, 1, 0, []byte(s)) }
	f.Add(natsRecords(3, oddStart(10, "abcd"), chunkOf("efghij"), bye))           // two messages: the first's data appended to
	f.Add(natsRecords(3, oddStart(10, "ab"), chunkOf("cd"), chunkOf("efghij")))   // three: zeroed memory filled in
	f.Add(natsRecords(3, oddStart(6, ""), chunkOf("abcdef")))                     // an empty first message
	f.Add(natsRecords(3, oddStart(10, "abcd"), chunkOf("efghijk")))               // a second message past the end
	f.Add(natsRecords(3, oddStart(10, "abcd"), chunkOf("ef"), chunkOf("ghijkl"))) // a third past the end
	f.Add(natsRecords(3, oddStart(10, "abcd"), bye))                              // goodbye after the first
	f.Fuzz(func(t *testing.T, records []byte) {
		tr := newNATS(natsFuzzConfig)
		rec := &tagProvider{}
		tr.handler = rec
		size := len(records)
		before := allocated()
		for len(records) >= 3 {
			flags, n := records[0], int(binary.BigEndian.Uint16(records[1:]))
			records = records[3:]
			n = min(n, len(records))
			var data []byte
			if flags&1 != 0 {
				data = append(append(data, tr.auth[:]...), records[:n]...)
			} else {
				data = append(data, records[:n]...)
			}
			records = records[n:]
			if flags&2 != 0 && len(data) >= natsCtlHeaderLen {
				if src := binary.LittleEndian.Uint32(data[17:]); src < 3 && tr.peers[src] != nil {
					binary.LittleEndian.PutUint64(data[21:], tr.peers[src].expect)
				}
			}
			msg := &nats.Msg{Data: data}
			switch {
			case flags&4 != 0 && len(data) >= natsCtlHeaderLen:
				// The fixed part in the NATS header, as a large frame's
				// pieces travel.
				n := min(fixedLen(data[16]), len(data))
				msg = &nats.Msg{Header: headered(data[:n]), Data: data[n:]}
			case flags&8 != 0:
				// Whatever a header of ours may hold.
				msg.Header = nats.Header{natsHeaderKey: []string{string(data)}}
			}
			tr.onMsg(msg)
		}
		if grew := allocated() - before; grew > 2*fuzzMaxFrame+64*uint64(size)+1<<20 {
			t.Fatalf("%d bytes of messages allocated %d bytes", size, grew)
		}
		if rec.lateFrame {
			t.Fatal("a frame was delivered after its source's PeerGone")
		}
		for r, err := range rec.gone {
			if err.Error() == "PeerGone called twice" {
				t.Fatalf("PeerGone(%d) called twice", r)
			}
			if !errors.Is(err, ErrPeerFinished) && !errors.Is(err, ErrPeerLost) {
				t.Fatalf("PeerGone(%d, %v): neither ErrPeerFinished nor ErrPeerLost", r, err)
			}
		}
		for _, fr := range rec.frames {
			switch {
			case fr.Kind >= FirstReservedKind:
				t.Fatalf("delivered a frame of reserved kind %#x", fr.Kind)
			case fr.Source < 1 || fr.Source > 2:
				t.Fatalf("delivered a frame from rank %d", fr.Source)
			case len(fr.Payload) > fuzzMaxFrame:
				t.Fatalf("delivered a %d-byte payload, limit %d", len(fr.Payload), fuzzMaxFrame)
			}
		}
	})
}

// TestNATSLyingLengthAllocatesNothing: a chunked frame announcing 1 TiB is
// refused, with the default limit, before anything of its size is
// allocated.
func TestNATSLyingLengthAllocatesNothing(t *testing.T) {
	cfg := natsFuzzConfig
	cfg.MaxFrame = DefaultMaxFrame
	tr := newNATS(cfg)
	rec := &recorder{}
	tr.handler = rec
	msg := natsMessage(tr, msgFrameStart, 1, 1, natsFrameHeader(Header{Kind: tkEager}), binary.LittleEndian.AppendUint64(nil, 1<<40), []byte("x"))
	before := allocated()
	tr.onMsg(&nats.Msg{Data: msg})
	if grew := allocated() - before; grew > 64<<10 {
		t.Errorf("a message announcing 1 TiB allocated %d bytes", grew)
	}
	if !errors.Is(rec.gone[1], ErrPeerLost) || tr.fatalErr == nil || !errors.Is(tr.fatalErr, ErrFrameTooLarge) {
		t.Errorf("PeerGone(%v), fatal error %v; want ErrPeerLost after ErrFrameTooLarge", rec.gone[1], tr.fatalErr)
	}
}
