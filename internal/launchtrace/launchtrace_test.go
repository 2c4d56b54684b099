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
