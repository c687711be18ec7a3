package uploader

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// pacer makes the attempts of one call, POST or GET. The paced function makes
// one attempt (waiting for the limiter first) and returns classify's verdict;
// the pacer decides nothing about answers: it does the waiting, counts the
// attempts and gives up after maxRetries retries.
//
//   - actRetry: try again after the backoff (exponential, with jitter), or
//     after the verdict's wait (Retry-After) if that is longer;
//   - actRenew: the token was renewed: try again at once, as the limiter
//     paces every attempt anyway;
//   - any other act ends the call.
type pacer struct {
	maxRetries int
	// backoff is the first retry delay; later ones grow exponentially
	// with jitter up to maxBackoff.
	backoff, maxBackoff time.Duration
}

// pacing is how a paced call ended.
type pacing struct {
	last    verdict // the last attempt's verdict
	tries   int     // attempts made
	retries int     // retries decided on, the one cut short included
	gaveUp  bool    // the last verdict asked for a retry beyond maxRetries
	stopped bool    // ctx ended while waiting to retry
}

// run calls attempt until a verdict ends the call, maxRetries retries are
// spent, or ctx ends while waiting. A non-nil error from attempt ends the
// call at once and is returned.
func (p pacer) run(ctx context.Context, attempt func() (verdict, error)) (pacing, error) {
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     p.backoff,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         p.maxBackoff,
	}
	var pc pacing
	for {
		v, err := attempt()
		pc.last = v
		pc.tries++
		if err != nil {
			return pc, err
		}
		if v.act != actRetry && v.act != actRenew {
			return pc, nil
		}
		if pc.tries > p.maxRetries {
			pc.gaveUp = true
			return pc, nil
		}
		pc.retries++
		if v.act == actRenew {
			continue
		}
		if err := sleep(ctx, max(bo.NextBackOff(), v.wait)); err != nil {
			pc.stopped = true
			return pc, nil
		}
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
