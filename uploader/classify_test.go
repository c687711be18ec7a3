package uploader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name      string
		status    int
		header    http.Header
		body      string
		err       error
		want      action
		wait      time.Duration
		throttled bool
		reason    string
	}{
		{"OK wrapped", 200, nil, `{"response":{"status":"OK","warnings":[]}}`, nil, actDone, 0, false, ""},
		{"OK bare", 200, nil, `{"status":"OK","warnings":[]}`, nil, actDone, 0, false, ""},
		{"network error", 0, nil, "", &url.Error{Op: "Post", URL: "https://x/rt-segment?access_token=tok", Err: syscall.ECONNRESET}, actRetry, 0, false, "network error: connection reset by peer"},
		{"timeout", 0, nil, "", context.DeadlineExceeded, actRetry, 0, false, "timed out waiting for the service"},
		{"401", 401, nil, `{"response":{"status":"error","error_id":"NOAUTH"}}`, nil, actRenew, 0, false, "HTTP 401 NOAUTH"},
		{"NOAUTH in 200", 200, nil, `{"response":{"status":"error","error_id":"NOAUTH"}}`, nil, actRenew, 0, false, "HTTP 200 NOAUTH"},
		{"429 with Retry-After", 429, h("Retry-After", "3"), `{"response":{"status":"error","error_id":"RATE_EXCEEDED","error":"Rate limit exceeded."}}`, nil, actRetry, 3 * time.Second, true, "HTTP 429 RATE_EXCEEDED: Rate limit exceeded."},
		{"503 throttling", 503, h("x-ratelimit-code", "1", "Retry-After", "2"), "", nil, actRetry, 2 * time.Second, false, "HTTP 503"},
		{"503", 503, nil, "", nil, actRetry, 0, false, "HTTP 503"},
		{"502", 502, nil, "<html>bad gateway</html>", nil, actRetry, 0, false, "HTTP 502"},
		{"400", 400, nil, `{"response":{"status":"error","error_id":"SYNTAX","error":"bad"}}`, nil, actReject, 0, false, "HTTP 400 SYNTAX: bad"},
		{"404", 404, nil, "", nil, actReject, 0, false, "HTTP 404"},
		{"200 LIMIT", 200, nil, `{"response":{"status":"error","error_id":"LIMIT"}}`, nil, actRetry, 0, false, "HTTP 200 LIMIT"},
		{"200 SYSTEM", 200, nil, `{"status":"error","error_id":"SYSTEM","error":"oops"}`, nil, actRetry, 0, false, "HTTP 200 SYSTEM: oops"},
		{"200 RATE_EXCEEDED", 200, h("Retry-After", "1"), `{"response":{"status":"error","error_id":"RATE_EXCEEDED"}}`, nil, actRetry, time.Second, false, "HTTP 200 RATE_EXCEEDED"},
		{"200 other error", 200, nil, `{"response":{"status":"error","error_id":"UNAUTH","error":"no"}}`, nil, actReject, 0, false, "HTTP 200 UNAUTH: no"},
		{"200 unreadable", 200, nil, `not json`, nil, actRetry, 0, false, "HTTP 200 with an unreadable body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := classify(context.Background(), tt.status, tt.header, []byte(tt.body), tt.err)
			reason := ""
			if v.err != nil {
				reason = v.err.Error()
			}
			if v.act != tt.want || v.wait != tt.wait || v.throttled != tt.throttled || reason != tt.reason {
				t.Errorf("classify(%d, %q, %v) = {%v wait %v throttled %v %q}, want {%v wait %v throttled %v %q}",
					tt.status, tt.body, tt.err, v.act, v.wait, v.throttled, reason, tt.want, tt.wait, tt.throttled, tt.reason)
			}
			if strings.Contains(reason, "access_token") {
				t.Errorf("reason %q shows the URL's query", reason)
			}
			// An answer the service gave is an *APIError with its status;
			// no answer at all is a *NetworkError.
			var ae *APIError
			var ne *NetworkError
			switch {
			case tt.status != 0 && reason != "" && reason != errUnreadable.Error() && (!errors.As(v.err, &ae) || ae.Status != tt.status):
				t.Errorf("classify(%d, %q) error %#v, want an *APIError with status %d", tt.status, tt.body, v.err, tt.status)
			case tt.err != nil && !errors.As(v.err, &ne):
				t.Errorf("classify(error %v) error %#v, want a *NetworkError", tt.err, v.err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if v := classify(ctx, 503, nil, nil, nil); v.act != actStop {
		t.Errorf("classify after the run stopped = %v, want actStop", v.act)
	}
}

func TestRetryAfterDate(t *testing.T) {
	h := http.Header{}
	h.Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	if d := retryAfter(h); d < 59*time.Minute || d > time.Hour {
		t.Errorf("Retry-After an hour from now = %v", d)
	}
	h.Set("Retry-After", "soon")
	if d := retryAfter(h); d != 0 {
		t.Errorf("Retry-After: soon = %v, want 0", d)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2")
	var log strings.Builder
	slog.New(slog.NewJSONHandler(&log, nil)).Info("x", "token", s, "auth", StaticToken{Value: s})
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", StaticToken{Value: s}, StaticToken{Value: s}, StaticToken{Value: s}),
		fmt.Sprintf("%+v %#v %v", &Login{Username: "ops", Password: s, token: s}, &Login{token: s}, []Auth{&Login{token: s}}),
		log.String(),
	} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%q shows the secret", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Error("Reveal does not give the value")
	}
}

// A 429 and a 503 with x-ratelimit-code slow every process down; other
// failures do not.
func TestClassifySlowDown(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
		header http.Header
		want   bool
	}{
		{"429", 429, http.Header{"Retry-After": {"2"}}, true},
		{"503 throttling", 503, http.Header{"X-Ratelimit-Code": {"SYSTEM"}}, true},
		{"503", 503, nil, false},
		{"500", 500, nil, false},
		{"200", 200, nil, false},
	} {
		v := classify(context.Background(), tt.status, tt.header, []byte(`{"response":{"status":"OK"}}`), nil)
		if v.slowDown != tt.want {
			t.Errorf("%s: classify slows everyone down = %v, want %v", tt.name, v.slowDown, tt.want)
		}
	}
}
