package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by a release build: -ldflags "-X main.version=v1.2.3 -X
// main.commit=... -X main.date=...". Otherwise the build information Go
// records in every binary says what it can.
var version, commit, date string

// buildInfo is what rtseg version prints.
type buildInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Modified bool   `json:"modified,omitempty"` // built from a tree with uncommitted changes
	Date     string `json:"date"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: "(devel)", Commit: "unknown", Date: "unknown", Go: runtime.Version(),
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
	}{{&b.Version, version}, {&b.Commit, commit}, {&b.Date, date}} {
		if set.from != "" {
			*set.to = set.from
		}
	}
	return b
}

func (e *env) versionCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print rtseg's version, the commit it was built from, and its Go version",
		Long: `Version prints the version of this rtseg binary, the commit and time it was
built from, and the Go version and platform it was built with: what to
quote when a nightly job misbehaves. A release sets them; a binary built
with go install or go build takes them from Go's build information.`,
		Example: `  rtseg version
  rtseg version --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := readBuildInfo()
			switch format {
			case "json":
				out, err := json.MarshalIndent(b, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s\n", out)
			case "text":
				modified := ""
				if b.Modified {
					modified = " (with uncommitted changes)"
				}
				fmt.Fprintf(e.stdout, "rtseg %s\ncommit: %s%s\nbuilt:  %s\ngo:     %s %s\n", b.Version, b.Commit, modified, b.Date, b.Go, b.Platform)
			default:
				return usageError(cmd, "--format %q: want text or json", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}
