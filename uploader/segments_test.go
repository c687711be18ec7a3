package uploader

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// newTestSegmentClient returns a client of h with a read limiter of reads
// per span.
func newTestSegmentClient(t *testing.T, h http.Handler, reads int, span time.Duration) *SegmentClient {
	t.Helper()
	c, err := NewSegmentClient("http://127.0.0.1", ReadConfig{
		Auth:       StaticToken{Value: NewSecret(testToken)},
		Reads:      mustReadLimiter(t, reads, span),
		MaxRetries: 8,
		Client:     &http.Client{Transport: handlerTransport{h}},
		Backoff:    100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ids(from, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(from + i)
	}
	return out
}

// The client holds its GET calls to the read limit in every window, as the
// emulator measures it, and never gets a 429.
func TestSegmentClientHoldsReadLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := xandrtest.NewHandler(xandrtest.WithToken(testToken), xandrtest.WithSegmentReadLimit(10, time.Minute))
		c := newTestSegmentClient(t, h, 10, time.Minute+time.Second)
		start := time.Now()
		found, err := c.ByID(t.Context(), ids(1, 2050))
		if err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(start)
		if len(found) != 2050 {
			t.Errorf("ByID(2050 IDs) found %d segments, want 2050", len(found))
		}
		s := h.APIStats()
		if s.SegmentReads != 21 || c.Calls() != 21 {
			t.Errorf("ByID(2050 IDs) made %d calls (client counted %d), want 21 of at most 100 IDs", s.SegmentReads, c.Calls())
		}
		if s.MaxSegmentReadsInWindow > 10 || s.ReadsThrottled > 0 {
			t.Errorf("emulator saw %d reads in one minute and throttled %d, want at most 10 and none", s.MaxSegmentReadsInWindow, s.ReadsThrottled)
		}
		// 21 calls at 10 a minute cannot be done in less than two minutes.
		if elapsed < 2*time.Minute {
			t.Errorf("21 calls took %v, want at least 2m at 10 calls a minute", elapsed)
		}
	})
}

// A limiter set above the service's limit gets 429s; the client waits as
// told and still gets every answer.
func TestSegmentClientRetriesThrottledReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := xandrtest.NewHandler(xandrtest.WithToken(testToken), xandrtest.WithSegmentReadLimit(5, time.Minute))
		c := newTestSegmentClient(t, h, 50, time.Second)
		found, err := c.ByID(t.Context(), ids(1, 800))
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 800 {
			t.Errorf("ByID(800 IDs) found %d, want 800", len(found))
		}
		if s := h.APIStats(); s.ReadsThrottled == 0 {
			t.Errorf("emulator throttled no read although the client allowed 50 a second against 5 a minute")
		}
	})
}

func TestSegmentClientPages(t *testing.T) {
	var segs []xandrtest.Segment
	for i := range 30 {
		segs = append(segs, xandrtest.Segment{ID: int64(100 + i)})
	}
	h := xandrtest.NewHandler(xandrtest.WithToken(testToken), xandrtest.WithSegments(segs...), xandrtest.WithPageSize(7))
	c := newTestSegmentClient(t, h, 100, time.Second)
	found, err := c.ByID(t.Context(), ids(95, 40)) // 95..134: 100..129 exist
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 30 {
		t.Errorf("ByID(95..134) found %d segments, want 30", len(found))
	}
	for id := int64(100); id < 130; id++ {
		if _, ok := found[id]; !ok {
			t.Errorf("segment %d not found", id)
		}
	}
	if got := h.APIStats().SegmentReads; got != 5 {
		t.Errorf("30 segments in pages of 7 took %d calls, want 5", got)
	}
}

