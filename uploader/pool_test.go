package uploader

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// results collects what Run hands out.
type results struct {
	mu  sync.Mutex
	all []Result
}

func (r *results) add(res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, res)
}

// outcomes maps every row (by user and segment) to its outcomes, so that a
// row counted twice or not at all shows.
func (r *results) outcomes() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for _, res := range r.all {
		resent := map[int]bool{}
		for _, i := range res.Resent {
			resent[i] = true
		}
		for i, e := range res.Request.Entries {
			if resent[i] {
				continue
			}
			for j, row := range e.Rows {
				key := fmt.Sprintf("%s/%s/%d", row.Domain, row.UserID, row.SegID)
				o := "accepted"
				if msg, ok := res.Warned[RowRef{i, j}]; ok {
					o = "warned: " + msg
				}
				if res.Err != nil {
					o = "failed: " + res.Err.Error()
				}
				out[key] = append(out[key], o)
			}
		}
	}
	return out
}

// checkFinal checks that every Result names a packed request of reqs as
// Packed, sends a part of it, and that each packed request with a Result
// has exactly one Final Result, its last; it returns those last Results.
func (r *results) checkFinal(t *testing.T, reqs []*chunker.Request) map[*chunker.Request]Result {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	packed := map[*chunker.Request]bool{}
	for _, req := range reqs {
		packed[req] = true
	}
	last := map[*chunker.Request]Result{}
	for _, res := range r.all {
		if !packed[res.Packed] {
			t.Fatalf("Result for request %d names Packed %p, not a request of the input", res.Request.Seq, res.Packed)
		}
		if res.Request != res.Packed && len(res.Request.Entries) > len(res.Packed.Entries) {
			t.Errorf("Result for a part of request %d has %d entries, more than the request's %d", res.Packed.Seq, len(res.Request.Entries), len(res.Packed.Entries))
		}
		if prev, ok := last[res.Packed]; ok && prev.Final() {
			t.Errorf("request %d: a Result came after its Final one", res.Packed.Seq)
		}
		last[res.Packed] = res
	}
	for req, res := range last {
		if !res.Final() {
			t.Errorf("request %d: its last Result is not Final (%d entries left to resend)", req.Seq, len(res.Resent))
		}
	}
	return last
}

// feed sends reqs on a channel that it closes.
func feed(reqs []*chunker.Request) <-chan *chunker.Request {
	ch := make(chan *chunker.Request, len(reqs))
	for _, r := range reqs {
		ch <- r
	}
	close(ch)
	return ch
}

// wantState is the state the emulator must hold after every request was
// applied in order.
func wantState(reqs []*chunker.Request) xandrtest.State {
	st := xandrtest.State{}
	for _, r := range reqs {
		for _, e := range r.Entries {
			for _, row := range e.Rows {
				k := xandrtest.UserKey{Domain: row.Domain, UserID: row.UserID}
				if st[k] == nil {
					st[k] = map[string]xandrtest.Assoc{}
				}
				v, x := int64(row.Value), int64(row.Expiration)
				st[k][strconv.FormatInt(row.SegID, 10)] = xandrtest.Assoc{Value: &v, Expiration: &x}
			}
		}
	}
	return st
}

