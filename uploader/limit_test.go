package uploader

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// attemptLog is what a simulated service saw: each attempt's start, the
// latest moment the service can have counted it, and its users.
type attemptLog struct {
	mu       sync.Mutex
	attempts []loggedAttempt
}

type loggedAttempt struct {
	start, counted time.Time
	users          int
}

func (l *attemptLog) add(a loggedAttempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempts = append(l.attempts, a)
}

// peak is the most calls and users that any one-second window (t-1s, t] can
// have seen, wherever in [start, counted] the service counted each attempt:
// an attempt counts in every window its interval meets.
func (l *attemptLog) peak() (calls, users int) {
	for _, end := range l.attempts {
		t := end.start
		from := t.Add(-time.Second)
		c, u := 0, 0
		for _, a := range l.attempts {
			if !a.start.After(t) && a.counted.After(from) {
				c++
				u += a.users
			}
		}
		calls, users = max(calls, c), max(users, u)
	}
	return calls, users
}

// sendThrough sends requests of the given sizes through l from workers,
// each answered after answer draws (from the worker's own generator,
// seeded with seed) and counted by the service at the moment counted
// gives from when it left and when it was answered. It returns what the
// service counted and how long the run took.
func sendThrough(t *testing.T, l *Limiter, sizes []int, workers int, seed uint64,
	answer func(*rand.Rand) time.Duration, counted func(start, answered time.Time) time.Time) (*attemptLog, time.Duration) {
	log := &attemptLog{}
	work := make(chan int, len(sizes))
	for _, n := range sizes {
		work <- n
	}
	close(work)
	begin := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		rng := rand.New(rand.NewPCG(uint64(w), seed))
		wg.Go(func() {
			for n := range work {
				s, err := l.Wait(t.Context(), n)
				if err != nil {
					t.Error(err)
					return
				}
				start := time.Now()
				time.Sleep(answer(rng))
				s.Done()
				log.add(loggedAttempt{start: start, counted: counted(start, time.Now()), users: n})
			}
		})
	}
	wg.Wait()
	return log, time.Since(begin)
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func TestLimiterHoldsEveryWindow(t *testing.T) {
	tests := []struct {
		name          string
		posts, users  int
		sizes         []int         // users per request, cycled
		latency       time.Duration // answer time; longer than the jitter for some
		workers, reqs int
		binds         string // "users" or "posts": which limit sets the pace
	}{
		{"users bind, full requests", 100, 1000, []int{1000}, 20 * time.Millisecond, 8, 12, "users"},
		{"users bind, mixed sizes", 20, 200, []int{20, 7, 33, 1, 20}, 5 * time.Millisecond, 8, 120, "users"},
		{"posts bind", 20, 1000, []int{3}, 5 * time.Millisecond, 8, 100, "posts"},
		{"slow answers", 20, 200, []int{20}, 400 * time.Millisecond, 8, 60, "users"},
		{"one worker", 100, 1000, []int{100}, 30 * time.Millisecond, 1, 40, "users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const jitter = 50 * time.Millisecond
				l, err := NewLimiter(tt.posts, tt.users, time.Second, jitter)
				if err != nil {
					t.Fatal(err)
				}
				sizes := make([]int, tt.reqs)
				total := 0
				for i := range sizes {
					sizes[i] = tt.sizes[i%len(tt.sizes)]
					total += sizes[i]
				}
				log, elapsed := sendThrough(t, l, sizes, tt.workers, 1,
					// The answer takes between half and all of the latency.
					func(rng *rand.Rand) time.Duration {
						return tt.latency/2 + time.Duration(rng.Int64N(int64(tt.latency/2)))
					},
					func(start, answered time.Time) time.Time {
						return earlier(start.Add(jitter), answered)
					})

				calls, users := log.peak()
				if calls > tt.posts || users > tt.users {
					t.Errorf("a one-second window saw %d calls and %d users, limits %d and %d", calls, users, tt.posts, tt.users)
				}
				// Throughput: the last request starts once the earlier ones
				// have used their share of the limit.
				first, last := log.attempts[0], log.attempts[0]
				for _, a := range log.attempts {
					if a.start.Before(first.start) {
						first = a
					}
					if a.start.After(last.start) {
						last = a
					}
				}
				span := last.start.Sub(first.start).Seconds()
				rate := float64(total-last.users) / span
				limit := float64(tt.users)
				if tt.binds == "posts" {
					rate, limit = float64(tt.reqs-1)/span, float64(tt.posts)
				}
				if tt.latency <= jitter && rate < 0.95*limit {
					t.Errorf("%d requests (%d users) took %v: %.1f/s, want at least 95%% of %v/s", tt.reqs, total, elapsed, rate, limit)
				}
				t.Logf("%d requests, %d users in %v: %.1f/s of %v/s; peak window %d calls, %d users", tt.reqs, total, elapsed, rate, limit, calls, users)
			})
		})
	}
}

func TestLimiterServesInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _ := NewLimiter(100, 100, time.Second, 0)
		first, _ := l.Wait(t.Context(), 100) // fills the window
		first.Done()
		// A full-size request queues first; small ones that would fit
		// sooner must not overtake it.
		order := make(chan int, 3)
		var wg sync.WaitGroup
		for i, n := range []int{100, 1, 1} {
			wg.Go(func() {
				s, err := l.Wait(t.Context(), n)
				if err != nil {
					t.Error(err)
					return
				}
				s.Done()
				order <- i
			})
			synctest.Wait() // queued before the next one starts
		}
		wg.Wait()
		close(order)
		var got []int
		for i := range order {
			got = append(got, i)
		}
		if len(got) != 3 || got[0] != 0 {
			t.Errorf("served in order %v, want the full-size request (0) first", got)
		}
	})
}

func TestLimiterWaitStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _ := NewLimiter(1, 10, time.Second, 0)
		s, _ := l.Wait(t.Context(), 10)
		s.Done()
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := l.Wait(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait on a full limiter = %v, want the context's deadline", err)
		}
		if d := time.Since(start); d != 100*time.Millisecond {
			t.Errorf("Wait returned after %v, want when the context ended (100ms)", d)
		}
		// The cancelled waiter gave its turn back: the next one passes once
		// the window has room.
		if _, err := l.Wait(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("next Wait passed after %v, want 1s", d)
		}
	})
}

func TestLimiterRefusesTooLarge(t *testing.T) {
	l, _ := NewLimiter(10, 100, time.Second, 0)
	if _, err := l.Wait(t.Context(), 101); err == nil {
		t.Error("Wait(101 users) under a limit of 100 = nil error, want an error (it could never pass)")
	}
	if _, err := NewLimiter(0, 100, time.Second, 0); err == nil {
		t.Error("NewLimiter(0 posts) = nil error")
	}
}

// An attempt that leaves late (after waiting for a login) is counted from
// when it left, not from when its slot started.
func TestLimiterCountsFromSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _ := NewLimiter(1, 100, time.Second, 50*time.Millisecond)
		start := time.Now()
		a, _ := l.Wait(t.Context(), 10)
		go func() {
			time.Sleep(300 * time.Millisecond) // logging in
			a.Sending()
			time.Sleep(400 * time.Millisecond) // a slow answer
			a.Done()
		}()
		b, err := l.Wait(t.Context(), 10)
		if err != nil {
			t.Fatal(err)
		}
		b.Done()
		// The service may have counted a up to the allowance (50ms, as
		// no timer fired late) after it left at 300ms.
		if d := time.Since(start); d != 1350*time.Millisecond {
			t.Errorf("the next call started after %v, want 1.35s", d)
		}
	})
}

func TestWaitOutEarlierRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := WaitOutEarlierRun(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != LimitSpan+MaxJitter {
			t.Errorf("WaitOutEarlierRun waited %v, want a window and the widest allowance, %v", got, LimitSpan+MaxJitter)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := WaitOutEarlierRun(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("WaitOutEarlierRun on a cancelled run = %v, want context.Canceled", err)
		}
	})
}