func TestSegmentClientCheck(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	h := xandrtest.NewHandler(xandrtest.WithToken(testToken), xandrtest.WithMember(1234), xandrtest.WithSegments(
		xandrtest.Segment{ID: 10},
		xandrtest.Segment{ID: 11, State: "inactive"},
		xandrtest.Segment{ID: 12, MemberID: 99},
		xandrtest.Segment{ID: 13, LastModified: now.Add(-5 * time.Minute)},
		xandrtest.Segment{ID: 14, LastModified: now.Add(-25 * time.Minute)},
		xandrtest.Segment{ID: 1, MemberID: 7}, // the shared birthday cookie
		xandrtest.Segment{ID: 500, Code: "Loyal", MemberID: 1234},
	))
	c := newTestSegmentClient(t, h, 100, time.Second)
	id := func(n int64) SegmentRef { return SegmentRef{Segment: reader.Segment{ID: n}, Owner: 1234} }
	code := func(m int64, s string) SegmentRef {
		return SegmentRef{Segment: reader.Segment{MemberID: m, Code: s}, Owner: m}
	}
	tests := []struct {
		ref    SegmentRef
		want   Problem
		reason string
	}{
		{id(10), ProblemNone, ""},
		{id(11), ProblemInactive, "segment 11 is inactive"},
		{id(12), ProblemOtherMember, "segment 12 belongs to member 99, not 1234"},
		{SegmentRef{Segment: reader.Segment{ID: 12}}, ProblemNone, ""}, // owner unknown: not checked
		{id(13), ProblemFresh, "segment 13 was modified at " + now.Add(-5*time.Minute).Format(lastModifiedLayout)},
		{id(14), ProblemNone, ""},
		{id(1), ProblemNone, ""},
		{id(15), ProblemMissing, "segment 15 does not exist"},
		{code(1234, "loyal"), ProblemNone, ""},
		{code(1234, "gone"), ProblemMissing, `segment "gone" of member 1234 does not exist`},
	}
	refs := make([]SegmentRef, len(tests))
	for i, tt := range tests {
		refs[i] = tt.ref
	}
	checks, err := c.Check(t.Context(), refs, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[SegmentRef]SegmentCheck{}
	for _, ch := range checks {
		got[ch.Ref] = ch
	}
	for _, tt := range tests {
		ch, ok := got[tt.ref]
		if !ok {
			t.Errorf("Check: no result for %+v", tt.ref)
			continue
		}
		if ch.Problem != tt.want || !strings.HasPrefix(ch.Reason, tt.reason) {
			t.Errorf("Check(%+v) = %v %q, want %v %q...", tt.ref, ch.Problem, ch.Reason, tt.want, tt.reason)
		}
	}
	// IDs in one call, then one call per code.
	if got := h.APIStats().SegmentReads; got != 3 {
		t.Errorf("Check made %d calls, want 3 (one for the IDs, one per code)", got)
	}
}

func TestSegmentClientAuth(t *testing.T) {
	h := xandrtest.NewHandler(xandrtest.WithCredentials("u", "p"))
	srv := httptest.NewServer(h)
	defer srv.Close()
	login := &Login{URL: srv.URL + "/auth", Username: "u", Password: NewSecret("p")}
	c, err := NewSegmentClient(srv.URL, ReadConfig{Auth: login, Reads: mustReadLimiter(t, 100, time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ByID(t.Context(), []int64{1, 2}); err != nil {
		t.Errorf("ByID with a login: %v", err)
	}

	c, err = NewSegmentClient(srv.URL, ReadConfig{Auth: StaticToken{Value: NewSecret("wrong-secret")}, Reads: mustReadLimiter(t, 100, time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ByID(t.Context(), []int64{1})
	if !errors.Is(err, ErrAuthRefused) {
		t.Errorf("ByID with a refused token: err = %v, want ErrAuthRefused", err)
	}
	if err != nil && strings.Contains(err.Error(), "wrong-secret") {
		t.Errorf("error text shows the token: %v", err)
	}
}

func TestParseSegments(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		ids   []int64
		count int64
	}{
		{"list", `{"response":{"status":"OK","count":2,"segments":[{"id":5,"state":"active"},{"id":3,"code":null}]}}`, []int64{3, 5}, 2},
		{"keyed by ID", `{"response":{"status":"OK","segments":{"502":{"id":502},"501":{"id":"501"}}}}`, []int64{501, 502}, 2},
		{"one segment", `{"response":{"status":"OK","count":1,"segment":{"id":102,"last_modified":"2019-08-14 17:26:29"}}}`, []int64{102}, 1},
		{"bare", `{"status":"OK","count":"40","start_element":null,"segments":[{"id":7}]}`, []int64{7}, 40},
		{"empty", `{"response":{"status":"OK","count":0,"segments":null}}`, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := parseSegments([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, s := range page.segments {
				got = append(got, s.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.ids) || page.count != tt.count {
				t.Errorf("parseSegments = %v count %d, want %v count %d", got, page.count, tt.ids, tt.count)
			}
		})
	}
	page, _ := parseSegments([]byte(tests[2].body))
	if want := time.Date(2019, 8, 14, 17, 26, 29, 0, time.UTC); !page.segments[0].LastModified.Equal(want) {
		t.Errorf("last_modified = %v, want %v", page.segments[0].LastModified, want)
	}
	if _, err := parseSegments([]byte(`<html>`)); err == nil {
		t.Errorf("parseSegments(<html>) = nil error, want one")
	}
}

// A cancelled context stops the client while it waits for the limiter.
func TestSegmentClientCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := xandrtest.NewHandler(xandrtest.WithToken(testToken))
		c := newTestSegmentClient(t, h, 1, time.Hour)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err := c.ByID(ctx, ids(1, 300))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ByID with 3 calls at 1 an hour and a 1m deadline: err = %v, want deadline exceeded", err)
		}
	})
}

func mustReadLimiter(t *testing.T, calls int, span time.Duration) *Limiter {
	t.Helper()
	l, err := NewReadLimiter(calls, span, 0)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Without a limiter of its own, a client holds the API's documented read
// limit, or ReadsPerMinute; a negative one, or negative retries, is
// refused naming the flag.
func TestReadConfigDefaultLimiter(t *testing.T) {
	auth := StaticToken{Value: NewSecret(testToken)}
	c, err := NewSegmentClient("http://127.0.0.1", ReadConfig{Auth: auth})
	if err != nil || c.cfg.Reads == nil || c.cfg.Reads.posts.limit != SegmentReadsPerMinute || c.cfg.Reads.span != time.Minute {
		t.Errorf("NewSegmentClient without a limiter = %v; want %d reads a minute", err, SegmentReadsPerMinute)
	}
	c, err = NewSegmentClient("http://127.0.0.1", ReadConfig{Auth: auth, ReadsPerMinute: 7})
	if err != nil || c.cfg.Reads.posts.limit != 7 {
		t.Errorf("NewSegmentClient with 7 reads a minute = %v", err)
	}
	u, err := NewUsageClient("http://127.0.0.1/rt-segment", ReadConfig{Auth: auth})
	if err != nil || u.cfg.Reads.posts.limit != UsageReadsPerSecond || u.cfg.Reads.span != LimitSpan {
		t.Errorf("NewUsageClient without a limiter = %v; want %d reads a second", err, UsageReadsPerSecond)
	}
	_, err = NewSegmentClient("http://127.0.0.1", ReadConfig{Auth: auth, ReadsPerMinute: -1})
	var se *SettingError
	if !errors.As(err, &se) || se.Flag != "--api-reads-per-minute" {
		t.Errorf("NewSegmentClient with -1 reads a minute = %v, want a SettingError for --api-reads-per-minute", err)
	}
	_, err = NewUsageClient("http://127.0.0.1/rt-segment", ReadConfig{Auth: auth, MaxRetries: -1})
	if !errors.As(err, &se) || se.Flag != "--max-retries" {
		t.Errorf("NewUsageClient with -1 retries = %v, want a SettingError for --max-retries", err)
	}
}