// The acceptance run, in a bubble: 10% 503s, 5% dropped after processing,
// 5% slower than the client waits, tokens expiring every second, lowered
// limits. Every row is accepted exactly once, the state is exact, the limits
// hold and the client logs in about once a second, not in a storm.
func TestRunUnderFaults(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				emu := xandrtest.NewHandler(
					xandrtest.WithCredentials("ops", "hunter2"),
					xandrtest.WithTokenExpiry(time.Second),
					xandrtest.WithRateLimits(20, 200),
					xandrtest.WithFaults(xandrtest.Faults{Unavailable: 0.1, RateLimitCode: true, Dropped: 0.05, Slow: 0.05, SlowBy: 10 * time.Second}),
					xandrtest.WithSeed(seed),
				)
				client := &http.Client{Transport: handlerTransport{emu}}
				login := &Login{URL: "https://api.example/auth", Username: "ops", Password: NewSecret("hunter2"), Client: client}
				l, _ := NewLimiter(20, 200, time.Second, 50*time.Millisecond)
				u := newTestUploader(t, handlerTransport{emu}, Config{Auth: login, Workers: 8, MaxRetries: 8, Timeout: time.Second, Limiter: l})

				var reqs []*chunker.Request
				const n = 100
				for i := range n {
					reqs = append(reqs, requestOf(i, 10, 1, 2, 3))
				}
				var got results
				start := time.Now()
				if err := u.Run(t.Context(), feed(reqs), got.add); err != nil {
					t.Fatal(err)
				}
				elapsed := time.Since(start)

				for row, o := range got.outcomes() {
					if len(o) != 1 || o[0] != "accepted" {
						t.Errorf("row %s: outcomes %q, want accepted once", row, o)
					}
				}
				if rows := len(got.outcomes()); rows != n*10*3 {
					t.Errorf("%d rows have an outcome, want %d", rows, n*10*3)
				}
				if st := emu.State(); !reflect.DeepEqual(st, wantState(reqs)) {
					t.Errorf("emulator state has %d users, differs from the %d expected", len(st), len(wantState(reqs)))
				}
				s := emu.Stats()
				t.Logf("%v: %+v", elapsed, s)
				if s.Throttled > 0 || s.MaxPostsInWindow > 20 || s.MaxUsersInWindow > 200 {
					t.Errorf("emulator saw %d 429s, %d calls and %d users in one second; limits 20 and 200", s.Throttled, s.MaxPostsInWindow, s.MaxUsersInWindow)
				}
				if s.Unavailable == 0 || s.Dropped == 0 || s.Slowed == 0 || s.Unauthorized == 0 {
					t.Errorf("faults did not all happen (503 %d, dropped %d, slow %d, expired tokens %d): the test proves nothing", s.Unavailable, s.Dropped, s.Slowed, s.Unauthorized)
				}
				if maxLogins := int(elapsed/time.Second) + 2; s.Logins > maxLogins || s.LoginsThrottled > 0 {
					t.Errorf("%d logins (%d throttled) in %v with tokens living 1s, want at most %d", s.Logins, s.LoginsThrottled, elapsed, maxLogins)
				}
				if s.MaxInFlight > 8+1 {
					t.Errorf("emulator saw %d calls at once with 8 workers", s.MaxInFlight)
				}
			})
		})
	}
}

// timedTransport delays each call and records, per request (its Seq, read
// from its first user ID), when its first call started and its last ended.
// The first call of every third request fails, so that it finishes late.
type timedTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	rng  *rand.Rand
	seen map[int]*span
}

type span struct {
	first, last time.Time
	calls       int
}

func (tt *timedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := req.GetBody()
	var b strings.Builder
	buf := make([]byte, 64)
	n, _ := body.Read(buf)
	b.Write(buf[:n])
	var seq int
	fmt.Sscanf(strings.TrimPrefix(b.String(), `{"rt_segment":[{"user_id":"r`), "%d", &seq)
	tt.mu.Lock()
	s := tt.seen[seq]
	if s == nil {
		s = &span{first: time.Now()}
		tt.seen[seq] = s
	}
	s.calls++
	calls := s.calls
	delay := time.Duration(tt.rng.Int64N(int64(300 * time.Millisecond)))
	tt.mu.Unlock()
	time.Sleep(delay)
	defer func() {
		tt.mu.Lock()
		s.last = time.Now()
		tt.mu.Unlock()
	}()
	if seq%3 == 0 && calls == 1 {
		return nil, errDropped
	}
	return tt.next.RoundTrip(req)
}

