package report

import (
	"runtime"
	"testing"
)

// A release stamps the version, commit and date with -ldflags; they win
// over what Go's build information says.
func TestReadBuildTakesTheReleaseStamp(t *testing.T) {
	b := ReadBuild(Build{Version: "v1.2.3", Commit: "0123abc", Date: "2026-12-01T00:00:00Z"})
	want := Build{Version: "v1.2.3", Commit: "0123abc", Date: "2026-12-01T00:00:00Z", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	b.Modified = false
	if b != want {
		t.Errorf("ReadBuild() = %+v, want %+v", b, want)
	}
}
