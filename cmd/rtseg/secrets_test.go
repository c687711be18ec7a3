package main

import (
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdNoSecrets fails if any secret appears in the last command's stdout or
// stderr or in any file under $WORK: the given secrets (passwords) and every
// token the emulator issued. nosecrets MIN-TOKENS SECRET...
func cmdNoSecrets(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: nosecrets MIN-TOKENS [SECRET...]")
	}
	tokens := mockOf(ts).srv.IssuedTokens()
	if min := ints(ts, args[0], 1)[0]; len(tokens) < min {
		ts.Fatalf("the emulator issued %d tokens, want at least %d: nothing to check", len(tokens), min)
	}
	secrets := append(tokens, args[1:]...)
	check := func(where, text string) {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				ts.Fatalf("a secret (%d characters) appears in %s", len(s), where)
			}
		}
	}
	check("stdout", ts.ReadFile("stdout"))
	check("stderr", ts.ReadFile("stderr"))
	work := ts.Getenv("WORK")
	n := 0
	err := filepath.WalkDir(work, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(work, path)
		if strings.HasPrefix(rel, ".") {
			return nil // testscript's own files
		}
		n++
		check(rel, ts.ReadFile(path))
		return nil
	})
	ts.Check(err)
	ts.Logf("checked %d secrets in stdout, stderr and %d files", len(secrets), n)
}
