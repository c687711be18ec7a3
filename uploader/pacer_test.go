package uploader

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestPacer(t *testing.T) {
	retry := verdict{act: actRetry}
	retryAfter := func(d time.Duration) verdict { return verdict{act: actRetry, wait: d} }
	renew := verdict{act: actRenew}
	done := verdict{act: actDone}
	reject := verdict{act: actReject}
	tests := []struct {
		name       string
		maxRetries int
		verdicts   []verdict // one per attempt, the last repeated
		wantTries  int
		wantLast   action
		wantGaveUp bool
		// The time between the first attempt and the last (fake, in a
		// synctest bubble) is within these.
		minElapsed, maxElapsed time.Duration
	}{
		{name: "done at once", maxRetries: 3, verdicts: []verdict{done},
			wantTries: 1, wantLast: actDone},
		{name: "reject is not retried", maxRetries: 3, verdicts: []verdict{reject},
			wantTries: 1, wantLast: actReject},
		// Backoff 1s then 2s, each within ±50%: 1.5s to 4.5s in all.
		{name: "retries back off", maxRetries: 3, verdicts: []verdict{retry, retry, done},
			wantTries: 3, wantLast: actDone, minElapsed: 1500 * time.Millisecond, maxElapsed: 4500 * time.Millisecond},
		{name: "a longer Retry-After wins over the backoff", maxRetries: 3, verdicts: []verdict{retryAfter(20 * time.Second), done},
			wantTries: 2, wantLast: actDone, minElapsed: 20 * time.Second, maxElapsed: 20 * time.Second},
		{name: "a renewed token is retried at once", maxRetries: 3, verdicts: []verdict{renew, renew, done},
			wantTries: 3, wantLast: actDone},
		{name: "gives up after max retries", maxRetries: 2, verdicts: []verdict{retry},
			wantTries: 3, wantLast: actRetry, wantGaveUp: true, minElapsed: 1500 * time.Millisecond, maxElapsed: 4500 * time.Millisecond},
		{name: "no retries at all", maxRetries: 0, verdicts: []verdict{renew},
			wantTries: 1, wantLast: actRenew, wantGaveUp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := pacer{maxRetries: tt.maxRetries, backoff: time.Second, maxBackoff: time.Minute}
				var first, last time.Time
				calls := 0
				pc, err := p.run(t.Context(), func() (verdict, error) {
					if calls == 0 {
						first = time.Now()
					}
					last = time.Now()
					calls++
					return tt.verdicts[min(calls, len(tt.verdicts))-1], nil
				})
				if err != nil {
					t.Fatalf("run = %v", err)
				}
				if pc.tries != tt.wantTries || calls != tt.wantTries {
					t.Errorf("run made %d attempts (counted %d), want %d", calls, pc.tries, tt.wantTries)
				}
				if pc.retries != pc.tries-1 {
					t.Errorf("%d retries counted after %d attempts, want %d", pc.retries, pc.tries, pc.tries-1)
				}
				if pc.last.act != tt.wantLast || pc.gaveUp != tt.wantGaveUp || pc.stopped {
					t.Errorf("run ended with act %v, gave up %v, stopped %v; want act %v, gave up %v", pc.last.act, pc.gaveUp, pc.stopped, tt.wantLast, tt.wantGaveUp)
				}
				if d := last.Sub(first); d < tt.minElapsed || d > tt.maxElapsed {
					t.Errorf("attempts spread over %v, want %v to %v", d, tt.minElapsed, tt.maxElapsed)
				}
			})
		})
	}
}

// Backoff grows to its maximum and no further.
func TestPacerBackoffCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pacer{maxRetries: 10, backoff: time.Second, maxBackoff: 4 * time.Second}
		var gaps []time.Duration
		prev := time.Now()
		p.run(t.Context(), func() (verdict, error) {
			gaps = append(gaps, time.Since(prev))
			prev = time.Now()
			return verdict{act: actRetry}, nil
		})
		for i, g := range gaps[5:] {
			// 4s ± 50%.
			if g < 2*time.Second || g > 6*time.Second {
				t.Errorf("wait before attempt %d = %v, want 2s to 6s (4s with jitter)", i+6, g)
			}
		}
	})
}

func TestPacerStopsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(5*time.Second, cancel)
		p := pacer{maxRetries: 8, backoff: time.Second, maxBackoff: time.Minute}
		start := time.Now()
		pc, err := p.run(ctx, func() (verdict, error) {
			return verdict{act: actRetry, wait: time.Hour}, nil
		})
		if err != nil || !pc.stopped || pc.gaveUp || pc.tries != 1 {
			t.Errorf("run = %+v, %v; want stopped after 1 attempt", pc, err)
		}
		if pc.retries != 1 {
			t.Errorf("%d retries counted, want 1: the one cut short", pc.retries)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("run returned after %v, want when ctx ended (5s), not after the hour asked", d)
		}
	})
}

func TestPacerReturnsFatalErrorAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fatal := errors.New("authentication refused")
		p := pacer{maxRetries: 8, backoff: time.Second, maxBackoff: time.Minute}
		calls := 0
		pc, err := p.run(t.Context(), func() (verdict, error) {
			calls++
			return verdict{act: actRetry}, fatal
		})
		if !errors.Is(err, fatal) || calls != 1 || pc.tries != 1 {
			t.Errorf("run = %v after %d calls, want the attempt's error after 1", err, calls)
		}
	})
}
