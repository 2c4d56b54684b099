// Package control is the channel between a rank and the gorun launcher: one
// Unix socket connection per rank, carrying newline-delimited JSON messages
// from the rank (hello, finalized, abort, blocked, running, confirmed) and,
// the other way, the launcher's questions (confirm). A rank that reads EOF
// on the connection knows the launcher is gone and exits, so no rank
// outlives its job.
package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// Message types sent by a rank.
const (
	TypeHello     = "hello"     // first message: Rank, PID, Secret
	TypeFinalized = "finalized" // the rank called mpi.Finalize
	TypeAbort     = "abort"     // the rank called mpi.Abort: Code, Reason
	TypeBlocked   = "blocked"   // the rank sleeps in a blocking call: Op, Sent, Received
	TypeRunning   = "running"   // the rank woke up from the call it reported blocked
	TypeConfirmed = "confirmed" // the answer to a confirm: Round, and OK when still blocked as reported
)

// TypeConfirm is the launcher's question to a rank that reported itself
// blocked: is it still blocked, continuously since its last report, in the
// same calls, with the same frame counters and nothing in progress? A job
// is declared deadlocked only when every live rank answers yes to one round
// (Round) of these: each rank was then blocked at the moment the launcher
// asked, with no frame in flight, which is a fact rather than a guess.
const TypeConfirm = "confirm"

// Message is one line of the control protocol.
type Message struct {
	Type   string `json:"type"`
	Rank   int    `json:"rank,omitempty"`
	PID    int    `json:"pid,omitempty"`
	Secret string `json:"secret,omitempty"`
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Op describes the blocking call, e.g. "Recv(source 1, tag 0)".
	Op string `json:"op,omitempty"`
	// Sent[j] and Received[j] count the frames this rank sent to and
	// received from world rank j, when it reported itself blocked. The
	// launcher calls a job deadlocked only when every live rank is blocked
	// and every frame sent has been received.
	Sent     []uint64 `json:"sent,omitempty"`
	Received []uint64 `json:"received,omitempty"`
	// Round numbers a confirm and its answer; OK is the answer.
	Round uint64 `json:"round,omitempty"`
	OK    bool   `json:"ok,omitempty"`
	// Waits details the calls of a blocked report, and Unmatched the
	// messages that arrived at the rank and wait for a receive (the first
	// few), so that gorun can explain a deadlock.
	Waits     []Wait      `json:"waits,omitempty"`
	Unmatched []Unmatched `json:"unmatched,omitempty"`
	// Clock, Trace and Dropped carry gorun --trace (see trace.go).
	Clock   int64  `json:"clock,omitempty"`
	Host    string `json:"host,omitempty"`
	Trace   []byte `json:"trace,omitempty"` // records, as trace.AppendRecord writes them
	Dropped uint64 `json:"dropped,omitempty"`
}

// Peer values of a Wait that name no single rank.
const (
	AnyPeer  = -1 // a receive from any source
	AllPeers = -2 // a collective waiting in shared memory, for whichever ranks lag
)

// Wait is one call a blocked rank sleeps in.
type Wait struct {
	Call string `json:"call"`           // as reported, e.g. "Recv(source 1, tag 5)"
	Op   string `json:"op"`             // the call's name: Recv, Send, Ssend, Probe, Wait, Bcast, ...
	Peer int    `json:"peer"`           // world rank waited for, or AnyPeer, AllPeers
	Tag  int    `json:"tag"`            // tag as called (-1: any), for point-to-point calls
	Comm uint32 `json:"comm"`           // the communicator's context
	Recv bool   `json:"recv,omitempty"` // waits for a message to arrive (not for a send to match)
}

// Unmatched is a message that arrived at a rank and that no receive took.
type Unmatched struct {
	Source int    `json:"source"` // world rank
	Tag    int    `json:"tag"`
	Comm   uint32 `json:"comm"`
}

// Client is a rank's end of the control channel. Its methods are safe for
// concurrent use.
type Client struct {
	mu   sync.Mutex
	conn net.Conn
	enc  *json.Encoder
}

// Dial connects to the launcher at path and introduces the rank.
func Dial(path string, rank int, secret string) (*Client, error) {
	conn, err := net.DialTimeout("unix", path, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("control: cannot reach the gorun launcher at %s: %w", path, err)
	}
	c := &Client{conn: conn, enc: json.NewEncoder(conn)}
	if err := c.Send(Message{Type: TypeHello, Rank: rank, PID: os.Getpid(), Secret: secret}); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Send writes one message.
func (c *Client) Send(m Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.enc.Encode(m); err != nil {
		return fmt.Errorf("control: cannot write to the gorun launcher: %w", err)
	}
	return nil
}

// WatchLauncher reads what the launcher sends, on a goroutine of its own:
// it calls handle for each message, in order, and gone (once) when the
// launcher's end of the connection closes: the launcher died or was
// killed. handle may be nil (messages are then dropped).
func (c *Client) WatchLauncher(handle func(Message), gone func()) {
	go func() {
		r := NewReader(c.conn)
		for {
			m, err := r.Next()
			if err != nil {
				break
			}
			if handle != nil {
				handle(m)
			}
		}
		gone()
	}()
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// MaxMessage is the longest line a Reader takes: far more than any
// message gorun or a rank writes (a blocked report of a 10,000-rank job is
// under 1 MiB), so a peer that sends an endless line is refused rather
// than held in memory.
const MaxMessage = 4 << 20

// ErrTooLong reports a line longer than MaxMessage.
var ErrTooLong = errors.New("control: message too long")

// Reader decodes the messages of one connection: one JSON object per line.
type Reader struct {
	br   *bufio.Reader
	line []byte
}

// NewReader reads messages from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 16<<10)}
}

// Next returns the next message, or io.EOF when the peer closed the
// connection. A line longer than MaxMessage fails with ErrTooLong, a line
// that is not one JSON object with an error naming what is wrong; the
// connection is then no longer usable.
func (r *Reader) Next() (Message, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return Message{}, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var m Message
		if err := json.Unmarshal(line, &m); err != nil {
			return Message{}, fmt.Errorf("control: malformed message: %w", err)
		}
		return m, nil
	}
}

// readLine returns the next line, without holding more than MaxMessage.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.line)+len(chunk) > MaxMessage {
			return nil, fmt.Errorf("%w: a line of more than %d bytes", ErrTooLong, MaxMessage)
		}
		r.line = append(r.line, chunk...)
		switch {
		case err == nil:
			return r.line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(bytes.TrimSpace(r.line)) > 0:
			return nil, fmt.Errorf("control: connection ended mid-message: %w", io.ErrUnexpectedEOF)
		default:
			return nil, err
		}
	}
}
