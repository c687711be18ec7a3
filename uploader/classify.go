package uploader

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// headerRateLimitCode is the header the API adds to a 503 that throttles.
const headerRateLimitCode = "x-ratelimit-code"

// Error identifiers the API returns in error_id.
const (
	errIDNoAuth       = "NOAUTH"
	errIDLimit        = "LIMIT"
	errIDRateExceeded = "RATE_EXCEEDED"
	errIDSystem       = "SYSTEM"
)

// response is the service's answer, in either documented shape: wrapped in
// "response" or not.
type response struct {
	Status   string        `json:"status"`
	ErrorID  string        `json:"error_id"`
	Error    string        `json:"error"`
	Warnings []respWarning `json:"warnings"`
}

type respWarning struct {
	Message string          `json:"message"`
	Entity  json.RawMessage `json:"entity"`
}

// parseResponse reads the service's answer, wrapped or not.
func parseResponse(body []byte) (*response, error) {
	inner, err := unwrap(body)
	if err != nil {
		return nil, err
	}
	var r response
	if err := json.Unmarshal(inner, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// unwrap returns the object inside "response", or body itself when the
// answer is not wrapped: the API uses both shapes.
func unwrap(body []byte) (json.RawMessage, error) {
	var wrapped struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &wrapped); err != nil {
		return nil, err
	}
	if len(wrapped.Response) > 0 && string(wrapped.Response) != "null" {
		return wrapped.Response, nil
	}
	return body, nil
}

// retryableID reports whether an error_id says the call was limited or the
// system failed, so that the same call may succeed later.
func retryableID(id string) bool {
	switch id {
	case errIDLimit, errIDRateExceeded, errIDSystem:
		return true
	}
	return false
}

// action is what to do after one attempt.
type action int

const (
	actDone   action = iota // the service processed the request
	actRetry                // try again after the wait
	actReject               // the service will never take it: the rows fail
	actRenew                // the token was refused: renew it and try again
	actStop                 // the run is ending: stop without retrying
)

// verdict is classify's decision about one attempt.
type verdict struct {
	act  action
	wait time.Duration // at least this long before retrying (Retry-After)
	err  error         // why, for a row's report when it fails

	throttled bool // the service answered 429 (the summary's "throttled")
	// slowDown: the service throttles (429, or 503 with x-ratelimit-code),
	// so every process sharing its limits holds back for wait.
	slowDown bool
	resp     *response
}

// classify decides what one attempt's outcome means: the HTTP status,
// headers and body of the answer, or the error that stopped it. It is pure:
// the caller does the waiting, renewing and retrying.
func classify(ctx context.Context, status int, header http.Header, body []byte, err error) verdict {
	if ctx.Err() != nil {
		return verdict{act: actStop}
	}
	if err != nil {
		return verdict{act: actRetry, err: newNetworkError(err)}
	}
	resp, perr := parseResponse(body)
	if perr != nil {
		resp = &response{}
	}
	wait := retryAfter(header)
	switch {
	case status == http.StatusUnauthorized || resp.ErrorID == errIDNoAuth:
		return verdict{act: actRenew, err: apiError(status, resp)}
	case status == http.StatusTooManyRequests:
		return verdict{act: actRetry, wait: wait, throttled: true, slowDown: true, err: apiError(status, resp)}
	case status >= 500:
		// A 503 with x-ratelimit-code throttles too: retried the same way,
		// honouring Retry-After, but not counted as a 429.
		return verdict{act: actRetry, wait: wait, slowDown: header.Get(headerRateLimitCode) != "", err: apiError(status, resp)}
	case status != http.StatusOK:
		return verdict{act: actReject, err: apiError(status, resp)}
	case perr != nil:
		return verdict{act: actRetry, err: errUnreadable}
	case resp.Status != "OK" && retryableID(resp.ErrorID):
		return verdict{act: actRetry, wait: wait, err: apiError(status, resp)}
	case resp.Status != "OK":
		return verdict{act: actReject, err: apiError(status, resp)}
	}
	return verdict{act: actDone, resp: resp}
}

// apiError is the service's refusal in answer r with the given status.
func apiError(status int, r *response) *APIError {
	return &APIError{Status: status, ErrorID: r.ErrorID, Message: r.Error}
}

// from sets the call that v's *APIError, if any, answered.
func (v verdict) from(method, url string) verdict {
	var ae *APIError
	if errors.As(v.err, &ae) {
		ae.Method, ae.URL = method, url
	}
	return v
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
