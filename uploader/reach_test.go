package uploader

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

func TestProbe(t *testing.T) {
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	urlErr := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://x/rt-segment?access_token=tok", Err: err}
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	timedOut := &net.OpError{Op: "dial", Net: "tcp", Err: context.DeadlineExceeded}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		err    error
		want   reachKind
		cause  string
	}{
		{"OK", 200, nil, okBody, nil, reachAnswered, ""},
		{"a refusal in the service's JSON", 400, nil, `{"response":{"status":"error","error_id":"SYNTAX"}}`, nil, reachAnswered, ""},
		{"a 503 in the service's JSON", 503, nil, `{"status":"error","error_id":"SYSTEM"}`, nil, reachAnswered, ""},
		{"a redirect", 301, h("Location", "https://elsewhere.example/rt-segment?access_token=tok"), "", nil, reachDefinite,
			"HTTP 301, a redirect to https://elsewhere.example/rt-segment?access_token=%5Bredacted%5D"},
		{"a redirect without a Location", 307, nil, "", nil, reachDefinite, "HTTP 307, a redirect"},
		{"a web page", 200, h("Content-Type", "text/html; charset=utf-8"), "<!doctype html><p>Welcome", nil, reachDefinite,
			"HTTP 200 with a text/html body, not the service's JSON"},
		{"a 404 page", 404, h("Content-Type", "text/plain"), "404 page not found", nil, reachDefinite,
			"HTTP 404 with a text/plain body, not the service's JSON"},
		{"an empty 403", 403, nil, "", nil, reachDefinite, "HTTP 403 with an empty body, not the service's JSON"},
		{"someone else's JSON", 200, h("Content-Type", "application/json"), `{"hello":"world"}`, nil, reachDefinite,
			"HTTP 200 with a application/json body, not the service's JSON"},
		{"a gateway's 502 page", 502, nil, "<html>bad gateway</html>", nil, reachFailed, "HTTP 502 with a body, not the service's JSON"},
		{"an empty 429", 429, nil, "", nil, reachFailed, "HTTP 429 with an empty body, not the service's JSON"},
		{"connection refused", 0, nil, "", urlErr(refused), reachFailed, "dial tcp: connect: connection refused"},
		{"no answer to connecting", 0, nil, "", urlErr(timedOut), reachFailed, "dial tcp: context deadline exceeded"},
		{"connection reset", 0, nil, "", urlErr(syscall.ECONNRESET), reachFailed, "connection reset by peer"},
		{"an unknown host", 0, nil, "", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nosuch.invalid", Server: "10.0.0.53:53", IsNotFound: true}}),
			reachDefinite, "lookup nosuch.invalid: no such host"},
		{"a DNS server down", 0, nil, "", urlErr(&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: "api.example", IsTemporary: true}}),
			reachFailed, "lookup api.example: server misbehaving"},
		{"an unknown certificate authority", 0, nil, "", urlErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
			reachDefinite, "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{"a certificate for another host", 0, nil, "", urlErr(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x"}),
			reachDefinite, "x509: certificate is not valid for any names, but wanted to match x"},
		{"TLS to a server that does not speak it", 0, nil, "", urlErr(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}),
			reachDefinite, "tls: first record does not look like a TLS handshake"},
		{"a slow answer", 0, nil, "", urlErr(context.DeadlineExceeded), reachUnknown, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := probe(context.Background(), tt.status, tt.header, []byte(tt.body), tt.err)
			cause := ""
			if o.cause != nil {
				cause = o.cause.Error()
			}
			if o.kind != tt.want || cause != tt.cause {
				t.Errorf("probe = kind %d, cause %q; want kind %d, cause %q", o.kind, cause, tt.want, tt.cause)
			}
			if o.cause != nil && o.hint == "" {
				t.Errorf("probe found %q with no hint", cause)
			}
		})
	}
	// A call cut short by the run says nothing of the service.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if o := probe(ctx, 0, nil, nil, urlErr(refused)); o.kind != reachUnknown {
		t.Errorf("probe after the run ended = kind %d, want %d", o.kind, reachUnknown)
	}
}

