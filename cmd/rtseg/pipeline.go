package main

import (
	"context"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
	"golang.org/x/sync/errgroup"
)

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
