package uploader

import (
	"context"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"golang.org/x/sync/errgroup"
)

// Run sends every request from in with at most Workers in flight and hands
// each Result to out, which must be safe for concurrent use. When ctx is
// cancelled, Run stops taking requests; those in flight get Grace to finish.
// It returns the first error that ends the run.
func (u *Uploader) Run(ctx context.Context, in <-chan *chunker.Request, out func(Result)) error {
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(u.cfg.Grace, cancelSend)
	})
	defer stop()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(u.cfg.Workers)
	// A fatal error in one worker ends the sends of all the others.
	stopOnFatal := context.AfterFunc(gctx, func() {
		if ctx.Err() == nil {
			cancelSend()
		}
	})
	defer stopOnFatal()
intake:
	for {
		select {
		case <-gctx.Done():
			break intake
		case req, ok := <-in:
			if !ok {
				break intake
			}
			g.Go(func() error { return u.sendAll(sendCtx, req, out) })
		}
	}
	return g.Wait()
}

// sendAll sends a request and, in turn, the entries the service refused as
// too many for it.
func (u *Uploader) sendAll(ctx context.Context, req *chunker.Request, out func(Result)) error {
	for req != nil {
		res, err := u.Send(ctx, req)
		out(res)
		if err != nil {
			return err
		}
		req = nil
		if len(res.Resent) > 0 && res.Err == nil {
			entries := make([]chunker.Entry, len(res.Resent))
			for i, e := range res.Resent {
				entries[i] = res.Request.Entries[e]
			}
			req = chunker.Encode(res.Request.Seq, entries)
		}
	}
	return nil
}
