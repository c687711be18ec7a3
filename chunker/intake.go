package chunker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rtseg/rtseg/reader"
)

// Batches is where intake takes rows from: reader's Reader, which reads
// ahead on goroutines of its own.
type Batches interface {
	// NextBatch appends the next rows to batch; io.EOF ends the input.
	NextBatch(batch []reader.Row) ([]reader.Row, error)
}

// Outcomes receives what intake decides about rows and requests: report's
// Recorder. Its methods must be safe for concurrent use.
type Outcomes interface {
	// Read counts rows taken from the input, whatever becomes of them.
	Read(n int)
	// Invalid takes a row that broke a rule.
	Invalid(reader.Row)
	// Superseded takes a row replaced by the later row at by.
	Superseded(row reader.Row, by reader.Position)
	// Skipped takes a request an earlier run delivered.
	Skipped(*Request)
	// Queued is told of a request before it is handed on; each such
	// request later has exactly one other outcome.
	Queued(*Request)
	// Unsent takes a request not sent because ctx, which is done, ended.
	Unsent(ctx context.Context, req *Request)
}

// Journal knows what an earlier run delivered: report's Journal.
type Journal interface {
	// Acknowledged reports whether the service acknowledged this exact
	// request in an earlier run.
	Acknowledged(*Request) bool
	// Later reports whether the service acknowledged, in an earlier run,
	// a later row for the row's user and segment, and where that row is.
	Later(*reader.Row) (reader.Position, bool)
}

// IntakeConfig says how intake groups and packs rows, and what it knows
// of earlier runs.
type IntakeConfig struct {
	Limits Limits
	// Sorted says the input is grouped by user: it streams through
	// Adjacent in constant memory. Otherwise a Grouper groups each user's
	// rows across the whole input.
	Sorted bool
	// Memory bounds what grouping holds: the rows of unsorted input before
	// they spill to TmpDir, or for sorted input the filter of users
	// already packed.
	Memory int64
	TmpDir string
	// OnMemory, if set, is told how many bytes grouping may hold, from the
	// start and each time that grows: so that the caller can budget
	// memory for it.
	OnMemory func(size int64)
	// OnPhase, if set, is told each time intake moves on to another
	// phase, from the goroutine running Intake.
	OnPhase func(Phase)
	// RequestsDir, if set, receives every request body packed, as
	// request-NNNNNN.json numbered from 1; it is made if missing.
	RequestsDir string
	// Journal, if set, skips requests an earlier run delivered and rows
	// whose later value it delivered.
	Journal Journal
}

// Check refuses a configuration intake could not run with, naming the
// flags that set it: limits no request fits in, a --tmp-dir that is not a
// directory.
func (c IntakeConfig) Check() error {
	if err := c.Limits.Check(); err != nil {
		return err
	}
	if c.TmpDir != "" {
		info, err := os.Stat(c.TmpDir)
		if err != nil {
			return fmt.Errorf("--tmp-dir: %w", err)
		}
		if !info.IsDir() {
			return fmt.Errorf("--tmp-dir %s: not a directory", c.TmpDir)
		}
	}
	return nil
}

// batchRows is how many rows intake takes from the input at once.
const batchRows = 512

// Intake reads every row, hands invalid rows to out, groups and packs the
// valid ones, and sends each request on queue, until the input ends or ctx
// is done; either way it packs and hands on what grouping holds. Requests
// it cannot queue because ctx is done go to out as unsent; requests an
// earlier run delivered go to out as skipped. It returns an error only for
// what ends the run: an unreadable input, a failed spill, an unwritable
// --requests-dir.
func Intake(ctx context.Context, rows Batches, cfg IntakeConfig, out Outcomes, queue chan<- *Request) error {
	if cfg.RequestsDir != "" {
		if err := os.MkdirAll(cfg.RequestsDir, 0o755); err != nil {
			return fmt.Errorf("--requests-dir: %w", err)
		}
	}
	// A failure of intake's own stops it as a cancelled ctx does, so that
	// the rows it holds still get their outcome.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	h := &handOn{ctx: ctx, stop: stop, cfg: &cfg, out: out, queue: queue}
	p, err := NewPacker(cfg.Limits, h)
	if err != nil {
		return err
	}
	var g interface {
		Add(reader.Row) error
		Close() error
	}
	if cfg.Sorted {
		a := NewAdjacent(p, cfg.Memory)
		a.OnFilterGrow(cfg.OnMemory)
		g = a
		cfg.phase(Reading)
	} else {
		g = NewGrouper(p, cfg.groupConfig())
		cfg.phase(Grouping)
	}
	readErr := take(ctx, rows, cfg.Journal, out, g.Add, nil)
	cfg.phase(Packing)
	if re := (*ReadError)(nil); errors.As(readErr, &re) {
		re.Sorted = cfg.Sorted
		if !cfg.Sorted {
			// Nothing was sent yet: unsorted input is read whole before
			// its first request, and a half-read input, garbage
			// included, must not be sent at all.
			stop(re)
		}
	}
	closeErr := g.Close() // packs what grouping holds, which may fail a dump
	cfg.phase(Packed)
	return errors.Join(h.failed, readErr, closeErr)
}

