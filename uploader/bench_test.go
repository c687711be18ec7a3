package uploader

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// BenchmarkRun measures the client's own ceiling: requests and users a
// second through the whole pool (limiter, auth, HTTP, classification,
// warnings) over loopback, with limits out of reach. Against the emulator
// (which runs in the same process, shares its CPUs and parses every user)
// the emulator is most of the cost; against a server that only reads the
// body and answers OK, the client is.
func BenchmarkRun(b *testing.B) {
	emu := xandrtest.NewServer(xandrtest.WithToken(testToken), xandrtest.WithRateLimits(1<<30, 1<<30))
	defer emu.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, okBody)
	}))
	defer ok.Close()
	for _, server := range []struct{ name, url string }{{"emulator", emu.URL}, {"ok", ok.URL}} {
		for _, size := range []int{1000, 100, 10} {
			b.Run(fmt.Sprintf("server=%s/users=%d", server.name, size), func(b *testing.B) {
				benchmarkRun(b, server.url, size)
			})
		}
	}
}

func benchmarkRun(b *testing.B, url string, size int) {
	l, _ := NewLimiter(1<<30, 1<<30, time.Second, 50*time.Millisecond)
	u, err := New(Config{
		Endpoint: url + "/rt-segment", Auth: StaticToken{Value: NewSecret(testToken)},
		Workers: 8, MaxRetries: 0, Timeout: 30 * time.Second, Limiter: l, AllowAboveService: true, Grace: time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	// The same users in every request, so that the emulator's state, and
	// its garbage collection, stay small.
	const batch = 32
	reqs := make([]*chunker.Request, batch)
	for i := range reqs {
		reqs[i] = requestOf(0, size, 1, 2)
	}
	requests := 0
	start := time.Now()
	for b.Loop() {
		var failed atomic.Int64
		err := u.Run(b.Context(), feed(reqs), func(r Result) {
			if r.Err != nil {
				failed.Add(1)
			}
		})
		if err != nil || failed.Load() > 0 {
			b.Fatalf("Run = %v, %d requests failed", err, failed.Load())
		}
		requests += batch
	}
	secs := time.Since(start).Seconds()
	b.ReportMetric(float64(requests)/secs, "requests/s")
	b.ReportMetric(float64(requests*size)/secs, "users/s")
}

// BenchmarkLimitedRun measures how close a run comes to its binding limit,
// users or POST calls a second, sending through the whole pool over loopback
// to a server that answers OK at once: users/s is what the run achieved and
// pct-of-limit that rate against the limit. The limiter's start-up
// tolerance is spent in a warm-up first, so the figure is the steady rate:
// near 100 means the limit is used, and over 100 that the limiter lets more
// through on average than the setting allows. (The windows themselves are
// checked by TestLimiterHoldsEveryWindow and cmd/rtseg's uploader_limits.txtar.)
func BenchmarkLimitedRun(b *testing.B) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, okBody)
	}))
	defer ok.Close()
	for _, tt := range []struct {
		name         string
		posts, users int // the limits, a second
		size         int // users in a request
	}{
		{"binding=users", 100, 1000, 50}, // 20 calls a second
		{"binding=calls", 100, 1000, 5},  // 500 users a second
	} {
		b.Run(tt.name, func(b *testing.B) {
			l, err := NewLimiter(tt.posts, tt.users, LimitSpan, LimitJitter)
			if err != nil {
				b.Fatal(err)
			}
			u, err := New(Config{
				Endpoint: ok.URL + "/rt-segment", Auth: StaticToken{Value: NewSecret(testToken)},
				Workers: 8, Timeout: 30 * time.Second, Limiter: l, MaxUsers: tt.size, Grace: time.Second,
			})
			if err != nil {
				b.Fatal(err)
			}
			limit := min(tt.users, tt.posts*tt.size) // users a second
			perSecond := limit / tt.size             // requests a second
			run := func(n int) {
				reqs := make([]*chunker.Request, n)
				for i := range reqs {
					reqs[i] = requestOf(i, tt.size, 1)
				}
				var failed atomic.Int64
				err := u.Run(b.Context(), feed(reqs), func(r Result) {
					if r.Err != nil {
						failed.Add(1)
					}
				})
				if err != nil || failed.Load() > 0 {
					b.Fatalf("Run = %v, %d requests failed", err, failed.Load())
				}
			}
			run(perSecond) // spends the start-up tolerance
			users := 0
			start := time.Now()
			for b.Loop() {
				run(2 * perSecond) // two seconds at the limit
				users += 2 * perSecond * tt.size
			}
			rate := float64(users) / time.Since(start).Seconds()
			b.ReportMetric(rate, "users/s")
			b.ReportMetric(100*rate/float64(limit), "pct-of-limit")
		})
	}
}
