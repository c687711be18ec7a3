package uploader

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"sync/atomic"
)

// reachTries is how many attempts of one call may find the service
// unreachable, in a way that may pass (a refused connection, a 503 from a
// gateway), before a run that has had no proper answer yet gives up: a
// service restarting gets a second or two, a wrong address no more.
const reachTries = 3

// UnreachableError ends a run whose first attempts found no service at its
// URL: the connection failed, or something else answered (a redirect, a
// page that is not the service's JSON). Until the service has answered
// once, retrying such attempts request after request would only take
// minutes to fail every row.
type UnreachableError struct {
	URL      string // where the calls went, without user information or query
	Err      error  // what the attempts found
	Attempts int    // attempts of the call that gave up
	hint     string
}

func (e *UnreachableError) Error() string {
	s := "could not reach the service at " + e.URL + ": " + e.Err.Error()
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Hint says what to check.
func (e *UnreachableError) Hint() string { return e.hint }

// reachKind is what one attempt says of whether the service is there.
type reachKind int

const (
	reachUnknown  reachKind = iota // says nothing: a slow answer, a call cut short
	reachAnswered                  // the service answered, in its JSON
	reachFailed                    // not reached, in a way that may pass
	reachDefinite                  // not reached, in a way that will not pass
)

// reachOutcome is probe's judgement of one attempt.
type reachOutcome struct {
	kind  reachKind
	cause error  // what was found, for reachFailed and reachDefinite
	hint  string // what to check
}

// Hints of an UnreachableError.
const (
	hintNetwork  = "check the URL (--endpoint, or --api for logins and lookups) and that this machine can reach it"
	hintDNS      = "check the host name in the URL (--endpoint, or --api for logins and lookups)"
	hintTLS      = "the server's certificate was not accepted: check the host name in the URL, or trust the CA of a proxy that intercepts TLS (SSL_CERT_FILE)"
	hintRedirect = "give the URL the redirect points to, if it is the service's: rtseg never sends a call on through a redirect"
	hintNotJSON  = "something other than the service answers at this URL: check --endpoint (or --api for logins and lookups)"
)

// probe judges one attempt's outcome, as classify has it, by whether the
// service answered. It is pure: the caller counts and decides.
func probe(ctx context.Context, status int, header http.Header, body []byte, err error) reachOutcome {
	if ctx.Err() != nil {
		return reachOutcome{}
	}
	if err != nil {
		return probeError(err)
	}
	if status >= 300 && status < 400 {
		cause := fmt.Errorf("HTTP %d, a redirect", status)
		if loc := header.Get("Location"); loc != "" {
			cause = fmt.Errorf("HTTP %d, a redirect to %s", status, redactURL(loc))
		}
		return reachOutcome{kind: reachDefinite, cause: cause, hint: hintRedirect}
	}
	if r, err := parseResponse(body); err == nil && (r.Status != "" || r.ErrorID != "") {
		return reachOutcome{kind: reachAnswered}
	}
	cause := fmt.Errorf("HTTP %d with %s, not the service's JSON", status, describeBody(header, body))
	if status == http.StatusTooManyRequests || status >= 500 {
		// A gateway's page while the service is down or throttled may pass.
		return reachOutcome{kind: reachFailed, cause: cause, hint: hintNotJSON}
	}
	return reachOutcome{kind: reachDefinite, cause: cause, hint: hintNotJSON}
}

// probeError judges an attempt that got no answer.
func probeError(err error) reachOutcome {
	ne := newNetworkError(err)
	var (
		dns     *net.DNSError
		op      *net.OpError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		verify  *tls.CertificateVerificationError
		record  tls.RecordHeaderError
		alert   tls.AlertError
	)
	switch {
	case errors.As(err, &dns):
		cause := fmt.Errorf("lookup %s: %s", dns.Name, dns.Err)
		if dns.IsNotFound {
			return reachOutcome{kind: reachDefinite, cause: cause, hint: hintDNS}
		}
		return reachOutcome{kind: reachFailed, cause: cause, hint: hintDNS}
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &host),
		errors.As(err, &invalid), errors.As(err, &record), errors.As(err, &alert):
		return reachOutcome{kind: reachDefinite, cause: ne.Err, hint: hintTLS}
	case errors.As(err, &op) && op.Op == "dial":
		// Refused, no route, or no answer to the connection itself.
		return reachOutcome{kind: reachFailed, cause: ne.Err, hint: hintNetwork}
	case ne.Timeout():
		// Connected, and the answer is slow: the service may be there.
		return reachOutcome{}
	}
	return reachOutcome{kind: reachFailed, cause: ne.Err, hint: hintNetwork}
}

// describeBody says what a body that is not the service's JSON holds.
func describeBody(header http.Header, body []byte) string {
	if len(body) == 0 {
		return "an empty body"
	}
	if mt, _, err := mime.ParseMediaType(header.Get("Content-Type")); err == nil {
		return "a " + mt + " body"
	}
	return "a body"
}

// reach follows whether the service has answered a run, or a client,
// properly yet. Until it has, attempts that find it unreachable end the
// call, and the run, instead of being retried as usual.
type reach struct{ answered atomic.Bool }

// reachCall counts, for one call, the attempts that found the service
// unreachable before it ever answered.
type reachCall struct {
	r        *reach
	url      string // where the call goes, without secrets
	attempts int    // attempts judged
	failed   int    // of which found the service unreachable
	tries    int    // failed attempts allowed: reachTries, or fewer when retries are
}

// call starts counting the attempts of a call to rawURL.
func (r *reach) call(rawURL string, maxRetries int) *reachCall {
	return &reachCall{r: r, url: BareURL(rawURL), tries: min(reachTries, maxRetries+1)}
}

// judge takes one attempt's outcome and returns the *UnreachableError that
// must end the run, or nil to go on as classify says.
func (c *reachCall) judge(ctx context.Context, status int, header http.Header, body []byte, err error) error {
	c.attempts++
	if c.r.answered.Load() {
		return nil
	}
	o := probe(ctx, status, header, body, err)
	switch o.kind {
	case reachAnswered:
		c.r.answered.Store(true)
		return nil
	case reachUnknown:
		return nil
	}
	c.failed++
	if o.kind == reachFailed && c.failed < c.tries {
		return nil
	}
	if c.r.answered.Load() {
		// Another call got through meanwhile: the service is there.
		return nil
	}
	return &UnreachableError{URL: c.url, Err: o.cause, Attempts: c.attempts, hint: o.hint}
}

// noRedirects returns a copy of c (http.DefaultClient if nil) that hands
// back a redirect as the answer rather than follow it: a POST must never be
// sent on silently, and whatever answers elsewhere is not the service.
func noRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}
