package uploader

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// Settings out of range are refused by the constructors, each with a
// message naming the flag to change.
func TestSettingErrors(t *testing.T) {
	limiter := func(posts, users int) *Limiter {
		l, err := NewLimiter(posts, users, time.Second, 0)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	valid := func(change func(*Config)) func() error {
		return func() error {
			cfg := Config{Endpoint: "https://streaming-data.example/rt-segment", Auth: StaticToken{}, Workers: 8, MaxRetries: 8, Timeout: time.Second}
			change(&cfg)
			_, err := New(cfg)
			return err
		}
	}
	tests := []struct {
		name     string
		build    func() error
		wantFlag string
		want     string
	}{
		{"too many workers", valid(func(c *Config) { c.Workers = 20 }), "--workers",
			"--workers must be 1 to 14 (the API allows 15 concurrent calls, and logging in may need one), not 20"},
		{"no workers", valid(func(c *Config) { c.Workers = 0 }), "--workers",
			"--workers must be 1 to 14 (the API allows 15 concurrent calls, and logging in may need one), not 0"},
		{"negative retries", valid(func(c *Config) { c.MaxRetries = -1 }), "--max-retries",
			"--max-retries must be at least 0, not -1"},
		{"no timeout", valid(func(c *Config) { c.Timeout = 0 }), "--timeout",
			"--timeout must be positive, not 0s"},
		{"requests larger than the users limit", valid(func(c *Config) { c.MaxUsers, c.Limiter = 2000, limiter(100, 1000) }), "--max-users",
			"--max-users 2000 is more than --users-per-second 1000: a request could never be sent"},
		{"more calls than the service takes", valid(func(c *Config) { c.Limiter = limiter(101, 1000) }), "--rps",
			"--rps 101 is above the service's limit of 100 POST calls per second; give --allow-above-service-limits if Xandr raised the member's limits"},
		{"more users than the service takes", valid(func(c *Config) { c.Limiter = limiter(100, 5000) }), "--users-per-second",
			"--users-per-second 5000 is above the service's limit of 1000 users per second; give --allow-above-service-limits if Xandr raised the member's limits"},
		{"no POST calls", func() error { _, err := NewLimiter(0, 1000, time.Second, 0); return err }, "--rps",
			"--rps must be at least 1, not 0"},
		{"no users", func() error { _, err := NewLimiter(100, -5, time.Second, 0); return err }, "--users-per-second",
			"--users-per-second must be at least 1, not -5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.build()
			var se *SettingError
			if !errors.As(err, &se) || se.Flag != tt.wantFlag {
				t.Fatalf("error %v, want a *SettingError for %s", err, tt.wantFlag)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
	// At the edges, the settings are taken.
	for name, build := range map[string]func() error{
		"14 workers, no retries":          valid(func(c *Config) { c.Workers, c.MaxRetries = MaxWorkers, 0 }),
		"requests as large as the limit":  valid(func(c *Config) { c.MaxUsers, c.Limiter = 1000, limiter(1, 1000) }),
		"no limiter, any size of request": valid(func(c *Config) { c.MaxUsers = 1 << 20 }),
		"the service's rates":             valid(func(c *Config) { c.Limiter = limiter(ServicePostsPerSecond, ServiceUsersPerSecond) }),
		"rates raised for the member": valid(func(c *Config) {
			c.Limiter, c.AllowAboveService = limiter(1000, 20000), true
		}),
		"limits of one call and one user": func() error { _, err := NewLimiter(1, 1, time.Second, 0); return err },
	} {
		if err := build(); err != nil {
			t.Errorf("%s: %v, want no error", name, err)
		}
	}
}

func TestNotSent(t *testing.T) {
	denied := errors.New("authentication refused: bad password")
	cancelled := func(cause error) context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		return ctx
	}
	tests := []struct {
		name string
		ctx  context.Context
		want string
		is   error
	}{
		{"cancelled", cancelled(nil), "not sent: the run was interrupted", ErrInterrupted},
		{"interrupted", cancelled(ErrInterrupted), "not sent: the run was interrupted", ErrInterrupted},
		{"ended by an error", cancelled(denied), "not sent: the run stopped: authentication refused: bad password", denied},
		{"ended by an error the pool already named", cancelled(&RunStoppedError{Cause: denied}), "not sent: the run stopped: authentication refused: bad password", denied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NotSent(tt.ctx)
			if err.Error() != tt.want {
				t.Errorf("NotSent = %q, want %q", err, tt.want)
			}
			var ns *NotSentError
			if !errors.Is(err, tt.is) || !errors.As(err, &ns) {
				t.Errorf("NotSent = %#v, want a *NotSentError wrapping %v", err, tt.is)
			}
			var rs *RunStoppedError
			if stoppedByError := tt.is != ErrInterrupted; errors.As(err, &rs) != stoppedByError {
				t.Errorf("NotSent = %#v: a *RunStoppedError in it is %v, want %v", err, !stoppedByError, stoppedByError)
			}
		})
	}
}

// A Result's Err says by its type what happened, with today's sentence.
func TestResultErrTypes(t *testing.T) {
	refused := `{"response":{"status":"error","error_id":"SYNTAX","error":"could not parse"}}`
	down := `{"response":{"status":"error","error_id":"SYSTEM","error":"down"}}`
	tests := []struct {
		name      string
		answers   []answer
		interrupt time.Duration // cancel the context after this, if set
		check     func(t *testing.T, err error)
	}{
		{"refused", []answer{{status: 400, body: refused}}, 0, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != 400 || ae.ErrorID != "SYNTAX" || ae.Method != "POST" || ae.URL != "https://streaming-data.example/rt-segment" {
				t.Errorf("Err = %#v, want an *APIError for POST to the endpoint, HTTP 400 SYNTAX", err)
			}
			if err.Error() != "HTTP 400 SYNTAX: could not parse" {
				t.Errorf("Err = %q, want the service's answer alone", err)
			}
		}},
		{"gave up", []answer{{status: 503, body: down}}, 0, func(t *testing.T, err error) {
			var gu *GaveUpError
			var ae *APIError
			if !errors.As(err, &gu) || gu.Attempts != 3 || !errors.As(err, &ae) || ae.Status != 503 {
				t.Errorf("Err = %#v, want a *GaveUpError after 3 attempts wrapping the HTTP 503", err)
			}
			if err.Error() != "HTTP 503 SYSTEM: down (gave up after 3 attempts)" {
				t.Errorf("Err = %q", err)
			}
		}},
		{"gave up on the network", []answer{{err: syscall.ECONNREFUSED}}, 0, func(t *testing.T, err error) {
			var ne *NetworkError
			if !errors.As(err, &ne) || !errors.Is(err, syscall.ECONNREFUSED) || ne.Timeout() {
				t.Errorf("Err = %#v, want a *NetworkError wrapping ECONNREFUSED", err)
			}
		}},
		{"interrupted while waiting to retry", []answer{{status: 503, body: down, header: map[string]string{"Retry-After": "60"}}}, 10 * time.Second, func(t *testing.T, err error) {
			var cs *CutShortError
			var ae *APIError
			if !errors.Is(err, ErrInterrupted) || !errors.As(err, &cs) || !errors.As(err, &ae) || ae.Status != 503 {
				t.Errorf("Err = %#v, want a *CutShortError wrapping the HTTP 503 and ErrInterrupted", err)
			}
			if err.Error() != "HTTP 503 SYSTEM: down; then the run was interrupted" {
				t.Errorf("Err = %q", err)
			}
		}},
		{"interrupted waiting for the answer", []answer{{hang: true}}, 2 * time.Second, func(t *testing.T, err error) {
			var cs *CutShortError
			if !errors.Is(err, ErrInterrupted) || !errors.As(err, &cs) || cs.Last != nil {
				t.Errorf("Err = %#v, want a *CutShortError with no answer, wrapping ErrInterrupted", err)
			}
			if err.Error() != "stopped waiting for the answer: the run was interrupted" {
				t.Errorf("Err = %q", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				u := answeredBefore(newTestUploader(t, &script{answers: tt.answers}, Config{MaxRetries: 2, Timeout: time.Minute}))
				ctx := t.Context()
				if tt.interrupt > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithCancel(ctx)
					time.AfterFunc(tt.interrupt, cancel)
				}
				res, err := u.Send(ctx, requestOf(0, 2, 1))
				if err != nil {
					t.Fatalf("Send returned a run-ending error %v", err)
				}
				if res.Err == nil {
					t.Fatal("rows accepted, want failed")
				}
				tt.check(t, res.Err)
			})
		})
	}
}

