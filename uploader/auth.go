package uploader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// ErrAuthRefused ends a run: the service refused our credentials, or a
// token that cannot be renewed.
var ErrAuthRefused = errors.New("authentication refused")

// AuthError is an authentication failure that ends the run. It wraps
// ErrAuthRefused and knows what the person running rtseg can do about it.
type AuthError struct {
	Msg  string // what happened, without any secret
	hint string
}

func (e *AuthError) Error() string { return ErrAuthRefused.Error() + ": " + e.Msg }
func (e *AuthError) Unwrap() error { return ErrAuthRefused }

// Hint says how to fix it.
func (e *AuthError) Hint() string { return e.hint }

// LoginUnavailableError is a login that failed for now (network,
// throttling, server error): the call that needed it is retried, Wait later
// at the soonest.
type LoginUnavailableError struct {
	Msg  string        // what happened, without any secret
	Wait time.Duration // at least this long before the next login
}

func (e *LoginUnavailableError) Error() string { return e.Msg }

// retryWait is how long an error from Auth asks to wait before retrying.
func retryWait(err error) time.Duration {
	var lu *LoginUnavailableError
	if errors.As(err, &lu) {
		return lu.Wait
	}
	return 0
}

// Auth supplies the token for each call and renews it when the service says
// it is no longer valid. An error wrapping ErrAuthRefused ends the run; any
// other is temporary and the call is retried later.
type Auth interface {
	// Token returns the token to send.
	Token(ctx context.Context) (Secret, error)
	// Renew is called when stale was refused; it returns a token to retry
	// with, logging in at most once however many workers ask.
	Renew(ctx context.Context, stale Secret) (Secret, error)
}

// StaticToken is a token given by the user (XANDR_TOKEN or --token-file). It
// cannot be renewed.
type StaticToken struct{ Value Secret }

// Token returns the token.
func (s StaticToken) Token(context.Context) (Secret, error) { return s.Value, nil }

// Renew fails: a given token cannot be renewed.
func (s StaticToken) Renew(context.Context, Secret) (Secret, error) {
	return Secret{}, &AuthError{
		Msg:  "the service refused the token (expired?)",
		hint: "give a fresh XANDR_TOKEN or --token-file, or set XANDR_USERNAME and XANDR_PASSWORD so that rtseg logs in again by itself",
	}
}

// freshToken is how soon after a login a refused token means the service
// will not take our tokens at all, rather than that the token expired:
// logging in again would only start a storm of logins.
const freshToken = 500 * time.Millisecond

// Login logs in at {api}/auth with a username and password: once at first
// use, and again only when the token in use is refused. However many workers
// ask at once, one logs in and the others use its token; the API allows 10
// logins per 5 minutes. A login that failed for now (network, throttling)
// is not tried again before a cooling-off period; a refused one ends the run,
// and so does, before the API has answered once, finding no API there (an
// *UnreachableError): at once for a redirect, an answer that is not the
// API's JSON, or a failed TLS handshake or DNS lookup; after a few logins
// for a refused connection.
type Login struct {
	URL      string // the auth endpoint, {api}/auth
	Username string
	Password Secret
	Client   *http.Client
	Timeout  time.Duration // one login call; 30s if zero

	mu        sync.Mutex
	token     Secret
	issued    time.Time
	refused   error     // once set, every call returns it
	notBefore time.Time // no login before this, after a failed one
	failures  int       // failed logins in a row
	answered  bool      // the API has answered a login in its JSON
	unreached int       // logins that found no API, before it answered
}

// String describes the login without its secrets, which fmt would
// otherwise print from the unexported fields.
func (l *Login) String() string { return fmt.Sprintf("login as %q at %s", l.Username, l.URL) }

// GoString is String.
func (l *Login) GoString() string { return l.String() }

// Token returns the current token, logging in if there is none.
func (l *Login) Token(ctx context.Context) (Secret, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refused != nil {
		return Secret{}, l.refused
	}
	if !l.token.Empty() {
		return l.token, nil
	}
	return l.login(ctx)
}

// Renew logs in again if stale is still the current token; if another
// worker has logged in since, it returns that worker's token.
func (l *Login) Renew(ctx context.Context, stale Secret) (Secret, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refused != nil {
		return Secret{}, l.refused
	}
	if l.token.Empty() {
		return l.login(ctx)
	}
	if l.token != stale {
		return l.token, nil
	}
	if age := time.Since(l.issued); age < freshToken {
		l.refused = &AuthError{
			Msg:  fmt.Sprintf("the service refused the token it issued to %q %v earlier", l.Username, age.Round(time.Millisecond)),
			hint: "check that the user may post to the Instant Audience Service, and that --endpoint and --api belong together",
		}
		return Secret{}, l.refused
	}
	l.token = Secret{}
	return l.login(ctx)
}

