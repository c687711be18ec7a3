package uploader

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Store is a log of calls that several processes share, so that together
// they hold one member's limits (rtseg's --limiter). uploader/redislimit
// keeps one in Redis. A Store reads the time from its own clock, never from
// the processes' clocks, which may disagree.
type Store interface {
	// Reserve reserves the earliest moment at which one more call may
	// leave, after every moment reserved before: the call counts from it
	// for the ask's Hold in every window.
	Reserve(ctx context.Context, a Ask) (Reservation, error)
	// Confirm checks, ConfirmAhead before it comes, a moment reserved
	// further ahead than that: ok is false when it no longer stands
	// (reserve again); wait is how long from now it is, later than
	// reserved if a call before it now counts longer.
	Confirm(ctx context.Context, a Ask, id string) (wait time.Duration, ok bool, err error)
	// Extend says that the reserved call with this ID and number of users
	// leaves only now: it counts for hold from now, if that is longer.
	Extend(ctx context.Context, id string, users int, hold time.Duration) error
	// Answered says that the reserved call was answered, so it arrived by
	// now: it counts for span from now, if that is shorter.
	Answered(ctx context.Context, id string, users int, span time.Duration) error
	// Pause holds back every call of every process for d from now.
	Pause(ctx context.Context, d time.Duration) error
	// String names the store for messages, without any secret.
	String() string
}

// Ask is what a Limiter asks of a Store for one call.
type Ask struct {
	Users int // users the call carries
	// PostLimit and UserLimit are the most calls and users in every window
	// of Span (--rps, --users-per-second).
	PostLimit, UserLimit int
	Span                 time.Duration
	// Hold is how long after its moment the call counts: Span plus the
	// allowance for the variation in one-way delay.
	Hold time.Duration
}

// Reservation is a Store's answer to an Ask: a moment, Wait from now, at
// which the call must leave (later only after Extend), counted from then.
type Reservation struct {
	Wait time.Duration
	ID   string // names the reserved call for Confirm and Extend
}

// ConfirmAhead is how long before its moment a call reserved further ahead
// is confirmed (Store.Confirm): a Store that lost its state cannot know
// of moments closer than that.
const ConfirmAhead = 250 * time.Millisecond

// StoreWarmUp is how long a Store that lost its state (or starts anew)
// holds every call back: calls given out before, confirmed or close enough
// not to need it, or leaving late, have all stopped counting by then.
const StoreWarmUp = ConfirmAhead + lateMax + LimitSpan + MaxJitter + lateMax

// SharedConfig links a Limiter to a Store.
type SharedConfig struct {
	Store Store
	// GiveUp is how long to keep trying while the Store cannot be reached
	// (--limiter-wait): after it, every attempt not yet sent fails with a
	// *StoreLostError.
	GiveUp time.Duration
	// Logger says when the Store is lost, found again, or given up.
	Logger *slog.Logger
}

// StoreLostError is why calls were not sent: the shared limiter's Store
// could not be reached for longer than SharedConfig.GiveUp.
type StoreLostError struct {
	Store string        // the Store, as its String gives it
	For   time.Duration // how long it was tried
	Err   error         // the last error
}

func (e *StoreLostError) Error() string {
	return fmt.Sprintf("the shared limiter %s could not be reached for %v (--limiter-wait): %v", e.Store, e.For.Round(time.Second), e.Err)
}

func (e *StoreLostError) Unwrap() error { return e.Err }

// NewSharedLimiter returns a limiter that holds the given POST calls and
// users in every window of span together with every process sharing the
// Store. A limit below 1, or a GiveUp that is not positive, is a
// *SettingError naming its flag.
func NewSharedLimiter(posts, users int, span time.Duration, cfg SharedConfig) (*Limiter, error) {
	if err := checkLimits(posts, users); err != nil {
		return nil, err
	}
	if cfg.GiveUp <= 0 {
		return nil, &SettingError{"--limiter-wait", fmt.Sprintf("must be positive, not %v", cfg.GiveUp)}
	}
	if cfg.Store == nil {
		return nil, fmt.Errorf("a shared limiter needs a store")
	}
	l, err := newLimiter(posts, users, span, LimitJitter)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l.shared = &sharing{cfg: cfg, ahead: make(chan struct{}, reservedAhead)}
	return l, nil
}