// Before the service has answered the run, a request whose attempts find
// it unreachable ends the run: at once when that will not pass, after a
// few quick tries when it may. Any proper answer first, and the request is
// retried as usual.
func TestSendUnreachable(t *testing.T) {
	html := answer{status: 200, header: map[string]string{"Content-Type": "text/html"}, body: "<html>"}
	refused := answer{err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	gateway := answer{status: 502, body: "<html>bad gateway</html>"}
	ok := answer{status: 200, body: okBody}
	tests := []struct {
		name       string
		answers    []answer
		maxRetries int
		answered   bool // the service answered the run before
		attempts   int
		// err is the run-ending error, "" for none; rowsErr a part of
		// the rows' reason, "" for accepted.
		err, rowsErr string
	}{
		{name: "a web page", answers: []answer{html}, maxRetries: 8, attempts: 1,
			err: "could not reach the service at https://streaming-data.example/rt-segment: HTTP 200 with a text/html body, not the service's JSON"},
		{name: "a redirect is not followed", answers: []answer{{status: 302, header: map[string]string{"Location": "https://www.example/"}}, ok}, maxRetries: 8, attempts: 1,
			err: "could not reach the service at https://streaming-data.example/rt-segment: HTTP 302, a redirect to https://www.example/"},
		{name: "connection refused", answers: []answer{refused}, maxRetries: 8, attempts: 3,
			err: "could not reach the service at https://streaming-data.example/rt-segment: dial tcp: connect: connection refused (after 3 attempts)"},
		{name: "connection refused, no retries", answers: []answer{refused}, maxRetries: 0, attempts: 1,
			err: "could not reach the service at https://streaming-data.example/rt-segment: dial tcp: connect: connection refused"},
		{name: "a gateway's error pages", answers: []answer{gateway}, maxRetries: 8, attempts: 3,
			err: "could not reach the service at https://streaming-data.example/rt-segment: HTTP 502 with a body, not the service's JSON (after 3 attempts)"},
		{name: "refused twice, then the service", answers: []answer{refused, refused, ok}, maxRetries: 8, attempts: 3},
		{name: "a gateway's page, then the service", answers: []answer{gateway, ok}, maxRetries: 8, attempts: 2},
		{name: "a web page once the service answered", answers: []answer{html, ok}, maxRetries: 8, answered: true, attempts: 2},
		{name: "refused once the service answered", answers: []answer{refused}, maxRetries: 4, answered: true, attempts: 5,
			rowsErr: "connection refused (gave up after 5 attempts)"},
		{name: "a redirect once the service answered", answers: []answer{{status: 301, header: map[string]string{"Location": "https://www.example/"}}, ok}, maxRetries: 8, answered: true, attempts: 1,
			rowsErr: "HTTP 301"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sc := &script{answers: tt.answers}
				u := newTestUploader(t, sc, Config{MaxRetries: tt.maxRetries})
				if tt.answered {
					answeredBefore(u)
				}
				start := time.Now()
				res, err := u.Send(t.Context(), requestOf(0, 2, 1))
				if res.Attempts != tt.attempts || sc.count() != tt.attempts {
					t.Errorf("Send made %d attempts (%d calls), want %d", res.Attempts, sc.count(), tt.attempts)
				}
				if d := time.Since(start); !tt.answered && d > 3*time.Second {
					t.Errorf("Send took %v, want a few quick tries at most", d)
				}
				if tt.err == "" {
					if err != nil {
						t.Fatalf("Send returned a run-ending error %v", err)
					}
				} else {
					var ue *UnreachableError
					if !errors.As(err, &ue) || err.Error() != tt.err || ue.Hint() == "" {
						t.Fatalf("Send = %v, want a run-ending *UnreachableError %q with a hint", err, tt.err)
					}
					if res.Err != err {
						t.Errorf("rows failed with %v, want the same error", res.Err)
					}
				}
				switch {
				case tt.err != "":
				case tt.rowsErr == "" && res.Err != nil:
					t.Errorf("rows failed: %v, want accepted", res.Err)
				case tt.rowsErr != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), tt.rowsErr)):
					t.Errorf("rows failed with %v, want a reason containing %q", res.Err, tt.rowsErr)
				}
			})
		})
	}
}

