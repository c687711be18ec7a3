package uploader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"time"

	"github.com/rtseg/rtseg/chunker"
)

// The service's production addresses.
const (
	DefaultEndpoint = "https://streaming-data.appnexus.com/rt-segment"
	DefaultAPI      = "https://api.appnexus.com"
)

// The service's documented call rates per member: "up to 100 POST calls
// per second" and "up to 1000 users per second".
const (
	ServicePostsPerSecond = 100
	ServiceUsersPerSecond = 1000
)

// MaxWorkers is the most requests in flight: the API allows 15 concurrent
// calls, and a login may need one of them.
const MaxWorkers = 14

// Config says where and how to send.
type Config struct {
	Endpoint   string // the rt-segment URL
	Auth       Auth
	Workers    int           // requests in flight, 1 to MaxWorkers
	MaxRetries int           // attempts after the first for one request
	Timeout    time.Duration // one HTTP attempt
	// Limiter holds POST calls and users per second; every attempt waits
	// for it. Nil sends without limit (for benchmarks).
	Limiter *Limiter
	// MaxUsers is the most users the chunker packs in one request
	// (--max-users), 0 if unknown. With a Limiter it may not exceed the
	// users it lets through per span: such a request could never be sent.
	MaxUsers int
	// AllowAboveService accepts a Limiter above the service's documented
	// rates (ServicePostsPerSecond, ServiceUsersPerSecond), for a member
	// whose limits Xandr raised (--allow-above-service-limits).
	AllowAboveService bool
	Client            *http.Client
	// Grace is how long requests in flight may finish after the intake
	// context is cancelled.
	Grace time.Duration
	// Hurry, if set, ends Grace early when it is done: a second interrupt.
	Hurry context.Context
	// Backoff sets the first retry delay; later ones grow exponentially
	// with jitter up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
}

// Result is what became of one request.
type Result struct {
	// Request is what was sent: the packed request, or a part of it
	// sent again (see Resent).
	Request *chunker.Request
	// Packed is the request as the packer made it: Request itself, or the
	// request whose entries Request sends again. Once a Final Result
	// without Err arrives for it, the service acknowledged every part.
	Packed *chunker.Request
	// Attempts counts the HTTP calls made for the request.
	Attempts int
	// Throttled counts the 429 answers; Retries the tries after the first.
	Throttled, Retries int
	// Sent is when the last attempt went out; zero if none did.
	Sent time.Time
	// Err, when set, is why every row of the request (except Resent)
	// failed: an *APIError when the service refused it, a *GaveUpError
	// after MaxRetries retries, an error wrapping ErrInterrupted or a
	// *RunStoppedError when the end of the run stopped it (*NotSentError
	// before any attempt, *CutShortError after), an *AuthError, or an
	// *UnreachableError.
	Err error
	// Warned gives the service's message for each warned row.
	Warned map[RowRef]string
	// Resent lists entries the service refused as too many for one request;
	// they were sent again in a later request with a Result of its own.
	Resent []int
}

// Final reports whether no further Result follows for r.Packed: the
// request failed, or no entry of it is left to send again.
func (r Result) Final() bool { return len(r.Resent) == 0 || r.Err != nil }

// Uploader sends requests.
type Uploader struct {
	cfg   Config
	shown string // the endpoint, without secrets
	reach *reach // whether the service has answered the run yet
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
	return fmt.Errorf("endpoint %s: want an https:// URL", u.Redacted())
}

// New returns an uploader, or a *SettingError naming the flag of a setting
// out of range.
func New(cfg Config) (*Uploader, error) {
	if cfg.Workers < 1 || cfg.Workers > MaxWorkers {
		return nil, &SettingError{"--workers", fmt.Sprintf("must be 1 to %d (the API allows 15 concurrent calls, and logging in may need one), not %d", MaxWorkers, cfg.Workers)}
	}
	if cfg.MaxRetries < 0 {
		return nil, &SettingError{"--max-retries", fmt.Sprintf("must be at least 0, not %d", cfg.MaxRetries)}
	}
	if cfg.Timeout <= 0 {
		return nil, &SettingError{"--timeout", fmt.Sprintf("must be positive, not %v", cfg.Timeout)}
	}
	if l := cfg.Limiter; l != nil && cfg.MaxUsers > l.users.limit {
		return nil, &SettingError{"--max-users", fmt.Sprintf("%d is more than --users-per-second %d: a request could never be sent", cfg.MaxUsers, l.users.limit)}
	}
	if err := cfg.checkRates(); err != nil {
		return nil, err
	}
	if err := CheckEndpoint(cfg.Endpoint); err != nil {
		return nil, err
	}
	if cfg.Auth == nil {
		return nil, errors.New("no credentials")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: cfg.Workers,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}}
	}
	cfg.Client = noRedirects(cfg.Client)
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	return &Uploader{cfg: cfg, shown: redactURL(cfg.Endpoint), reach: &reach{}}, nil
}

// checkRates refuses, unless AllowAboveService, a Limiter that lets more
// through than the service takes: it would answer the excess with 429.
func (cfg *Config) checkRates() error {
	l := cfg.Limiter
	if l == nil || cfg.AllowAboveService {
		return nil
	}
	above := func(flag string, n, limit int, unit string) error {
		return &SettingError{flag, fmt.Sprintf("%d is above the service's limit of %d %s; give --allow-above-service-limits if Xandr raised the member's limits", n, limit, unit)}
	}
	switch {
	case l.posts.limit > ServicePostsPerSecond:
		return above("--rps", l.posts.limit, ServicePostsPerSecond, "POST calls per second")
	case l.users.limit > ServiceUsersPerSecond:
		return above("--users-per-second", l.users.limit, ServiceUsersPerSecond, "users per second")
	}
	return nil
}

