package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dustin/go-humanize/english"
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
				defer os.RemoveAll(input)
			}
			srv := xandrtest.NewServer(xandrtest.WithToken(demoToken))
			defer srv.Close()
			fmt.Fprintf(e.stderr, "rtseg: demo: emulator on %s; uploading %s\n", srv.URL, input)

			report := filepath.Join(dir, "report.csv")
			summary := filepath.Join(dir, "summary.json")
			page := filepath.Join(dir, "page.html")
			sub := *e
			sub.getenv = func(name string) string {
				if name == "XANDR_TOKEN" {
					return demoToken
				}
				return e.getenv(name)
			}
			code := sub.execute(cmd.Context(), []string{"upload",
				"--endpoint", srv.URL + "/rt-segment",
				"--report", report, "--summary", summary, "--html", page,
				"--max-rejected", "100%", input})
			if code != exitOK {
				os.RemoveAll(dir)
				return &exitError{code: code}
			}
			state := srv.State()
			segs := 0
			for _, s := range state {
				segs += len(s)
			}
			files, _ := fs.Glob(samples.FS, "*.csv")
			fmt.Fprintf(e.stderr, "rtseg: demo: the emulator now holds %s in %s (from %s)\n",
				plural(len(state), "user"), plural(segs, "user-segment association"), plural(len(files), "sample file"))
			// The upload named the report; the directory stays for
			// people to read it and the summary.
			fmt.Fprintf(e.stderr, "rtseg: demo: summary: %s (remove %s when done with them)\n", summary, dir)
			return nil
		},
	}
}

// plural is n with its noun, in the plural unless n is 1: "1 row", "2 rows".
func plural(n int, noun string) string {
	return fmt.Sprintf("%d %s", n, english.PluralWord(n, noun, ""))
}
