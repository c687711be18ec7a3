package uploader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/rtseg/rtseg/chunker"
)

// SettingError is a setting out of its range, named by the command-line flag
// that sets it, so that the person running rtseg knows what to change.
type SettingError struct {
	Flag    string // as typed: "--workers"
	Problem string // what is wrong with the value, and what it must be
}

func (e *SettingError) Error() string { return e.Flag + " " + e.Problem }

// ErrInterrupted is the cause of a run stopped by the caller.
var ErrInterrupted = errors.New("the run was interrupted")

// errUnreadable is an HTTP 200 whose body is not the service's JSON.
var errUnreadable = errors.New("HTTP 200 with an unreadable body")

// APIError is an answer in which the API refused a call: its HTTP status
// and, when the body gives them, its error_id and message. Error gives the
// answer alone, as a row's report shows it ("HTTP 400 SYNTAX: could not
// parse"); the call it answered is in Method and URL, and an error naming
// the call wraps it ("GET https://...: HTTP 404").
type APIError struct {
	Method  string // "POST" or "GET"
	URL     string // without its password or access_token
	Status  int
	ErrorID string
	Message string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("HTTP %d", e.Status)
	if e.ErrorID != "" {
		s += " " + e.ErrorID
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// NotFound reports whether the API said nothing matched.
func (e *APIError) NotFound() bool {
	return e.Status == http.StatusNotFound || e.ErrorID == errIDNotFound
}

// NetworkError is an attempt that got no answer: the connection failed, or
// the answer took longer than the timeout. Err is the cause, without the
// request's URL (which may carry a token in its query).
type NetworkError struct{ Err error }

func newNetworkError(err error) *NetworkError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &NetworkError{Err: err}
}

func (e *NetworkError) Error() string {
	if e.Timeout() {
		return "timed out waiting for the service"
	}
	return "network error: " + e.Err.Error()
}

func (e *NetworkError) Unwrap() error { return e.Err }

// Timeout reports whether the answer took longer than the timeout.
func (e *NetworkError) Timeout() bool {
	var ne net.Error
	return errors.Is(e.Err, context.DeadlineExceeded) || errors.As(e.Err, &ne) && ne.Timeout()
}

// GaveUpError is a call that failed every attempt: the first and
// MaxRetries retries. Last is the last attempt's failure.
type GaveUpError struct {
	Attempts int
	Last     error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("%v (gave up after %s)", e.Last, plural(int64(e.Attempts), "attempt"))
}

func (e *GaveUpError) Unwrap() error { return e.Last }

// RunStoppedError is a run ended by an error rather than interrupted: its
// requests not yet done fail with it.
type RunStoppedError struct{ Cause error }

func (e *RunStoppedError) Error() string { return "the run stopped: " + e.Cause.Error() }
func (e *RunStoppedError) Unwrap() error { return e.Cause }

// NotSentError is a request never sent. Cause is why: ErrInterrupted, a
// *RunStoppedError, or what made it impossible to send.
type NotSentError struct{ Cause error }

func (e *NotSentError) Error() string {
	var re *chunker.ReadError
	if errors.As(e.Cause, &re) {
		return "not sent because the input could not be read: " + re.Err.Error()
	}
	return "not sent: " + e.Cause.Error()
}
func (e *NotSentError) Unwrap() error { return e.Cause }

// NotSent is the error of a request never sent because ctx, which must be
// done, ended: "not sent: the run was interrupted" (wrapping
// ErrInterrupted) when it was cancelled, "not sent: the run stopped:
// <cause>" (wrapping a *RunStoppedError) when an error ended it.
func NotSent(ctx context.Context) error { return &NotSentError{Cause: stopCause(ctx)} }

// stopCause is why ctx ended: ErrInterrupted when it was cancelled, else a
// *RunStoppedError wrapping its cause.
func stopCause(ctx context.Context) error {
	c := context.Cause(ctx)
	var rs *RunStoppedError
	switch {
	case c == nil, errors.Is(c, context.Canceled), errors.Is(c, context.DeadlineExceeded), errors.Is(c, ErrInterrupted):
		return ErrInterrupted
	case errors.As(c, &rs):
		return rs
	case errors.As(c, new(*chunker.ReadError)):
		return c
	}
	return &RunStoppedError{Cause: c}
}

// CutShortError is a request whose sending the end of the run cut short,
// after at least one attempt: Last is that attempt's failure, nil when the
// run ended while it waited for the answer; Cause is why the run ended.
type CutShortError struct {
	Last, Cause error
}

func (e *CutShortError) Error() string {
	if e.Last == nil {
		return "stopped waiting for the answer: " + e.Cause.Error()
	}
	return e.Last.Error() + "; then " + e.Cause.Error()
}

func (e *CutShortError) Unwrap() []error {
	if e.Last == nil {
		return []error{e.Cause}
	}
	return []error{e.Last, e.Cause}
}
