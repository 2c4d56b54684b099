package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTreeCommitNamesTheCommitAndAModifiedTree(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	// Git looks no higher than dir's parent: a temporary directory inside
	// some other checkout is still outside one here.
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.invalid"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := treeCommit(dir); got != "unknown" {
		t.Errorf("outside a checkout: %q, want unknown", got)
	}
	git("init", "-q")
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "f")
	git("commit", "-q", "-m", "the | subject")
	long := strings.Repeat("é", 120)
	defer func() {
		git("commit", "-q", "--allow-empty", "-m", long)
		if got := treeCommit(dir); !utf8.ValidString(got) || !strings.Contains(got, "é...") {
			t.Errorf("a long subject: %q, want it cut on a character's boundary, with ...", got)
		}
	}()
	hash := git("rev-parse", "--short", "HEAD")
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	got := treeCommit(sub)
	if !strings.HasPrefix(got, hash+" ") || !strings.HasSuffix(got, " the | subject") {
		t.Errorf("clean tree: %q, want %s, a date and the subject", got, hash)
	}
	if err := os.WriteFile(file, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := treeCommit(dir); !strings.HasSuffix(got, "the | subject (modified)") {
		t.Errorf("modified tree: %q, want it marked (modified)", got)
	}
	if cell := markdownCell(got); strings.Contains(strings.ReplaceAll(cell, `\|`, ""), "|") {
		t.Errorf("markdownCell(%q) = %q: an unescaped |", got, cell)
	}
}
