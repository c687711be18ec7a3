package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
	"github.com/spf13/cobra"
)

// graceInFlight bounds how long requests in flight may finish after an
// interrupt.
const graceInFlight = 10 * time.Second

func (e *env) uploadCommand() *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "upload [flags] INPUT...",
		Short: "Validate, pack and send rows to the Instant Audience Service",
		Long: `Upload reads user-segment rows from each INPUT (a CSV or Parquet file, a
directory of *.csv, *.csv.gz and *.parquet files read in name order, a glob,
or - for CSV on standard input), groups each user's rows, packs them into
requests within the service's limits, sends them with retries under the
POST/s and users/s limits, and writes a report of every row not accepted.

Credentials come from XANDR_TOKEN, --token-file, or XANDR_USERNAME and
XANDR_PASSWORD (logging in at {--api}/auth, and again when the token expires).

Exit status: 0 all rows accepted (or rejections within --max-rejected),
1 the run could not be done, 2 too many rows invalid, warned or failed,
130/143 interrupted by SIGINT/SIGTERM (report and summary still written).`,
		Example: `  # A one-off backfill from a warehouse export
  export XANDR_TOKEN=hbapi:...
  rtseg upload --summary backfill.json --failed retry.csv exports/part-*.csv.gz

  # A nightly job: tolerate up to 0.1% rejected rows
  rtseg upload --max-rejected 0.1% --report nightly-report.csv /data/audience.parquet

  # Retry what failed last night
  rtseg upload --failed retry-again.csv retry.csv`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.runUpload(cmd, o, args, true)
		},
	}
	e.addCommonFlags(cmd, o, true)
	cmd.Flags().BoolVar(&o.preflight, "preflight", false, "check the input's segments with the Segment Service first; refuse to start if any cannot take users")
	cmd.Flags().StringVar(&o.stateDir, "state-dir", "", "journal acknowledged requests here; run the same command again to send only the rest")
	cmd.Flags().BoolVar(&o.restart, "restart", false, "with --state-dir: forget the journal and send everything, even if the inputs changed")
	return cmd
}

func (e *env) validateCommand() *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "validate [flags] INPUT...",
		Short: "Read, check and pack rows as upload would, without sending anything",
		Long: `Validate does everything upload does except send: it reads each INPUT,
checks every row, groups and packs them, and reports invalid and superseded
rows (and, with --report-all, the rows it would send as "valid"). With
--requests-dir it writes the request bodies it would send.`,
		Example: `  rtseg validate users.csv
  rtseg validate --report-all --requests-dir out/ exports/`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.runUpload(cmd, o, args, false)
		},
	}
	e.addCommonFlags(cmd, o, false)
	return cmd
}

// runUpload runs upload (send) or validate (!send).
func (e *env) runUpload(cmd *cobra.Command, o *options, args []string, send bool) error {
	if len(args) == 0 {
		return usageError(cmd, "no INPUT given")
	}
	start := time.Now()
	ro, err := o.readerOptions()
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	ro.Stdin = e.stdin
	tol, err := parseTolerance(o.maxRejected)
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	logger, err := newLogger(o.logFormat, e.stderr)
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	if _, err := e.progressConfig(o.progress, logger); err != nil {
		return usageError(cmd, "%v", err)
	}
	if send && o.preflight {
		done, err := e.preflight(cmd, o, args, &ro)
		if err != nil {
			return err
		}
		defer done()
	}
	group, err := o.grouping()
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	if e.tuneMemory {
		group.budget = newMemoryBudget(e.getenv)
	}
	rd, err := reader.Open(args, ro)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	defer rd.Close()

	s := &stages{reader: rd, limits: o.limits(), requestsDir: o.requestsDir, queue: 2, group: group}
	if send {
		if s.uploader, err = e.newUploader(o); err != nil {
			return asExitError(err)
		}
		s.queue = o.workers
	}
	if o.requestsDir != "" {
		if err := os.MkdirAll(o.requestsDir, 0o755); err != nil {
			return &exitError{code: exitFailure, err: fmt.Errorf("--requests-dir: %w", err)}
		}
	}
	if send && o.stateDir != "" {
		if s.journal, err = openJournal(o, args); err != nil {
			return asExitError(err)
		}
		defer s.journal.Close()
		if err := resumePause(cmd.Context(), s.journal, logger); err != nil {
			return &exitError{code: exitInterrupted + e.signal()}
		}
	}
	files, err := openOutputs(o, send)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	s.recorder = report.NewRecorder(files.config(cmd.Name(), o.reportAll))

	stopProgress, err := e.startProgress(o, args, s, logger, send)
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	runErr := runPipeline(cmd.Context(), s)
	sum, recErr := s.recorder.Close()
	stopProgress()
	closeErr := files.close()
	sum.ElapsedSeconds = time.Since(start).Seconds()
	describeRun(sum, o, start, send)

	status := exitOK
	var runFailure error
	switch {
	case runErr != nil:
		status, runFailure = exitFailure, runErr
	case recErr != nil || closeErr != nil:
		status, runFailure = exitFailure, fmt.Errorf("write report: %w", errors.Join(recErr, closeErr))
	case !sum.Reconciles():
		status, runFailure = exitFailure, errors.New("the outcomes do not add up to the rows read")
	case !tol.allows(sum.Rejected(), sum.RowsRead):
		status = exitRejected
	}
	if n := e.signal(); n != 0 && status != exitFailure {
		status = exitInterrupted + n
	}
	sum.ExitStatus = status
	if o.summary != "" {
		if err := sum.WriteFile(o.summary); err != nil && runFailure == nil {
			status, runFailure = exitFailure, fmt.Errorf("--summary: %w", err)
		}
	}
	if runFailure == nil || sum.RowsRead > 0 {
		sum.WriteHuman(e.stderr)
	}
	if o.report != "" && (sum.RowsRead > sum.Accepted+sum.Valid || o.reportAll) {
		fmt.Fprintf(e.stderr, "rtseg: report: %s\n", o.report)
	}
	if status == exitRejected {
		fmt.Fprintf(e.stderr, "rtseg: %d rows rejected (invalid, warned or failed), more than --max-rejected %s allows\n", sum.Rejected(), o.maxRejected)
	}
	if status == exitOK {
		return nil
	}
	return &exitError{code: status, err: runFailure}
}

