package main

import (
	"context"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
	"golang.org/x/sync/errgroup"
)

// runPipeline runs the stages together: intake reads, groups and packs,
// the uploader sends (nil for rtseg validate, which only counts), and the
// recorder takes every outcome. Cancelling ctx stops reading; the rows
// read but never sent are recorded as failed.
func runPipeline(ctx context.Context, rd *reader.Reader, intake chunker.IntakeConfig, up *uploader.Uploader, rec *report.Recorder, queue int) error {
	return runStages(ctx, func(ctx context.Context, reqs chan<- *chunker.Request) error {
		return chunker.Intake(ctx, rd, intake, rec, reqs)
	}, up, rec, queue)
}

// runStages runs intake, which queues requests until it returns, with the
// uploader sending them (or, when up is nil, the recorder counting them
// valid).
func runStages(ctx context.Context, intake func(context.Context, chan<- *chunker.Request) error, up *uploader.Uploader, rec *report.Recorder, queue int) error {
	reqs := make(chan *chunker.Request, queue)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(reqs)
		return intake(gctx, reqs)
	})
	g.Go(func() error {
		if up == nil {
			for req := range reqs {
				rec.Valid(req)
			}
			return nil
		}
		return up.Run(gctx, reqs, rec.Sent)
	})
	err := g.Wait()
	for req := range reqs {
		rec.Unsent(gctx, req)
	}
	return err
}