// quiet silences a test server's log of failed TLS handshakes.
func quiet(srv *httptest.Server) *httptest.Server {
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	return srv
}

// Over real connections on loopback, with the uploader's own HTTP client,
// a run that finds no service ends at once, each request it took failed,
// and a POST is never sent on through a redirect.
func TestRunFindsNoService(t *testing.T) {
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		io.WriteString(w, okBody)
	}))
	defer target.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/rt-segment", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>Welcome</title>")
	}))
	defer page.Close()
	selfSigned := quiet(httptest.NewUnstartedServer(xandrtest.NewHandler()))
	selfSigned.StartTLS()
	defer selfSigned.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()

	tests := []struct {
		name, url string
		cause     string // the end of the run's error
		attempts  int
	}{
		{"a redirect", redirect.URL, "HTTP 307, a redirect to " + target.URL + "/rt-segment", 1},
		{"a web page", page.URL, "HTTP 200 with a text/html body, not the service's JSON", 1},
		{"a self-signed certificate", selfSigned.URL, "tls: failed to verify certificate: x509: certificate signed by unknown authority", 1},
		{"nothing listening", closed, "connect: connection refused (after 3 attempts)", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := New(Config{
				Endpoint: tt.url + "/rt-segment?access_token=" + testToken, Auth: StaticToken{Value: NewSecret(testToken)},
				Workers: 4, MaxRetries: 8, Timeout: 10 * time.Second, Grace: 10 * time.Second, Backoff: time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			const n = 20
			in := make(chan *chunker.Request, n)
			for i := range n {
				in <- requestOf(i, 2, 1)
			}
			close(in)
			var (
				mu      sync.Mutex
				results []Result
			)
			err = u.Run(t.Context(), in, func(r Result) {
				mu.Lock()
				defer mu.Unlock()
				results = append(results, r)
			})
			var ue *UnreachableError
			if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), "could not reach the service at "+tt.url+"/rt-segment: ") || !strings.HasSuffix(err.Error(), tt.cause) {
				t.Fatalf("Run = %v, want a *UnreachableError ending %q", err, tt.cause)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("Run = %q shows the token", err)
			}
			// Requests taken have a Result; the rest are left to the
			// caller, as a run's intake queue is.
			if len(results)+len(in) != n || len(results) > 4 {
				t.Errorf("%d results and %d requests left, want at most 4 results, and %d in all", len(results), len(in), n)
			}
			attempts := 0
			for _, r := range results {
				attempts += r.Attempts
				if r.Err == nil {
					t.Errorf("request %d accepted, want failed", r.Request.Seq)
				}
			}
			// The workers' first requests may each try; no request after.
			if attempts > 4*tt.attempts {
				t.Errorf("%d attempts in all, want at most %d", attempts, 4*tt.attempts)
			}
		})
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the redirect's target got %d calls, want none", n)
	}
}

// Once the service has answered, a failure later in the run is retried as
// before, and the run goes on.
func TestRunKeepsRetryingOnceAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				io.WriteString(w, okBody)
				return
			}
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>maintenance</html>")
		})
		u := newTestUploader(t, handlerTransport{h}, Config{Workers: 1, MaxRetries: 2})
		in := make(chan *chunker.Request, 3)
		for i := range 3 {
			in <- requestOf(i, 1, 1)
		}
		close(in)
		var results []Result
		if err := u.Run(t.Context(), in, func(r Result) { results = append(results, r) }); err != nil {
			t.Fatalf("Run = %v, want the run to go on", err)
		}
		var gu *GaveUpError
		if len(results) != 3 || results[0].Err != nil || !errors.As(results[1].Err, &gu) || !errors.As(results[2].Err, &gu) {
			t.Errorf("results %v, want the first accepted and the others given up after their retries", results)
		}
		if n := calls.Load(); n != 7 {
			t.Errorf("%d calls, want 7 (1, then 3 for each of 2 requests)", n)
		}
	})
}

