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

// inputSize adds up the sizes of the input files, or returns -1 when one is
// standard input.
func inputSize(inputs []string) int64 {
	files, err := reader.Files(inputs)
	if err != nil {
		return -1
	}
	var total int64
	for _, f := range files {
		if f == reader.Stdin {
			return -1
		}
		info, err := os.Stat(f)
		if err != nil {
			return -1
		}
		total += info.Size()
	}
	return total
}

// startProgress shows the run's progress as --progress says and returns the
// function that stops it.
func startProgress(cfg *report.ProgressConfig, o *options, inputs []string, s *stages, send bool) func() {
	if cfg == nil {
		return func() {}
	}
	cfg.TotalBytes = inputSize(inputs)
	cfg.BytesRead = s.reader.BytesRead
	cfg.InFlight = s.inFlight.Load
	if send {
		cfg.UsersPerSecond = o.usersPerSecond
	}
	return report.StartProgress(*cfg, s.recorder).Stop
}
