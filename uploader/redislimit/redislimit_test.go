package redislimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtseg/rtseg/uploader"
	"github.com/rtseg/rtseg/uploader/redislimit/redistest"
)

// startRedis starts a redis-server of the test's own, stopped at cleanup.
func startRedis(t testing.TB, opts ...redistest.Option) *redistest.Server {
	t.Helper()
	srv, err := redistest.Start(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func open(t testing.TB, url, key string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reserve waits for a moment and returns when it came.
func reserve(ctx context.Context, s *Store, a uploader.Ask) (time.Time, error) {
	r, err := s.Reserve(ctx, a)
	if err != nil {
		return time.Time{}, err
	}
	time.Sleep(r.Wait)
	return time.Now(), nil
}

// limiter is a shared uploader.Limiter of the store.
func limiter(t testing.TB, s *Store, calls, users int) *uploader.Limiter {
	t.Helper()
	l, err := uploader.NewSharedLimiter(calls, users, time.Second, uploader.SharedConfig{Store: s, GiveUp: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type call struct {
	at      time.Time
	users   int
	process int
}

// peak is the most calls and users in any one-second window (t-1s, t].
func peak(calls []call) (int, int) {
	sort.Slice(calls, func(i, j int) bool { return calls[i].at.Before(calls[j].at) })
	pc, pu := 0, 0
	for i, end := range calls {
		c, u := 0, 0
		for j := i; j >= 0 && calls[j].at.After(end.at.Add(-time.Second)); j-- {
			c++
			u += calls[j].users
		}
		pc, pu = max(pc, c), max(pu, u)
	}
	return pc, pu
}

// Three processes, each with its own connection and four workers, share
// limits of 20 calls and 100 users a second: no one-second window holds
// more, the pace is close to the limit, and each process gets a fair share.
func TestReserveHoldsEveryWindowTogether(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	const calls, users = 20, 100
	ask := uploader.Ask{Users: 1, PostLimit: calls, UserLimit: users, Span: time.Second,
		Hold: time.Second + uploader.LimitJitter}
	// A new Redis waits out calls it cannot know of: warm it up first.
	if _, err := reserve(t.Context(), open(t, srv.URL, "k"), ask); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []call
		wg  sync.WaitGroup
	)
	go1 := make(chan struct{})
	var start, deadline time.Time
	for p := range 3 {
		l := limiter(t, open(t, srv.URL, "k"), calls, users)
		for range 4 {
			wg.Go(func() {
				const n = 6 // users a call
				<-go1
				for time.Now().Before(deadline) {
					slot, err := l.Wait(t.Context(), n)
					if err != nil {
						t.Error(err)
						return
					}
					if !slot.Sending() {
						continue
					}
					mu.Lock()
					got = append(got, call{time.Now(), n, p})
					mu.Unlock()
					slot.Wrote()
					slot.Done()
				}
			})
		}
	}
	start = time.Now()
	deadline = start.Add(6 * time.Second)
	close(go1)
	wg.Wait()
	elapsed := time.Since(start)
	pc, pu := peak(got)
	if pc > calls || pu > users {
		t.Errorf("a one-second window saw %d calls and %d users, limits %d and %d", pc, pu, calls, users)
	}
	// The first window goes to whichever asks first, at once: shares
	// count from its end.
	total := 0
	share := make([]int, 3)
	for _, c := range got {
		total += c.users
		if c.at.After(start.Add(time.Second)) {
			share[c.process] += c.users
		}
	}
	// Users bind (6 a call, so about 17 calls a second). The run may use
	// its whole first window at once, and no more than the limit in each
	// window after it; latency costs only the allowance.
	windows := math.Ceil(elapsed.Seconds())
	if float64(total) > windows*users || float64(total) < 0.9*elapsed.Seconds()*users {
		t.Errorf("%d users in %v: want between %.0f (90%% of %d/s) and %.0f (%d in each of %.0f windows)",
			total, elapsed, 0.9*elapsed.Seconds()*users, users, windows*users, users, windows)
	}
	for p, n := range share {
		for q, m := range share {
			if float64(n) < 0.8*float64(m) {
				t.Errorf("process %d sent %d users, process %d %d: want shares within 20%%", p, n, q, m)
			}
		}
	}
	t.Logf("%d calls, %d users in %v; shares %v; peak window %d calls, %d users", len(got), total, elapsed, share, pc, pu)
}

// warmStore is a Store of a new Redis past its warm-up, and an ask that
// fills a window with each call.
func warmStore(t *testing.T) (*Store, uploader.Ask) {
	t.Helper()
	s := open(t, startRedis(t).URL, "k")
	ask := uploader.Ask{Users: 100, PostLimit: 10, UserLimit: 100, Span: time.Second, Hold: time.Second}
	if _, err := reserve(t.Context(), s, ask); err != nil {
		t.Fatal(err)
	}
	return s, ask
}

// A moment reserved ahead still stands when confirmed, unless a pause
// began that covers it; if the call before it left late and now fills its
// window, it moves later, as far as that call's lateness.
func TestConfirm(t *testing.T) {
	t.Parallel()
	s, ask := warmStore(t)
	second, err := s.Reserve(t.Context(), ask)
	if err != nil || second.Wait < 900*time.Millisecond {
		t.Fatalf("Reserve on a full window = %+v, %v; want a moment about a second ahead", second, err)
	}
	third, err := s.Reserve(t.Context(), ask)
	if err != nil || third.Wait < 1900*time.Millisecond {
		t.Fatalf("Reserve after it = %+v, %v; want a moment about two seconds ahead", third, err)
	}
	if wait, ok, err := s.Confirm(t.Context(), ask, second.ID); err != nil || !ok || wait > second.Wait {
		t.Errorf("Confirm(a moment that stands) = %v, %v, %v; want it confirmed within %v", wait, ok, err, second.Wait)
	}
	// The second leaves half a second late: the third no longer fits.
	if err := s.Extend(t.Context(), second.ID, 100, time.Second+second.Wait+500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if wait, ok, err := s.Confirm(t.Context(), ask, third.ID); err != nil || !ok || wait < third.Wait+400*time.Millisecond || wait > third.Wait+600*time.Millisecond {
		t.Errorf("Confirm(a moment its window no longer has room for) = %v, %v, %v; want it confirmed about half a second later than %v", wait, ok, err, third.Wait)
	}
	fourth, err := s.Reserve(t.Context(), ask)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(t.Context(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Confirm(t.Context(), ask, fourth.ID); err != nil || ok {
		t.Errorf("Confirm(a moment a pause covers) = %v, %v; want it dropped", ok, err)
	}
}

// A pause holds every process back; a Redis restarted empty holds them back
// until no call it gave out before can count.
func TestPauseAndRestart(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	a, b := open(t, srv.URL, "k"), open(t, srv.URL, "k")
	ask := uploader.Ask{Users: 1, PostLimit: 100, UserLimit: 1000, Span: time.Second, Hold: time.Second}
	if _, err := reserve(t.Context(), a, ask); err != nil {
		t.Fatal(err)
	}
	if err := a.Pause(t.Context(), 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := reserve(t.Context(), b, ask); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 1400*time.Millisecond || d > 3*time.Second {
		t.Errorf("after a pause of 1.5s another process's call went after %v", d)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	var err error
	for range 20 { // the connections to the Redis that was killed fail first
		if _, err = reserve(t.Context(), a, ask); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < uploader.StoreWarmUp-100*time.Millisecond {
		t.Errorf("a Redis restarted empty gave a moment after %v, want at least %v", d, uploader.StoreWarmUp)
	}
}

// Errors name the Redis without its password.
func TestOpenErrors(t *testing.T) {
	t.Parallel()
	srv := startRedis(t, redistest.WithPassword("pw-s3cr3t"))
	wrong := strings.Replace(srv.URL, "pw-s3cr3t", "not-it-s3cr3t", 1)
	down := "redis://:pw-s3cr3t@127.0.0.1:1/0"
	for _, tt := range []struct {
		name, url, want string
	}{
		{"nothing listening", down, "--limiter redis://:xxxxx@127.0.0.1:1/0: cannot reach Redis"},
		{"wrong password", wrong, "cannot reach Redis"},
		{"not a URL", "redis://:pw-s3cr3t@[::1/0", "--limiter wants a URL"},
		{"another scheme", "http://:pw-s3cr3t@127.0.0.1/0", "--limiter wants a URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(t.Context(), tt.url, "k")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(%s) = %v, want an error containing %q", tt.name, err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("Open(%s) error shows the password: %v", tt.name, err)
			}
			var oe *OpenError
			var se *uploader.SettingError
			if !errors.As(err, &oe) && !errors.As(err, &se) {
				t.Errorf("Open(%s) error %T, want *OpenError or *uploader.SettingError", tt.name, err)
			}
		})
	}
	s := open(t, srv.URL, "k")
	if got := fmt.Sprint(s); strings.Contains(got, "s3cr3t") || !strings.Contains(got, srv.Addr) {
		t.Errorf("Store.String() = %q, want the address without the password", got)
	}
}

// While Redis is away nothing is let through; the limiter logs that it
// lost Redis and found it again, and waits out what the lost Redis gave.
// After GiveUp without it, every wait fails at once with a
// *uploader.StoreLostError that names Redis without its password.
func TestLimiterWithoutRedis(t *testing.T) {
	t.Parallel()
	srv := startRedis(t, redistest.WithPassword("pw-s3cr3t"))
	s := open(t, srv.URL, "k")
	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	l, err := uploader.NewSharedLimiter(10, 100, time.Second, uploader.SharedConfig{Store: s, GiveUp: 10 * time.Second, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Wait(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	restarted := make(chan time.Time, 1)
	go func() {
		time.Sleep(time.Second)
		if err := srv.Restart(); err != nil {
			t.Error(err)
		}
		restarted <- time.Now()
	}()
	slot, err := l.Wait(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if back := <-restarted; time.Since(back) < uploader.StoreWarmUp-200*time.Millisecond {
		t.Errorf("a call was let through %v after Redis came back empty, want at least %v", time.Since(back), uploader.StoreWarmUp)
	}
	if !slot.Sending() {
		t.Error("a slot just given cannot be used")
	}
	logMu.Lock()
	got := logs.String()
	logMu.Unlock()
	for _, want := range []string{"limiter: lost Redis redis://:xxxxx@" + srv.Addr + "/0 (key k)", "limiter: reached Redis"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}

	gone, _ := uploader.NewSharedLimiter(10, 100, time.Second, uploader.SharedConfig{Store: s, GiveUp: time.Second, Logger: logger})
	srv.Kill()
	start := time.Now()
	_, err = gone.Wait(t.Context(), 1)
	var lost *uploader.StoreLostError
	if !errors.As(err, &lost) || time.Since(start) < time.Second || time.Since(start) > 5*time.Second {
		t.Fatalf("Wait without Redis = %v after %v, want a *StoreLostError after the second given", err, time.Since(start))
	}
	start = time.Now()
	if _, err := gone.Wait(t.Context(), 1); !errors.As(err, &lost) || time.Since(start) > 100*time.Millisecond {
		t.Errorf("Wait after giving up = %v after %v, want a *StoreLostError at once", err, time.Since(start))
	}
	logMu.Lock()
	got = logs.String()
	logMu.Unlock()
	if strings.Contains(err.Error()+got, "s3cr3t") {
		t.Errorf("the password shows in %q or the log:\n%s", err, got)
	}
	if !strings.Contains(err.Error(), "(--limiter-wait)") {
		t.Errorf("error %q does not name --limiter-wait", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// The logs expire only after their last entry stops counting, whichever
// script set their TTL last: a call that leaves late must not take the
// calls reserved after it out of the log.
func TestLogsOutliveTheirLastEntry(t *testing.T) {
	t.Parallel()
	s, ask := warmStore(t)
	var last uploader.Reservation
	var first string
	for i := range 3 { // a second apart: each fills its window
		r, err := s.Reserve(t.Context(), ask)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r.ID
		}
		last = r
	}
	// The first leaves late, counting a little longer than it was to.
	if err := s.Extend(t.Context(), first, 100, 2500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	counts := last.Wait + ask.Hold
	for _, key := range s.keys[:2] {
		if ttl, err := s.client.PTTL(t.Context(), key).Result(); err != nil || ttl < counts {
			t.Errorf("%s expires in %v (%v); want no sooner than its last entry stops counting, in %v", key, ttl, err, counts)
		}
	}
}
