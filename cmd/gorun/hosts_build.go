package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// buildFor builds the Go package name (a directory or an import path, as
// resolveProgram took it) for goos/goarch into a directory of its own
// under the job's, for agents of that platform.
func buildFor(name, jobDir, goos, goarch string, out io.Writer) (program, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return program{}, fmt.Errorf("cannot build %s for %s/%s: the go command is not in PATH: %w", name, goos, goarch, errBuild)
	}
	dir := filepath.Join(jobDir, "bin", goos+"_"+goarch)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return program{}, fmt.Errorf("cannot build %s for %s/%s: %w", name, goos, goarch, err)
	}
	pkgDir := ""
	if info, err := os.Stat(name); err == nil && info.IsDir() {
		pkgDir = name
	}
	target := filepath.Join(dir, buildName(name, pkgDir))
	cmd := exec.Command(goCmd, "build", "-o", target)
	if pkgDir != "" {
		abs, err := filepath.Abs(pkgDir)
		if err != nil {
			return program{}, fmt.Errorf("cannot build %s: %w", name, err)
		}
		cmd.Dir = abs
		cmd.Args = append(cmd.Args, ".")
	} else {
		cmd.Args = append(cmd.Args, name)
	}
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return program{}, fmt.Errorf("cannot build %s for %s/%s: %w (%v)", name, goos, goarch, errBuild, err)
	}
	return program{path: target, argv0: buildName(name, pkgDir)}, nil
}
