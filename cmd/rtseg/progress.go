package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
	"golang.org/x/term"
)

// progressInterval is how often a log line reports progress when stderr is
// not a terminal.
const progressInterval = 10 * time.Second

// newLogger returns the slog logger for --log-format on w.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// isTerminal reports whether w is a terminal. progressbar does not check:
// on a file or pipe it would write a frame per update.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressConfig decides from --progress how to show progress, or returns
// nil for none.
func (e *env) progressConfig(mode string, logger *slog.Logger) (*report.ProgressConfig, error) {
	cfg := &report.ProgressConfig{Out: e.stderr, Log: logger, Interval: progressInterval}
	switch mode {
	case "", "auto":
		cfg.Bar = isTerminal(e.stderr)
	case "bar":
		cfg.Bar = true
	case "log":
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("--progress %q: want auto, bar, log or none", mode)
	}
	return cfg, nil
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
func (e *env) startProgress(o *options, inputs []string, s *stages, logger *slog.Logger, send bool) (func(), error) {
	cfg, err := e.progressConfig(o.progress, logger)
	if err != nil || cfg == nil {
		return func() {}, err
	}
	cfg.TotalBytes = inputSize(inputs)
	cfg.BytesRead = s.reader.BytesRead
	cfg.InFlight = s.inFlight.Load
	if send {
		cfg.UsersPerSecond = o.usersPerSecond
	}
	return report.StartProgress(*cfg, s.recorder).Stop, nil
}