// sharing is a Limiter's link to its Store and what it knows of it.
type sharing struct {
	cfg SharedConfig
	// ahead holds the calls of this process that wait for their moments.
	ahead chan struct{}

	mu     sync.Mutex
	lostAt time.Time // when the Store stopped answering; zero while it answers
	gaveUp error     // a *StoreLostError once GiveUp has passed; final
}

// waitShared waits for the Store to give the call a moment and for that
// moment to come. While the Store cannot be reached nothing is sent: it
// asks again with backoff until GiveUp has passed.
func (l *Limiter) waitShared(ctx context.Context, users int) (*Slot, error) {
	s := l.shared
	select {
	case s.ahead <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.ahead }()
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     100 * time.Millisecond,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         2 * time.Second,
	}
	for {
		if err := s.failed(); err != nil {
			return nil, err
		}
		l.mu.Lock()
		paused := time.Until(l.paused)
		// A reserved call may leave a little late (see sending): the
		// hold allows for that besides the variation in one-way delay.
		late := l.lateLocked()
		a := Ask{Users: users, PostLimit: l.posts.limit, UserLimit: l.users.limit, Span: l.span,
			Hold: l.span + l.allowanceLocked() + late}
		l.mu.Unlock()
		if paused > 0 {
			if err := sleep(ctx, paused); err != nil {
				return nil, err
			}
			continue
		}
		asked := time.Now()
		r, err := s.cfg.Store.Reserve(ctx, a)
		ok := true
		if err == nil && r.Wait > ConfirmAhead {
			if err = sleep(ctx, r.Wait-ConfirmAhead); err != nil {
				return nil, err
			}
			asked = time.Now()
			r.Wait, ok, err = s.cfg.Store.Confirm(ctx, a, r.ID)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			left, gone := s.lost(err)
			if gone != nil {
				return nil, gone
			}
			if err := sleep(ctx, min(bo.NextBackOff(), left)); err != nil {
				return nil, err
			}
			continue
		}
		s.found()
		bo.Reset()
		if !ok {
			continue // the moment no longer stands: reserve another
		}
		// The Store read its clock between asking and answering: the call
		// leaves no sooner than the moment could be, and counts as late
		// from the soonest it could be.
		wake := time.Now().Add(r.Wait)
		if err := sleep(ctx, r.Wait); err != nil {
			return nil, err
		}
		l.observe(time.Since(wake))
		return &Slot{l: l, start: asked.Add(r.Wait), shared: &sharedSlot{id: r.ID, users: users, hold: a.Hold, late: late}}, nil
	}
}

// reservedAhead is how many calls of one process may wait for their
// moments at once. Moments go first come, first served, and a worker asks
// for the next as soon as its call is answered: with every worker holding
// one, the processes would take turns in blocks as large as their pools,
// and any stretch of the run could favour one by a whole block. Two keep
// the turns fine-grained; the calls in flight are not held back.
const reservedAhead = 2

// sharedSlot is what a Slot of a shared Limiter knows of its reservation.
type sharedSlot struct {
	id    string
	users int
	hold  time.Duration // how long it counts from its moment
	late  time.Duration // how late it may leave
}

// lateMax bounds how late after its moment a call written to the network
// may have its reservation extended: in time for every call that could
// share a window with it, as their moments, a hold or more after its own,
// are reserved or confirmed no sooner than ConfirmAhead before, and the
// Store's answer has half a span more.
const lateMax = LimitSpan / 4

// lateLocked is how late after its moment a call may leave, with l.mu
// held: a little more than this process's timers have lately been late
// (a call later than that has its reservation extended: see sending),
// and no more than lateMax.
func (l *Limiter) lateLocked() time.Duration {
	return min(2*time.Millisecond+slices.Max(l.noise[:]), lateMax)
}

