package gorunner

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests stand a shell in for gorun: Run only starts a program with
// arguments and watches it.

func TestRunReturnsOutputAndStatus(t *testing.T) {
	res, err := Run(Job{Gorun: "/bin/sh", Raw: []string{"-c", "cat; echo err >&2; echo $GORUNNER_TEST; exit 3"},
		Stdin: "in\n", Env: []string{"GORUNNER_TEST=env"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "in\nenv\n" || res.Stderr != "err\n" || res.ExitCode != 3 {
		t.Errorf("got %+v, want stdout %q, stderr %q, status 3", res, "in\nenv\n", "err\n")
	}
}

func TestRunEndsAJobPastItsTime(t *testing.T) {
	start := time.Now()
	_, err := Run(Job{Gorun: "/bin/sleep", Raw: []string{"60"}, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("%v, want ErrTimeout", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the job ran %v", took)
	}
}

func TestWhenUpRunsOnceThePidLineCame(t *testing.T) {
	res, err := Run(Job{Gorun: "/bin/sh", Raw: []string{"-c", `echo "rank 0 (pid $$)" >&2; exec sleep 60`},
		WhenUp: func(p *os.Process) { p.Kill() }})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != -1 {
		t.Errorf("exit status %d, want -1 (killed from WhenUp)", res.ExitCode)
	}
}

func TestBuildNamesThePackageThatFails(t *testing.T) {
	err := Build(t.TempDir(), map[string]string{"x": "./no/such/package"})
	if err == nil || !strings.Contains(err.Error(), "go build ./no/such/package") {
		t.Errorf("Build of a missing package: %v", err)
	}
}

// TestBuildNamesEachBinary: Build puts each target's program under the
// name it was given, whether go build would name the programs apart (one
// go build for all) or alike (one go build each).
func TestBuildNamesEachBinary(t *testing.T) {
	for _, targets := range []map[string]string{
		{"a": "./testdata/one", "b": "./testdata/two"},
		{"a": "./testdata/one", "b": "./testdata/again/one"},
	} {
		dir := t.TempDir()
		if err := Build(dir, targets); err != nil {
			t.Fatal(err)
		}
		for name, pkg := range targets {
			out, err := exec.Command(filepath.Join(dir, name)).Output()
			if want := strings.TrimPrefix(pkg, "./testdata/"); err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("%s (built from %s) printed %q (%v), want %q", name, pkg, out, err, want)
			}
		}
		if left, _ := os.ReadDir(dir); len(left) != len(targets) {
			t.Errorf("Build left %d entries in its directory, want %d", len(left), len(targets))
		}
	}
}

// TestBuildLinksNoCLibrary: a program that uses package net is built as
// README.md installs gorun (CGO_ENABLED=0), a static binary that starts
// without the dynamic linker, even where a C compiler would let go build
// link net to the C library.
func TestBuildLinksNoCLibrary(t *testing.T) {
	dir := t.TempDir()
	if err := Build(dir, map[string]string{"usesnet": "./testdata/usesnet"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "usesnet")
	f, err := elf.Open(path)
	if err != nil {
		t.Skipf("not an ELF binary here: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s asks for a dynamic linker (PT_INTERP): built with cgo", path)
		}
	}
	if out, err := exec.Command(path).Output(); err != nil || strings.TrimSpace(string(out)) != "usesnet true" {
		t.Errorf("usesnet printed %q (%v)", out, err)
	}
}
