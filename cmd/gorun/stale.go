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
// the gorun that made it. A gorun killed by SIGKILL cannot remove its
// directory (its ranks die with it, of their parent-death signal); the next
// gorun finds the directory by this file and removes it.
const pidFile = "gorun.pid"

// markJobDir records our pid in the job's directory dir.
func markJobDir(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return fmt.Errorf("cannot mark the job's directory: %w", err)
	}
	return nil
}

// removeStaleJobDirs removes, from parent, the job directories (gorun-N)
// of goruns that are gone: directories of ours, marked with a pid file
// naming a process that no longer exists. A directory without the mark
// (a gorun that just made it, or an older gorun) is left alone. It returns
// the directories it removed.
func removeStaleJobDirs(parent string) []string {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.IsDir() || !isJobDirName(e.Name()) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		if !staleJobDir(dir) {
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
// is gone: the process its pid file names does not exist, and its control
// socket refuses connections (no process listens on it, whatever pid
// namespace the gorun lived in). A gorun killed before it listened leaves
// its directory: that cannot be told from one that is still building.
func staleJobDir(dir string) bool {
	var st syscall.Stat_t
	if syscall.Lstat(dir, &st) != nil || int(st.Uid) != os.Getuid() {
		return false
	}
	// The cheapest test first: most leftovers were killed before they
	// listened (no socket), and those are kept whatever their pid file says.
	sock := filepath.Join(dir, controlSocket)
	if fi, err := os.Lstat(sock); err != nil || fi.Mode().Type() != os.ModeSocket {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || pid == os.Getpid() || processExists(pid) {
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
