package uploader

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Read limits of the API, for the limiters built in cmd.
const (
	// SegmentReadsPerMinute is the Digital Platform API's documented read
	// limit per member ("100 reads per minute"), which the Segment Service
	// shares with every other API service.
	SegmentReadsPerMinute = 100
	// UsageReadsPerSecond is the Instant Audience Service's documented GET
	// limit per member: "up to 1000 GET calls per second".
	UsageReadsPerSecond = 1000
)

// errIDNotFound is the error_id of a lookup that matched nothing.
const errIDNotFound = "NOTFOUND"

// ReadConfig says how to make GET calls to the API: with the same
// credentials, limiter discipline and retries as the uploader's POSTs.
type ReadConfig struct {
	Auth Auth
	// Reads is waited on before every attempt, retries included. Nil
	// means a limiter of its own holding the service's documented read
	// limit, or ReadsPerMinute calls a minute when that is not 0.
	Reads          *Limiter
	ReadsPerMinute int
	MaxRetries     int           // attempts after the first for one call
	Timeout        time.Duration // one HTTP attempt
	Client         *http.Client
	// Backoff sets the first retry delay; later ones grow exponentially
	// with jitter up to MaxBackoff.
	Backoff, MaxBackoff time.Duration

	reach *reach // whether the API has answered yet
}

// NewReadLimiter returns a limiter for ReadConfig.Reads that lets at most
// the given number of GET calls through in every window of the given span;
// jitter is as for NewLimiter.
func NewReadLimiter(calls int, span, jitter time.Duration) (*Limiter, error) {
	if calls < 1 {
		return nil, fmt.Errorf("reads must be at least 1 a window, not %d", calls)
	}
	return newLimiter(calls, calls, span, jitter)
}

// fill sets what was left out: the read limiter's default is calls in
// every window of span.
func (c *ReadConfig) fill(calls int, span time.Duration) error {
	if c.Auth == nil {
		return errors.New("no credentials for the API")
	}
	if c.MaxRetries < 0 {
		return &SettingError{"--max-retries", fmt.Sprintf("must be at least 0, not %d", c.MaxRetries)}
	}
	if c.Reads == nil {
		if c.ReadsPerMinute < 0 {
			return &SettingError{Flag: "--api-reads-per-minute", Problem: fmt.Sprintf("must be at least 1, not %d", c.ReadsPerMinute)}
		}
		if c.ReadsPerMinute > 0 {
			calls, span = c.ReadsPerMinute, time.Minute
		}
		var err error
		if c.Reads, err = NewReadLimiter(calls, span, LimitJitter); err != nil {
			return err
		}
	}
	c.Client = noRedirects(c.Client)
	c.reach = &reach{}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Backoff <= 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	return nil
}

// get makes one GET call to the URL, retrying as the uploader retries a
// POST, and returns the body of the answer. Its error names the call: one the
// API refused wraps an *APIError (in a *GaveUpError when retries did not
// help); a refused token that cannot be renewed wraps ErrAuthRefused.
// Until the API has answered once, finding it unreachable is an
// *UnreachableError, as for the uploader's POSTs.
func (c *ReadConfig) get(ctx context.Context, rawURL string) ([]byte, error) {
	shown := redactURL(rawURL)
	var status int
	var body []byte
	p := pacer{maxRetries: c.MaxRetries, backoff: c.Backoff, maxBackoff: c.MaxBackoff}
	rc := c.reach.call(rawURL, c.MaxRetries)
	pc, err := p.run(ctx, func() (verdict, error) {
		slot, err := c.Reads.Wait(ctx, 1)
		if err != nil {
			return verdict{}, fmt.Errorf("GET %s: %w", shown, err)
		}
		token, err := c.Auth.Token(ctx)
		if err != nil {
			slot.Done()
			return verdict{}, err
		}
		slot.Sending()
		var header http.Header
		status, header, body, err = c.do(ctx, rawURL, token)
		slot.Done()
		if ue := rc.judge(ctx, status, header, body, err); ue != nil {
			return verdict{act: actReject, err: ue}, ue
		}
		v := classify(ctx, status, header, body, err).from(http.MethodGet, shown)
		if v.act == actRenew {
			if _, err := c.Auth.Renew(ctx, token); err != nil {
				return v, err
			}
		}
		return v, nil
	})
	v := pc.last
	switch {
	case err != nil:
		return nil, err
	case pc.gaveUp:
		return nil, fmt.Errorf("GET %s: %w", shown, &GaveUpError{Attempts: pc.tries, Last: v.err})
	case pc.stopped:
		return nil, fmt.Errorf("GET %s: %w", shown, &CutShortError{Last: v.err, Cause: ctx.Err()})
	}
	switch v.act {
	case actDone:
		return body, nil
	case actStop:
		return nil, fmt.Errorf("GET %s: %w", shown, ctx.Err())
	}
	return nil, fmt.Errorf("GET %s: %w", shown, v.err)
}

func (c *ReadConfig) do(ctx context.Context, rawURL string, token Secret) (int, http.Header, []byte, error) {
	actx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	return roundTrip(c.Client, req, token)
}

// BareURL returns the URL without its user information, query or fragment:
// an endpoint as a summary keeps it. It returns "" for a URL that does not
// parse.
func BareURL(raw string) string {
	u, err := safeURL(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// redactURL shows a URL without a password or an access_token, keeping the
// rest of its query (a lookup's IDs).
func redactURL(raw string) string {
	u, err := safeURL(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.String()
}

// safeURL parses a URL and hides its secrets: a password in its user
// information, an access_token in its query.
func safeURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("access_token") {
		q.Set("access_token", "[redacted]")
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// apiInt reads a number the API may give as a number, as a string or as
// null (zero).
type apiInt int64

func (n *apiInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*n = apiInt(v)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("want a number, got %s", b)
	}
	*n = apiInt(v)
	return nil
}
