package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
	"github.com/spf13/cobra"
)

func (e *env) syncCommand() *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "sync --state-dir DIR [flags] INPUT...",
		Short: "Send only what changed since the last delivered snapshot",
		Long: `Sync is for scheduled jobs. Each INPUT together is a snapshot: the whole
audience the service should hold. Sync compares it with the delivered state
kept in --state-dir (state.parquet: every association the service holds
from earlier syncs, and when it was delivered) and sends only the
difference:

  added      in the snapshot, not delivered before: sent
  changed    its value or expiration differs: sent
  refreshed  the same, but its lifetime at the service (delivered time plus
             expiration) ends within --refresh-before: sent again
  removed    delivered before and absent from the snapshot: sent with
             expiration -1 (--mode mirror, the default); --mode upsert
             leaves it to expire instead
  unchanged  the same, with time to live: not sent

Expiration 0 never expires and is never refreshed. A row without an
expiration takes the member's default, which rtseg cannot see: say what it
is with --default-lifetime (by default, such rows count as never expiring).

The whole snapshot is compared before anything is sent. A snapshot that
would remove more than --max-removals of the delivered associations (a
truncated or empty export) is refused then: exit status 1, nothing sent,
the state untouched. --dry-run reports what would be added, changed,
refreshed and removed (the report with --report-all, the bodies with
--requests-dir) and sends nothing; --full sends every association of the
snapshot and rebuilds the state.

The new state is written when the run ends, under a temporary name renamed
into place, and changes only by what the service acknowledged: a failed or
warned row keeps its old entry, so the next run sends it again. A run
killed or interrupted (SIGINT, SIGTERM) leaves the old state and a journal
of what was acknowledged: the same command again finishes the job without
sending that again. Two syncs cannot use one --state-dir at once.

Every flag of upload applies. The report lists removals with the state file
as their file and its row as their line; the summary counts added,
changed, refreshed, removed and unchanged, and
rows_read = accepted + invalid + superseded + warned + failed + skipped + unchanged,
where rows_read counts the snapshot's rows and the removals.

Exit status: as upload (0, 1, 2, 130/143); 1 also when --max-removals
refuses the snapshot, or the state is damaged or not rtseg's.`,
		Example: `  # The nightly job: send what changed since last night
  export XANDR_TOKEN=hbapi:...
  rtseg sync --state-dir /var/lib/rtseg/audience --summary sync.json /data/audience/

  # See first what it would do, sending and changing nothing
  rtseg sync --state-dir /var/lib/rtseg/audience --dry-run --report-all --report plan.csv /data/audience/

  # Keep associations that leave the snapshot until they expire
  rtseg sync --state-dir /var/lib/rtseg/audience --mode upsert /data/audience/

  # Start over: send the whole snapshot and rebuild the state
  rtseg sync --state-dir /var/lib/rtseg/audience --full /data/audience/`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.runSync(cmd, o, args)
		},
	}
	e.addCommonFlags(cmd, o, true)
	f := cmd.Flags()
	f.Lookup("sorted").Usage = "input is sorted by domain (empty first), then user_id, byte-wise, each user once:\nstream it in constant memory (input out of that order is refused before anything is sent)"
	f.Lookup("group-memory").Usage = "memory for grouping unsorted input before spilling to disk: SIZE such as 64MiB or 1GB"
	f.StringVar(&o.stateDir, "state-dir", "", "where the delivered state (state.parquet) and the journal of an unfinished run are kept (required)")
	f.StringVar(&o.mode, "mode", "mirror", "what to do with an association delivered before and absent from the snapshot:\nmirror removes it, upsert leaves it to expire")
	f.DurationVar(&o.refreshBefore, "refresh-before", 48*time.Hour, "send again an unchanged association whose lifetime at the service ends within this")
	f.StringVar(&o.maxRemovals, "max-removals", "10%", "refuse, before sending anything, a snapshot that would remove more associations: N or P% of those delivered")
	f.DurationVar(&o.defaultLifetime, "default-lifetime", 0, "the lifetime the member's default expiration gives rows without an expiration, e.g. 720h\n(default 0: such rows never expire and are never refreshed)")
	f.BoolVar(&o.dryRun, "dry-run", false, "report what would be added, changed, refreshed and removed; send nothing, change nothing")
	f.BoolVar(&o.full, "full", false, "send every association of the snapshot, changed or not, and rebuild the state from what is acknowledged")
	f.BoolVar(&o.preflight, "preflight", false, "check the input's segments with the Segment Service first; refuse to start if any cannot take users")
	f.BoolVar(&o.restart, "restart", false, "forget the journal of an interrupted run of other inputs (what it sent and the state does not record may be sent again)")
	return cmd
}

