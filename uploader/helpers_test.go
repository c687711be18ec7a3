package uploader

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
)

// handlerTransport serves requests with an http.Handler in memory, with no
// network, so that it works inside a synctest bubble. A handler that aborts
// (as the emulator does to drop a connection) looks to the client like a
// connection closed without an answer.
type handlerTransport struct{ h http.Handler }

var errDropped = errors.New("connection closed without an answer")

func (t handlerTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	rec := httptest.NewRecorder()
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			resp, err = nil, errDropped
		}
	}()
	t.h.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// answer is one scripted reply of a fake service.
type answer struct {
	status int
	header map[string]string
	body   string
	err    error // a network error instead of an answer
	hang   bool  // no answer until the caller gives up
}

// script answers each call with the next answer, repeating the last, and
// records the calls.
type script struct {
	mu      sync.Mutex
	answers []answer
	calls   []*http.Request
	bodies  []string
}

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
	}
	s.mu.Lock()
	s.calls = append(s.calls, req)
	s.bodies = append(s.bodies, string(b))
	a := s.answers[min(len(s.calls), len(s.answers))-1]
	s.mu.Unlock()
	switch {
	case a.hang:
		<-req.Context().Done()
		return nil, req.Context().Err()
	case a.err != nil:
		return nil, a.err
	}
	h := http.Header{}
	for k, v := range a.header {
		h.Set(k, v)
	}
	return &http.Response{
		StatusCode: a.status,
		Header:     h,
		Body:       io.NopCloser(strings.NewReader(a.body)),
		Request:    req,
	}, nil
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

const okBody = `{"response":{"status":"OK","message":{"users_in_request":1,"segments_in_request":1},"warnings":[]}}`

// testToken is the token tests send; no error text may contain it.
const testToken = "hbapi:1234:s3cr3t-t0ken:test"

// newTestUploader returns an uploader sending through rt with a static
// token and the given limits.
func newTestUploader(t *testing.T, rt http.RoundTripper, cfg Config) *Uploader {
	t.Helper()
	cfg.Endpoint = "https://streaming-data.example/rt-segment"
	if cfg.Auth == nil {
		cfg.Auth = StaticToken{Value: NewSecret(testToken)}
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Grace == 0 {
		cfg.Grace = 10 * time.Second
	}
	cfg.Client = &http.Client{Transport: rt}
	u, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// answeredBefore marks u as answered by the service already, as in the
// middle of a run: its failed attempts are then retried as usual, not taken
// for a service that cannot be reached.
func answeredBefore(u *Uploader) *Uploader {
	u.reach.answered.Store(true)
	return u
}

// rowsFor builds one user's rows: one seg_block per segment ID, all with
// the given value and expiration.
func rowsFor(user reader.User, value, expiration int32, segs ...int64) []reader.Row {
	rows := make([]reader.Row, len(segs))
	for i, s := range segs {
		rows[i] = reader.Row{
			Pos:    reader.Position{File: "test.csv", Line: int64(i + 2)},
			UserID: user.ID, Domain: user.Domain, SegID: s,
			Value: value, HasValue: true, Expiration: expiration, HasExpiration: true,
		}
	}
	return rows
}

// requestOf builds a request with n users u0..u(n-1), each in segments
// segs, as the chunker would encode it.
func requestOf(seq, n int, segs ...int64) *chunker.Request {
	entries := make([]chunker.Entry, n)
	for i := range entries {
		u := reader.User{ID: fmt.Sprintf("r%d-u%d", seq, i)}
		entries[i] = chunker.Entry{User: u, Rows: rowsFor(u, 1, 1440, segs...)}
	}
	return chunker.Encode(seq, entries)
}
