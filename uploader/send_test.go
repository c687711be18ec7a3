package uploader

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// Once the service has answered the run, a request's failed attempts are
// retried as its answers allow (see TestSendUnreachable for before).
func TestSendRetries(t *testing.T) {
	retryAfter7 := map[string]string{"Retry-After": "7"}
	tests := []struct {
		name       string
		answers    []answer
		maxRetries int
		// wantAttempts is the number of HTTP calls; wantErr a part of the
		// rows' reason ("" for accepted).
		wantAttempts, wantThrottled int
		wantErr                     string
		// The time taken (fake, in a synctest bubble) is within these.
		minElapsed, maxElapsed time.Duration
	}{
		{name: "accepted at once", answers: []answer{{status: 200, body: okBody}},
			wantAttempts: 1},
		{name: "503 twice then accepted, with growing backoff",
			answers:      []answer{{status: 503}, {status: 503}, {status: 200, body: okBody}},
			wantAttempts: 3, minElapsed: 750 * time.Millisecond, maxElapsed: 2250 * time.Millisecond},
		{name: "500 then accepted", answers: []answer{{status: 500, body: `{"response":{"status":"error","error_id":"SYSTEM"}}`}, {status: 200, body: okBody}},
			wantAttempts: 2},
		{name: "429 honours Retry-After",
			answers:      []answer{{status: 429, header: retryAfter7}, {status: 200, body: okBody}},
			wantAttempts: 2, wantThrottled: 1, minElapsed: 7 * time.Second, maxElapsed: 7 * time.Second},
		{name: "503 with x-ratelimit-code retried after Retry-After, not counted as a 429",
			answers:      []answer{{status: 503, header: map[string]string{"x-ratelimit-code": "RATE", "Retry-After": "3"}}, {status: 200, body: okBody}},
			wantAttempts: 2, wantThrottled: 0, minElapsed: 3 * time.Second, maxElapsed: 3 * time.Second},
		{name: "network error then accepted",
			answers:      []answer{{err: syscall.ECONNRESET}, {status: 200, body: okBody}},
			wantAttempts: 2},
		{name: "timeout then accepted",
			answers:      []answer{{hang: true}, {status: 200, body: okBody}},
			wantAttempts: 2, minElapsed: 5 * time.Second},
		{name: "200 with SYSTEM error retried",
			answers:      []answer{{status: 200, body: `{"response":{"status":"error","error_id":"SYSTEM","error":"try later"}}`}, {status: 200, body: okBody}},
			wantAttempts: 2},
		{name: "200 with LIMIT error retried after Retry-After",
			answers:      []answer{{status: 200, header: retryAfter7, body: `{"status":"error","error_id":"LIMIT"}`}, {status: 200, body: okBody}},
			wantAttempts: 2, minElapsed: 7 * time.Second},
		{name: "200 with RATE_EXCEEDED error retried",
			answers:      []answer{{status: 200, body: `{"response":{"status":"error","error_id":"RATE_EXCEEDED"}}`}, {status: 200, body: okBody}},
			wantAttempts: 2},
		{name: "200 with an unreadable body retried",
			answers:      []answer{{status: 200, body: `<html>`}, {status: 200, body: okBody}},
			wantAttempts: 2},
		{name: "bare response shape accepted",
			answers:      []answer{{status: 200, body: `{"status":"OK","message":{"users_in_request":1},"warnings":[]}`}},
			wantAttempts: 1},
		{name: "200 with another error not retried",
			answers:      []answer{{status: 200, body: `{"response":{"status":"error","error_id":"SYNTAX","error":"bad field"}}`}},
			wantAttempts: 1, wantErr: "HTTP 200 SYNTAX: bad field"},
		{name: "400 not retried",
			answers:      []answer{{status: 400, body: `{"response":{"status":"error","error_id":"SYNTAX","error":"could not parse"}}`}},
			wantAttempts: 1, wantErr: "HTTP 400 SYNTAX: could not parse"},
		{name: "413 not retried", answers: []answer{{status: 413}}, wantAttempts: 1, wantErr: "HTTP 413"},
		{name: "403 not retried", answers: []answer{{status: 403}}, wantAttempts: 1, wantErr: "HTTP 403"},
		{name: "gives up after max retries", maxRetries: 3,
			answers:      []answer{{status: 503, body: `{"response":{"status":"error","error_id":"SYSTEM","error":"down"}}`}},
			wantAttempts: 4, wantErr: "HTTP 503 SYSTEM: down (gave up after 4 attempts)"},
		{name: "no retries at all", maxRetries: 0, answers: []answer{{err: syscall.ECONNREFUSED}},
			wantAttempts: 1, wantErr: "network error: connection refused (gave up after 1 attempt)"},
		{name: "timeouts until giving up", maxRetries: 1, answers: []answer{{hang: true}},
			wantAttempts: 2, wantErr: "timed out waiting for the service (gave up after 2 attempts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sc := &script{answers: tt.answers}
				maxRetries := tt.maxRetries
				if maxRetries == 0 && tt.name != "no retries at all" {
					maxRetries = 8
				}
				u := answeredBefore(newTestUploader(t, sc, Config{MaxRetries: maxRetries}))
				start := time.Now()
				res, err := u.Send(t.Context(), requestOf(0, 3, 10, 11))
				elapsed := time.Since(start)
				if err != nil {
					t.Fatalf("Send returned a run-ending error %v", err)
				}
				if res.Attempts != tt.wantAttempts || sc.count() != tt.wantAttempts {
					t.Errorf("Send made %d attempts (%d calls), want %d", res.Attempts, sc.count(), tt.wantAttempts)
				}
				if res.Retries != res.Attempts-1 {
					t.Errorf("Retries = %d after %d attempts, want %d", res.Retries, res.Attempts, res.Attempts-1)
				}
				if res.Throttled != tt.wantThrottled {
					t.Errorf("Throttled = %d, want %d", res.Throttled, tt.wantThrottled)
				}
				switch {
				case tt.wantErr == "" && res.Err != nil:
					t.Errorf("rows failed: %v, want accepted", res.Err)
				case tt.wantErr != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), tt.wantErr)):
					t.Errorf("rows failed with %v, want a reason containing %q", res.Err, tt.wantErr)
				case res.Err != nil && strings.Contains(res.Err.Error(), "s3cr3t"):
					t.Errorf("the reason %q shows the token", res.Err)
				}
				if elapsed < tt.minElapsed || tt.maxElapsed > 0 && elapsed > tt.maxElapsed {
					t.Errorf("Send took %v, want %v to %v", elapsed, tt.minElapsed, tt.maxElapsed)
				}
				for _, c := range sc.calls {
					if got := c.Header.Get("Authorization"); got != testToken {
						t.Errorf("call sent Authorization %q, want the token", got)
					}
				}
			})
		})
	}
}