// newUploader builds the uploader with its limiters and credentials.
func (e *env) newUploader(o *options) (*uploader.Uploader, error) {
	auth, err := e.auth(o)
	if err != nil {
		return nil, err
	}
	limiter, err := uploader.NewLimiter(o.rps, o.usersPerSecond, uploader.LimitSpan, uploader.LimitJitter)
	if err != nil {
		return nil, err
	}
	return uploader.New(uploader.Config{
		Endpoint:   o.endpoint,
		Auth:       auth,
		Workers:    o.workers,
		MaxRetries: o.maxRetries,
		Timeout:    o.timeout,
		Limiter:    limiter,
		MaxUsers:   o.maxUsers,
		Grace:      graceInFlight,
	})
}

// auth picks the credentials: --token-file, XANDR_TOKEN, or a login with
// XANDR_USERNAME and XANDR_PASSWORD.
func (e *env) auth(o *options) (uploader.Auth, error) {
	if o.tokenFile != "" {
		t, err := readToken(o.tokenFile)
		if err != nil {
			return nil, err
		}
		return uploader.StaticToken{Value: uploader.NewSecret(t)}, nil
	}
	if t := strings.TrimSpace(e.getenv("XANDR_TOKEN")); t != "" {
		return uploader.StaticToken{Value: uploader.NewSecret(t)}, nil
	}
	user, pass := e.getenv("XANDR_USERNAME"), e.getenv("XANDR_PASSWORD")
	if user != "" && pass != "" {
		authURL, err := url.JoinPath(o.api, "auth")
		if err != nil {
			return nil, fmt.Errorf("--api %q: %w", o.api, err)
		}
		if err := uploader.CheckEndpoint(authURL); err != nil {
			return nil, err
		}
		return &uploader.Login{URL: authURL, Username: user, Password: uploader.NewSecret(pass), Timeout: o.timeout}, nil
	}
	return nil, &exitError{code: exitFailure, err: errors.New("no credentials"),
		hint: "set XANDR_TOKEN, pass --token-file, or set XANDR_USERNAME and XANDR_PASSWORD (try 'rtseg demo' to see rtseg work without any)"}
}

// outputs are the files a run writes.
type outputs struct {
	report, failed *os.File
	lines          report.LineWriter
	failedRows     *report.FailedWriter
}

func openOutputs(o *options, send bool) (*outputs, error) {
	out := &outputs{}
	if o.report != "" {
		f, err := os.Create(o.report)
		if err != nil {
			return nil, fmt.Errorf("--report: %w", err)
		}
		out.report = f
		if out.lines, err = report.NewWriter(f, o.reportFormat); err != nil {
			f.Close()
			return nil, err
		}
	}
	if send && o.failed != "" {
		f, err := os.Create(o.failed)
		if err != nil {
			out.close()
			return nil, fmt.Errorf("--failed: %w", err)
		}
		out.failed = f
		if out.failedRows, err = report.NewFailedWriter(f); err != nil {
			out.close()
			return nil, err
		}
	}
	return out, nil
}

func (out *outputs) config(command string, all bool) report.RecorderConfig {
	return report.RecorderConfig{Command: command, Report: out.lines, All: all, Failed: out.failedRows}
}

func (out *outputs) close() error {
	var errs []error
	for _, f := range []*os.File{out.report, out.failed} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}
