package uploader

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"golang.org/x/sync/errgroup"
)

// Run sends every request from in with at most Workers in flight and hands
// each Result to out, which must be safe for concurrent use. A request
// marked Ordered is sent only after every request received before it is
// done. When ctx is cancelled, Run stops taking requests; those already
// taken get Grace to finish, or less once Hurry is done. Run returns the
// first error that ends the run (authentication refused, or an
// *UnreachableError: the service could not be reached before it ever
// answered); the requests it stops still get their Result.
func (u *Uploader) Run(ctx context.Context, in <-chan *chunker.Request, out func(Result)) error {
	// Requests taken get Grace to finish once the run stops, whether
	// interrupted or ended by an error, then their sends are cancelled.
	sendCtx, cancelSend := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelSend(nil)
	var (
		once  sync.Once
		mu    sync.Mutex
		grace *time.Timer
	)
	stopSends := func(cause error) {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			grace = time.AfterFunc(u.cfg.Grace, func() { cancelSend(cause) })
		})
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		if grace != nil {
			grace.Stop()
		}
	}()
	defer context.AfterFunc(ctx, func() { stopSends(ErrInterrupted) })()
	if u.cfg.Hurry != nil {
		defer context.AfterFunc(u.cfg.Hurry, func() { cancelSend(ErrInterrupted) })()
	}

	// The workers are the group: the producer is the caller's, so it never
	// takes a worker's place, and no Go call waits for a free slot without
	// watching ctx.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(u.cfg.Workers)
	defer context.AfterFunc(gctx, func() {
		if ctx.Err() == nil {
			stopSends(&RunStoppedError{Cause: context.Cause(gctx)})
		}
	})()
	w := &workers{u: u, intake: gctx, send: sendCtx, in: in, out: out, order: newOrder()}
	for range u.cfg.Workers {
		g.Go(w.work)
	}
	return g.Wait()
}

// workers is what the pool's workers share.
type workers struct {
	u      *Uploader
	intake context.Context // taking new requests
	send   context.Context // sending those taken
	in     <-chan *chunker.Request
	out    func(Result)
	order  *order
}

// work takes requests until the input ends or the intake stops.
func (w *workers) work() error {
	for {
		req, ticket, ok := w.order.take(w.intake, w.in)
		if !ok {
			return nil
		}
		err := w.handle(req, ticket)
		w.order.done(ticket)
		if err != nil {
			return err
		}
	}
}

func (w *workers) handle(req *chunker.Request, ticket int) error {
	if w.intake.Err() != nil {
		w.out(Result{Request: req, Packed: req}.fail(NotSent(w.intake)))
		return nil
	}
	if req.Ordered {
		if err := w.order.waitTurn(w.send, ticket); err != nil {
			w.out(Result{Request: req, Packed: req}.fail(NotSent(w.send)))
			return nil
		}
	}
	return w.u.sendAll(w.send, req, w.out)
}

// sendAll sends a packed request and, in turn, the entries the service
// refused as too many for it, until a Result is Final.
func (u *Uploader) sendAll(ctx context.Context, packed *chunker.Request, out func(Result)) error {
	req := packed
	for {
		res, err := u.Send(ctx, req)
		res.Packed = packed
		out(res)
		if err != nil || res.Final() {
			return err
		}
		entries := make([]chunker.Entry, len(res.Resent))
		for i, e := range res.Resent {
			entries[i] = req.Entries[e]
		}
		next := chunker.Encode(req.Seq, entries)
		if len(res.Resent) == len(req.Entries) {
			// Nothing went through: sending the same again would loop.
			out(Result{Request: next, Packed: packed}.fail(fmt.Errorf("the service refused all %d users of the request as too many (%q)", len(entries), MsgTooManyUsers)))
			return nil
		}
		req = next
	}
}

// order hands out requests in the order they arrive, with a ticket each, and
// knows which tickets are done, so that an Ordered request can wait for all
// earlier ones.
type order struct {
	recv chan struct{} // held while one worker takes a request and its ticket

	mu      sync.Mutex
	next    int          // the next ticket to hand out
	low     int          // every ticket below low is done
	doneSet map[int]bool // done tickets at or above low
	changed chan struct{}
}

func newOrder() *order {
	return &order{recv: make(chan struct{}, 1), doneSet: map[int]bool{}, changed: make(chan struct{})}
}

// take receives the next request and its ticket; ok is false when in is
// closed or ctx is done. Taking and ticketing happen together, so tickets
// follow the order of in.
func (o *order) take(ctx context.Context, in <-chan *chunker.Request) (*chunker.Request, int, bool) {
	select {
	case o.recv <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, false
	}
	defer func() { <-o.recv }()
	select {
	case req, ok := <-in:
		if !ok {
			return nil, 0, false
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		t := o.next
		o.next++
		return req, t, true
	case <-ctx.Done():
		return nil, 0, false
	}
}

// done marks a ticket's request finished, resends included.
func (o *order) done(ticket int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.doneSet[ticket] = true
	for o.doneSet[o.low] {
		delete(o.doneSet, o.low)
		o.low++
	}
	close(o.changed)
	o.changed = make(chan struct{})
}

// waitTurn waits until every ticket before this one is done.
func (o *order) waitTurn(ctx context.Context, ticket int) error {
	for {
		o.mu.Lock()
		ready, changed := o.low >= ticket, o.changed
		o.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
