package main

import (
	"runtime"
	"testing"
)

// A release stamps the version, commit and date with -ldflags; they win
// over what Go's build information says.
func TestReadBuildInfoTakesTheReleaseStamp(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3", "0123abc", "2026-12-01T00:00:00Z"
	b := readBuildInfo()
	want := buildInfo{Version: "v1.2.3", Commit: "0123abc", Date: "2026-12-01T00:00:00Z", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	b.Modified = false
	if b != want {
		t.Errorf("readBuildInfo() = %+v, want %+v", b, want)
	}
}
