package uploader

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Window holds events to at most Limit in every window of Span: a sliding
// log of what was let through. A token bucket whose burst equals its rate
// lets twice the rate through in one second; this does not.
type Window struct {
	limit int
	span  time.Duration
	now   func() time.Time

	mu     sync.Mutex
	events []windowEvent
	total  int
}

type windowEvent struct {
	at time.Time
	n  int
}

// NewWindow returns a limiter of limit events per span. A span a little over
// one second keeps a one-second limit despite jitter between the moment a
// request leaves and the moment the service counts it.
func NewWindow(limit int, span time.Duration) *Window {
	return &Window{limit: limit, span: span, now: time.Now}
}

// Limit is the most events let through in one span.
func (w *Window) Limit() int { return w.limit }

// Wait blocks until n events can pass without exceeding the limit in any
// window, records them, and returns; or returns ctx's error.
func (w *Window) Wait(ctx context.Context, n int) error {
	if n > w.limit {
		return fmt.Errorf("%d events can never pass a limit of %d", n, w.limit)
	}
	for {
		delay := w.reserve(n)
		if delay == 0 {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// reserve records n events now if they fit and returns 0, or returns how long
// until enough earlier events leave the window.
func (w *Window) reserve(n int) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	cut := 0
	for cut < len(w.events) && !w.events[cut].at.After(now.Add(-w.span)) {
		w.total -= w.events[cut].n
		cut++
	}
	w.events = w.events[cut:]
	if w.total+n <= w.limit {
		w.events = append(w.events, windowEvent{at: now, n: n})
		w.total += n
		return 0
	}
	need := w.total + n - w.limit
	for _, e := range w.events {
		need -= e.n
		if need <= 0 {
			return e.at.Add(w.span).Sub(now) + time.Millisecond
		}
	}
	return w.span
}
