package launchtrace

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStampsAreOffUnlessAskedFor(t *testing.T) {
	var out bytes.Buffer
	for _, v := range []string{"", "0", "yes"} {
		s := New("gorun", func(string) string { return v }, &out)
		if s != nil {
			t.Errorf("%s=%q: stamps on", Env, v)
		}
		s.Mark("main") // a nil *Stamps marks nothing
		s.Markf("rank %d started", 3)
	}
	if out.Len() != 0 {
		t.Errorf("stamps off wrote %q", out.String())
	}
}

func TestMarkWritesOneTimestampedLinePerStep(t *testing.T) {
	var out bytes.Buffer
	env := func(name string) string {
		if name == Env {
			return "1"
		}
		return ""
	}
	s := New("rank 3", env, &out)
	before := time.Now().UnixMicro()
	s.Mark("Init")
	s.Markf("rank %d exit seen", 2)
	after := time.Now().UnixMicro()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %q", len(lines), out.String())
	}
	var last int64
	for i, want := range []string{"rank 3 Init", "rank 3 rank 2 exit seen"} {
		f := strings.SplitN(lines[i], " ", 3)
		if len(f) != 3 || f[0] != "launch-trace" || f[2] != want {
			t.Errorf("line %q, want launch-trace <us> %s", lines[i], want)
			continue
		}
		us, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || us < before || us > after || us < last {
			t.Errorf("line %q: stamp %s not a time in [%d, %d] after %d", lines[i], f[1], before, after, last)
		}
		last = us
	}
}

// TestMarkCPUSaysTheProcessCPUTime: the CPU time a step says grows by
// milliseconds as the process works that long.
func TestMarkCPUSaysTheProcessCPUTime(t *testing.T) {
	var out bytes.Buffer
	s := New("gorun", func(string) string { return "1" }, &out)
	cpu := func() int64 {
		out.Reset()
		s.MarkCPU("step")
		line := strings.TrimSpace(out.String())
		f := strings.Fields(line)
		if len(f) != 7 || f[3] != "step" || f[4] != "(cpu" || f[6] != "us)" {
			t.Fatalf("MarkCPU wrote %q", line)
		}
		n, err := strconv.ParseInt(f[5], 10, 64)
		if err != nil || n < 0 {
			t.Fatalf("MarkCPU wrote %q", line)
		}
		return n
	}
	before := cpu()
	x := uint64(1)
	for i := 0; i < 20_000_000; i++ { // a fixed amount of work: some 10 ms of CPU, however loaded the machine
		x = x*6364136223846793005 + 1442695040888963407
	}
	if after := cpu(); after < before+2000 {
		t.Fatalf("20 million multiplications (%d) took the process from %d to %d us of CPU", x, before, after)
	}
}
