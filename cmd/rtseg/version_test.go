package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// A release stamps the version, commit and date with -ldflags -X
// main.version=... (.goreleaser.yaml); rtseg version prints them.
func TestVersionPrintsTheReleaseStamp(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "0123abc", "2026-12-01T00:00:00Z"
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: io.Discard, signal: func() int { return 0 }, getenv: func(string) string { return "" }}
	if code := e.execute(t.Context(), []string{"version"}); code != exitOK {
		t.Fatalf("rtseg version: exit %d", code)
	}
	for _, want := range []string{"rtseg v1.2.3\n", "commit: 0123abc", "built:  2026-12-01T00:00:00Z\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("rtseg version printed %q, want it to say %q", out.String(), want)
		}
	}
}
