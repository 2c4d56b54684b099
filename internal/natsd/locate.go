package natsd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Program is the helper's name, as go install names it.
const Program = "gorun-natsd"

// PathEnv names the environment variable that, when set, is the helper's
// path.
const PathEnv = "GORUN_NATSD"

// modulePath is gorun's module, whose cmd/gorun-natsd is the helper.
const modulePath = "github.com/gorun-mpi/gorun"

// helperPackage is the helper's import path.
const helperPackage = modulePath + "/cmd/" + Program

// ErrNotFound is wrapped by Locate's error when the helper is neither
// installed nor buildable.
var ErrNotFound = errors.New(Program + " not found")

// Locate returns the helper's path: PathEnv's value when set, else the
// gorun-natsd beside this program's executable (where go install puts
// both), else one in PATH. Failing those it builds the helper with the go
// command, announcing it on log, from the module version this program was
// installed at or, for a build of a source tree, from the current
// directory's module (as "go run ./cmd/gorun" in gorun's tree). cleanup
// removes what was built; the helper may be started before it runs.
func Locate(getenv func(string) string, log io.Writer) (path string, cleanup func(), err error) {
	nothing := func() {}
	if p := getenv(PathEnv); p != "" {
		if err := executable(p); err != nil {
			return "", nothing, fmt.Errorf("%s=%s: %w", PathEnv, p, err)
		}
		return p, nothing, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), Program)
		if executable(p) == nil {
			return p, nothing, nil
		}
	}
	if p, err := exec.LookPath(Program); err == nil {
		return p, nothing, nil
	}
	dir, err := os.MkdirTemp("", Program+"-")
	if err != nil {
		return "", nothing, fmt.Errorf("%w: cannot make a directory to build it in: %v", ErrNotFound, err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	if log != nil {
		fmt.Fprintf(log, "gorun: building %s, the embedded NATS server (install it beside gorun to skip this: %s)\n", Program, installHint())
	}
	path, err = build(dir)
	if err != nil {
		cleanup()
		return "", nothing, err
	}
	return path, cleanup, nil
}

// build builds the helper into dir.
func build(dir string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w beside gorun nor in PATH, and the go command that could build it is not in PATH either; install it: %s", ErrNotFound, installHint())
	}
	target := filepath.Join(dir, Program)
	var cmd *exec.Cmd
	if version := installedVersion(); version != "" {
		cmd = exec.Command(goCmd, "install", helperPackage+"@"+version)
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
	} else {
		cmd = exec.Command(goCmd, "build", "-o", target, helperPackage)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w beside gorun nor in PATH, and %q failed (%v): %s; install it: %s",
			ErrNotFound, strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)), installHint())
	}
	if err := executable(target); err != nil {
		return "", fmt.Errorf("%w: building it made no %s: %v", ErrNotFound, target, err)
	}
	return target, nil
}

// installedVersion is the module version this program was installed at
// ("go install ...@v1.2.3"), or "" for a build of a source tree (which
// records no module checksum).
func installedVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Path != modulePath || info.Main.Sum == "" {
		return ""
	}
	return info.Main.Version
}

// installHint is the command that installs the helper.
func installHint() string {
	version := installedVersion()
	if version == "" {
		version = "latest"
	}
	return "go install " + helperPackage + "@" + version + ", or go install ./cmd/... in gorun's source"
}

// executable reports why p is not an executable file, if it is not.
func executable(p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}
