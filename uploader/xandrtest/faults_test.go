package xandrtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const testToken = "hbapi:1234:test"

// post sends one rt-segment call adding user to segment 1 and returns the
// HTTP status, or the error that stopped the call.
func post(ctx context.Context, client *http.Client, url, user string) (*http.Response, error) {
	body := fmt.Sprintf(`{"rt_segment":[{"user_id":%q,"seg_block":[{"seg_id":1,"value":1,"expiration":0}]}]}`, user)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/rt-segment", strings.NewReader(body))
	req.Header.Set("Authorization", testToken)
	resp, err := client.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// outcomes makes n calls one after another and names what each met.
func outcomes(t *testing.T, opts ...Option) ([]string, Stats, State) {
	srv := NewServer(append([]Option{WithToken(testToken), WithRateLimits(1000, 1000)}, opts...)...)
	defer srv.Close()
	var got []string
	for i := range 200 {
		resp, err := post(t.Context(), srv.Client(), srv.URL, fmt.Sprint("u", i))
		switch {
		case err != nil:
			got = append(got, "no answer")
		case resp.Header.Get(HeaderRateLimitCode) != "":
			got = append(got, fmt.Sprint(resp.StatusCode, " throttling"))
		default:
			got = append(got, fmt.Sprint(resp.StatusCode))
		}
	}
	return got, srv.Stats(), srv.State()
}

func count(xs []string, x string) int {
	n := 0
	for _, s := range xs {
		if s == x {
			n++
		}
	}
	return n
}

func TestFaultsAreReproducible(t *testing.T) {
	faults := WithFaults(Faults{Unavailable: 0.2, RateLimitCode: true, Dropped: 0.1, Slow: 0.1, SlowBy: time.Millisecond})
	a, sa, _ := outcomes(t, faults, WithSeed(7))
	b, sb, _ := outcomes(t, faults, WithSeed(7))
	c, _, _ := outcomes(t, faults, WithSeed(8))
	if strings.Join(a, ",") != strings.Join(b, ",") || sa.Slowed != sb.Slowed {
		t.Errorf("two runs with seed 7 met different faults:\n%v\n%v", a, b)
	}
	if strings.Join(a, ",") == strings.Join(c, ",") {
		t.Error("seeds 7 and 8 met the same faults")
	}
	// 200 calls: 20% 503s, 10% dropped, 10% slow, give or take.
	if n := count(a, "503 throttling"); n < 20 || n > 60 || n != sa.Unavailable {
		t.Errorf("%d calls answered 503 (emulator counted %d), want about 40", n, sa.Unavailable)
	}
	if n := count(a, "no answer"); n < 8 || n > 35 || n != sa.Dropped {
		t.Errorf("%d calls dropped (emulator counted %d), want about 20", n, sa.Dropped)
	}
	if sa.Slowed < 8 || sa.Slowed > 35 {
		t.Errorf("%d calls slowed, want about 20", sa.Slowed)
	}
	if sa.Processed != 200-sa.Unavailable {
		t.Errorf("%d calls processed, want every call but the 503s (%d)", sa.Processed, 200-sa.Unavailable)
	}
}

// A dropped call was processed: the state changed although the caller got
// no answer. A 503 was not.
func TestDroppedCallsWereProcessed(t *testing.T) {
	got, s, st := outcomes(t, WithFaults(Faults{Dropped: 1}))
	if count(got, "no answer") != 200 || s.Dropped != 200 {
		t.Errorf("%d calls unanswered (emulator counted %d), want all 200", count(got, "no answer"), s.Dropped)
	}
	if len(st) != 200 {
		t.Errorf("state holds %d users, want the 200 sent", len(st))
	}
	got, _, st = outcomes(t, WithFaults(Faults{Unavailable: 1}))
	if count(got, "503") != 200 || len(st) != 0 {
		t.Errorf("%d calls answered 503 without x-ratelimit-code, state holds %d users; want 200 and none", count(got, "503"), len(st))
	}
}

// A slow answer comes after the state changed; a caller that gives up first
// gets nothing, and the server does not wait out the delay for it.
func TestSlowAnswers(t *testing.T) {
	srv := NewServer(WithToken(testToken), WithFaults(Faults{Slow: 1, SlowBy: time.Hour}))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := post(ctx, srv.Client(), srv.URL, "u1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("call answered an hour late = %v, want the caller's deadline", err)
	}
	if len(srv.State()) != 1 || srv.Stats().Slowed != 1 {
		t.Errorf("state holds %d users after a slow call, want 1", len(srv.State()))
	}
	srv.Close() // returns although the handler would wait an hour
}

func TestTokenExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHandler(WithToken(testToken), WithTokenExpiry(time.Second))
		call := func() int {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/rt-segment", strings.NewReader(`{"rt_segment":[{"user_id":"u","seg_block":[{"seg_id":1}]}]}`))
			req.Header.Set("Authorization", testToken)
			h.ServeHTTP(rec, req)
			return rec.Code
		}
		if code := call(); code != 200 {
			t.Fatalf("call with a fresh testToken = %d", code)
		}
		time.Sleep(999 * time.Millisecond)
		if code := call(); code != 200 {
			t.Fatalf("call 999ms after the testToken was issued = %d", code)
		}
		time.Sleep(time.Millisecond)
		if code := call(); code != 401 {
			t.Errorf("call 1s after the testToken was issued = %d, want 401", code)
		}
	})
}

func TestWindowCountsEveryWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	w := newWindow(time.Second)
	w.add(at(0), 1)
	w.add(at(900), 1)
	w.add(at(1500), 1)
	if w.max != 2 {
		t.Errorf("max = %d after events at 0, 900, 1500ms; want 2", w.max)
	}
	// Stamped at 600ms but counted last: it shares windows with 900 and
	// 1500 (and with 0 and 900), so the peak is 3.
	if ok, _ := w.fits(at(600), 1, 2); ok {
		t.Error("an event at 600ms fits a limit of 2, but (500ms, 1500ms] would hold 3")
	}
	w.add(at(600), 1)
	if w.max != 3 {
		t.Errorf("max = %d after a late event at 600ms, want 3", w.max)
	}
	// Exactly one second apart: not in the same window.
	w2 := newWindow(time.Second)
	w2.add(at(0), 5)
	if ok, _ := w2.fits(at(1000), 5, 5); !ok {
		t.Error("events 1s apart share a window")
	}
	if ok, wait := w2.fits(at(999), 5, 5); ok || wait != time.Millisecond {
		t.Errorf("fits at 999ms = %v, wait %v; want false, 1ms", ok, wait)
	}
}

func TestRateLimitsAnswer429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHandler(WithToken(testToken), WithRateLimits(2, 1000))
		codes := make([]int, 0, 4)
		for range 3 {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/rt-segment", strings.NewReader(`{"rt_segment":[{"user_id":"u","seg_block":[{"seg_id":1}]}]}`))
			req.Header.Set("Authorization", testToken)
			h.ServeHTTP(rec, req)
			codes = append(codes, rec.Code)
			if rec.Code == 429 && (rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), fmt.Sprintf(MsgRateLimited, 2))) {
				t.Errorf("429 without Retry-After or the documented message: %s", rec.Body)
			}
		}
		if fmt.Sprint(codes) != "[200 200 429]" {
			t.Errorf("three calls at once with a limit of 2 per second: %v", codes)
		}
		if s := h.Stats(); s.Throttled != 1 || s.MaxPostsInWindow != 3 {
			t.Errorf("stats %+v: want 1 throttled and 3 calls seen in one window", s)
		}
	})
}

// With a latency, every call is counted and applied when it arrives and
// answered that much later, or, with a range, after a delay within it.
func TestLatency(t *testing.T) {
	for _, tt := range []struct {
		name     string
		min, max time.Duration
	}{
		{"fixed 300ms", 300 * time.Millisecond, 0},
		{"50ms to 400ms", 50 * time.Millisecond, 400 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := NewServer(WithToken(testToken), WithFaults(Faults{Latency: tt.min, LatencyMax: tt.max}))
			defer srv.Close()
			hi := max(tt.min, tt.max)
			var lo, top time.Duration = time.Hour, 0
			for i := range 6 {
				start := time.Now()
				done := make(chan error, 1)
				go func() {
					_, err := post(t.Context(), srv.Client(), srv.URL, fmt.Sprint("u", i))
					done <- err
				}()
				// The state changes long before the answer leaves.
				for len(srv.State()) <= i {
					time.Sleep(time.Millisecond)
				}
				applied := time.Since(start)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				took := time.Since(start)
				if took < tt.min || applied >= tt.min && tt.min > 0 {
					t.Errorf("call %d applied after %v, answered after %v; want applied at once and answered after at least %v", i, applied, took, tt.min)
				}
				lo, top = min(lo, took), max(top, took)
			}
			if top > hi+2*time.Second {
				t.Errorf("slowest answer took %v, want about %v at most", top, hi)
			}
			if tt.max > 0 && top-lo < (tt.max-tt.min)/4 {
				t.Errorf("answers took %v to %v, want delays spread over %v to %v", lo, top, tt.min, tt.max)
			}
		})
	}
	if err := (Faults{Latency: time.Second, LatencyMax: time.Millisecond}).Check(); err == nil || !strings.Contains(err.Error(), "--latency-max") {
		t.Errorf("Check(latency above its max) = %v, want an error naming --latency-max", err)
	}
}