// phase tells OnPhase, if set, that intake moved on to ph.
func (c *IntakeConfig) phase(ph Phase) {
	if c.OnPhase != nil {
		c.OnPhase(ph)
	}
}

// groupConfig configures grouping of unsorted input, which takes all of
// Memory at once (OnMemory is told so) and tells OnPhase of its spills.
func (c *IntakeConfig) groupConfig() GroupConfig {
	if c.OnMemory != nil {
		c.OnMemory(c.Memory)
	}
	return GroupConfig{Memory: c.Memory, TmpDir: c.TmpDir, OnSpill: func() { c.phase(Spilling) }}
}

// ReadError is an input that failed part-way through, after Rows rows.
// Without Sorted, nothing of the run was sent: the requests it packed are
// unsent, and their reason is this error.
type ReadError struct {
	Err    error
	Rows   int64
	Sorted bool
}

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Hint says what to do: the input's own hint if it has one, else, when
// rows were read before the error, what became of them.
func (e *ReadError) Hint() string {
	var h interface{ Hint() string }
	if errors.As(e.Err, &h) && h.Hint() != "" {
		return h.Hint()
	}
	switch {
	case e.Rows == 0:
		return ""
	case !e.Sorted:
		return "nothing was sent: without --sorted, rtseg reads every row before it sends any; fix or replace the input and run again"
	}
	return "fix the input and run again; with --state-dir, only what was not delivered is sent"
}

// TrustedUpTo says up to where the rows read can be trusted: "data is
// trustworthy up to users.csv:1200", and why later rows read cannot be.
func (e *ReadError) TrustedUpTo() string {
	var ie *reader.InputError
	if errors.As(e.Err, &ie) {
		return ie.TrustedUpTo()
	}
	return "no data is trustworthy"
}

// take hands rows to add, and invalid ones to out (and to hold, if set,
// when they name their user), until the input ends or ctx is done. A row
// counts as read once handled. An error of the input's is a *ReadError.
func take(ctx context.Context, rows Batches, j Journal, out Outcomes, add, hold func(reader.Row) error) error {
	batch := make([]reader.Row, 0, batchRows)
	var read int64
	for {
		var err error
		batch, err = rows.NextBatch(batch[:0])
		for i := range batch {
			if ctx.Err() != nil {
				out.Read(i)
				return nil
			}
			row := &batch[i]
			if !row.Valid() {
				if hold != nil && row.UserID != "" {
					if err := hold(*row); err != nil {
						out.Read(i)
						return err
					}
				}
				out.Invalid(*row)
				continue
			}
			if j != nil {
				if by, ok := j.Later(row); ok {
					out.Superseded(*row, by)
					continue
				}
			}
			if err := add(*row); err != nil {
				// The row grouping could not hold ends the run
				// unread, so that the rows read still add up.
				out.Read(i)
				return err
			}
		}
		out.Read(len(batch))
		read += int64(len(batch))
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &ReadError{Err: err, Rows: read}
		}
	}
}

// handOn takes the packer's output: requests to the queue (or, once the run
// is stopping, to out as unsent), superseded rows to out. It never returns
// an error to the packer, which would stop it holding rows: a request body
// it cannot write stops intake instead, through stop.
type handOn struct {
	ctx    context.Context
	stop   context.CancelCauseFunc
	cfg    *IntakeConfig
	out    Outcomes
	queue  chan<- *Request
	failed error // the first body that could not be written
}

func (h *handOn) Request(req *Request) error {
	if h.cfg.Journal != nil && h.cfg.Journal.Acknowledged(req) {
		h.out.Skipped(req)
		h.dump(req)
		return nil
	}
	h.out.Queued(req)
	h.dump(req)
	if h.ctx.Err() == nil {
		select {
		case h.queue <- req:
			return nil
		case <-h.ctx.Done():
		}
	}
	h.out.Unsent(h.ctx, req)
	return nil
}

// dump writes the request's body into RequestsDir, if set; the first
// failure stops intake.
func (h *handOn) dump(req *Request) {
	if h.cfg.RequestsDir == "" || h.failed != nil {
		return
	}
	name := filepath.Join(h.cfg.RequestsDir, fmt.Sprintf("request-%06d.json", req.Seq+1))
	if err := os.WriteFile(name, req.Body, 0o644); err != nil {
		h.failed = fmt.Errorf("--requests-dir: %w", err)
		h.stop(h.failed)
	}
}

func (h *handOn) Superseded(row reader.Row, by reader.Position) error {
	h.out.Superseded(row, by)
	return nil
}
