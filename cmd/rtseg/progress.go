package main

import (
	"io"
	"os"

	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal. progressbar does not check:
// on a file or pipe it would write a frame per update.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startProgress shows the run's progress as --progress says and returns the
// function that stops it.
func startProgress(cfg *report.ProgressConfig, rd *reader.Reader, rec *report.Recorder, send bool) func() {
	if cfg == nil {
		return func() {}
	}
	cfg.TotalBytes = rd.Size()
	cfg.BytesRead = rd.BytesRead
	cfg.Sends = send
	return report.StartProgress(*cfg, rec).Stop
}
