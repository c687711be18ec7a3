package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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

The limits default to the service's documented ones: 1000 users and 100
segments per user in a request of at most 1000000 bytes, 100 POST calls and
1000 users a second. Higher values are refused unless
--allow-above-service-limits says that Xandr raised the member's limits.

The service's limits are per member. Jobs of one member that run at the same
time, on one machine or several, hold them together when each names the same
Redis with --limiter (or RTSEG_LIMITER) and the same --limiter-key: no
one-second window then goes over --rps or --users-per-second, retries
included, each job gets its share, and a 429 seen by one pauses them all. If
Redis cannot be reached at the start, the run does not start (exit status 1).
If it is lost during the run, sending pauses while rtseg reconnects; after
--limiter-wait without it, the rows still to send fail (exit status 2) and go
to --failed, to be sent again later.

Progress shows the share of rows accounted for (answered, invalid,
superseded), the phase (reading, grouping, spilling, sending) and the time
left: a bar on a terminal, a log line every 10s otherwise.

For scheduled runs, --metrics-file (node_exporter's textfile collector) or
--metrics-push (a Pushgateway) report the run to Prometheus, with the
summary's counts, its exit status and rtseg_last_success_timestamp_seconds,
set only by a run that exits 0: alert on
'time() - rtseg_last_success_timestamp_seconds > 26*3600'. --report-format
parquet writes a report with typed columns that a warehouse loads as it is.
Inside a container, --group-memory's default shrinks to fit its memory limit.

With --html PATH it writes the run page: one HTML file, readable offline,
that shows the verdict, every row accounted for, the segments, the invalid,
warned and failed rows grouped by why with file:line examples, and users
sent per second against the limit, with 429s and retries marked. It is
written at the end, and on SIGINT/SIGTERM, like the summary; open it in a
browser, or keep it as a CI or Airflow artifact. rtseg reconcile --summary
S.json --html PATH adds the service's side to it later.

Exit status: 0 all rows accepted (or rejections within --max-rejected),
1 the run could not be done, 2 too many rows invalid, warned or failed,
130/143 interrupted by SIGINT/SIGTERM (report, summary and page still written).`,
		Example: `  # A one-off backfill from a warehouse export
  export XANDR_TOKEN=hbapi:...
  rtseg upload --summary backfill.json --failed retry.csv exports/part-*.csv.gz

  # A nightly job: tolerate up to 0.1% rejected rows, tell Prometheus how it went,
  # and leave a report for the warehouse
  rtseg upload --max-rejected 0.1% --metrics-push http://pushgateway:9091 --metrics-job audience-nightly \
    --report-format parquet --report nightly-report.parquet /data/audience.parquet

  # Keep a page to look at
  rtseg upload --max-rejected 0.1% --report nightly-report.csv --summary nightly.json \
    --html nightly.html /data/audience.parquet

  # Retry what failed last night
  rtseg upload --failed retry-again.csv retry.csv

  # Three nightly jobs of one member at once, sharing its limits
  export RTSEG_LIMITER=redis://:REDIS_PASSWORD@redis.internal:6379/0
  rtseg upload --limiter-key member-1234 --failed a-retry.csv family-a/ &
  rtseg upload --limiter-key member-1234 --failed b-retry.csv family-b/ &
  rtseg upload --limiter-key member-1234 --failed c-retry.csv backfill.parquet &
  wait`,
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
--requests-dir it writes the request bodies it would send, and with --html
the run page: the invalid rows grouped by reason, with file:line examples.`,
		Example: `  rtseg validate users.csv
  rtseg validate --html check.html exports/
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
func (e *env) runUpload(cmd *cobra.Command, o *options, args []string, send bool) (err error) {
	if len(args) == 0 {
		return usageError(cmd, "no INPUT given")
	}
	start := time.Now()
	ro, err := o.readerOptions()
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	ro.Stdin = e.stdin
	tol, err := report.ParseTolerance(o.maxRejected)
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	logger, err := report.NewLogger(o.logFormat, e.stderr)
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	progress, err := report.NewProgressConfig(o.progress, e.stderr, isTerminal(e.stderr), logger)
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	// From here on, the lines rtseg writes for people (and the error main
	// prints) follow --log-format.
	e.stderr = report.FinalLines(o.logFormat, e.stderr)
	defer context.AfterFunc(cmd.Context(), func() {
		if send {
			logger.Warn(fmt.Sprintf("interrupted: finishing the requests in flight (%v at most), then writing the report; interrupt again to stop waiting", graceInFlight))
		} else {
			logger.Warn("interrupted: writing the report")
		}
	})()
	o.report = o.reportPath(cmd.Flags().Changed("report"))
	outputs := report.Outputs{Report: o.report, ReportFormat: o.reportFormat, ReportAll: o.reportAll,
		Summary: o.summary, Metrics: o.metricsFile, HTML: o.html, RequestsDir: o.requestsDir, Force: o.force}
	if send {
		outputs.Failed = o.failed
		outputs.UsersPerSecond = o.usersPerSecond
	}
	mc := o.metrics(cmd.Name())
	if err := mc.Check(); err != nil {
		return usageError(cmd, "%v", err)
	}
	if err := outputs.Check(args); err != nil {
		return asExitError(err)
	}
	mc.Log = logger
	metrics, err := report.NewMetrics(mc)
	if err != nil {
		return asExitError(err)
	}
	// A run that ends before its summary (an input missing, a login
	// refused) still says so in its metrics.
	defer func() { report.WriteWarning(e.stderr, metrics.Finish(earlyEnd(cmd.Name(), start, err))) }()
	if send && o.preflight {
		done, err := e.preflight(cmd, o, args, &ro)
		if err != nil {
			return err
		}
		defer done()
	}
	intake, err := o.intake()
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	if w := groupMemoryWarning(intake.Memory, e.container()); w != "" {
		logger.Warn(w)
	}
	if e.tuneMemory {
		intake.OnMemory = newMemoryBudget(e.getenv, e.container()).grouping
	}
	rd, err := reader.Open(args, ro)
	if err != nil {
		return asExitError(err)
	}
	defer rd.Close()

	var up *uploader.Uploader
	queue := 2
	if send {
		var closeUp func()
		if up, closeUp, err = e.newUploader(cmd.Context(), o, logger); err != nil {
			return asExitError(err)
		}
		defer closeUp()
		queue = o.workers
	}
	var journal *report.Journal
	if send {
		if o.stateDir != "" {
			if journal, err = openJournal(o, rd.Files(), logger); err != nil {
				return asExitError(err)
			}
			defer journal.Close()
			if err := resumePause(cmd.Context(), journal, logger); err != nil {
				return &exitError{code: exitInterrupted + e.signal()}
			}
			intake.Journal = journal
		}
	}
	rec, err := outputs.Create(cmd.Name(), journal)
	if err != nil {
		return asExitError(err)
	}

	intake.OnPhase = rec.SetPhase
	stopProgress := startProgress(progress, rd, rec, send)
	metrics.Start(rec, start)
	runErr := runPipeline(cmd.Context(), rd, intake, up, rec, queue)
	sum, recErr := rec.Close()
	stopProgress()
	if runErr == nil {
		runErr = recErr
	}
	end := report.Ending{Start: start, Tolerance: tol, Signal: e.signal(), SummaryPath: o.summary, HTMLPath: o.html,
		ReportPath: o.report, ReportAll: o.reportAll, Out: e.stderr, Metrics: metrics}
	if send {
		end.Endpoint = uploader.BareURL(o.endpoint)
	}
	end.Member, _ = strconv.ParseInt(o.memberID, 10, 64)
	if status, err := sum.Finish(end, runErr); status != exitOK {
		return &exitError{code: status, err: err}
	}
	return nil
}

// newUploader builds the uploader with its limiters and credentials, and
// a function that closes what they hold open.
func (e *env) newUploader(ctx context.Context, o *options, logger *slog.Logger) (*uploader.Uploader, func(), error) {
	auth, err := e.auth(o)
	if err != nil {
		return nil, nil, err
	}
	limiter, done, err := e.limiter(ctx, o, logger)
	if err != nil {
		return nil, nil, err
	}
	up, err := uploader.New(uploader.Config{
		Endpoint:          o.endpoint,
		Auth:              auth,
		Workers:           o.workers,
		MaxRetries:        o.maxRetries,
		Timeout:           o.timeout,
		Limiter:           limiter,
		MaxUsers:          o.maxUsers,
		Grace:             graceInFlight,
		Hurry:             e.hurry,
		AllowAboveService: o.aboveServiceLimits,
	})
	if err != nil {
		done()
		return nil, nil, err
	}
	return up, done, nil
}

// auth picks the credentials: --token-file, XANDR_TOKEN, or a login with
// XANDR_USERNAME and XANDR_PASSWORD.
func (e *env) auth(o *options) (uploader.Auth, error) {
	return uploader.Credentials{TokenFile: o.tokenFile, Getenv: e.getenv, API: o.api, Timeout: o.timeout}.Auth()
}

// earlyEnd is the summary of a run that ended with err before it could be
// summed up: nothing counted, its exit status.
func earlyEnd(command string, start time.Time, err error) *report.Summary {
	s := &report.Summary{Command: command, ElapsedSeconds: time.Since(start).Seconds(), ExitStatus: exitOK}
	if err != nil {
		s.ExitStatus = exitFailure
		var xe *exitError
		if errors.As(err, &xe) {
			s.ExitStatus = xe.code
		}
	}
	return s
}
