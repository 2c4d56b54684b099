package main

import (
	"slices"
	"testing"
)

func TestLaunchCommandRunsTrueInPlaceOfTheProgram(t *testing.T) {
	gorun := impl{name: "gorun", command: func(np int, prog program, args ...string) []string {
		return append([]string{"/b/gorun", "-np", itoa(np), "/b/initfinalize"}, args...)
	}}
	mpirun := impl{name: "openmpi", command: func(np int, prog program, args ...string) []string {
		return append([]string{"/usr/bin/mpirun", "--oversubscribe", "-np", itoa(np), "/b/initfinalize_c"}, args...)
	}}
	if got, want := launchCommand(gorun, 8), []string{"/b/gorun", "-np", "8", "/bin/true"}; !slices.Equal(got, want) {
		t.Errorf("gorun: %q, want %q", got, want)
	}
	if got, want := launchCommand(mpirun, 4), []string{"/usr/bin/mpirun", "--oversubscribe", "-np", "4", "/bin/true"}; !slices.Equal(got, want) {
		t.Errorf("mpirun: %q, want %q", got, want)
	}
	sizes := launchImpls([]impl{gorun, mpirun, {name: "openmpi-tcp"}})
	if !slices.Equal(sizes["gorun"], []int{2, 4, 8}) || !slices.Equal(sizes["openmpi"], []int{4}) || sizes["openmpi-tcp"] != nil {
		t.Errorf("launch sizes %v: want gorun at 2, 4, 8, openmpi at 4 only", sizes)
	}
	if n := len(launchCommands([]impl{gorun, mpirun})); n != 4 {
		t.Errorf("%d launcher-alone commands listed, want 4", n)
	}
}
