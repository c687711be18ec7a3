package uploader

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Limiter holds POST calls and users (rt_segment entries) at or below their
// limits in every window of Span at the service, retries included: every
// attempt waits for a Slot first.
//
// The algorithm is a sliding log of the attempts, one for each quantity:
// an attempt starts only when one more call and its users fit both logs,
// so the two are recorded at the same instant. A token bucket whose burst
// equals its rate lets twice the rate through in one second, and GCRA is
// the same bucket; a log holds every window by construction, and starts a
// run with the whole first window, which the service allows.
//
// The service counts a call when it arrives, after it left and before its
// answer; the Limiter cannot see that moment. It counts each call from
// when it was written to the network, which shifts every window by the
// fastest one-way delay alike, until the latest moment the service can
// have counted it, plus one span (see counted):
//
//   - A service that answers at once, as a rule, shows by a slow answer a
//     delay on the way: the call counts until its answer (at most
//     MaxJitter), which is exact.
//   - Otherwise an answer within AnswerBound still bounds its call
//     cheaply: the call counts until its answer. A slower answer is
//     mostly the service's own time after it counted the call (a service
//     that takes from 50ms to 600ms to answer has round trips 550ms apart
//     and one-way delays that vary by milliseconds): the call counts until
//     an allowance for the variation in one-way delay after it left, plus
//     how much later than its peers its answer came back when the service
//     answers in steady time (see slowerLocked).
//
// The allowance, not the round trip, is what latency costs. The run
// teaches it, up to MaxJitter: it starts at LimitJitter, for a network's
// own variation, which each 429 doubles (calls evidently arrived closer
// together than allowed); and it adds twice the latest lateness of this
// process's timers, as scheduling delays of a loaded machine delay calls on
// their way, at either end. So the windows hold while the delays a call
// meets, in this process and at the service, stay within the allowance:
// a machine that stalls either for longer (the race detector does, for
// hundreds of milliseconds) can put more than the limit into one window.
//
// Waiters are served first come, first served. A throttling answer (429, or
// 503 with x-ratelimit-code) holds every waiter for its Retry-After.
//
// A Limiter made by NewSharedLimiter keeps no log of its own: it asks a
// Store shared with other processes for every attempt (see Store).
type Limiter struct {
	span time.Duration
	turn chan struct{} // held by the one waiter allowed to start next

	mu           sync.Mutex
	posts, users budget
	ended        chan struct{} // closed and replaced when an attempt ends
	// jitter is the first allowance for the variation in one-way delay,
	// as 429s widened it; allowanceLocked adds what the run taught.
	jitter, maxJitter time.Duration
	// noise holds how late the last timers of this process fired (see
	// observe): a loaded machine delays the service's side as well.
	noise   [noiseSamples]time.Duration
	noiseAt int
	// rtt holds the last round trips, from leaving to the answer.
	rtt    [rttSamples]time.Duration
	rttAt  int       // how many were ever recorded
	paused time.Time // no attempt starts before this

	shared *sharing // nil for a limiter of this process alone
}

// budget is one quantity's limit and its log.
type budget struct {
	limit int
	log   []logEntry // in start order
	total int        // sum of n over log
}

type logEntry struct {
	slot *Slot
	n    int
}

// Slot is one attempt's place in the limiter. Call Sending just before the
// attempt goes, Wrote when it has been written to the network, and Done
// when its answer (or error) comes back.
type Slot struct {
	l     *Limiter
	start time.Time
	end   time.Time // zero while the attempt is in flight
	// slower is how much later than its peers the answer came back, when
	// the service answers every call in about the same time (see
	// slowerLocked): the call may have arrived that late.
	slower time.Duration
	// fast is whether the service answered at once, as a rule, when this
	// call's answer came back (see fastLocked).
	fast   bool
	shared *sharedSlot // given by the Store for start, which holds it on its own
}

// LimitSpan is the window over which the service counts its POST and user
// limits: every one-second window.
const LimitSpan = time.Second

// LimitJitter is the allowance a Limiter starts with for the variation in
// one-way delay: how much later than another, relative to when each left
// this process, the service may count a call (scheduling in this process
// and the service's, connections being set up, proxies and load balancers
// all add to it). It is an assumption, not a measurement (25ms let an
// emulator on a loaded 2-core machine see calls closer than that): see
// Limiter for how the run widens it. It costs nothing while answers come
// back within it; with slower answers a run goes at the limit's rate
// divided by (span + allowance) / span.
const LimitJitter = 50 * time.Millisecond

// MaxJitter is the widest allowance a Limiter uses, whatever 429s and a
// loaded machine teach it (and the one a process that has stopped may
// have used: see WaitOutEarlierRun).
const MaxJitter = 250 * time.Millisecond

