package redislimit

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// unlimited asks for limits out of reach, counted for a millisecond, so
// that the logs stay as small as at the service's limits and a
// reservation costs what the script costs.
var unlimited = uploader.Ask{Users: 100, PostLimit: 1 << 30, UserLimit: 1 << 30,
	Span: time.Millisecond, Hold: time.Millisecond}

// warm passes a new Redis's warm-up.
func warm(b *testing.B, s *Store) {
	b.Helper()
	if _, err := reserve(b.Context(), s, unlimited); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReserve is one acquisition's cost against a Redis on loopback:
// one reservation, one round trip to Redis and the script.
func BenchmarkReserve(b *testing.B) {
	srv := startRedis(b)
	s := open(b, srv.URL, "bench")
	warm(b, s)
	for b.Loop() {
		if _, err := s.Reserve(b.Context(), unlimited); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/acquisition")
}

// BenchmarkReserveParallel is the most acquisitions a second one process
// can make, from many goroutines at once.
func BenchmarkReserveParallel(b *testing.B) {
	srv := startRedis(b)
	s := open(b, srv.URL, "bench")
	warm(b, s)
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Reserve(b.Context(), unlimited); err != nil {
				b.Error(err)
				return
			}
			n.Add(1)
		}
	})
	b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "acquisitions/s")
}

// BenchmarkSharedRun is the users a second a run reaches through a
// limiter shared in Redis (limiter=redis), against an emulator whose
// limits are out of reach and with the limiter's set as high: what the
// shared limiter itself costs a run, against the same run with the
// process's own limiter (limiter=local). Each call asks Redis twice (its
// moment, and that it was answered).
func BenchmarkSharedRun(b *testing.B) {
	srv := startRedis(b)
	s := open(b, srv.URL, "bench")
	emu := xandrtest.NewServer(xandrtest.WithToken("bench-token"), xandrtest.WithRateLimits(1<<30, 1<<30))
	defer emu.Close()
	for _, tt := range []struct {
		limiter string
		size    int
	}{{"redis", 1000}, {"local", 1000}, {"redis", 100}, {"local", 100}} {
		size := tt.size
		b.Run(fmt.Sprintf("limiter=%s/users=%d", tt.limiter, size), func(b *testing.B) {
			l, err := uploader.NewSharedLimiter(1<<20, 1<<30, time.Second, uploader.SharedConfig{Store: s, GiveUp: time.Minute})
			if tt.limiter == "local" {
				l, err = uploader.NewLimiter(1<<20, 1<<30, time.Second, uploader.LimitJitter)
			}
			if err != nil {
				b.Fatal(err)
			}
			u, err := uploader.New(uploader.Config{
				Endpoint: emu.URL + "/rt-segment", Auth: uploader.StaticToken{Value: uploader.NewSecret("bench-token")},
				Workers: 8, Timeout: 30 * time.Second, Limiter: l, AllowAboveService: true, Grace: time.Second,
			})
			if err != nil {
				b.Fatal(err)
			}
			const batch = 32
			reqs := make([]*chunker.Request, batch)
			for i := range reqs {
				entries := make([]chunker.Entry, size)
				for j := range entries {
					user := reader.User{ID: fmt.Sprintf("u%d", j)}
					entries[j] = chunker.Entry{User: user, Rows: []reader.Row{{
						Pos: reader.Position{File: "bench.csv", Line: int64(j + 2)}, UserID: user.ID, SegID: 1,
						Value: 1, HasValue: true, Expiration: 1440, HasExpiration: true}}}
				}
				reqs[i] = chunker.Encode(i, entries)
			}
			if err := runAll(b, u, reqs[:1]); err != nil { // past Redis's warm-up
				b.Fatal(err)
			}
			users := 0
			start := time.Now()
			for b.Loop() {
				if err := runAll(b, u, reqs); err != nil {
					b.Fatal(err)
				}
				users += batch * size
			}
			b.ReportMetric(float64(users)/time.Since(start).Seconds(), "users/s")
		})
	}
}

func runAll(b *testing.B, u *uploader.Uploader, reqs []*chunker.Request) error {
	in := make(chan *chunker.Request, len(reqs))
	for _, r := range reqs {
		in <- r
	}
	close(in)
	var failed atomic.Int64
	err := u.Run(b.Context(), in, func(r uploader.Result) {
		if r.Err != nil {
			failed.Add(1)
		}
	})
	if err == nil && failed.Load() > 0 {
		err = fmt.Errorf("%d requests failed", failed.Load())
	}
	return err
}
