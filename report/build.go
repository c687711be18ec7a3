package report

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Build says which rtseg a run is: what rtseg version prints.
type Build struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Modified bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	Date     string `json:"date"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// ReadBuild takes the build information Go records in every binary, with
// a release's stamp (its version, commit and date, where set) over it.
func ReadBuild(stamp Build) Build {
	b := Build{Version: "(devel)", Commit: "unknown", Date: "unknown", Go: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Date = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	for _, set := range []struct {
		to   *string
		from string
	}{{&b.Version, stamp.Version}, {&b.Commit, stamp.Commit}, {&b.Date, stamp.Date}} {
		if set.from != "" {
			*set.to = set.from
		}
	}
	return b
}

// WriteText writes b for people.
func (b Build) WriteText(w io.Writer) {
	modified := ""
	if b.Modified {
		modified = " (with uncommitted changes)"
	}
	fmt.Fprintf(w, "rtseg %s\ncommit: %s%s\nbuilt:  %s\ngo:     %s %s\n", b.Version, b.Commit, modified, b.Date, b.Go, b.Platform)
}