// WaitOutEarlierRun waits until nothing another process may have sent a
// moment ago (the run being resumed) still counts in the service's
// windows: a Limiter cannot know about those calls.
func WaitOutEarlierRun(ctx context.Context) error {
	return sleep(ctx, LimitSpan+MaxJitter)
}

// NewLimiter returns a limiter that lets through, in every window of the
// given span, at most the given number of POST calls (--rps) and of users
// (--users-per-second). An attempt whose answer is slower than jitter
// counts as if the service counted it jitter after it left (plus twice how
// late this process's timers fire); 429 answers widen jitter, up to a
// quarter of the span. A limit below 1 is a
// *SettingError naming its flag.
func NewLimiter(posts, users int, span, jitter time.Duration) (*Limiter, error) {
	if err := checkLimits(posts, users); err != nil {
		return nil, err
	}
	return newLimiter(posts, users, span, jitter)
}

func checkLimits(posts, users int) error {
	if posts < 1 {
		return &SettingError{"--rps", fmt.Sprintf("must be at least 1, not %d", posts)}
	}
	if users < 1 {
		return &SettingError{"--users-per-second", fmt.Sprintf("must be at least 1, not %d", users)}
	}
	return nil
}

// newLimiter returns a limiter of posts and users, both at least 1.
func newLimiter(posts, users int, span, jitter time.Duration) (*Limiter, error) {
	if span <= 0 || jitter < 0 {
		return nil, fmt.Errorf("span %v and jitter %v: want a positive span and a jitter of at least 0", span, jitter)
	}
	return &Limiter{
		span:      span,
		jitter:    jitter,
		maxJitter: max(jitter, span/4),
		turn:      make(chan struct{}, 1),
		posts:     budget{limit: posts},
		users:     budget{limit: users},
		ended:     make(chan struct{}),
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
	if l.shared != nil {
		return l.waitShared(ctx, users)
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
		delay := max(l.posts.delay(l, now, 1), l.users.delay(l, now, users), l.paused.Sub(now))
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
			l.observe(time.Since(now.Add(delay)))
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
// before now, so it stays in the log accordingly. It reports whether the
// slot may still be used: a slot of a shared Limiter leaving late has its
// reservation extended, but one that leaves too late (half a span) or
// cannot be extended must not be used: wait for another.
func (s *Slot) Sending() bool {
	if s == nil {
		return true
	}
	l := s.l
	if s.shared != nil {
		return l.shared.sending(l, s)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.end.IsZero() {
		s.start = later(s.start, time.Now())
	}
	return true
}

// Done records that the attempt's answer (or error) came back: the service
// counted it by now, so it leaves the log one span from now at the latest.
func (s *Slot) Done() {
	if s == nil {
		return
	}
	l := s.l
	l.mu.Lock()
	if !s.end.IsZero() {
		l.mu.Unlock()
		return
	}
	s.end = time.Now()
	rtt := s.end.Sub(s.start)
	s.slower = l.slowerLocked(rtt)
	l.rtt[l.rttAt%rttSamples] = rtt
	l.rttAt++
	s.fast = l.fastLocked()
	if s.shared == nil {
		close(l.ended)
		l.ended = make(chan struct{})
	}
	l.mu.Unlock()
	if s.shared != nil {
		l.shared.answered(l, s)
	}
}

// throttled tells the limiter that the service refused a call for its
// rate (a 429 when over is set, or a 503 with x-ratelimit-code): no attempt
// starts for wait, in every process sharing the limiter, and a 429 doubles
// the allowance for the variation in one-way delay, as calls evidently
// arrived closer together than it allowed.
func (l *Limiter) throttled(ctx context.Context, wait time.Duration, over bool) {
	if l == nil {
		return
	}
	l.mu.Lock()
	if over {
		l.jitter = min(max(2*l.jitter, l.span/40), l.maxJitter)
	}
	local := l.shared == nil
	if local {
		l.paused = later(l.paused, time.Now().Add(wait))
		close(l.ended) // waiters look again
		l.ended = make(chan struct{})
	}
	l.mu.Unlock()
	if !local && wait > 0 {
		l.shared.pause(ctx, l, wait)
	}
}

// allowance is the allowance for the variation in one-way delay now.
func (l *Limiter) allowance() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.allowanceLocked()
}

// allowanceLocked is allowance with l.mu held: the first allowance, as
// 429s widened it, plus twice the latest lateness of this process's
// timers, up to maxJitter.
func (l *Limiter) allowanceLocked() time.Duration {
	return min(l.jitter+2*slices.Max(l.noise[:]), l.maxJitter)
}

// slowerLocked is how much later than its peers a call answered after rtt
// came back, with l.mu held: that lateness may have been on the way there,
// and the call counts as if it was. Peers are the fastest answer so far
// until there are rttLearned of them (the first calls also open the
// connections, which the service may accept late), then the quickest
// quarter of the last rttSamples, as long as the service answers in
// steady time: the middle half of them within LimitJitter, or half the
// quickest quarter's time, of each other (a loaded machine spreads round
// trips of 400ms more than round trips of 40ms; answers from 50ms to 600ms
// are not steady).
// When the service's own time varies more, an answer's lateness says
// nothing of the way there: 0.
func (l *Limiter) slowerLocked(rtt time.Duration) time.Duration {
	n := min(l.rttAt, rttSamples)
	if n == 0 {
		return 0
	}
	r := slices.Clone(l.rtt[:n])
	slices.Sort(r)
	if n < rttLearned {
		return min(max(rtt-r[0], 0), l.maxJitter)
	}
	q1, q3 := r[n/4], r[3*n/4]
	if q3-q1 > max(LimitJitter, q1/2) {
		return 0
	}
	return min(max(rtt-q1, 0), l.maxJitter)
}

// fastLocked reports whether the service answers at once, as a rule: the
// median of the last round trips is within half of AnswerBound. With l.mu
// held.
func (l *Limiter) fastLocked() bool {
	n := min(l.rttAt, rttSamples)
	if n == 0 {
		return false
	}
	r := slices.Clone(l.rtt[:n])
	slices.Sort(r)
	return r[n/2] <= AnswerBound/2
}

// The round trips of the last rttSamples answers tell whether the service
// answers in steady time, once there are rttLearned of them.
const (
	rttSamples = 32
	rttLearned = 8
)

// noiseSamples is how many timer firings observe remembers.
const noiseSamples = 32

// observe records that a timer of this process fired late by this much.
func (l *Limiter) observe(late time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.noise[l.noiseAt] = max(late, 0)
	l.noiseAt = (l.noiseAt + 1) % noiseSamples
}

// Wrote records that the attempt has just been written to the network:
// the service cannot count it before now. A slot of a shared Limiter that
// leaves late has its reservation extended to count from now (see lateMax).
func (s *Slot) Wrote() {
	if s == nil {
		return
	}
	if s.shared != nil {
		s.l.shared.wrote(s.l, s)
		return
	}
	s.Sending()
}

// expiry is when s leaves the log: one span after the latest moment the
// service can have counted it (see AnswerBound).
func (l *Limiter) expiry(s *Slot) time.Time {
	return l.counted(s, s.end, s.fast || (s.end.IsZero() && l.fastLocked())).Add(l.span)
}

// counted is the latest moment the service can have counted s's call,
// answered at end (zero while in flight), with l.mu held. A service that
// answers at once (fast) shows, by a slow answer, a delay on the way: the
// call counts until its answer, up to MaxJitter. Otherwise a call answered
// within its allowance and how much later than its peers it came back, or
// within AnswerBound, counts until its answer; a later answer is mostly
// the service's own time, and the call counts until that allowance after
// it left.
func (l *Limiter) counted(s *Slot, end time.Time, fast bool) time.Time {
	if fast {
		if !end.IsZero() && end.Before(s.start.Add(l.maxJitter)) {
			return end
		}
		return s.start.Add(l.maxJitter)
	}
	bound := l.allowanceLocked() + s.slower
	if !end.IsZero() && end.Sub(s.start) <= max(bound, AnswerBound) {
		return end
	}
	return s.start.Add(bound)
}

// AnswerBound is the slowest answer that a call counts until: an answer
// shows that its call arrived by then, and counting it that long costs
// little. A slower answer is mostly the service's own time after it
// counted the call, and the call counts until its allowance after it left.
// A call is counted (and its successor waits) no sooner than a span after
// it left, by when any answer within AnswerBound has come back.
const AnswerBound = 100 * time.Millisecond

// delay is how long until n more fit b's log, 0 if they fit now.
// Call with l.mu held.
func (b *budget) delay(l *Limiter, now time.Time, n int) time.Duration {
	// Slots leave in start order: one that came back early waits behind
	// an earlier one still in flight, by at most the jitter.
	for len(b.log) > 0 && !l.expiry(b.log[0].slot).After(now) {
		b.total -= b.log[0].n
		b.log[0] = logEntry{}
		b.log = b.log[1:]
	}
	if b.total+n <= b.limit {
		return 0
	}
	need := b.total + n - b.limit
	var free time.Time
	for _, e := range b.log {
		free = later(free, l.expiry(e.slot))
		if need -= e.n; need <= 0 {
			break
		}
	}
	return free.Sub(now)
}

// record adds s, counting n, to b. Call with l.mu held.
func (b *budget) record(l *Limiter, s *Slot, n int) {
	b.log = append(b.log, logEntry{slot: s, n: n})
	b.total += n
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