// syncSettings checks sync's own flags.
func (o *options) syncSettings() (chunker.DiffConfig, *chunker.RemovalLimit, error) {
	var d chunker.DiffConfig
	var err error
	if d.Mode, err = chunker.ParseMode(o.mode); err != nil {
		return d, nil, err
	}
	limit, err := chunker.ParseRemovalLimit(o.maxRemovals)
	if err != nil {
		return d, nil, err
	}
	switch {
	case o.stateDir == "":
		return d, nil, errors.New("--state-dir is required: it keeps what earlier syncs delivered")
	case o.refreshBefore < 0:
		return d, nil, fmt.Errorf("--refresh-before %v: want a duration of 0 or more", o.refreshBefore)
	case o.defaultLifetime < 0:
		return d, nil, fmt.Errorf("--default-lifetime %v: want a duration of 0 or more (0: never expires)", o.defaultLifetime)
	}
	d.Full, d.RefreshBefore, d.DefaultLifetime = o.full, o.refreshBefore, o.defaultLifetime
	return d, &limit, nil
}

func (e *env) runSync(cmd *cobra.Command, o *options, args []string) error {
	if len(args) == 0 {
		return usageError(cmd, "no INPUT given")
	}
	start := time.Now()
	diff, limit, err := o.syncSettings()
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	diff.Now = start
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
	e.stderr = report.FinalLines(o.logFormat, e.stderr)
	send := !o.dryRun
	defer context.AfterFunc(cmd.Context(), func() {
		if send {
			logger.Warn(fmt.Sprintf("interrupted: finishing the requests in flight (%v at most), then writing the report; the state is left as it was: run the same command again to finish", graceInFlight))
		} else {
			logger.Warn("interrupted: writing the report")
		}
	})()
	statePath := filepath.Join(o.stateDir, reader.StateFile)
	acked := report.NewAcked()
	o.report = o.reportPath(cmd.Flags().Changed("report"))
	outputs := report.Outputs{Report: o.report, ReportFormat: o.reportFormat, ReportAll: o.reportAll,
		Summary: o.summary, Metrics: o.metricsFile, HTML: o.html, RequestsDir: o.requestsDir, Force: o.force, Acked: acked}
	if send {
		outputs.Failed = o.failed
		outputs.UsersPerSecond = o.usersPerSecond
	}
	mc := o.metrics(cmd.Name())
	if err := mc.Check(); err != nil {
		return usageError(cmd, "%v", err)
	}
	// The state counts as an input: no output may overwrite it.
	if err := outputs.Check(append(args[:len(args):len(args)], statePath)); err != nil {
		return asExitError(err)
	}
	mc.Log = logger
	metrics, err := report.NewMetrics(mc)
	if err != nil {
		return asExitError(err)
	}
	defer func() { report.WriteWarning(e.stderr, metrics.Finish(earlyEnd(cmd.Name(), start, err))) }()
	if o.preflight {
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
	if e.tuneMemory {
		intake.OnMemory = newMemoryBudget(e.getenv, e.container()).grouping
	}
	rd, err := reader.Open(args, ro)
	if err != nil {
		return asExitError(err)
	}
	defer rd.Close()
	if err := notReadingState(rd.Files(), statePath); err != nil {
		return asExitError(err)
	}

	var up *uploader.Uploader
	queue := 2
	var journal *report.Journal
	if send {
		var closeUp func()
		if up, closeUp, err = e.newUploader(cmd.Context(), o, logger); err != nil {
			return asExitError(err)
		}
		defer closeUp()
		queue = o.workers
		if journal, err = openSyncJournal(o, rd.Files(), statePath, logger); err != nil {
			return asExitError(err)
		}
		defer journal.Close()
		if err := resumePause(cmd.Context(), journal, logger); err != nil {
			return &exitError{code: exitInterrupted + e.signal()}
		}
		intake.Journal = journal
	}
	state, err := reader.OpenState(statePath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		state = nil
	case err != nil:
		return asExitError(err)
	default:
		defer state.Close()
	}
	cfg := chunker.SyncConfig{Intake: intake, Diff: diff, StateFile: statePath, MaxRemovals: limit}
	if state != nil {
		cfg.State, cfg.Delivered = state, state.Len()
	}
	rec, err := outputs.Create(cmd.Name(), journal)
	if err != nil {
		return asExitError(err)
	}

	cfg.Intake.OnPhase = rec.SetPhase
	stopProgress := startProgress(progress, rd, rec, send)
	metrics.Start(rec, start)
	var plan *chunker.Plan
	runErr := runStages(cmd.Context(), func(ctx context.Context, reqs chan<- *chunker.Request) error {
		var err error
		plan, err = chunker.Sync(ctx, rd, cfg, rec, reqs)
		return err
	}, up, rec, queue)
	sum, recErr := rec.Close()
	stopProgress()
	if runErr == nil {
		runErr = recErr
	}
	if plan != nil {
		defer plan.Close()
		c := plan.Counts()
		sum.Sync = &report.Sync{Added: c.Added, Changed: c.Changed, Refreshed: c.Refreshed, Removed: c.Removed,
			Kept: c.Kept, Expired: c.Expired, DryRun: !send, State: statePath, StateBefore: c.Delivered}
	}
	if send && e.signal() == 0 {
		if err := finishSync(journal, plan, statePath, acked, start, sum.Sync); err != nil {
			runErr = errors.Join(runErr, err)
		}
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

// finishSync writes the new state of a run that compared the whole
// snapshot, and then drops the journal, whose work the state now records.
// A run that could not compare it all (or was refused) sent nothing: it
// drops the journal if that holds nothing an earlier run delivered.
func finishSync(j *report.Journal, plan *chunker.Plan, statePath string, acked *report.Acked, start time.Time, s *report.Sync) error {
	if plan == nil || !plan.Complete() {
		if j.Len() == 0 {
			return j.Remove()
		}
		return nil
	}
	// Rows acknowledged count as delivered when the run that sent them
	// started: their lifetime is not taken for longer than it is.
	at := start
	if t := j.Started(); !t.IsZero() && t.Before(at) {
		at = t
	}
	n, err := report.WriteState(statePath, plan, acked, at)
	if err != nil {
		return err
	}
	s.StateAfter, s.StateWritten = n, true
	return j.Remove()
}

// openSyncJournal opens --state-dir's journal for a sync of these files
// from the state at statePath, locking the directory.
func openSyncJournal(o *options, files []string, statePath string, logger *slog.Logger) (*report.Journal, error) {
	id, err := report.Identify(files, o.sorted)
	if err != nil {
		return nil, err
	}
	id.Base = "none"
	if in, err := report.Fingerprint(statePath); err == nil {
		id.Base = in.Sample + "/" + strconv.FormatInt(in.Size, 10) + "/" + in.ModTime.Format(time.RFC3339Nano)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--state-dir: %w", err)
	}
	return report.OpenJournal(o.stateDir, id, report.JournalOptions{
		Restart:  o.restart,
		LockWait: stateLockWait,
		Waiting: func(pid string) {
			logger.Warn(fmt.Sprintf("--state-dir %s is in use by another rtseg run; waiting up to %v for it to end", o.stateDir, stateLockWait), "pid", pid)
		},
	})
}

// notReadingState refuses inputs that include the state file itself (an
// INPUT directory holding --state-dir).
func notReadingState(files []string, statePath string) error {
	want, err := filepath.Abs(statePath)
	if err != nil {
		return nil
	}
	for _, f := range files {
		if abs, err := filepath.Abs(f); err == nil && abs == want {
			return fmt.Errorf("the INPUT %s is the delivered state of --state-dir: keep --state-dir out of the input directories", f)
		}
	}
	return nil
}
