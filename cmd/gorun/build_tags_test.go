package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestHasTagsFlag(t *testing.T) {
	for goflags, want := range map[string]bool{
		"":                         false,
		"-mod=mod":                 false,
		"-tags=foo":                true,
		"-trimpath --tags=foo,bar": true,
		"-tags foo":                true,
		"-mod=vendor -tagsx=1":     false,
		"tags=foo":                 false,
	} {
		if got := hasTagsFlag(goflags); got != want {
			t.Errorf("hasTagsFlag(%q) = %v, want %v", goflags, got, want)
		}
	}
}

// TestBuiltProgramsLinkNoCLibrary builds a program that uses package net
// as gorun builds PROGRAM packages, with cgo enabled (as on any machine
// with a C compiler), and checks the result needs no dynamic linker; and
// that a GOFLAGS with tags of the user's own is left to decide.
func TestBuiltProgramsLinkNoCLibrary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no C compiler: cgo is off, and every build is pure Go anyway")
	}
	dir := t.TempDir()
	src := `package main

import (
	"fmt"
	"net"
)

func main() { fmt.Println(net.ParseIP("127.0.0.1")) }
`
	for name, text := range map[string]string{"main.go": src, "go.mod": "module netprog\n\ngo 1.22\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	interpreted := func(goflags string) bool {
		t.Helper()
		t.Setenv("CGO_ENABLED", "1")
		t.Setenv("GOFLAGS", goflags)
		prog, err := buildPackage(dir, dir, filepath.Join(dir, "bin-"+goflags), os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		f, err := elf.Open(prog.path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return f.Section(".interp") != nil
	}
	if interpreted("") {
		t.Error("a program built by gorun with cgo enabled links the C library (has an ELF interpreter): want pure Go's net")
	}
	if !interpreted("-tags=userchoice") {
		t.Error("with the user's own -tags in GOFLAGS, gorun's build still used its tags (no ELF interpreter): the user's tags were replaced")
	}
}
