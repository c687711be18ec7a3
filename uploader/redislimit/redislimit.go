// Package redislimit keeps the log of calls that several rtseg processes
// share in Redis (--limiter), so that together they hold one member's POST
// calls and users per second in every one-second window: an uploader.Store.
//
// # The algorithm
//
// A sliding log with reservations, in one Lua script that reads the time
// from Redis (TIME), never from the processes' clocks. Each call is an
// entry in two sorted sets, one for calls and one for users, scored by the
// moment it stops counting: its reserved moment plus its hold (a span plus
// the caller's allowance for the variation in one-way delay). A caller
// gets the earliest moment at which one more call and its users fit both
// logs, no earlier than an even pace allows (GCRA, shared by all) and no
// earlier than a shared pause (a 429's Retry-After); that moment is
// recorded at once, so two processes can never be given the same room.
// Counting every entry that still counts at a moment is enough for every
// window: of the calls the service sees in any one window, the one reserved
// last was checked against all the others. A token bucket or GCRA alone
// would need its burst cut to respect every window; the log holds it by
// construction.
//
// Nothing paces calls within a window: the log alone holds every window,
// and a run may use its whole first window at once, as the service allows.
//
// Moments are handed out in the order callers ask, each no earlier than
// the one before, so no process starves: each gets a share in proportion
// to the calls it has waiting (a process keeps two waiting at most, so
// that the turns stay fine-grained). A moment reserved further ahead than
// uploader.ConfirmAhead is confirmed that long before it comes: it still
// stands if Redis kept it and no pause began that covers it, and it moves
// later, keeping its place in line, if it no longer fits among the calls
// reserved before it (one may have left or been answered late, and been
// extended to count longer). So a Redis that lost its state (restarted,
// or a replica promoted: its run_id, which the Store reads on every new
// connection rather than on every call, differs from the one the state
// names) holds every caller back for uploader.StoreWarmUp: by then nothing it
// gave out before can still count, and every moment reserved earlier
// asks it again.
package redislimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rtseg/rtseg/uploader"
)

//go:embed prelude.lua
var preludeLua string

//go:embed reserve.lua
var reserveLua string

//go:embed pause.lua
var pauseLua string

//go:embed extend.lua
var extendLua string

//go:embed confirm.lua
var confirmLua string

//go:embed answered.lua
var answeredLua string

// Every script starts with the prelude's helpers: Redis runs each as one
// chunk, with no way to share functions between scripts.
var (
	reserveScript  = redis.NewScript(preludeLua + reserveLua)
	confirmScript  = redis.NewScript(preludeLua + confirmLua)
	pauseScript    = redis.NewScript(preludeLua + pauseLua)
	extendScript   = redis.NewScript(preludeLua + extendLua)
	answeredScript = redis.NewScript(preludeLua + answeredLua)
)

var quietLibrary sync.Once

// Store is the shared log in one Redis, under one key.
type Store struct {
	client *redis.Client
	runID  atomic.Value // string: the run_id of the Redis last connected to
	shown  string       // the URL, its password redacted
	key    string       // --limiter-key
	keys   []string     // the log of calls, the log of users, the state
}

// Open connects to the Redis at rawURL (redis://[[user]:password@]host:port/db
// or rediss:// for TLS) and checks that it answers. Its keys start with
// "{key}:", so that in a cluster they share one slot. An error never shows
// the password: an *OpenError, or a *uploader.SettingError naming
// --limiter or --limiter-key for a URL or key that cannot be used.
func Open(ctx context.Context, rawURL, key string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		// url.Parse's error quotes the URL, password and all.
		return nil, &uploader.SettingError{Flag: "--limiter", Problem: "wants a URL redis://[:password@]host:port/db or rediss://... (RTSEG_LIMITER)"}
	}
	shown := u.Redacted()
	if key == "" {
		return nil, &uploader.SettingError{Flag: "--limiter-key", Problem: "must not be empty"}
	}
	// The library's own lines would bypass the run's logger and
	// --log-format; the limiter says what happens to Redis itself.
	quietLibrary.Do(func() { redis.SetLogger(&logging.VoidLogger{}) })
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, &uploader.SettingError{Flag: "--limiter", Problem: fmt.Sprintf("%s: %v", shown, err)}
	}
	// The limiter retries on its own, with backoff, and logs it.
	opt.MaxRetries = -1
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second
	opt.ContextTimeoutEnabled = true
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	s := &Store{
		shown: shown,
		key:   key,
		keys:  []string{"{" + key + "}:calls", "{" + key + "}:users", "{" + key + "}:state"},
	}
	// A Redis that restarted, or a replica that took over, is reached on
	// new connections only: read its run_id there, not on every call.
	opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		info, err := cn.Info(ctx, "server").Result()
		if err != nil {
			return err
		}
		id, ok := runID(info)
		if !ok {
			return errors.New("INFO server names no run_id")
		}
		s.runID.Store(id)
		return nil
	}
	s.client = redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.client.Ping(pctx).Err(); err != nil {
		s.client.Close()
		return nil, &OpenError{URL: shown, Err: err}
	}
	return s, nil
}

