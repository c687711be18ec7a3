package uploader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/rtseg/rtseg/chunker"
)

// Limiter holds a rate in every window; Window is the one rtseg uses.
type Limiter interface {
	Wait(ctx context.Context, n int) error
}

// Config says where and how to send.
type Config struct {
	Endpoint   string // the rt-segment URL
	Auth       Auth
	Workers    int           // requests in flight
	MaxRetries int           // attempts after the first for one request
	Timeout    time.Duration // one HTTP attempt
	Posts      Limiter       // POST calls
	Users      Limiter       // rt_segment entries
	Client     *http.Client
	// Grace is how long requests in flight may finish after the intake
	// context is cancelled.
	Grace time.Duration
	// Backoff sets the first retry delay; later ones grow exponentially
	// with jitter up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
}

// Result is what became of one request.
type Result struct {
	Request  *chunker.Request
	Attempts int
	// Throttled counts 429 answers seen; Retries the attempts after the first.
	Throttled, Retries int
	// Err, when set, is why every row of the request (except Resent) failed.
	Err error
	// Warned gives the service's message for each warned row.
	Warned map[RowRef]string
	// Resent lists entries the service refused as too many for one request;
	// they were sent again in a later request with a Result of its own.
	Resent []int
}

// Uploader sends requests.
type Uploader struct {
	cfg Config
}

// CheckEndpoint refuses plain http:// unless the host is a loopback address,
// so that tokens never cross a network in the clear.
func CheckEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", raw, err)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("endpoint %s: plain http:// is refused except on a loopback address; use https://", u.Redacted())
	}
	return fmt.Errorf("endpoint %q: want an https:// URL", raw)
}

// New returns an uploader.
func New(cfg Config) (*Uploader, error) {
	if err := CheckEndpoint(cfg.Endpoint); err != nil {
		return nil, err
	}
	if cfg.Workers < 1 {
		return nil, fmt.Errorf("workers must be at least 1, not %d", cfg.Workers)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: cfg.Workers,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	return &Uploader{cfg: cfg}, nil
}

// Send delivers one request, retrying as the service's answers allow. The
// returned error is set only when the run must end (authentication refused);
// every other problem is the Result's Err.
func (u *Uploader) Send(ctx context.Context, req *chunker.Request) (Result, error) {
	res := Result{Request: req}
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     u.cfg.Backoff,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         u.cfg.MaxBackoff,
	}
	for {
		if err := u.cfg.Posts.Wait(ctx, 1); err != nil {
			return res.fail("not sent: the run was interrupted"), nil
		}
		if err := u.cfg.Users.Wait(ctx, req.Users()); err != nil {
			return res.fail("not sent: the run was interrupted"), nil
		}
		token, err := u.cfg.Auth.Token(ctx)
		if err != nil {
			return res.fail("not sent: " + err.Error()), err
		}
		res.Attempts++
		status, header, body, err := u.post(ctx, req, token)
		v := classify(ctx, status, header, body, err)
		if v.throttled {
			res.Throttled++
		}
		switch v.act {
		case actDone:
			res.Warned, res.Resent = attribute(req, v.resp.Warnings)
			return res, nil
		case actStop, actReject:
			return res.fail(v.reason), nil
		case actRenew:
			if _, err := u.cfg.Auth.Renew(ctx, token); err != nil {
				return res.fail(v.reason), err
			}
		}
		if res.Attempts > u.cfg.MaxRetries {
			return res.fail(fmt.Sprintf("%s (gave up after %d attempts)", v.reason, res.Attempts)), nil
		}
		res.Retries++
		if v.act == actRenew {
			continue
		}
		if err := sleep(ctx, max(bo.NextBackOff(), v.wait)); err != nil {
			return res.fail(v.reason + "; then the run was interrupted"), nil
		}
	}
}

func (r Result) fail(reason string) Result {
	r.Err = errors.New(reason)
	return r
}

func (u *Uploader) post(ctx context.Context, req *chunker.Request, token Secret) (int, http.Header, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(actx, http.MethodPost, u.cfg.Endpoint, bytes.NewReader(req.Body))
	if err != nil {
		return 0, nil, nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Authorization", token.Reveal())
	resp, err := u.cfg.Client.Do(hreq)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, body, nil
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
