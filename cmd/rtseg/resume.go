package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
)

// openJournal opens --state-dir's journal for a run of these files.
// Resuming a run whose inputs or --sorted changed is refused unless
// --restart.
func openJournal(o *options, files []string, logger *slog.Logger) (*report.Journal, error) {
	id, err := report.Identify(files, o.sorted)
	if err != nil {
		return nil, err
	}
	return report.OpenJournal(o.stateDir, id, report.JournalOptions{
		Restart:  o.restart,
		LockWait: stateLockWait,
		Waiting: func(pid string) {
			logger.Warn(fmt.Sprintf("--state-dir %s is in use by another rtseg run; waiting up to %v for it to end", o.stateDir, stateLockWait), "pid", pid)
		},
	})
}

// stateLockWait is how long a run waits for --state-dir: an orchestrator
// may restart a job within milliseconds of killing it, while the killed
// process still holds the directory.
const stateLockWait = 5 * time.Second

// resumePause waits, when resuming, until nothing the interrupted run may
// have sent in its last moments still counts in the service's windows.
func resumePause(ctx context.Context, j *report.Journal, logger *slog.Logger) error {
	if !j.Resumed() {
		return nil
	}
	logger.Info("resuming: requests acknowledged by an earlier run will be skipped", "acknowledged", j.Len())
	return uploader.WaitOutEarlierRun(ctx)
}