// login must be called with l.mu held.
func (l *Login) login(ctx context.Context) (Secret, error) {
	if wait := time.Until(l.notBefore); wait > 0 {
		return Secret{}, &LoginUnavailableError{Msg: fmt.Sprintf("log in at %s: not before %v after the last failure", l.URL, wait.Round(time.Millisecond)), Wait: wait}
	}
	tok, err := l.call(ctx)
	var lu *LoginUnavailableError
	switch {
	case err == nil:
		l.token, l.issued, l.failures = tok, time.Now(), 0
		return tok, nil
	case errors.As(err, &lu):
		if ctx.Err() == nil {
			// Cool off: 1s, 2s, 4s... up to a minute, or as the API says.
			l.failures++
			lu.Wait = max(lu.Wait, time.Second<<min(l.failures-1, 6))
			l.notBefore = time.Now().Add(lu.Wait)
		}
	default:
		l.refused = err
	}
	return Secret{}, err
}

// authResponse is the API's answer to POST /auth.
type authResponse struct {
	Response struct {
		Status  string `json:"status"`
		Token   string `json:"token"`
		ErrorID string `json:"error_id"`
		Error   string `json:"error"`
	} `json:"response"`
}

// call makes one login call. It returns the token, a *LoginUnavailableError
// when trying again later may work, or an *AuthError.
func (l *Login) call(ctx context.Context) (Secret, error) {
	var body struct {
		Auth struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"auth"`
	}
	body.Auth.Username, body.Auth.Password = l.Username, l.Password.Reveal()
	b, err := json.Marshal(body)
	if err != nil {
		return Secret{}, &AuthError{Msg: "encode the login request: " + err.Error()}
	}
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, l.URL, bytes.NewReader(b))
	if err != nil {
		return Secret{}, &AuthError{Msg: fmt.Sprintf("log in at %s: %v", l.URL, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirects(l.Client).Do(req)
	var raw []byte
	if err == nil {
		defer resp.Body.Close()
		raw, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	}
	if ue := l.judgeReach(ctx, resp, raw, err); ue != nil {
		return Secret{}, ue
	}
	if err != nil {
		return Secret{}, &LoginUnavailableError{Msg: fmt.Sprintf("log in at %s: %s", l.URL, newNetworkError(err))}
	}
	var out authResponse
	perr := json.Unmarshal(raw, &out)
	r := out.Response
	what := fmt.Sprintf("log in as %q at %s: %s", l.Username, l.URL, apiError(resp.StatusCode, &response{ErrorID: r.ErrorID, Error: r.Error}))
	switch {
	case resp.StatusCode == http.StatusOK && perr == nil && r.Status == "OK" && r.Token != "":
		if _, c, bad := controlChar(r.Token); bad {
			return Secret{}, &AuthError{Msg: fmt.Sprintf("log in as %q at %s: the API issued a token holding a control character (%q), which cannot be sent in an Authorization header", l.Username, l.URL, c)}
		}
		return NewSecret(r.Token), nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500,
		resp.StatusCode == http.StatusOK && retryableID(r.ErrorID):
		return Secret{}, &LoginUnavailableError{Msg: what, Wait: retryAfter(resp.Header)}
	case resp.StatusCode == http.StatusOK && perr != nil:
		return Secret{}, &LoginUnavailableError{Msg: fmt.Sprintf("log in at %s: HTTP 200 with an unreadable answer", l.URL)}
	}
	return Secret{}, &AuthError{Msg: what, hint: "check XANDR_USERNAME and XANDR_PASSWORD, and --api"}
}

// judgeReach takes one login's outcome (resp nil when no answer came) and,
// before the API has answered a login, returns the *UnreachableError that
// must end the run, or nil. It must be called with l.mu held.
func (l *Login) judgeReach(ctx context.Context, resp *http.Response, body []byte, err error) error {
	if l.answered {
		return nil
	}
	var status int
	var header http.Header
	if resp != nil {
		status, header = resp.StatusCode, resp.Header
	}
	o := probe(ctx, status, header, body, err)
	switch o.kind {
	case reachAnswered:
		l.answered = true
		return nil
	case reachUnknown:
		return nil
	}
	l.unreached++
	if o.kind == reachFailed && l.unreached < reachTries {
		return nil
	}
	return &UnreachableError{URL: BareURL(l.URL), Err: o.cause, Attempts: l.unreached, hint: o.hint}
}