// sending reports whether a call may leave now. One a little later after
// its moment than its reservation allows for (its moment's answer from the
// Store was slow, or its timer fired late) has the reservation extended to
// count from now; one later than half of lateMax (it waited for a login,
// say), or whose reservation cannot be extended, has spent its moment and
// waits for another.
func (s *sharing) sending(l *Limiter, slot *Slot) bool {
	late := time.Since(slot.start)
	switch {
	case late <= slot.shared.late:
		return true
	case late <= lateMax/2:
		return s.extend(l, slot) == nil
	}
	return false
}

// answered adjusts the reservation of a call answered after rtt to count
// it as a Limiter's own log would (see Limiter.counted). A call counted longer than reserved
// pushes back the moments reserved behind it, when they are confirmed
// (see Store.Confirm); that comes in time if the answer does, as they are
// reserved or confirmed no sooner than a span less ConfirmAhead after it
// left.
func (s *sharing) answered(l *Limiter, slot *Slot) {
	ctx, cancel := context.WithTimeout(context.Background(), LimitSpan/2)
	defer cancel()
	ends := slot.start.Add(slot.shared.hold) // as reserved, or extended
	l.mu.Lock()
	until := l.counted(slot, slot.end, slot.fast).Add(l.span)
	l.mu.Unlock()
	switch {
	case until.Before(ends):
		s.cfg.Store.Answered(ctx, slot.shared.id, slot.shared.users, time.Until(until)) // if it fails, the call counts longer
	case until.After(ends):
		s.cfg.Store.Extend(ctx, slot.shared.id, slot.shared.users, time.Until(until))
	}
}

// wrote extends the reservation of a call written to the network later
// than its reservation allows for (a new connection, say).
func (s *sharing) wrote(l *Limiter, slot *Slot) {
	if late := time.Since(slot.start); late > slot.shared.late && late <= lateMax {
		s.extend(l, slot) // if Redis is lost, its next reservation waits for it anyway
	}
}

// extend makes slot's call count from now.
func (s *sharing) extend(l *Limiter, slot *Slot) error {
	ctx, cancel := context.WithTimeout(context.Background(), LimitSpan/2)
	defer cancel()
	slot.start = time.Now()
	l.mu.Lock()
	slot.shared.hold = l.span + l.allowanceLocked() + slot.shared.late
	l.mu.Unlock()
	return s.cfg.Store.Extend(ctx, slot.shared.id, slot.shared.users, slot.shared.hold)
}

// pause asks the Store to hold every process back for d; if it cannot,
// this process holds back on its own.
func (s *sharing) pause(ctx context.Context, l *Limiter, d time.Duration) {
	if err := s.cfg.Store.Pause(ctx, d); err != nil {
		l.mu.Lock()
		l.paused = later(l.paused, time.Now().Add(d))
		l.mu.Unlock()
	}
}

// failed is the error every attempt fails with once GiveUp has passed.
func (s *sharing) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gaveUp
}

// lost records that the Store did not answer: it logs the first failure,
// and returns how long is left before giving up, or the error to fail with
// once GiveUp has passed.
func (s *sharing) lost(err error) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gaveUp != nil {
		return 0, s.gaveUp
	}
	now := time.Now()
	if s.lostAt.IsZero() {
		s.lostAt = now
		s.cfg.Logger.Warn(fmt.Sprintf("limiter: lost %s; sending paused while reconnecting (giving up after --limiter-wait %v)", s.cfg.Store, s.cfg.GiveUp), "err", err)
	}
	left := s.cfg.GiveUp - now.Sub(s.lostAt)
	if left > 0 {
		return left, nil
	}
	s.gaveUp = &StoreLostError{Store: s.cfg.Store.String(), For: now.Sub(s.lostAt), Err: err}
	s.cfg.Logger.Error(fmt.Sprintf("limiter: gave up on %s after --limiter-wait %v: the rows still to send fail", s.cfg.Store, s.cfg.GiveUp), "err", err)
	return 0, s.gaveUp
}

// found records that the Store answered, and logs it if it had been lost.
func (s *sharing) found() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lostAt.IsZero() {
		return
	}
	s.cfg.Logger.Info(fmt.Sprintf("limiter: reached %s again after %v; sending resumes", s.cfg.Store, time.Since(s.lostAt).Round(100*time.Millisecond)))
	s.lostAt = time.Time{}
}
