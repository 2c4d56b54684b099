package natsd

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The launcher and gorun-natsd talk over the helper's standard input and
// output. The launcher writes the Config as one JSON object (secrets never
// go on a command line, which other users can read) and keeps the pipe
// open: its end, closed or by the launcher's death, stops the server. The
// helper answers with one JSON line, a Ready: the port it listens on, or
// why it could not start.

// Ready is gorun-natsd's one line of output.
type Ready struct {
	Port  int    `json:"port,omitempty"`
	Error string `json:"error,omitempty"`
}

// maxConfig bounds the configuration a helper reads: a few users' names,
// passwords and prefixes.
const maxConfig = 1 << 20

// ReadConfig reads the Config the launcher wrote to r.
func ReadConfig(r io.Reader) (Config, error) {
	var cfg Config
	dec := json.NewDecoder(io.LimitReader(r, maxConfig))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("reading the configuration on standard input: %w", err)
	}
	if len(cfg.Users) == 0 {
		return Config{}, errors.New("the configuration names no user")
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return Config{}, fmt.Errorf("port %d: want 0 (a free one) to 65535", cfg.Port)
	}
	return cfg, nil
}

// WriteReady writes the helper's one line: the port, or err.
func WriteReady(w io.Writer, port int, err error) error {
	r := Ready{Port: port}
	if err != nil {
		r = Ready{Error: err.Error()}
	}
	b, merr := json.Marshal(r)
	if merr != nil {
		return merr
	}
	_, werr := w.Write(append(b, '\n'))
	return werr
}

// readReady reads the helper's line from r.
func readReady(r io.Reader) (Ready, error) {
	line, err := bufio.NewReader(io.LimitReader(r, maxConfig)).ReadBytes('\n')
	if err != nil {
		return Ready{}, err
	}
	var ready Ready
	if err := json.Unmarshal(line, &ready); err != nil {
		return Ready{}, fmt.Errorf("unreadable answer %q: %w", line, err)
	}
	if ready.Error == "" && (ready.Port <= 0 || ready.Port > 65535) {
		return Ready{}, fmt.Errorf("answer %q names no port", line)
	}
	return ready, nil
}
