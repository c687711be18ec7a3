package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
	"github.com/spf13/cobra"
)

// graceInFlight bounds how long requests in flight may finish after an
// interrupt.
const graceInFlight = 10 * time.Second

// job is what upload, validate and sync share: the checked flags, the
// outputs, the metrics, the open input and, when sending, the uploader.
// Commands differ only in the intake they run and what they do after.
type job struct {
	e        *env
	cmd      *cobra.Command
	o        *options
	start    time.Time
	send     bool
	tol      report.Tolerance
	logger   *slog.Logger
	progress *report.ProgressConfig
	outputs  report.Outputs
	metrics  *report.Metrics
	intake   chunker.IntakeConfig
	rd       *reader.Reader
	up       *uploader.Uploader
	journal  *report.Journal
	cleanups []func()
}

// jobSetup is what a command adds to the shared set-up.
type jobSetup struct {
	send bool
	// interrupted is the log line an interrupt of a sending run gets.
	interrupted string
	// alsoInputs are files no output may overwrite besides the INPUTs.
	alsoInputs []string
	acked      *report.Acked
}

// newJob checks the flags and opens everything a run needs, in the order
// that refuses a bad command line before anything is read or sent. The
// caller must defer r.close(&err) when it returns no error.
func (e *env) newJob(cmd *cobra.Command, o *options, args []string, s jobSetup) (r *job, err error) {
	if len(args) == 0 {
		return nil, usageError(cmd, "no INPUT given")
	}
	r = &job{e: e, cmd: cmd, o: o, start: time.Now(), send: s.send}
	defer func() {
		if err != nil {
			r.close(&err)
		}
	}()
	ro, err := o.readerOptions()
	if err != nil {
		return r, usageError(cmd, "%v", err)
	}
	ro.Stdin = e.stdin
	if r.tol, err = report.ParseTolerance(o.maxRejected); err != nil {
		return r, usageError(cmd, "%v", err)
	}
	if r.logger, err = report.NewLogger(o.logFormat, e.stderr); err != nil {
		return r, usageError(cmd, "%v", err)
	}
	if r.progress, err = report.NewProgressConfig(o.progress, e.stderr, isTerminal(e.stderr), r.logger); err != nil {
		return r, usageError(cmd, "%v", err)
	}
	// From here on, the lines rtseg writes for people (and the error main
	// prints) follow --log-format.
	e.stderr = report.FinalLines(o.logFormat, e.stderr)
	stop := context.AfterFunc(cmd.Context(), func() {
		if s.send {
			r.logger.Warn(s.interrupted)
		} else {
			r.logger.Warn("interrupted: writing the report")
		}
	})
	r.cleanups = append(r.cleanups, func() { stop() })
	o.report = o.reportPath(cmd.Flags().Changed("report"))
	r.outputs = report.Outputs{Report: o.report, ReportFormat: o.reportFormat, ReportAll: o.reportAll,
		Summary: o.summary, Metrics: o.metricsFile, HTML: o.html, RequestsDir: o.requestsDir, Force: o.force, Acked: s.acked}
	if s.send {
		r.outputs.Failed = o.failed
		r.outputs.UsersPerSecond = o.usersPerSecond
	}
	mc := o.metrics(cmd.Name())
	if err := mc.Check(); err != nil {
		return r, usageError(cmd, "%v", err)
	}
	if err := r.outputs.Check(append(args[:len(args):len(args)], s.alsoInputs...)); err != nil {
		return r, asExitError(err)
	}
	mc.Log = r.logger
	if r.metrics, err = report.NewMetrics(mc); err != nil {
		return r, asExitError(err)
	}
	if s.send && o.preflight {
		done, err := e.preflight(cmd, o, args, &ro)
		if err != nil {
			return r, err
		}
		r.cleanups = append(r.cleanups, done)
	}
	if r.intake, err = o.intake(); err != nil {
		return r, usageError(cmd, "%v", err)
	}
	if w := chunker.GroupMemoryWarning(r.intake.Memory, e.container()); w != "" {
		r.logger.Warn(w)
	}
	if e.tuneMemory {
		r.intake.OnMemory = chunker.NewMemoryBudget(e.getenv, e.container()).Grouping
	}
	ro.Objects.OnRetry = func(object string, offset int64, err error) {
		r.logger.Warn("reading an object failed part-way; reading on from where it stopped", "object", object, "offset", offset, "error", err)
	}
	if r.rd, err = reader.Open(args, ro); err != nil {
		return r, asExitError(err)
	}
	r.cleanups = append(r.cleanups, func() { r.rd.Close() })
	if s.send {
		var closeUp func()
		if r.up, closeUp, err = e.newUploader(cmd.Context(), o, r.logger); err != nil {
			return r, asExitError(err)
		}
		r.cleanups = append(r.cleanups, closeUp)
	}
	return r, nil
}

