package report

import (
	"errors"
	"fmt"
	"os"
)

// Outputs name the files a run writes its outcomes to; "" for none.
type Outputs struct {
	Report       string // --report
	ReportFormat string // --report-format: csv or jsonl
	ReportAll    bool   // --report-all
	Failed       string // --failed
}

// Create creates the output files and starts a recorder writing them for
// command, and journaling acknowledged requests in j if it is not nil.
// Closing the recorder closes the files.
func (o Outputs) Create(command string, j *Journal) (*Recorder, error) {
	cfg := RecorderConfig{Command: command, All: o.ReportAll, Journal: j}
	var files []*os.File
	fail := func(err error) (*Recorder, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, err
	}
	if o.Report != "" {
		f, err := os.Create(o.Report)
		if err != nil {
			return fail(fmt.Errorf("--report: %w", err))
		}
		files = append(files, f)
		if cfg.Report, err = NewWriter(f, o.ReportFormat); err != nil {
			return fail(err)
		}
	}
	if o.Failed != "" {
		f, err := os.Create(o.Failed)
		if err != nil {
			return fail(fmt.Errorf("--failed: %w", err))
		}
		files = append(files, f)
		if cfg.Failed, err = NewFailedWriter(f); err != nil {
			return fail(err)
		}
	}
	r := NewRecorder(cfg)
	r.files = files
	return r, nil
}

// closeFiles closes the files the recorder created.
func (r *Recorder) closeFiles() error {
	var errs []error
	for _, f := range r.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
