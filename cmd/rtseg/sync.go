package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
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

An invalid row that still names its user keeps that user's delivered
associations from removal: it is no evidence that they are gone.
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

func (e *env) runSync(cmd *cobra.Command, o *options, args []string) (err error) {
	diff, limit, err := o.syncSettings()
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	statePath := filepath.Join(o.stateDir, reader.StateFile)
	acked := report.NewAcked()
	send := !o.dryRun
	r, err := e.newJob(cmd, o, args, jobSetup{send: send, acked: acked,
		interrupted: fmt.Sprintf("interrupted: finishing the requests in flight (%v at most), then writing the report; the state is left as it was: run the same command again to finish", graceInFlight),
		// The state counts as an input: no output may overwrite it.
		alsoInputs: []string{statePath}})
	if err != nil {
		return err
	}
	defer r.close(&err)
	diff.Now = r.start
	if err := report.NotReadingState(r.rd.Files(), statePath); err != nil {
		return asExitError(err)
	}
	if send {
		base, err := report.StateBase(statePath)
		if err != nil {
			return asExitError(err)
		}
		if err := r.openJournal(base); err != nil {
			return err
		}
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
	cfg := chunker.SyncConfig{Diff: diff, StateFile: statePath, MaxRemovals: limit}
	if state != nil {
		cfg.State, cfg.Delivered = state, state.Len()
	}
	var plan *chunker.Plan
	sum, runErr := r.execute(func(ctx context.Context, rec *report.Recorder, reqs chan<- *chunker.Request) error {
		cfg.Intake = r.intake
		var err error
		plan, err = chunker.Sync(ctx, r.rd, cfg, rec, reqs)
		return err
	})
	if sum == nil {
		return runErr
	}
	if plan != nil {
		defer plan.Close()
		c := plan.Counts()
		sum.Sync = &report.Sync{Added: c.Added, Changed: c.Changed, Refreshed: c.Refreshed, Removed: c.Removed,
			Kept: c.Kept, Expired: c.Expired, DryRun: !send, State: statePath, StateBefore: c.Delivered}
	}
	if send && e.signal() == 0 {
		if err := report.FinishSync(r.journal, plan, statePath, acked, r.start, sum.Sync); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	return r.finish(sum, runErr)
}