// Before the API has answered a login, finding no API ends the run: at
// once for a web page, after a few cooled-off logins for a refused
// connection. Every worker then gets the same error, without a call.
func TestLoginFindsNoAPI(t *testing.T) {
	refused := answer{err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	for _, tt := range []struct {
		name    string
		answers []answer
		calls   int
		want    string
	}{
		{"a web page", []answer{{status: 200, header: map[string]string{"Content-Type": "text/html"}, body: "<html>"}}, 1,
			"could not reach the service at https://api.example/auth: HTTP 200 with a text/html body, not the service's JSON"},
		{"a redirect", []answer{{status: 301, header: map[string]string{"Location": "https://www.example/auth"}}, {status: 200, body: `{"response":{"status":"OK","token":"t1"}}`}}, 1,
			"could not reach the service at https://api.example/auth: HTTP 301, a redirect to https://www.example/auth"},
		{"connection refused", []answer{refused}, 3,
			"could not reach the service at https://api.example/auth: dial tcp: connect: connection refused (after 3 attempts)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sc := &script{answers: tt.answers}
				l := newLogin(sc, "hunter2")
				var err error
				for range 20 {
					if _, err = l.Token(t.Context()); !errors.As(err, new(*LoginUnavailableError)) {
						break
					}
					time.Sleep(time.Second)
				}
				var ue *UnreachableError
				if !errors.As(err, &ue) || err.Error() != tt.want {
					t.Fatalf("Token = %v, want an *UnreachableError %q", err, tt.want)
				}
				if _, again := l.Token(t.Context()); again != err || sc.count() != tt.calls {
					t.Errorf("Token again = %v after %d login calls, want the same error after %d", again, sc.count(), tt.calls)
				}
				// The uploader's workers end the run with it.
				u := newTestUploader(t, &script{answers: []answer{{status: 200, body: okBody}}}, Config{Auth: l, MaxRetries: 8})
				if _, err := u.Send(t.Context(), requestOf(0, 1, 1)); !errors.As(err, &ue) {
					t.Errorf("Send = %v, want the run ended by the *UnreachableError", err)
				}
			})
		})
	}
	// Once the API has answered a login, a refused connection is retried
	// as before: the run goes on.
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithCredentials("ops", "hunter2"))
		var down atomic.Bool
		sc := &script{answers: []answer{refused}}
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if down.Load() {
				return sc.RoundTrip(r)
			}
			return handlerTransport{emu}.RoundTrip(r)
		})
		l := newLogin(rt, "hunter2")
		stale, err := l.Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		down.Store(true)
		time.Sleep(time.Second)
		for range 5 {
			_, err = l.Renew(t.Context(), stale)
			if !errors.As(err, new(*LoginUnavailableError)) {
				t.Fatalf("Renew with the API down after it answered = %v, want a temporary error", err)
			}
			time.Sleep(time.Minute)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The API's read clients stop at once when something else answers at --api,
// over real connections on loopback.
func TestSegmentClientFindsNoAPI(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!doctype html><title>Welcome</title>")
	}))
	defer page.Close()
	c, err := NewSegmentClient(page.URL, ReadConfig{Auth: StaticToken{Value: NewSecret(testToken)}, MaxRetries: 8, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ByID(t.Context(), []int64{1, 2})
	want := "could not reach the service at " + page.URL + "/segment: HTTP 200 with a text/html body, not the service's JSON"
	var ue *UnreachableError
	if !errors.As(err, &ue) || err.Error() != want {
		t.Errorf("ByID = %v, want %q", err, want)
	}
}
