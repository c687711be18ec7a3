package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
	"golang.org/x/sync/errgroup"
)

// reasonInterrupted is the failed rows' reason when a signal stops a run.
const reasonInterrupted = "not sent: the run was interrupted"

// unsentReason says why the rows of a request were not sent once ctx is
// done: an interrupt, or the error that ended the run.
func unsentReason(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return "not sent: the run stopped: " + cause.Error()
	}
	return reasonInterrupted
}

// stages are the pipeline's parts, built from the flags.
type stages struct {
	reader   *reader.Reader
	limits   chunker.Limits
	recorder *report.Recorder
	// uploader is nil for rtseg validate.
	uploader    *uploader.Uploader
	requestsDir string
	queue       int
	// inFlight counts requests queued or being sent, for progress.
	inFlight atomic.Int64
	// journal, with --state-dir, records acknowledged requests and skips
	// those an earlier run delivered; nil otherwise.
	journal *report.Journal
	// journalErr keeps the first failure to write the journal.
	journalErr atomic.Pointer[error]
	group      grouping
}

// grouping says how intake gathers each user's rows: --sorted,
// --group-memory and --tmp-dir.
type grouping struct {
	sorted bool
	memory int64
	tmpDir string
	// budget, if not nil, makes room in memory for what grouping holds.
	budget *memoryBudget
}

// grouper gathers each user's rows and feeds the packer.
type grouper interface {
	Add(reader.Row) error
	Close() error
}

// grouper returns Adjacent for --sorted input, whose filter of users already
// sent takes at most --group-memory, and otherwise a Grouper that spills to
// --tmp-dir past --group-memory.
func (gr grouping) grouper(p *chunker.Packer) grouper {
	if gr.sorted {
		a := chunker.NewAdjacent(p, gr.memory)
		a.OnFilterGrow(gr.budget.grouping)
		return a
	}
	gr.budget.grouping(gr.memory)
	return chunker.NewGrouper(p, chunker.GroupConfig{Memory: gr.memory, TmpDir: gr.tmpDir})
}

// runPipeline reads every row, packs and sends (or, without an uploader,
// only counts) the requests, and records every outcome. Cancelling ctx stops
// reading; the rows read but not sent are recorded as failed.
func runPipeline(ctx context.Context, s *stages) error {
	reqs := make(chan *chunker.Request, s.queue)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(reqs)
		return intake(gctx, s, reqs)
	})
	g.Go(func() error {
		if s.uploader == nil {
			for req := range reqs {
				s.inFlight.Add(-1)
				s.recorder.Valid(req)
			}
			return nil
		}
		return s.uploader.Run(gctx, reqs, s.sent)
	})
	err := g.Wait()
	reason := unsentReason(gctx)
	for req := range reqs {
		s.inFlight.Add(-1)
		s.recorder.Unsent(req, reason)
	}
	if jerr := s.journalErr.Load(); jerr != nil && err == nil {
		err = *jerr
	}
	return err
}

// sent takes what the uploader made of a request. A request whose every
// part the service acknowledged goes into the journal before it counts as
// done, so a crash after this point never sends it again.
func (s *stages) sent(res uploader.Result) {
	final := len(res.Resent) == 0 || res.Err != nil
	if final {
		s.inFlight.Add(-1)
	}
	if s.journal != nil && final && res.Err == nil {
		if err := s.journal.Record(res.Request); err != nil {
			s.journalErr.CompareAndSwap(nil, &err)
		}
	}
	s.recorder.Sent(res)
}

// packed hands the packer's output on: requests to the queue (or, once the
// run is stopping, to the report as unsent), superseded rows to the report.
type packed struct {
	ctx  context.Context
	reqs chan<- *chunker.Request
	s    *stages
}

func (p *packed) Request(req *chunker.Request) error {
	if p.s.requestsDir != "" {
		name := filepath.Join(p.s.requestsDir, fmt.Sprintf("request-%06d.json", req.Seq+1))
		if err := os.WriteFile(name, req.Body, 0o644); err != nil {
			return fmt.Errorf("--requests-dir: %w", err)
		}
	}
	if p.s.journal != nil && p.s.journal.Acknowledged(req) {
		p.s.recorder.Skipped(req)
		return nil
	}
	p.s.inFlight.Add(1)
	select {
	case p.reqs <- req:
	case <-p.ctx.Done():
		p.s.inFlight.Add(-1)
		p.s.recorder.Unsent(req, unsentReason(p.ctx))
	}
	return nil
}

func (p *packed) Superseded(row reader.Row, by reader.Position) error {
	p.s.recorder.Superseded(row, by)
	return nil
}

// intake reads rows and feeds the packer until the input ends or ctx is
// cancelled; either way it flushes what the packer holds.
func intake(ctx context.Context, s *stages, reqs chan<- *chunker.Request) error {
	packer, err := chunker.NewPacker(s.limits, &packed{ctx: ctx, reqs: reqs, s: s})
	if err != nil {
		return err
	}
	group := s.group.grouper(packer)
	readErr := readRows(ctx, s, group)
	err = errors.Join(readErr, group.Close())
	return err
}

// readRows hands the reader's rows to grouping, and invalid ones to the
// report, until the input ends or ctx is cancelled. The reader reads ahead
// on goroutines of its own; a row counts as read once taken from it.
func readRows(ctx context.Context, s *stages, group grouper) error {
	const batchRows = 512 // rows taken from the reader at once
	batch := make([]reader.Row, 0, batchRows)
	for {
		var err error
		batch, err = s.reader.NextBatch(batch[:0])
		for i := range batch {
			if ctx.Err() != nil {
				s.recorder.Read(i)
				return nil
			}
			row := &batch[i]
			if !row.Valid() {
				s.recorder.Invalid(*row)
				continue
			}
			if s.journal != nil {
				if by, ok := s.journal.Later(row); ok {
					s.recorder.Superseded(*row, by)
					continue
				}
			}
			if err := group.Add(*row); err != nil {
				s.recorder.Read(i + 1)
				return err
			}
		}
		s.recorder.Read(len(batch))
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