// A GET's refusal names the call, without its access_token, and wraps the
// *APIError; giving up wraps a *GaveUpError.
func TestGetErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reads, err := NewReadLimiter(1000, time.Second, 0)
		if err != nil {
			t.Fatal(err)
		}
		sc := &script{answers: []answer{{status: 404, body: `{"response":{"status":"error","error_id":"NOTFOUND","error":"no such segment"}}`}}}
		c := ReadConfig{Auth: StaticToken{Value: NewSecret(testToken)}, Reads: reads, MaxRetries: 2, Client: &http.Client{Transport: sc}}
		if err := c.fill(1000, time.Second); err != nil {
			t.Fatal(err)
		}
		_, err = c.get(t.Context(), "https://api.example/segment?id=7&access_token=s3cr3t")
		want := "GET https://api.example/segment?access_token=%5Bredacted%5D&id=7: HTTP 404 NOTFOUND: no such segment"
		if err == nil || err.Error() != want {
			t.Errorf("get = %v, want %q", err, want)
		}
		var ae *APIError
		if !errors.As(err, &ae) || !ae.NotFound() || ae.Method != "GET" || strings.Contains(ae.URL, "s3cr3t") {
			t.Errorf("get = %#v, want an *APIError for the GET, not found, without the token", err)
		}

		sc = &script{answers: []answer{{status: 503}}}
		c.Client = &http.Client{Transport: sc}
		_, err = c.get(t.Context(), "https://api.example/segment?id=7")
		var gu *GaveUpError
		if !errors.As(err, &gu) || gu.Attempts != 3 || sc.count() != 3 || !errors.As(err, &ae) || ae.NotFound() {
			t.Errorf("get = %#v after %d calls, want a *GaveUpError after 3", err, sc.count())
		}
		if want := "GET https://api.example/segment?id=7: HTTP 503 (gave up after 3 attempts)"; err.Error() != want {
			t.Errorf("get = %q, want %q", err, want)
		}
	})
}
