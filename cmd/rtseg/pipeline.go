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
	reqs := make(chan *chunker.Request, queue)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(reqs)
		return chunker.Intake(gctx, rd, intake, rec, reqs)
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
