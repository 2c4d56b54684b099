package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

// fakeJobDir makes parent/name as a gorun would: a pid file naming pid (none
// if 0) and a control socket, listened on if live, else left behind as a
// killed gorun leaves it.
func fakeJobDir(t *testing.T, parent, name string, pid int, live bool) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if pid != 0 {
		os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(pid)+"\n"), 0o600)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, controlSocket), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	if live {
		t.Cleanup(func() { ln.Close() })
	} else {
		ln.Close()
	}
	return dir
}

func TestRemoveStaleJobDirs(t *testing.T) {
	parent, err := os.MkdirTemp("", "st-") // short: socket paths
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	dead := deadPID(t)
	stale := fakeJobDir(t, parent, "gorun-1", dead, false)
	kept := []string{
		fakeJobDir(t, parent, "gorun-2", os.Getppid(), false), // its gorun still runs
		fakeJobDir(t, parent, "gorun-3", dead, true),          // something listens
		fakeJobDir(t, parent, "gorun-4", 0, false),            // no pid file
		fakeJobDir(t, parent, "gorun-tests-5", dead, false),   // not a job directory
		unlistenedJobDir(t, parent, "gorun-6", dead),          // killed before it listened
	}
	removed := removeStaleJobDirs(parent)
	if len(removed) != 1 || removed[0] != stale {
		t.Errorf("removed %v, want only %s", removed, stale)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("%s is still there", stale)
	}
	for _, dir := range kept {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", dir, err)
		}
	}
}

// unlistenedJobDir makes parent/name as a gorun killed before it listened
// leaves it: a pid file naming pid, no control socket.
func unlistenedJobDir(t *testing.T, parent, name string, pid int) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