// Every attempt, retries included, waits for the limiter.
func TestSendRetriesWaitForTheLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := &script{answers: []answer{{status: 503}, {status: 503}, {status: 200, body: okBody}}}
		l, _ := NewLimiter(1, 1000, time.Second, 0)
		u := newTestUploader(t, sc, Config{MaxRetries: 8, Limiter: l, Backoff: time.Millisecond})
		start := time.Now()
		res, err := u.Send(t.Context(), requestOf(0, 2, 1))
		if err != nil || res.Err != nil {
			t.Fatal(err, res.Err)
		}
		// One call per second: the two retries wait a second each,
		// however short the backoff.
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("3 attempts at 1 call/s took %v, want at least 2s", d)
		}
	})
}

func TestSendStaticTokenRefusedEndsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := &script{answers: []answer{{status: 401, body: `{"response":{"status":"error","error_id":"NOAUTH","error":"Authentication failed - not logged in"}}`}}}
		u := newTestUploader(t, sc, Config{MaxRetries: 8})
		res, err := u.Send(t.Context(), requestOf(0, 2, 1))
		if !errors.Is(err, ErrAuthRefused) {
			t.Fatalf("Send with a refused static token = %v, want ErrAuthRefused", err)
		}
		if res.Err == nil || sc.count() != 1 {
			t.Errorf("rows %v after %d calls, want failed after 1 call", res.Err, sc.count())
		}
		var ae *AuthError
		if !errors.As(err, &ae) || ae.Hint() == "" {
			t.Errorf("error %v has no hint for the person running rtseg", err)
		}
		for _, s := range []string{err.Error(), res.Err.Error()} {
			if strings.Contains(s, "s3cr3t") {
				t.Errorf("error text %q shows the token", s)
			}
		}
	})
}

// An HTTP 200 whose body says NOAUTH is a refused token too.
func TestSendNoAuthIn200(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sc := &script{answers: []answer{{status: 200, body: `{"response":{"status":"error","error_id":"NOAUTH"}}`}}}
		u := newTestUploader(t, sc, Config{MaxRetries: 8})
		if _, err := u.Send(t.Context(), requestOf(0, 1, 1)); !errors.Is(err, ErrAuthRefused) {
			t.Fatalf("Send = %v, want ErrAuthRefused (a static token cannot be renewed)", err)
		}
	})
}

func TestCheckEndpoint(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://streaming-data.appnexus.com/rt-segment", true},
		{"http://127.0.0.1:8080/rt-segment", true},
		{"http://[::1]:8080/rt-segment", true},
		{"http://localhost/rt-segment", true},
		{"http://streaming-data.appnexus.com/rt-segment", false},
		{"http://10.0.0.1/rt-segment", false},
		{"ftp://example.com/", false},
	}
	for _, tt := range tests {
		if err := CheckEndpoint(tt.url); (err == nil) != tt.ok {
			t.Errorf("CheckEndpoint(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
	// A password in a refused URL is not repeated.
	if err := CheckEndpoint("http://user:hunter2@example.com/"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("CheckEndpoint with a password = %v, want an error without the password", err)
	}
}