func TestRunOrdered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithToken(testToken))
		tr := &timedTransport{next: handlerTransport{emu}, rng: rand.New(rand.NewPCG(1, 2)), seen: map[int]*span{}}
		u := newTestUploader(t, tr, Config{Workers: 8, MaxRetries: 8, Backoff: 100 * time.Millisecond})
		var reqs []*chunker.Request
		for i := range 40 {
			r := requestOf(i, 2, 7)
			if i%5 == 4 {
				// The same user and segment as request 0, with a later value:
				// it must win.
				u0 := reqs[0].Entries[0].User
				r = chunker.Encode(i, []chunker.Entry{
					{User: reader.User{ID: fmt.Sprintf("r%d-u0", i)}, Rows: rowsFor(reader.User{ID: fmt.Sprintf("r%d-u0", i)}, 1, 1440, 7)},
					{User: u0, Rows: rowsFor(u0, int32(i), 1440, 7)},
				})
				r.Ordered = true
			}
			reqs = append(reqs, r)
		}
		var got results
		if err := u.Run(t.Context(), feed(reqs), got.add); err != nil {
			t.Fatal(err)
		}
		overlapped := false
		for _, r := range reqs {
			me := tr.seen[r.Seq]
			for _, e := range reqs[:r.Seq] {
				before := tr.seen[e.Seq]
				if r.Ordered && me.first.Before(before.last) {
					t.Errorf("ordered request %d started at %v, before request %d ended at %v", r.Seq, me.first, e.Seq, before.last)
				}
				if !r.Ordered && me.first.Before(before.last) {
					overlapped = true
				}
			}
		}
		if !overlapped {
			t.Error("no request overlapped an earlier one: the pool sent one at a time and the test proves nothing")
		}
		u0 := reqs[0].Entries[0].User
		a := emu.State()[xandrtest.UserKey{UserID: u0.ID}]["7"]
		if a.Value == nil || *a.Value != 39 {
			t.Errorf("user %s segment 7 has value %v, want 39 from the last ordered request", u0.ID, a.Value)
		}
	})
}

func TestRunStopsWhenLoginRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithCredentials("ops", "hunter2"))
		client := &http.Client{Transport: handlerTransport{emu}}
		login := &Login{URL: "https://api.example/auth", Username: "ops", Password: NewSecret("wrong-pass"), Client: client}
		u := newTestUploader(t, handlerTransport{emu}, Config{Auth: login, Workers: 8, MaxRetries: 8})
		var reqs []*chunker.Request
		for i := range 30 {
			reqs = append(reqs, requestOf(i, 5, 1))
		}
		in := feed(reqs)
		var got results
		err := u.Run(t.Context(), in, got.add)
		if !errors.Is(err, ErrAuthRefused) {
			t.Fatalf("Run = %v, want ErrAuthRefused", err)
		}
		if !strings.Contains(err.Error(), `log in as "ops"`) || strings.Contains(err.Error(), "wrong-pass") {
			t.Errorf("error %q: want it to name the user and not show the password", err)
		}
		// Every request has one result, or is still in the channel for the
		// caller to report as unsent.
		if n := len(got.all) + len(in); n != len(reqs) {
			t.Errorf("%d results + %d left = %d, want %d", len(got.all), len(in), n, len(reqs))
		}
		for _, res := range got.all {
			if res.Err == nil || strings.Contains(res.Err.Error(), "wrong-pass") {
				t.Errorf("request %d: rows %v, want failed without the password", res.Request.Seq, res.Err)
			}
		}
		if s := emu.Stats(); s.LoginsRefused != 1 || s.Posts != 0 {
			t.Errorf("%d logins refused and %d posts made, want 1 login (not one per worker) and no post", s.LoginsRefused, s.Posts)
		}
	})
}