// close releases what the run holds, last opened first, and tells the
// metrics how a run ended that did not get as far as its summary.
func (r *job) close(err *error) {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
	if r.metrics != nil {
		report.WriteWarning(r.e.stderr, r.metrics.Finish(earlyEnd(r.cmd.Name(), r.start, *err)))
	}
}

// openJournal opens --state-dir's journal for the inputs read from base
// ("" for an upload, the delivered state's fingerprint for a sync), waits
// out an interrupted run's last requests when resuming, and has the
// intake skip what that run delivered.
func (r *job) openJournal(base string) error {
	id, err := report.IdentifyReader(r.rd, r.o.sorted)
	if err != nil {
		return asExitError(err)
	}
	id.Base = base
	j, err := report.OpenJournal(r.o.stateDir, id, report.JournalOptions{
		Restart:  r.o.restart,
		LockWait: stateLockWait,
		Waiting: func(pid string) {
			r.logger.Warn(fmt.Sprintf("--state-dir %s is in use by another rtseg run; waiting up to %v for it to end", r.o.stateDir, stateLockWait), "pid", pid)
		},
	})
	if err != nil {
		return asExitError(err)
	}
	r.journal = j
	r.cleanups = append(r.cleanups, func() { j.Close() })
	if j.Resumed() {
		r.logger.Info("resuming: requests acknowledged by an earlier run will be skipped", "acknowledged", j.Len())
		if err := uploader.WaitOutEarlierRun(r.cmd.Context()); err != nil {
			return &exitError{code: exitInterrupted + r.e.signal()}
		}
	}
	r.intake.Journal = j
	return nil
}

// execute runs intake with the uploader sending what it queues (or the
// recorder counting it valid), showing progress, and returns the summary.
func (r *job) execute(intake func(context.Context, *report.Recorder, chan<- *chunker.Request) error) (*report.Summary, error) {
	rec, err := r.outputs.Create(r.cmd.Name(), r.journal)
	if err != nil {
		return nil, asExitError(err)
	}
	r.intake.OnPhase = rec.SetPhase
	stopProgress := startProgress(r.progress, r.rd, rec, r.send)
	r.metrics.Start(rec, r.start)
	queue := 2
	if r.up != nil {
		queue = r.o.workers
	}
	runErr := runStages(r.cmd.Context(), func(ctx context.Context, reqs chan<- *chunker.Request) error {
		return intake(ctx, rec, reqs)
	}, r.up, rec, queue)
	sum, recErr := rec.Close()
	stopProgress()
	if runErr == nil {
		runErr = recErr
	}
	return sum, runErr
}

// finish writes the summary, page and metrics, says how the run went, and
// returns its exit status as an error.
func (r *job) finish(sum *report.Summary, runErr error) error {
	end := report.Ending{Start: r.start, Tolerance: r.tol, Signal: r.e.signal(), SummaryPath: r.o.summary, HTMLPath: r.o.html,
		ReportPath: r.o.report, ReportAll: r.o.reportAll, Out: r.e.stderr, Metrics: r.metrics}
	if r.send {
		end.Endpoint = uploader.BareURL(r.o.endpoint)
	}
	end.Member, _ = strconv.ParseInt(r.o.memberID, 10, 64)
	if status, err := sum.Finish(end, runErr); status != exitOK {
		return &exitError{code: status, err: err}
	}
	return nil
}

// newUploader builds the uploader with its limiters and credentials, and
// a function that closes what they hold open (limiter.go).
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
