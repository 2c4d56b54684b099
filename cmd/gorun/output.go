package main

import (
	"bytes"
	"io"
	"strconv"
	"sync"
)

// maxLine is the longest line kept whole. A longer line is cut into pieces
// of maxLine bytes, each ended with a newline, so that it still never
// interleaves with another rank's output.
const maxLine = 16 << 20

// readChunk is how much a forwarder asks of a pipe at once.
const readChunk = 64 << 10

// stream is one of gorun's output streams (stdout or stderr), shared by all
// ranks: each write is one or more whole lines, made under the mutex, so
// lines from different ranks never mix.
type stream struct {
	mu     sync.Mutex
	w      io.Writer
	err    error       // first write error; later writes are dropped
	broken func(error) // told once about that first error; may be nil
}

func newStream(w io.Writer, broken func(error)) *stream {
	return &stream{w: w, broken: broken}
}

// write writes the parts, together whole lines, in one Write, with no other
// writer's bytes between them.
func (s *stream) write(parts ...[]byte) {
	p := parts[0]
	if len(parts) > 1 {
		p = bytes.Join(parts, nil)
	}
	if len(p) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if _, err := s.w.Write(p); err != nil {
		s.err = err
		if s.broken != nil {
			go s.broken(err)
		}
	}
}

// line writes one of gorun's own lines; text has no newline.
func (s *stream) line(text string) {
	s.write([]byte(text + "\n"))
}

// forward copies r to s line by line until r ends, prefixing each line with
// prefix (may be empty). A final line without a newline is given one.
func forward(r io.Reader, s *stream, prefix []byte) {
	buf := make([]byte, 0, readChunk)
	var out []byte // reused for prefixed copies
	// emit writes lines; unended says its last line lacks its newline.
	emit := func(lines []byte, unended bool) {
		if len(prefix) == 0 {
			if unended {
				s.write(lines, []byte{'\n'})
			} else {
				s.write(lines)
			}
			return
		}
		out = out[:0]
		for len(lines) > 0 {
			i := bytes.IndexByte(lines, '\n')
			if i < 0 {
				i = len(lines) - 1
			}
			out = append(out, prefix...)
			out = append(out, lines[:i+1]...)
			lines = lines[i+1:]
		}
		if unended {
			out = append(out, '\n')
		}
		s.write(out)
	}
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxLine {
				// One line filled the largest buffer: cut it here.
				emit(buf, true)
				buf = buf[:0]
			} else {
				grown := make([]byte, len(buf), min(2*cap(buf), maxLine))
				copy(grown, buf)
				buf = grown
			}
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if i := bytes.LastIndexByte(buf[len(buf)-n:], '\n'); i >= 0 {
			end := len(buf) - n + i + 1
			emit(buf[:end], false)
			rest := copy(buf, buf[end:])
			buf = buf[:rest]
			if cap(buf) > readChunk && rest < readChunk {
				// Give back the memory a long line needed.
				small := make([]byte, rest, readChunk)
				copy(small, buf)
				buf = small
			}
		}
		if err != nil {
			if len(buf) > 0 {
				emit(buf, true)
			}
			return
		}
	}
}

// rankPrefix is the --tag-output prefix of a rank's lines.
func rankPrefix(rank int) []byte {
	return []byte("[" + strconv.Itoa(rank) + "] ")
}
