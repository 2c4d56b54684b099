package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// pidFile names, inside a job's directory, the file holding the pid of
// the gorun (or agent) that made it and, on a second line, the pid
// namespace that pid is in. A gorun killed by SIGKILL cannot remove its
// directory (its ranks die with it, of their parent-death signal); the next
// gorun finds the directory by this file and removes it.
const pidFile = "gorun.pid"

// markJobDir records our pid and pid namespace in the job's directory dir.
// The file appears whole (written aside, then renamed), so that a scan
// never reads part of a pid.
func markJobDir(dir string) error {
	mark := strconv.Itoa(os.Getpid()) + "\n"
	if ns := pidNamespace(); ns != "" {
		mark += ns + "\n"
	}
	tmp := filepath.Join(dir, pidFile+".new")
	if err := os.WriteFile(tmp, []byte(mark), 0o600); err != nil {
		return fmt.Errorf("cannot mark the job's directory: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, pidFile)); err != nil {
		return fmt.Errorf("cannot mark the job's directory: %w", err)
	}
	return nil
}

// pidNamespace names the pid namespace this process is in, as
// /proc/self/ns/pid reads ("pid:[4026531836]"); "" where that cannot be
// read (then no mark is trusted on its pid alone).
func pidNamespace() string {
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return ns
}

// removeStaleJobDirs removes, from parent, the job directories (gorun-N)
// of goruns (and agents) that are gone (see staleJobDir). A directory
// without the mark (a gorun that just made it, or an older gorun) is left
// alone. It returns the directories it removed.
func removeStaleJobDirs(parent string) []string {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	ourNS := pidNamespace()
	var removed []string
	for _, e := range entries {
		if !e.IsDir() || !isJobDirName(e.Name()) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		if !staleJobDir(dir, ourNS) {
			continue
		}
		if os.RemoveAll(dir) == nil {
			removed = append(removed, dir)
		}
	}
	return removed
}

// isJobDirName reports whether name is one os.MkdirTemp("", "gorun-")
// makes: "gorun-" and digits.
func isJobDirName(name string) bool {
	digits, ok := strings.CutPrefix(name, "gorun-")
	if !ok || digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// staleJobDir reports whether dir is a job directory of ours whose gorun
// is gone: the process its pid file names does not exist, in our pid
// namespace (ourNS, when the file names the same), or else its control
// socket refuses connections (no process listens on it, whatever pid
// namespace the gorun lived in: a directory /tmp shares with a container
// may hold a live job whose pid we cannot see). A gorun of another pid
// namespace killed before it listened leaves its directory: that cannot
// be told from one that is still building.
func staleJobDir(dir, ourNS string) bool {
	var st syscall.Stat_t
	if syscall.Lstat(dir, &st) != nil || int(st.Uid) != os.Getuid() {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return false
	}
	pidLine, nsLine, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(pidLine))
	if err != nil || pid <= 0 || pid == os.Getpid() || processExists(pid) {
		return false
	}
	if ns := strings.TrimSpace(nsLine); ourNS != "" && ns == ourNS {
		return true // a fact: no process has that pid where it lived
	}
	sock := filepath.Join(dir, controlSocket)
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		return false
	}
	conn, err := net.Dial("unix", sock)
	if err == nil {
		conn.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// processExists reports whether a process pid exists (a zombie counts).
func processExists(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
