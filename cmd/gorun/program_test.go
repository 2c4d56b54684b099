package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

func TestResolveProgramFilesAndCommands(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, "tool", "#!/bin/sh\n", 0o755)
	writeFile(t, "data.txt", "x", 0o644)

	p, err := resolveProgram("./tool", t.TempDir(), nil)
	if err != nil || p.path != filepath.Join(dir, "tool") || p.argv0 != "./tool" {
		t.Fatalf("./tool resolved to %+v, %v", p, err)
	}
	sh, _ := exec.LookPath("sh")
	if p, err := resolveProgram("sh", t.TempDir(), nil); err != nil || p.path != sh {
		t.Fatalf("sh resolved to %+v, %v; want %s", p, err, sh)
	}

	cases := []struct {
		name   string
		status int
		want   string
	}{
		{"./data.txt", 126, "not an executable"},
		{"./missing", 127, `"./missing"`},
		{"no-such-command-here", 127, "no such file"},
		{"tool", 127, "write ./tool"}, // a bare name is looked up in PATH only, as in a shell
	}
	for _, tc := range cases {
		_, err := resolveProgram(tc.name, t.TempDir(), nil)
		if err == nil || programStatus(err) != tc.status || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("resolveProgram(%q) = %v (status %d), want status %d mentioning %q",
				tc.name, err, programStatus(err), tc.status, tc.want)
		}
	}
}

func TestResolveProgramBuildsPackages(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, "mod/go.mod", "module example.com/m\n\ngo 1.21\n", 0o644)
	writeFile(t, "mod/hello/main.go", "package main\n\nfunc main() { println(\"hi\") }\n", 0o644)
	writeFile(t, "mod/broken/main.go", "package main\n\nfunc main() { undefinedThing() }\n", 0o644)
	writeFile(t, "mod/lib/lib.go", "package lib\n\nfunc F() {}\n", 0o644)

	bin := t.TempDir()
	p, err := resolveProgram("./mod/hello", bin, nil)
	if err != nil {
		t.Fatalf("building ./mod/hello: %v", err)
	}
	if p.path != filepath.Join(bin, "hello") {
		t.Fatalf("built into %s, want %s", p.path, filepath.Join(bin, "hello"))
	}
	if out, err := exec.Command(p.path).CombinedOutput(); err != nil || string(out) != "hi\n" {
		t.Fatalf("built program said %q, %v", out, err)
	}

	var out bytes.Buffer
	_, err = resolveProgram("./mod/broken", t.TempDir(), &out)
	if !errors.Is(err, errBuild) || programStatus(err) != 1 || !strings.Contains(err.Error(), "cannot build ./mod/broken") {
		t.Fatalf("broken package: %v", err)
	}
	if !strings.Contains(out.String(), "undefinedThing") {
		t.Fatalf("compiler errors not shown: %q", out.String())
	}
	if _, err := resolveProgram("./mod/lib", t.TempDir(), &out); !errors.Is(err, errBuild) || !strings.Contains(err.Error(), "not a main package") {
		t.Fatalf("library package: %v", err)
	}
}

func TestLooksLikeImportPath(t *testing.T) {
	for name, want := range map[string]bool{
		"github.com/u/r/cmd/x": true,
		"example.com/x":        true,
		"./x":                  false,
		"/abs/x":               false,
		"foo/bar":              false,
		"a b.c/d":              false,
	} {
		if got := looksLikeImportPath(name); got != want {
			t.Errorf("looksLikeImportPath(%q) = %v, want %v", name, got, want)
		}
	}
}
