package main

import (
	"encoding/json"
	"fmt"

	"github.com/rtseg/rtseg/report"
	"github.com/spf13/cobra"
)

// Set by a release build: -ldflags "-X main.version=v1.2.3 -X
// main.commit=... -X main.date=...". Otherwise the build information Go
// records in every binary says what it can.
var version, commit, date string

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
			b := report.ReadBuild(report.Build{Version: version, Commit: commit, Date: date})
			switch format {
			case "json":
				out, err := json.MarshalIndent(b, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s\n", out)
			case "text":
				b.WriteText(e.stdout)
			default:
				return usageError(cmd, "--format %q: want text or json", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}