// OpenError is a Redis that did not answer when the run started.
type OpenError struct {
	URL string // without its password
	Err error
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("--limiter %s: cannot reach Redis: %v", e.URL, e.Err)
}

func (e *OpenError) Unwrap() error { return e.Err }

// Hint says what to do about it.
func (e *OpenError) Hint() string {
	return "check that Redis runs there and that the URL and its password are right, or leave out --limiter (and RTSEG_LIMITER) to hold the limits in this process alone"
}

// String is the Redis URL, without its password, and the key.
func (s *Store) String() string { return fmt.Sprintf("Redis %s (key %s)", s.shown, s.key) }

// Close closes the connections to Redis.
func (s *Store) Close() error { return s.client.Close() }

// Reserve implements uploader.Store.
func (s *Store) Reserve(ctx context.Context, a uploader.Ask) (uploader.Reservation, error) {
	if a.Users < 1 || a.Users > a.UserLimit || a.PostLimit < 1 || a.Span <= 0 {
		return uploader.Reservation{}, fmt.Errorf("ask of %d users under limits of %d calls and %d users per %v cannot be met", a.Users, a.PostLimit, a.UserLimit, a.Span)
	}
	id, _ := s.runID.Load().(string)
	r, err := reserveScript.Run(ctx, s.client, s.keys,
		a.Users, a.PostLimit, a.UserLimit, micros(a.Hold), micros(uploader.StoreWarmUp), id).Int64Slice()
	if err != nil {
		return uploader.Reservation{}, err
	}
	if len(r) != 2 {
		return uploader.Reservation{}, errors.New("unexpected answer from the reservation script")
	}
	// The ID names the Redis too: one restarted numbers its calls anew,
	// and must not take a call reserved before for one of its own.
	return uploader.Reservation{Wait: time.Duration(r[0]) * time.Microsecond, ID: strconv.FormatInt(r[1], 10) + "@" + id}, nil
}

// splitID splits a Reservation's ID into the call's number and the run_id
// of the Redis that reserved it.
func splitID(id string) (seq, run string) {
	seq, run, _ = strings.Cut(id, "@")
	return seq, run
}

// Confirm implements uploader.Store.
func (s *Store) Confirm(ctx context.Context, a uploader.Ask, id string) (time.Duration, bool, error) {
	seq, run := splitID(id)
	r, err := confirmScript.Run(ctx, s.client, s.keys, seq, a.Users, micros(a.Hold), a.PostLimit, a.UserLimit, run).Int64Slice()
	if err != nil {
		return 0, false, err
	}
	if len(r) != 2 {
		return 0, false, errors.New("unexpected answer from the confirmation script")
	}
	return time.Duration(r[1]) * time.Microsecond, r[0] == 1, nil
}

// Extend implements uploader.Store.
func (s *Store) Extend(ctx context.Context, id string, users int, hold time.Duration) error {
	seq, run := splitID(id)
	return extendScript.Run(ctx, s.client, s.keys, seq, users, micros(hold), run).Err()
}

// Answered implements uploader.Store.
func (s *Store) Answered(ctx context.Context, id string, users int, span time.Duration) error {
	seq, run := splitID(id)
	return answeredScript.Run(ctx, s.client, s.keys, seq, users, micros(span), run).Err()
}

// Pause implements uploader.Store.
func (s *Store) Pause(ctx context.Context, d time.Duration) error {
	return pauseScript.Run(ctx, s.client, s.keys, micros(d)).Err()
}

// runID finds run_id in the answer to INFO server.
func runID(info string) (string, bool) {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

func micros(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }
