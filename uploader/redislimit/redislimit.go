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
// construction, and the pacing keeps the rate even within the window.
//
// Moments are handed out in the order callers ask, each no earlier than
// the one before, so no process starves: each gets a share in proportion
// to the calls it has waiting. A moment reserved further ahead than
// uploader.ConfirmAhead is confirmed that long before it comes: it still
// stands if Redis kept it, no pause began that covers it, and it still fits
// among the calls reserved before it (one may have left late, and been
// extended to count from then). So a Redis that lost its state (restarted,
// or a replica promoted: its run_id differs from the one the state names)
// holds every caller back for uploader.StoreWarmUp: by then nothing it
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
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rtseg/rtseg/uploader"
)

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

var (
	reserveScript  = redis.NewScript(reserveLua)
	confirmScript  = redis.NewScript(confirmLua)
	pauseScript    = redis.NewScript(pauseLua)
	extendScript   = redis.NewScript(extendLua)
	answeredScript = redis.NewScript(answeredLua)
)

var quietLibrary sync.Once

// Store is the shared log in one Redis, under one key.
type Store struct {
	client *redis.Client
	shown  string   // the URL, its password redacted
	key    string   // --limiter-key
	keys   []string // the log of calls, the log of users, the state
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
		client: redis.NewClient(opt),
		shown:  shown,
		key:    key,
		keys:   []string{"{" + key + "}:calls", "{" + key + "}:users", "{" + key + "}:state"},
	}
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
	r, err := reserveScript.Run(ctx, s.client, s.keys,
		a.Users, a.PostLimit, a.UserLimit, micros(a.Span), micros(a.Hold), micros(a.Tolerance), micros(uploader.StoreWarmUp)).Int64Slice()
	if err != nil {
		return uploader.Reservation{}, err
	}
	if len(r) != 2 {
		return uploader.Reservation{}, errors.New("unexpected answer from the reservation script")
	}
	return uploader.Reservation{Wait: time.Duration(r[0]) * time.Microsecond, ID: strconv.FormatInt(r[1], 10)}, nil
}

// Confirm implements uploader.Store.
func (s *Store) Confirm(ctx context.Context, a uploader.Ask, id string) (time.Duration, bool, error) {
	r, err := confirmScript.Run(ctx, s.client, s.keys, id, a.Users, micros(a.Hold), a.PostLimit, a.UserLimit).Int64Slice()
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
	return extendScript.Run(ctx, s.client, s.keys[:2], id, users, micros(hold)).Err()
}

// Answered implements uploader.Store.
func (s *Store) Answered(ctx context.Context, id string, users int, span time.Duration) error {
	return answeredScript.Run(ctx, s.client, s.keys[:2], id, users, micros(span)).Err()
}

// Pause implements uploader.Store.
func (s *Store) Pause(ctx context.Context, d time.Duration) error {
	return pauseScript.Run(ctx, s.client, s.keys, micros(d)).Err()
}

func micros(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }
