package uploader

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Limiter holds POST calls and users (rt_segment entries) at or below their
// limits in every window of Span at the service, retries included: every
// attempt waits for a Slot first.
//
// Two mechanisms work together:
//
//   - A sliding log of the attempts in the last span, for both quantities at
//     once: an attempt starts only when one more call and its users fit both
//     logs, so the two are recorded at the same instant. An attempt stays in
//     the log until one span after the service can have counted it: after
//     its answer came back (Slot.Done), or at most jitter after it left
//     (Slot.Sending) if the answer is slower than that. A token bucket whose burst equals
//     its rate lets twice the rate through in one second; this does not.
//   - Pacing (GCRA): an attempt of n users uses n/limit of a span, a call
//     1/limit, and the next may start when the time used so far catches up
//     with the clock, less a fifth of a span of tolerance. So a run
//     proceeds at an even rate rather than in a burst at the start of every
//     window, and a quantity that does not bind (small requests held by the
//     call limit) does not slow the other.
//
// Waiters are served first come, first served.
type Limiter struct {
	span, jitter time.Duration
	turn         chan struct{} // held by the one waiter allowed to start next

	mu           sync.Mutex
	posts, users budget
	ended        chan struct{} // closed and replaced when an attempt ends
}

// budget is one quantity's limit, its log and its pacing.
type budget struct {
	limit int
	log   []logEntry // in start order
	total int        // sum of n over log
	// tat is the pacing's theoretical arrival time (GCRA): when the next
	// attempt would start if every earlier one had been spaced evenly.
	tat time.Time
}

type logEntry struct {
	slot *Slot
	n    int
}

// Slot is one attempt's place in the limiter. Call Done when the attempt's
// answer (or error) comes back.
type Slot struct {
	l     *Limiter
	start time.Time
	end   time.Time // zero while the attempt is in flight
}

// LimitSpan is the window over which the service counts its POST and user
// limits: every one-second window.
const LimitSpan = time.Second

// LimitJitter is what a Limiter assumes of the network: that the service
// counts a call at most this much later than another, relative to when each
// left this process (connections set up, proxies, load balancers and the
// service's own queues all add to it). It is an assumption, not a
// measurement: a limiter keeps each attempt in its log until one span after
// the service can have counted it, that is after its answer came back, or,
// when the answer is slower than this, at most LimitJitter after it left. It
// costs nothing while answers come back within it; if the service can count
// calls later still, a window may go over.
const LimitJitter = 250 * time.Millisecond

// WaitOutEarlierRun waits until nothing another process may have sent a
// moment ago (the run being resumed) still counts in the service's
// windows: a Limiter cannot know about those calls.
func WaitOutEarlierRun(ctx context.Context) error {
	return sleep(ctx, LimitSpan+LimitJitter)
}

// NewLimiter returns a limiter that lets through, in every window of the
// given span, at most the given number of POST calls (--rps) and of users
// (--users-per-second). An attempt whose answer is slower than jitter
// counts as if the service counted it jitter after it left. A limit below
// 1 is a *SettingError naming its flag.
func NewLimiter(posts, users int, span, jitter time.Duration) (*Limiter, error) {
	if posts < 1 {
		return nil, &SettingError{"--rps", fmt.Sprintf("must be at least 1, not %d", posts)}
	}
	if users < 1 {
		return nil, &SettingError{"--users-per-second", fmt.Sprintf("must be at least 1, not %d", users)}
	}
	return newLimiter(posts, users, span, jitter)
}

// newLimiter returns a limiter of posts and users, both at least 1.
func newLimiter(posts, users int, span, jitter time.Duration) (*Limiter, error) {
	if span <= 0 || jitter < 0 {
		return nil, fmt.Errorf("span %v and jitter %v: want a positive span and a jitter of at least 0", span, jitter)
	}
	return &Limiter{
		span:   span,
		jitter: jitter,
		turn:   make(chan struct{}, 1),
		posts:  budget{limit: posts},
		users:  budget{limit: users},
		ended:  make(chan struct{}),
	}, nil
}

// Wait blocks until one more call, carrying the given number of users, fits
// both limits, records it and returns its slot; or returns ctx's error.
// A nil Limiter lets everything through at once.
func (l *Limiter) Wait(ctx context.Context, users int) (*Slot, error) {
	if l == nil {
		return nil, ctx.Err()
	}
	if users > l.users.limit {
		return nil, fmt.Errorf("a request of %d users can never pass a limit of %d users per %v", users, l.users.limit, l.span)
	}
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.turn }()
	for {
		l.mu.Lock()
		now := time.Now()
		delay := max(l.posts.delay(l, now, 1), l.users.delay(l, now, users))
		if delay <= 0 {
			s := &Slot{l: l, start: now}
			l.posts.record(l, s, 1)
			l.users.record(l, s, users)
			l.mu.Unlock()
			return s, nil
		}
		ended := l.ended
		l.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ended: // an attempt came back: its slot may leave sooner
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
}

// Sending records that the attempt leaves now, if later than its slot
// started (after waiting for a login, say): the service cannot count it
// before now, so it stays in the log accordingly.
func (s *Slot) Sending() {
	if s == nil {
		return
	}
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.end.IsZero() {
		s.start = later(s.start, time.Now())
	}
}

// Done records that the attempt's answer (or error) came back: the service
// counted it by now, so it leaves the log one span from now at the latest.
func (s *Slot) Done() {
	if s == nil {
		return
	}
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if !s.end.IsZero() {
		return
	}
	s.end = time.Now()
	close(l.ended)
	l.ended = make(chan struct{})
}

// expiry is when s leaves the log: one span after the latest moment the
// service can have counted it.
func (l *Limiter) expiry(s *Slot) time.Time {
	counted := s.start.Add(l.jitter)
	if !s.end.IsZero() && s.end.Before(counted) {
		counted = s.end
	}
	return counted.Add(l.span)
}

// delay is how long until n more fit b's log and pacing, 0 if they fit now.
// Call with l.mu held.
func (b *budget) delay(l *Limiter, now time.Time, n int) time.Duration {
	// Slots leave in start order: one that came back early waits behind
	// an earlier one still in flight, by at most the jitter.
	for len(b.log) > 0 && !l.expiry(b.log[0].slot).After(now) {
		b.total -= b.log[0].n
		b.log[0] = logEntry{}
		b.log = b.log[1:]
	}
	wait := b.tat.Add(-l.span / paceTolerance).Sub(now)
	if b.total+n <= b.limit {
		return wait
	}
	need := b.total + n - b.limit
	var free time.Time
	for _, e := range b.log {
		free = later(free, l.expiry(e.slot))
		if need -= e.n; need <= 0 {
			break
		}
	}
	return max(wait, free.Sub(now))
}

// record adds s, counting n, to b. Call with l.mu held.
func (b *budget) record(l *Limiter, s *Slot, n int) {
	b.log = append(b.log, logEntry{slot: s, n: n})
	b.total += n
	b.tat = later(b.tat, s.start).Add(time.Duration(int64(l.span) * int64(n) / int64(b.limit)))
}

// paceTolerance: pacing lets attempts start up to span/paceTolerance ahead
// of an even schedule.
const paceTolerance = 5

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
