package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
// if 0) and the pid namespace ns (none if ""), and a control socket,
// listened on if live, else left behind as a killed gorun leaves it.
func fakeJobDir(t *testing.T, parent, name string, pid int, ns string, live bool) string {
	t.Helper()
	dir := unlistenedJobDir(t, parent, name, pid, ns)
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

// unlistenedJobDir makes parent/name as a gorun killed before it listened
// leaves it: a pid file naming pid (none if 0) and the pid namespace ns
// (none if ""), no control socket.
func unlistenedJobDir(t *testing.T, parent, name string, pid int, ns string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if pid == 0 {
		return dir
	}
	mark := strconv.Itoa(pid) + "\n"
	if ns != "" {
		mark += ns + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(mark), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRemoveStaleJobDirs(t *testing.T) {
	ours := pidNamespace()
	if ours == "" {
		t.Skip("no /proc/self/ns/pid here")
	}
	const other = "pid:[1]"                // no pid namespace has that inode
	parent, err := os.MkdirTemp("", "st-") // short: socket paths
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent)
	dead := deadPID(t)
	stale := []string{
		fakeJobDir(t, parent, "gorun-1", dead, "", false),    // an older gorun's mark: the socket refuses
		fakeJobDir(t, parent, "gorun-2", dead, other, false), // another namespace: the socket refuses
		unlistenedJobDir(t, parent, "gorun-3", dead, ours),   // killed before it listened, here
		fakeJobDir(t, parent, "gorun-4", dead, ours, true),   // here: its pid is gone, whoever listens
	}
	kept := []string{
		fakeJobDir(t, parent, "gorun-10", os.Getppid(), ours, false), // its gorun still runs
		fakeJobDir(t, parent, "gorun-11", dead, "", true),            // something listens
		fakeJobDir(t, parent, "gorun-12", dead, other, true),         // something listens
		fakeJobDir(t, parent, "gorun-13", 0, "", false),              // no pid file
		fakeJobDir(t, parent, "gorun-tests-14", dead, ours, false),   // not a job directory
		unlistenedJobDir(t, parent, "gorun-15", dead, other),         // may still be building, elsewhere
		unlistenedJobDir(t, parent, "gorun-16", dead, ""),            // may still be building
	}
	removed := removeStaleJobDirs(parent)
	slices.Sort(removed)
	if !slices.Equal(removed, stale) {
		t.Errorf("removed %v, want %v", removed, stale)
	}
	for _, dir := range stale {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is still there", dir)
		}
	}
	for _, dir := range kept {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s was removed: %v", dir, err)
		}
	}
}

// TestMarkJobDirNamesPidAndNamespace: the mark a gorun leaves names it and
// its pid namespace, whole, and a scan keeps the directory while it runs.
func TestMarkJobDirNamesPidAndNamespace(t *testing.T) {
	dir := t.TempDir()
	if err := markJobDir(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(os.Getpid()) + "\n"
	if ns := pidNamespace(); ns != "" {
		want += ns + "\n"
	}
	if string(b) != want {
		t.Errorf("mark %q, want %q", b, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only the mark", len(entries))
	}
	if staleJobDir(dir, pidNamespace()) {
		t.Errorf("our own directory counts as stale")
	}
}