// Send delivers one request, retrying as the service's answers allow. The
// returned error is set only when the run must end: authentication
// refused, or, before the service has answered the uploader once, an
// *UnreachableError (a redirect, an answer that is not the service's, a
// failed TLS handshake or DNS lookup at once; a refused connection or a
// gateway's error page after a few quick tries). Every other problem is the
// Result's Err.
func (u *Uploader) Send(ctx context.Context, req *chunker.Request) (Result, error) {
	res := Result{Request: req, Packed: req}
	p := pacer{maxRetries: u.cfg.MaxRetries, backoff: u.cfg.Backoff, maxBackoff: u.cfg.MaxBackoff}
	rc := u.reach.call(u.cfg.Endpoint, u.cfg.MaxRetries)
	pc, err := p.run(ctx, func() (verdict, error) {
		v, err := u.attempt(ctx, req, &res, rc)
		if err == nil && v.throttled {
			res.Throttled++
		}
		return v, err
	})
	res.Retries = pc.retries
	v := pc.last
	switch {
	case err != nil:
		return res.fail(v.err), err
	case pc.gaveUp:
		return res.fail(&GaveUpError{Attempts: pc.tries, Last: v.err}), nil
	case pc.stopped:
		return res.fail(stopped(ctx, &res, v.err)), nil
	}
	switch v.act {
	case actDone:
		res.Warned, res.Resent = attribute(req, v.resp.Warnings)
		return res, nil
	case actStop:
		return res.fail(stopped(ctx, &res, v.err)), nil
	}
	return res.fail(v.err), nil
}

// attempt makes one try: it waits for the limiter, gets the token and posts.
// A non-nil error ends the run.
func (u *Uploader) attempt(ctx context.Context, req *chunker.Request, res *Result, rc *reachCall) (verdict, error) {
	var (
		slot  *Slot
		token Secret
		err   error
	)
	for {
		if slot, err = u.cfg.Limiter.Wait(ctx, req.Users()); err != nil {
			return u.notSent(ctx, res, err), nil
		}
		if token, err = u.cfg.Auth.Token(ctx); err != nil {
			slot.Done()
			return u.authFailed(ctx, err)
		}
		if slot.Sending() {
			break
		}
		// A login held the attempt past the moment the shared limiter
		// gave it: that moment is spent, wait for another.
	}
	res.Attempts++
	res.Sent = time.Now()
	status, header, body, err := u.post(ctx, req, token, slot.Wrote)
	slot.Done()
	if ue := rc.judge(ctx, status, header, body, err); ue != nil {
		return verdict{act: actReject, err: ue}, ue
	}
	v := classify(ctx, status, header, body, err).from(http.MethodPost, u.shown)
	if v.slowDown {
		pause := v.wait
		if pause <= 0 && v.throttled {
			pause = LimitSpan
		}
		u.cfg.Limiter.throttled(ctx, pause, v.throttled)
	}
	if v.act != actRenew {
		return v, nil
	}
	if _, err := u.cfg.Auth.Renew(ctx, token); err != nil {
		rv, fatal := u.authFailed(ctx, err)
		if rv.err != nil {
			rv.err = fmt.Errorf("%w; logging in again: %w", v.err, rv.err)
		} else {
			rv.err = v.err
		}
		return rv, fatal
	}
	return v, nil
}

// notSent is the verdict when the limiter would not let an attempt go: the
// run is ending, or the request can never be sent (more users than the
// limit, or the shared limiter given up).
func (u *Uploader) notSent(ctx context.Context, res *Result, err error) verdict {
	if ctx.Err() != nil {
		return verdict{act: actStop}
	}
	if res.Attempts > 0 {
		return verdict{act: actReject, err: err}
	}
	return verdict{act: actReject, err: &NotSentError{Cause: err}}
}

// authFailed turns an error from Auth into a verdict: the end of the run if
// authentication was refused or the login found no service, else a retry.
func (u *Uploader) authFailed(ctx context.Context, err error) (verdict, error) {
	var ue *UnreachableError
	switch {
	case errors.Is(err, ErrAuthRefused), errors.As(err, &ue):
		return verdict{act: actReject, err: err}, err
	case ctx.Err() != nil:
		return verdict{act: actStop}, nil
	}
	return verdict{act: actRetry, wait: retryWait(err), err: err}, nil
}

// stopped is why a request's rows failed when ctx ended its sending; last
// is the last attempt's failure, nil if there was none.
func stopped(ctx context.Context, res *Result, last error) error {
	if res.Attempts == 0 {
		return NotSent(ctx)
	}
	return &CutShortError{Last: last, Cause: stopCause(ctx)}
}

func (r Result) fail(err error) Result {
	r.Err = err
	return r
}

// post makes one POST of req; wrote is called when the request has been
// written to the network.
func (u *Uploader) post(ctx context.Context, req *chunker.Request, token Secret, wrote func()) (int, http.Header, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote() },
	})
	hreq, err := http.NewRequestWithContext(actx, http.MethodPost, u.cfg.Endpoint, bytes.NewReader(req.Body))
	if err != nil {
		return 0, nil, nil, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	return roundTrip(u.cfg.Client, hreq, token)
}

// roundTrip makes one authorised HTTP call and reads the whole answer.
func roundTrip(client *http.Client, req *http.Request, token Secret) (int, http.Header, []byte, error) {
	req.Header.Set("Authorization", token.Reveal())
	resp, err := client.Do(req)
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
