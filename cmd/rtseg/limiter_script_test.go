package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rtseg/rtseg/uploader/redislimit/redistest"
)

type redisKey struct{}

// redisSlot holds a script's redis-server, once 'redis start' has started
// it.
type redisSlot struct {
	srv     *redistest.Server
	pending sync.WaitGroup // restarts due later
}

// cmdRedis runs a redis-server of the script's own on a free loopback
// port, as --limiter's tests need one:
//
//	redis start [password=PW]   start it; set $REDIS (its URL) and $REDIS_ADDR
//	redis kill                  kill it (SIGKILL): it loses everything
//	redis restart               start it again, empty, on the same port
//	redis restart-after D       the same D from now, while the script goes on
//
// It is stopped when the script ends.
func cmdRedis(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: redis start|kill|restart|restart-after D")
	}
	slot := ts.Value(redisKey{}).(*redisSlot)
	if args[0] != "start" && slot.srv == nil {
		ts.Fatalf("no redis-server: run 'redis start' first")
	}
	switch args[0] {
	case "start":
		var opts []redistest.Option
		for _, a := range args[1:] {
			k, v, _ := strings.Cut(a, "=")
			if k != "password" {
				ts.Fatalf("redis start: unknown option %q", a)
			}
			opts = append(opts, redistest.WithPassword(v))
		}
		srv, err := redistest.Start(opts...)
		ts.Check(err)
		slot.srv = srv
		ts.Defer(func() {
			slot.pending.Wait()
			srv.Close()
		})
		ts.Setenv("REDIS", srv.URL)
		ts.Setenv("REDIS_ADDR", srv.Addr)
	case "kill":
		slot.srv.Kill()
	case "restart":
		ts.Check(slot.srv.Restart())
	case "restart-after":
		if len(args) != 2 {
			ts.Fatalf("usage: redis restart-after DURATION")
		}
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		slot.pending.Go(func() {
			time.Sleep(d)
			if err := slot.srv.Restart(); err != nil {
				ts.Logf("redis restart-after: %v", err)
			}
		})
	default:
		ts.Fatalf("redis: unknown subcommand %q", args[0])
	}
}

type clockKey struct{}

// clockSlot is when 'clock start' ran.
type clockSlot struct{ start time.Time }

// cmdClock measures a script's wall time: 'clock start', then 'clock below
// D' fails if more than D passed since ('! clock below D' if less).
func cmdClock(ts *testscript.TestScript, neg bool, args []string) {
	slot := ts.Value(clockKey{}).(*clockSlot)
	switch {
	case len(args) == 1 && args[0] == "start":
		slot.start = time.Now()
	case len(args) == 2 && args[0] == "below":
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		took := time.Since(slot.start)
		ts.Logf("%v since 'clock start'", took.Round(time.Millisecond))
		if (took <= d) == neg {
			ts.Fatalf("%v since 'clock start', want %s %v", took.Round(time.Millisecond), map[bool]string{false: "at most", true: "more than"}[neg], d)
		}
	default:
		ts.Fatalf("usage: clock start | clock below DURATION")
	}
}

// cmdFair checks that clients of one member, each with its own token,
// shared its limits fairly: while all of them had work (from the latest
// first call to a second before the earliest last call the emulator saw),
// each token's users are within PERCENT% of every other's. A client's last
// second is its drain: its last calls were reserved up to a second ahead,
// behind the others', while they kept asking.
// fair PERCENT TOKEN...
func cmdFair(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: fair PERCENT TOKEN TOKEN...")
	}
	var pct float64
	_, err := fmt.Sscan(args[0], &pct)
	ts.Check(err)
	tokens := args[1:]
	arrivals := mockOf(ts).srv.Arrivals()
	var from, to time.Time
	var spans []string // each token's first and last call, from the first of all
	for i, tok := range tokens {
		var first, last time.Time
		for _, a := range arrivals {
			if a.Token != tok {
				continue
			}
			if first.IsZero() || a.At.Before(first) {
				first = a.At
			}
			if a.At.After(last) {
				last = a.At
			}
		}
		if first.IsZero() {
			ts.Fatalf("no call came with token %s", tok)
		}
		spans = append(spans, fmt.Sprintf("%s %v to %v", tok, first.Sub(arrivals[0].At).Round(time.Millisecond), last.Sub(arrivals[0].At).Round(time.Millisecond)))
		if i == 0 || first.After(from) {
			from = first
		}
		if i == 0 || last.Before(to) {
			to = last
		}
	}
	to = to.Add(-time.Second)
	share := make([]int, len(tokens))
	for _, a := range arrivals {
		if a.At.Before(from) || a.At.After(to) {
			continue
		}
		for i, tok := range tokens {
			if a.Token == tok {
				share[i] += a.Users
			}
		}
	}
	ts.Logf("calls: %s; users while all had work (%v): %v", strings.Join(spans, ", "), to.Sub(from).Round(time.Millisecond), share)
	perSecond := map[string][]int{}
	for _, a := range arrivals {
		sec := int(a.At.Sub(arrivals[0].At) / time.Second)
		c := perSecond[a.Token]
		for len(c) <= sec {
			c = append(c, 0)
		}
		c[sec] += a.Users
		perSecond[a.Token] = c
	}
	ts.Logf("users in each second: %v", perSecond)
	lo, hi := slices.Min(share), slices.Max(share)
	if float64(hi-lo) > pct/100*float64(hi) {
		ts.Fatalf("while all had work, one sent %d users and another %d: want within %v%%", lo, hi, pct)
	}
}

// cmdElapsed checks that runs took at most D each: elapsed below D
// S.json... reads their summaries' elapsed_seconds.
func cmdElapsed(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || args[0] != "below" {
		ts.Fatalf("usage: elapsed below DURATION S.json...")
	}
	d, err := time.ParseDuration(args[1])
	ts.Check(err)
	for _, f := range args[2:] {
		var s struct {
			Elapsed float64 `json:"elapsed_seconds"`
		}
		ts.Check(json.Unmarshal([]byte(ts.ReadFile(f)), &s))
		took := time.Duration(s.Elapsed * float64(time.Second))
		ts.Logf("%s: %v", f, took.Round(time.Millisecond))
		if took > d {
			ts.Fatalf("%s: the run took %v, want at most %v", f, took.Round(time.Millisecond), d)
		}
	}
}
