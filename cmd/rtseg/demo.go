package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rtseg/rtseg/samples"
	"github.com/rtseg/rtseg/uploader/xandrtest"
	"github.com/spf13/cobra"
)

const demoToken = "demo-token"

func (e *env) demoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Upload the samples to an in-process emulator and show the result",
		Long: `Demo starts the emulator on a free loopback port, uploads the sample input
(samples/ in the current directory, or the copy built into rtseg) with
rtseg upload, and prints the summary and where the report is. It needs no
credentials and no network.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := os.MkdirTemp("", "rtseg-demo-")
			if err != nil {
				return err
			}
			input := "samples"
			if _, err := os.Stat(filepath.Join(input, "audience.csv")); err != nil {
				input = filepath.Join(dir, "samples")
				if err := os.CopyFS(input, samples.FS); err != nil {
					return err
				}
			}
			srv := xandrtest.NewServer(xandrtest.WithToken(demoToken))
			defer srv.Close()
			fmt.Fprintf(e.stderr, "rtseg: demo: emulator on %s; uploading %s\n", srv.URL, input)

			report := filepath.Join(dir, "report.csv")
			summary := filepath.Join(dir, "summary.json")
			sub := *e
			sub.getenv = func(name string) string {
				if name == "XANDR_TOKEN" {
					return demoToken
				}
				return e.getenv(name)
			}
			code := sub.execute(cmd.Context(), []string{"upload",
				"--endpoint", srv.URL + "/rt-segment",
				"--report", report, "--summary", summary,
				"--max-rejected", "100%", input})
			if code != exitOK {
				return &exitError{code: code}
			}
			state := srv.State()
			segs := 0
			for _, s := range state {
				segs += len(s)
			}
			files, _ := fs.Glob(samples.FS, "*.csv")
			fmt.Fprintf(e.stderr, "rtseg: demo: the emulator now holds %d users in %d user-segment associations (from %d sample file(s))\n", len(state), segs, len(files))
			fmt.Fprintf(e.stderr, "rtseg: demo: report %s, summary %s\n", report, summary)
			return nil
		},
	}
}
