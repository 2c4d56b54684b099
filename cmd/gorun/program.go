package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Sentinels for the ways PROGRAM can be unusable; each has its exit status
// (see programStatus).
var (
	errNotFound      = errors.New("no such file, Go package or command in PATH")
	errNotExecutable = errors.New("permission denied: not an executable file")
	errBuild         = errors.New("build failed")
)

// program is a resolved PROGRAM: the path to exec and argv[0].
type program struct {
	path  string // absolute path of the executable
	argv0 string // what the user typed (or the built package's name)
}

// resolveProgram finds what to run for name. A Go package (a directory, or an
// import path that is not a file or command) is built into binDir (made when
// needed) with the go command, whose output goes to buildOut. The rules
// follow a shell's and "go run"'s: a name with a slash is a path; a bare
// name is looked up in PATH.
func resolveProgram(name, binDir string, buildOut io.Writer) (program, error) {
	if strings.ContainsRune(name, '/') || name == "." || name == ".." {
		info, err := os.Stat(name)
		switch {
		case err == nil && info.IsDir():
			return buildPackage(name, name, binDir, buildOut)
		case err == nil:
			return executableFile(name, info)
		case looksLikeImportPath(name):
			return buildPackage(name, "", binDir, buildOut)
		default:
			return program{}, fmt.Errorf("cannot find program %q: %w", name, errNotFound)
		}
	}
	if path, err := exec.LookPath(name); err == nil {
		abs, err := filepath.Abs(path)
		if err != nil {
			return program{}, fmt.Errorf("cannot find program %q: %w", name, err)
		}
		return program{path: abs, argv0: name}, nil
	} else if errors.Is(err, fs.ErrPermission) {
		return program{}, fmt.Errorf("cannot run program %q: %w", name, errNotExecutable)
	}
	hint := ""
	if info, err := os.Stat(name); err == nil {
		if info.IsDir() {
			hint = fmt.Sprintf(" (to build the Go package in directory %s, write ./%s)", name, name)
		} else {
			hint = fmt.Sprintf(" (to run the file %s here, write ./%s)", name, name)
		}
	}
	return program{}, fmt.Errorf("cannot find program %q%s: %w", name, hint, errNotFound)
}

// executableFile accepts an existing non-directory file if it may be executed.
func executableFile(name string, info fs.FileInfo) (program, error) {
	if info.Mode()&0o111 == 0 {
		return program{}, fmt.Errorf("cannot run program %q: %w", name, errNotExecutable)
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return program{}, fmt.Errorf("cannot run program %q: %w", name, err)
	}
	return program{path: abs, argv0: name}, nil
}

// looksLikeImportPath reports whether name could be a remote-style Go import
// path such as github.com/user/repo/cmd/x: its first element holds a dot.
func looksLikeImportPath(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "/") || strings.ContainsAny(name, " \\:") {
		return false
	}
	first, _, _ := strings.Cut(name, "/")
	return strings.Contains(first, ".")
}

// buildPackage builds the main package pkg (a directory when dir is not "",
// else an import path resolved from the current directory) into binDir,
// with pure Go's resolver and user lookup (pureGoTags). The go command runs
// in the package's own directory, so the module that holds it is used
// wherever gorun runs from.
func buildPackage(pkg, dir, binDir string, out io.Writer) (program, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return program{}, fmt.Errorf("cannot build %s: the go command is not in PATH: %w", pkg, errBuild)
	}
	name := buildName(pkg, dir)
	if err := os.MkdirAll(binDir, 0o700); err != nil {
		return program{}, fmt.Errorf("cannot make a directory for the program: %w", err)
	}
	target := filepath.Join(binDir, name)
	cmd := exec.Command(goCmd, "build", "-o", target)
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return program{}, fmt.Errorf("cannot build %s: %w", pkg, err)
		}
		cmd.Dir = abs
	}
	cmd.Args = append(cmd.Args, buildTags(goCmd, cmd.Dir)...)
	if dir != "" {
		cmd.Args = append(cmd.Args, ".")
	} else {
		cmd.Args = append(cmd.Args, pkg)
	}
	cmd.Stdout = out
	cmd.Stderr = out
	// A gorun killed while it builds takes the go command with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		return program{}, fmt.Errorf("cannot build %s: %w (%v)", pkg, errBuild, err)
	}
	if info, err := os.Stat(target); err != nil || info.Mode()&0o111 == 0 {
		// go build -o of a non-main package writes an archive, or nothing.
		return program{}, fmt.Errorf("cannot build %s: %w: it is not a main package (no executable produced)", pkg, errBuild)
	}
	return program{path: target, argv0: name}, nil
}

// buildName is the executable's name for a package: the directory's or the
// import path's last element, as go build names it.
func buildName(pkg, dir string) string {
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			return filepath.Base(abs)
		}
	}
	base := filepath.Base(strings.TrimSuffix(pkg, "/"))
	if base == "." || base == "/" || base == "" {
		return "program"
	}
	return base
}

// programStatus is gorun's exit status for a PROGRAM that cannot be run, as a
// shell would give: 127 not found, 126 not executable, 1 build failure.
func programStatus(err error) int {
	switch {
	case errors.Is(err, errNotFound):
		return 127
	case errors.Is(err, errNotExecutable):
		return 126
	default:
		return 1
	}
}
