package ranks

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// mpiAPI is the package whose calls a hung rank is reported blocked in,
// unless Limits.API names another.
const mpiAPI = "github.com/gorun-mpi/gorun/mpi."

// goroutineID is the calling goroutine's number, as stack traces show it.
func goroutineID() int64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		id, _ := strconv.ParseInt(string(b[:i]), 10, 64)
		return id
	}
	return 0
}

// allStacks is every goroutine's stack trace.
func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// frame is one function of a stack trace and where it was executing.
type frame struct{ fn, at string }

// describeBlocked says what goroutine id was doing in stacks: the outermost
// call of package api it was in (the call the rank's code made) and where that call
// was made, or the innermost function outside the runtime, with the
// goroutine's state; and the goroutine's whole trace.
func describeBlocked(stacks string, id int64, api string) (call, trace string) {
	header := fmt.Sprintf("goroutine %d [", id)
	for _, block := range strings.Split(stacks, "\n\n") {
		if !strings.HasPrefix(block, header) {
			continue
		}
		lines := strings.Split(block, "\n")
		state, _, _ := strings.Cut(strings.TrimPrefix(lines[0], header), "]")
		var frames []frame
		for i := 1; i+1 < len(lines); i += 2 {
			at, _, _ := strings.Cut(strings.TrimSpace(lines[i+1]), " +0x")
			frames = append(frames, frame{fn: lines[i], at: at})
		}
		return fmt.Sprintf("%s (%s)", blockedCall(frames, api), state), block
	}
	return "an unknown call (its goroutine is not in the stack traces)", ""
}

// blockedCall names the call of package api among frames (innermost
// first) that the rank's own code made, with the place of the call; without
// one, the innermost frame outside the Go runtime.
func blockedCall(frames []frame, api string) string {
	inAPI := func(f frame) bool {
		file := f.at
		if i := strings.LastIndexByte(file, ':'); i >= 0 {
			file = file[:i]
		}
		return strings.HasPrefix(f.fn, api) && !strings.HasSuffix(file, "_test.go")
	}
	for i, f := range frames {
		if !inAPI(f) {
			continue
		}
		for i+1 < len(frames) && inAPI(frames[i+1]) {
			i++
		}
		call := funcName(frames[i].fn)
		if i+1 < len(frames) {
			return fmt.Sprintf("%s called at %s", call, frames[i+1].at)
		}
		return call
	}
	for _, f := range frames {
		if !strings.HasPrefix(f.fn, "runtime.") && !strings.HasPrefix(f.fn, "sync.") && !strings.HasPrefix(f.fn, "internal/") {
			return fmt.Sprintf("%s at %s", funcName(f.fn), f.at)
		}
	}
	return "the Go runtime"
}

// funcName is a trace line's function without its arguments and with its
// package path shortened to the package name:
// "github.com/x/mpi.(*Comm).Recv(0xc0, ...)" -> "mpi.(*Comm).Recv".
func funcName(line string) string {
	if strings.HasSuffix(line, ")") {
		if i := strings.LastIndexByte(line, '('); i > 0 {
			line = line[:i]
		}
	}
	if i := strings.LastIndexByte(line, '/'); i >= 0 {
		line = line[i+1:]
	}
	return line
}