func TestRunInterrupted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithToken(testToken))
		l, _ := NewLimiter(10, 1000, time.Second, 0)
		u := newTestUploader(t, handlerTransport{emu}, Config{Workers: 4, MaxRetries: 8, Limiter: l, Grace: 3 * time.Second})
		var reqs []*chunker.Request
		for i := range 100 {
			reqs = append(reqs, requestOf(i, 2, 1))
		}
		in := feed(reqs)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(2500*time.Millisecond, cancel)
		var got results
		start := time.Now()
		if err := u.Run(ctx, in, got.add); err != nil {
			t.Fatal(err)
		}
		// At 10 calls a second the run is far from done; it stops at once,
		// since the requests taken are waiting for the limiter.
		if d := time.Since(start); d > 2500*time.Millisecond+time.Second {
			t.Errorf("Run returned %v after the interrupt", d-2500*time.Millisecond)
		}
		if n := len(got.checkFinal(t, reqs)) + len(in); n != len(reqs) {
			t.Errorf("%d requests with a Final result + %d left = %d, want %d", len(got.all), len(in), n, len(reqs))
		}
		accepted := 0
		for _, res := range got.all {
			if res.Err == nil {
				accepted++
			} else if !strings.Contains(res.Err.Error(), "interrupted") {
				t.Errorf("request %d failed with %q, want a reason saying the run was interrupted", res.Request.Seq, res.Err)
			}
		}
		if accepted < 20 || accepted > 40 || emu.Stats().Processed != accepted {
			t.Errorf("%d requests accepted, emulator processed %d, want the same, 20 to 40 (2.5s at 10/s)", accepted, emu.Stats().Processed)
		}
	})
}

// The service refuses users beyond its per-request limit with a warning;
// they are sent again, and each row still gets exactly one outcome.
func TestRunResendsTooManyUsers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithToken(testToken), xandrtest.WithRequestLimits(10, 100, 1_000_000))
		u := newTestUploader(t, handlerTransport{emu}, Config{Workers: 2, MaxRetries: 2})
		reqs := []*chunker.Request{requestOf(0, 25, 1, 2), requestOf(1, 7, 1, 2)}
		var got results
		if err := u.Run(t.Context(), feed(reqs), got.add); err != nil {
			t.Fatal(err)
		}
		for row, o := range got.outcomes() {
			if len(o) != 1 || o[0] != "accepted" {
				t.Errorf("row %s: outcomes %q, want accepted once", row, o)
			}
		}
		for req, res := range got.checkFinal(t, reqs) {
			if res.Err != nil || res.Request == req && req.Seq == 0 {
				t.Errorf("request %d: last Result %v for the request itself, want an accepted part sent again", req.Seq, res.Err)
			}
		}
		if n := len(got.outcomes()); n != 32*2 {
			t.Errorf("%d rows have an outcome, want %d", n, 64)
		}
		if !reflect.DeepEqual(emu.State(), wantState(reqs)) {
			t.Errorf("emulator holds %d users, want all %d", len(emu.State()), 32)
		}
		if s := emu.Stats(); s.Posts != 4 || s.MaxUsersInRequest != 25 {
			t.Errorf("%d calls (largest %d users), want 4: 25 users sent as 10+10+5, and 7", s.Posts, s.MaxUsersInRequest)
		}
	})
}

// A service that refuses every user as too many would make resending loop;
// the rows fail instead.
func TestRunResendWithoutProgressFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu := xandrtest.NewHandler(xandrtest.WithToken(testToken), xandrtest.WithRequestLimits(0, 100, 1_000_000))
		u := newTestUploader(t, handlerTransport{emu}, Config{Workers: 1, MaxRetries: 2})
		var got results
		req := requestOf(0, 3, 1)
		if err := u.Run(t.Context(), feed([]*chunker.Request{req}), got.add); err != nil {
			t.Fatal(err)
		}
		if last := got.checkFinal(t, []*chunker.Request{req}); len(got.all) != 2 || last[req].Err == nil {
			t.Errorf("%d Results, the last failed %v; want 2: the request with all users to resend, then its failure", len(got.all), last[req].Err)
		}
		for row, o := range got.outcomes() {
			if len(o) != 1 || !strings.Contains(o[0], "failed: the service refused all 3 users") {
				t.Errorf("row %s: outcomes %q, want failed once", row, o)
			}
		}
		if emu.Stats().Posts != 1 {
			t.Errorf("%d calls, want 1", emu.Stats().Posts)
		}
	})
}