// Latency costs only the allowance for the variation in one-way delay, not
// the round trip: with answers 400ms late, give or take 10ms, or anywhere
// from 50ms to 600ms late (the service's own time after it counted the
// call), a run still goes within 5% of its limit's pace.
func TestLimiterLatencyCostsOnlyTheAllowance(t *testing.T) {
	for _, tt := range []struct {
		name     string
		min, max time.Duration
		percent  time.Duration // the most over the limit's pace
	}{
		{"answers 400ms late", 390 * time.Millisecond, 410 * time.Millisecond, 105},
		{"answers 50ms to 600ms late", 50 * time.Millisecond, 600 * time.Millisecond, 105},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const posts, users, size, reqs = 100, 200, 20, 200 // 20s of users at 200/s
				l, _ := NewLimiter(posts, users, LimitSpan, LimitJitter)
				sizes := slices.Repeat([]int{size}, reqs)
				log, elapsed := sendThrough(t, l, sizes, 8, 2,
					func(rng *rand.Rand) time.Duration {
						return tt.min + time.Duration(rng.Int64N(int64(tt.max-tt.min)+1))
					},
					// The service counted it on arrival, at once.
					func(start, _ time.Time) time.Time { return start })
				if calls, peak := log.peak(); calls > posts || peak > users {
					t.Errorf("a one-second window saw %d calls and %d users, limits %d and %d", calls, peak, posts, users)
				}
				ideal := time.Duration(reqs*size/users) * time.Second
				// The last answer comes up to max after the last call left.
				if limit := ideal*tt.percent/100 + tt.max; elapsed > limit {
					t.Errorf("%d users at %d/s took %v, want at most %v (%d%% of %v, and the last answer)", reqs*size, users, elapsed, limit, tt.percent, ideal)
				}
				t.Logf("%d users at %d/s: %v (ideal %v)", reqs*size, users, elapsed, ideal)
			})
		})
	}
}

// A 429 holds every waiter for its Retry-After and doubles the allowance
// for the variation in one-way delay, up to MaxJitter; a throttling 503
// holds them back without widening it.
func TestLimiterThrottled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _ := NewLimiter(100, 1000, LimitSpan, LimitJitter)
		start := time.Now()
		l.throttled(t.Context(), 2*time.Second, true)
		s, err := l.Wait(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		s.Done()
		if d := time.Since(start); d != 2*time.Second {
			t.Errorf("Wait after a 429 with Retry-After 2 passed after %v, want 2s", d)
		}
		if got := l.jitter; got != 2*LimitJitter {
			t.Errorf("first allowance after one 429 = %v, want %v", got, 2*LimitJitter)
		}
		l.throttled(t.Context(), 0, false)
		if got := l.jitter; got != 2*LimitJitter {
			t.Errorf("first allowance after a throttling 503 = %v, want it unchanged at %v", got, 2*LimitJitter)
		}
		for range 10 {
			l.throttled(t.Context(), 0, true)
		}
		if got := l.jitter; got != MaxJitter {
			t.Errorf("first allowance after many 429s = %v, want at most %v", got, MaxJitter)
		}
	})
}

// With one call a second, each call waits for the one before to leave the
// log: one span after the latest moment the service can have counted it,
// as its answer and its peers' tell.
func TestLimiterCountsByTheAnswers(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tt := range []struct {
		name  string
		peers []time.Duration // round trips of the calls before
		last  time.Duration   // round trip of the call measured
		want  time.Duration   // from its start to the next call's
	}{
		// Steady answers 400ms late: the allowance (50ms), not the round trip.
		{"steady, on time", []time.Duration{ms(400)}, ms(400), ms(1050)},
		// One 60ms later than its peers may have arrived that late.
		{"steady, one late", []time.Duration{ms(400)}, ms(460), ms(1110)},
		// Answers from 200ms to 600ms: the service's own time; one
		// answered in 80ms counts until its answer, one in 500ms until
		// the allowance.
		{"varying, quick answer", []time.Duration{ms(200), ms(600), ms(350)}, ms(80), ms(1080)},
		{"varying, slow answer", []time.Duration{ms(200), ms(600), ms(350)}, ms(500), ms(1050)},
		// A service that answers at once: a slow answer shows a delay on
		// the way, and the call counts until it.
		{"fast, one late", []time.Duration{ms(5)}, ms(180), ms(1180)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l, _ := NewLimiter(1, 100, time.Second, LimitJitter)
				call := func(rtt time.Duration) time.Time {
					s, err := l.Wait(t.Context(), 1)
					if err != nil {
						t.Fatal(err)
					}
					start := time.Now()
					time.Sleep(rtt)
					s.Done()
					return start
				}
				for i := range 2 * rttSamples {
					call(tt.peers[i%len(tt.peers)])
				}
				start := call(tt.last)
				next := call(0)
				if got := next.Sub(start); got != tt.want {
					t.Errorf("the next call started %v after one answered in %v, want %v", got, tt.last, tt.want)
				}
			})
		})
	}
}
