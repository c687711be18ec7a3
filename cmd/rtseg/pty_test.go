package main

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdPty runs a program with a terminal for its standard streams, as a
// person at a terminal would, and copies what it printed to the script's
// stdout: pty PROGRAM ARGS...
func cmdPty(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: pty program [args...]")
	}
	cmd := exec.Command(scriptProgram(ts, args[0]), args[1:]...)
	cmd.Dir = ts.MkAbs(".")
	var env []string
	for _, kv := range []string{"PATH", "HOME", "TMPDIR", "XANDR_TOKEN", "ENDPOINT", "API"} {
		env = append(env, kv+"="+ts.Getenv(kv))
	}
	cmd.Env = env
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	ts.Check(err)
	var out strings.Builder
	_, err = io.Copy(&out, tty)
	// Reading a pty whose other side has closed ends with EIO on Linux.
	if err != nil && !errors.Is(err, syscall.EIO) {
		ts.Fatalf("pty: %v", err)
	}
	tty.Close()
	err = cmd.Wait()
	ts.Stdout().Write([]byte(out.String()))
	if (err != nil) != neg {
		ts.Fatalf("pty %s: %v", strings.Join(args, " "), err)
	}
}

// scriptProgram finds name on the script's PATH, where testscript puts
// rtseg: name itself if it is not there.
func scriptProgram(ts *testscript.TestScript, name string) string {
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	return name
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}
