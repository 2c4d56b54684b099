package main

import (
	"os/exec"
	"strings"
)

// pureGoTags selects Go's own DNS resolver and user lookup (package net
// and os/user) for the programs gorun builds. Without them, on a machine
// with a C compiler, those two packages link the C library, and every rank
// of a program that never uses cgo starts through the dynamic linker and
// cgo's runtime: a millisecond and more per process here (README.md). A
// program that uses cgo itself still builds and links it.
const pureGoTags = "-tags=netgo,osusergo"

// buildTags returns the tags argument for a go build run in dir: pureGoTags,
// unless the user's GOFLAGS name tags of their own, which a -tags on the
// command line would replace.
func buildTags(goCmd, dir string) []string {
	cmd := exec.Command(goCmd, "env", "GOFLAGS")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil || hasTagsFlag(string(out)) {
		return nil
	}
	return []string{pureGoTags}
}

// hasTagsFlag reports whether goflags (GOFLAGS's value) sets -tags.
func hasTagsFlag(goflags string) bool {
	for _, f := range strings.Fields(goflags) {
		name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if name == "tags" && strings.HasPrefix(f, "-") {
			return true
		}
	}
	return false
}
