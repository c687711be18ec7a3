package chunker

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/rtseg/rtseg/reader"
)

// SyncOutcomes receives what rtseg sync decides about rows: report's
// Recorder.
type SyncOutcomes interface {
	Outcomes
	// Unchanged takes snapshot rows that the service holds already as
	// delivered: they are not sent. It must not keep rows, whose memory
	// is reused, past the call.
	Unchanged(rows []reader.Row)
}

// SyncConfig says how rtseg sync compares the snapshot with the delivered
// state, groups and packs what changed.
type SyncConfig struct {
	// Intake groups and packs as upload does; its Journal skips requests
	// an earlier, interrupted run delivered.
	Intake IntakeConfig
	Diff   DiffConfig
	// State is the delivered state, nil for none (the first sync);
	// StateFile names it in the positions of the rows it removes, and
	// Delivered is its number of associations.
	State     StateRows
	StateFile string
	Delivered int64
	// MaxRemovals, if set, refuses a snapshot that would remove more
	// associations, before anything is sent.
	MaxRemovals *RemovalLimit
}

// Sync reads every row of the snapshot, groups each user's rows (in the
// state's order: by domain, then user ID), compares them with the
// delivered state in one pass and writes the plan; then, unless more
// removals than allowed are planned, packs and queues what changed, and
// reports the rest unchanged. Nothing is queued before the whole snapshot
// has been compared.
//
// Every row read gets an outcome, as with Intake: a run stopped by ctx, an
// unreadable input, input out of order, a damaged state or the removal
// guard leaves the rows it would send unsent, with the reason. The plan is
// returned with its counts whenever it could be made; the caller writes the
// new state from it (if it is Complete) and closes it.
func Sync(ctx context.Context, rows Batches, cfg SyncConfig, out SyncOutcomes, queue chan<- *Request) (*Plan, error) {
	ic := &cfg.Intake
	if ic.RequestsDir != "" {
		if err := os.MkdirAll(ic.RequestsDir, 0o755); err != nil {
			return nil, fmt.Errorf("--requests-dir: %w", err)
		}
	}
	plan, err := newPlan(ic.TmpDir, cfg.StateFile)
	if err != nil {
		return nil, err
	}
	plan.counts.Delivered = cfg.Delivered
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	h := &handOn{ctx: ctx, stop: stop, cfg: ic, out: out, queue: queue}
	p, err := NewPacker(ic.Limits, h)
	if err != nil {
		plan.Close()
		return nil, err
	}
	d := &differ{cfg: &cfg.Diff, state: cfg.State, plan: plan, out: out, fail: stop, fallback: p,
		refreshBy: cfg.Diff.Now.Add(cfg.Diff.RefreshBefore)}
	var g interface {
		Add(reader.Row) error
		hold(reader.Row) error
		Close() error
	}
	if ic.Sorted {
		g = newStrictAdjacent(d, h)
		ic.phase(Reading)
	} else {
		g = newGrouper(d, h, ic.groupConfig())
		ic.phase(Grouping)
	}
	// An invalid row that names its user holds the user's associations
	// from removal: it is no evidence that they are gone.
	readErr := take(ctx, rows, nil, out, g.Add, g.hold)
	ic.phase(Packing)
	if re := (*ReadError)(nil); errors.As(readErr, &re) {
		// Nothing was sent: a half-read snapshot would remove the rest.
		stop(re)
	}
	read := readErr == nil && ctx.Err() == nil
	closeErr := g.Close() // compares what grouping holds, and the rest of the state
	if closeErr != nil {
		stop(closeErr)
	}
	d.report()
	counts := plan.Counts()
	var guardErr error
	if d.err == nil && cfg.MaxRemovals != nil && !cfg.MaxRemovals.Allows(counts.Removed, cfg.Delivered) {
		guardErr = &RemovalsError{Removals: counts.Removed, Delivered: cfg.Delivered, Limit: *cfg.MaxRemovals}
		stop(guardErr)
	}
	plan.complete = read && closeErr == nil && d.err == nil && guardErr == nil
	if err := plan.finish(); err != nil && closeErr == nil {
		closeErr = err
	}
	sendErr := send(plan, p, out)
	ic.phase(Packed)
	return plan, errors.Join(h.failed, readErr, closeErr, d.err, guardErr, sendErr)
}

// send reads back the plan's entries that send and hands their rows to
// the packer, a user at a time (the diff has told out of the unchanged
// ones).
func send(plan *Plan, p *Packer, out SyncOutcomes) error {
	var user reader.User
	var rows []reader.Row
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		err := p.add(user, rows, false)
		clear(rows)
		rows = rows[:0]
		return err
	}
	err := plan.eachSend(func(e *PlanEntry) error {
		row, ok := e.Sent()
		if !ok {
			return nil
		}
		if !e.HasNew {
			out.Read(1) // a removal, read from the state
		}
		if u := row.User(); u != user {
			if err := flush(); err != nil {
				return err
			}
			user = u
		}
		rows = append(rows, row)
		return nil
	})
	if err == nil {
		err = flush()
	}
	return errors.Join(err, p.Flush())
}
