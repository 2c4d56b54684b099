package mpi

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// msgCodec is a msgpack encoder and decoder with the buffers they work in,
// kept by the engine (engine.codec) so that sending and receiving a small
// value that is not a numeric slice (an int, a struct) allocates nothing
// for its encoding: msgpack.Marshal makes a buffer per call and
// msgpack.Unmarshal a reader. The bytes are the same as theirs.
type msgCodec struct {
	buf bytes.Buffer
	enc *msgpack.Encoder
	rd  bytes.Reader
	dec *msgpack.Decoder
}

// codec returns a msgCodec of e's, a new one when none is spare.
func (e *engine) codec() *msgCodec {
	if mc, ok := e.codecs.Get().(*msgCodec); ok {
		return mc
	}
	mc := &msgCodec{}
	mc.enc = msgpack.NewEncoder(&mc.buf)
	mc.dec = msgpack.NewDecoder(&mc.rd)
	return mc
}

// recycleCodec hands back mc once nothing refers to the bytes it encoded:
// a blocking send that succeeded has sent them (every transport copies an
// eager payload before Send returns, and a rendezvous body has gone by
// then). A large buffer is dropped rather than kept.
func (e *engine) recycleCodec(mc *msgCodec) {
	if mc.buf.Cap() > 64<<10 {
		return
	}
	mc.buf.Reset()
	e.codecs.Put(mc)
}

// encode is encodeValue whose msgpack bytes (descriptor and body, one
// after the other) are written into a msgCodec's buffer, returned as mc;
// mc is nil for a numeric slice (its body is its memory). The caller hands
// mc back with recycleCodec once the bytes are sent, or drops it.
func (e *engine) encode(v any) (desc, body []byte, mc *msgCodec, err error) {
	if b, ok := v.([]byte); ok {
		// The commonest message first, without rawBytes' other cases.
		return rawDesc(reflect.Uint8, b == nil), b, nil, nil
	}
	if b, kind, isNil, ok := rawBytes(v); ok {
		return rawDesc(kind, isNil), b, nil, nil
	}
	mc = e.codec()
	name := typeName(v)
	if len(name) > 255 {
		name = name[:255]
	}
	mc.buf.Reset()
	mc.buf.WriteByte(fmtMsgpack)
	mc.buf.WriteByte(byte(len(name)))
	mc.buf.WriteString(name)
	n := mc.buf.Len()
	mc.enc.Reset(&mc.buf)
	if err := mc.enc.Encode(detached(v)); err != nil {
		e.recycleCodec(mc)
		return nil, nil, nil, fmt.Errorf("%w %s: %w", ErrEncode, typeName(v), err)
	}
	b := mc.buf.Bytes()
	return b[:n:n], b[n:], mc, nil
}

// unmarshal is msgpack.Unmarshal through mc's decoder.
func (mc *msgCodec) unmarshal(body []byte, ptr any) error {
	mc.rd.Reset(body)
	mc.dec.Reset(&mc.rd)
	mc.dec.UsePreallocateValues(true)
	err := mc.dec.Decode(ptr)
	mc.rd.Reset(nil)
	return err
}
