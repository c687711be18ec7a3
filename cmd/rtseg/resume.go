package main

import (
	"context"
	"log/slog"

	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
)

// openJournal opens --state-dir's journal for a run of these files.
// Resuming a run whose inputs or --sorted changed is refused unless
// --restart.
func openJournal(o *options, files []string) (*report.Journal, error) {
	id, err := report.Identify(files, o.sorted)
	if err != nil {
		return nil, err
	}
	return report.OpenJournal(o.stateDir, id, o.restart)
}

// resumePause waits, when resuming, until nothing the interrupted run may
// have sent in its last moments still counts in the service's windows.
func resumePause(ctx context.Context, j *report.Journal, logger *slog.Logger) error {
	if !j.Resumed() {
		return nil
	}
	logger.Info("resuming: requests acknowledged by an earlier run will be skipped", "acknowledged", j.Len())
	return uploader.WaitOutEarlierRun(ctx)
}
