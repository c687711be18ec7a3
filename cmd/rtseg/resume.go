package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
)

// openJournal opens --state-dir's journal for this run: the inputs as they
// are now and the flags that decide which requests are made. Resuming a run
// whose inputs or such flags changed is refused unless --restart.
func openJournal(o *options, inputs []string) (*report.Journal, error) {
	files, err := reader.Files(inputs)
	if err != nil {
		return nil, err
	}
	id := report.Identity{Settings: o.requestSettings()}
	for _, f := range files {
		if f == reader.Stdin {
			return nil, errors.New("--state-dir: standard input cannot be resumed; write it to a file first")
		}
		in, err := report.Fingerprint(f)
		if err != nil {
			return nil, fmt.Errorf("--state-dir: %w", err)
		}
		id.Inputs = append(id.Inputs, in)
	}
	return report.OpenJournal(o.stateDir, id, o.restart)
}

// requestSettings lists the flags that decide which requests a run makes
// and in what order: requests are known by their number in that order.
func (o *options) requestSettings() string {
	return strings.Join([]string{
		"format=" + o.format, "columns=" + o.columns, "delimiter=" + o.delimiter,
		"domain=" + o.domain, "member-id=" + o.memberID, "value=" + o.value,
		"expiration=" + o.expiration, fmt.Sprintf("remove=%v", o.remove), fmt.Sprintf("sorted=%v", o.sorted),
		fmt.Sprintf("max-users=%d", o.maxUsers), fmt.Sprintf("max-segments=%d", o.maxSegments),
		fmt.Sprintf("max-bytes=%d", o.maxBytes),
	}, " ")
}

// resumePause waits, when resuming, until nothing the interrupted run may
// have sent in its last moments still counts in the service's one-second
// windows: this process's limiter cannot know about those calls.
func resumePause(ctx context.Context, j *report.Journal, logger *slog.Logger) error {
	if !j.Resumed() {
		return nil
	}
	logger.Info("resuming: requests acknowledged by an earlier run will be skipped", "acknowledged", j.Acknowledged())
	t := time.NewTimer(uploader.LimitSpan + uploader.LimitJitter)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
