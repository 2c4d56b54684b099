package main

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where and when the figures were measured.
type machine struct {
	date, cpus, cpuModel, kernel      string
	commit                            string // gorun's, as git describes the tree measured
	goVersion, openMPI, mpi4py, numpy string
	loadBefore, loadAfter             string
	hostBefore, hostAfter             hostSpeed
	elapsed                           time.Duration
}

func describeMachine(benchDir, python string) machine {
	m := machine{
		date:       time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		commit:     treeCommit(benchDir),
		cpus:       itoa(runtime.NumCPU()),
		cpuModel:   "unknown",
		kernel:     firstLine(commandOutput("uname", "-sr")),
		goVersion:  firstLine(commandOutput("go", "version")),
		openMPI:    firstLine(commandOutput("mpirun", "--version")),
		mpi4py:     firstLine(commandOutput(python, "-c", "import mpi4py; print(mpi4py.__version__)")),
		numpy:      firstLine(commandOutput(python, "-c", "import numpy; print(numpy.__version__)")),
		loadBefore: loadAverage(),
		hostBefore: probeHost(),
	}
	if n := firstLine(commandOutput("nproc")); n != "" {
		m.cpus = n
	}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.cpuModel = strings.TrimSpace(value)
				break
			}
		}
	}
	return m
}

// treeCommit names the commit of the gorun tree holding dir, with
// "(modified)" when its files differ from it, or "unknown" outside a git
// checkout: which code the figures are of.
func treeCommit(dir string) string {
	cmd := exec.Command("git", "-C", dir, "log", "-1", "--format=%h %cs %s")
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	commit := firstLine(string(out))
	if runes := []rune(commit); len(runes) > 100 {
		commit = string(runes[:100]) + "..."
	}
	status, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	if err == nil && len(strings.TrimSpace(string(status))) > 0 {
		commit += " (modified)"
	}
	return commit
}

// loadAverage is /proc/loadavg's 1, 5 and 15 minute averages.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func commandOutput(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if line == "" {
		return "not installed"
	}
	return line
}
