package xandrtest

import (
	"fmt"
	"time"
)

// config holds the emulator's settings; options change them.
type config struct {
	member      int64
	tokens      map[string]bool
	username    string
	password    string
	maxUsers    int
	maxSegments int
	maxBytes    int
	rps         int
	ups         int
	tokenIdle   time.Duration
	tokenMax    time.Duration
	logins      int           // logins allowed per loginSpan
	loginSpan   time.Duration // the window logins are counted over
	faults      Faults
	seed        uint64
	now         func() time.Time
	api         apiConfig // the Segment Service and usage statistics (segments.go)
}

func defaultConfig() config {
	return config{
		member:      1234,
		tokens:      map[string]bool{},
		maxUsers:    1000,
		maxSegments: 100,
		maxBytes:    1_000_000,
		rps:         100,
		ups:         1000,
		tokenIdle:   2 * time.Hour,
		tokenMax:    24 * time.Hour,
		logins:      10,
		loginSpan:   5 * time.Minute,
		seed:        1,
		now:         time.Now,
	}
}

// Option changes how the emulator behaves.
type Option func(*config)

// WithToken makes the emulator accept a ready-made token, as if issued by a
// login of the emulator's member.
func WithToken(token string) Option {
	return func(c *config) { c.tokens[token] = true }
}

// WithCredentials makes POST /auth accept this username and password.
func WithCredentials(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// WithMember sets the member ID that tokens belong to (default 1234).
func WithMember(id int64) Option {
	return func(c *config) { c.member = id }
}

// WithRateLimits lowers (or raises) the per-member limits: POST calls per
// second and users per second, each over every one-second window.
func WithRateLimits(postsPerSecond, usersPerSecond int) Option {
	return func(c *config) { c.rps, c.ups = postsPerSecond, usersPerSecond }
}

// WithRequestLimits changes the per-request limits: users per request,
// segments per user and body bytes.
func WithRequestLimits(users, segments, bytes int) Option {
	return func(c *config) { c.maxUsers, c.maxSegments, c.maxBytes = users, segments, bytes }
}

// WithTokenExpiry makes every token expire this long after it was issued
// (tokens given with WithToken: after the emulator started). The service's
// tokens live 24 hours at most.
func WithTokenExpiry(d time.Duration) Option {
	return func(c *config) { c.tokenMax = d }
}

// WithLoginLimit sets how many logins POST /auth allows in every window of
// per; more are answered with HTTP 429. The API allows 10 per 5 minutes,
// the default.
func WithLoginLimit(n int, per time.Duration) Option {
	return func(c *config) { c.logins, c.loginSpan = n, per }
}

// Faults are failures the emulator injects into POST /rt-segment calls that
// pass authentication and the rate limits. Each such call draws one number
// from the emulator's seeded generator and meets at most one fault; the
// fractions should add up to at most 1.
type Faults struct {
	// Unavailable is the fraction of calls answered HTTP 503 without being
	// processed.
	Unavailable float64
	// RateLimitCode makes those 503s carry an x-ratelimit-code header, as
	// the API does when it throttles with a 503.
	RateLimitCode bool
	// Dropped is the fraction of calls processed (the state changes) whose
	// connection is then closed without an answer.
	Dropped float64
	// Slow is the fraction of calls processed at once but answered only
	// after SlowBy, or never if the caller gives up first.
	Slow   float64
	SlowBy time.Duration
	// Latency delays the answer to every POST /rt-segment call, as a
	// service far away does: the call is counted against the limits and
	// processed when it arrives, and its answer leaves Latency later, or,
	// when LatencyMax is above Latency, after a delay drawn evenly between
	// the two. It adds to a slow call's delay, and applies to refusals too.
	Latency, LatencyMax time.Duration
}

// WithFaults injects faults.
func WithFaults(f Faults) Option {
	return func(c *config) { c.faults = f }
}

// WithSeed seeds the generator that decides which calls meet a fault, so
// that a run's faults can be reproduced (default 1).
func WithSeed(seed uint64) Option {
	return func(c *config) { c.seed = seed }
}

// Check refuses fractions outside 0..1 or adding up to more than 1, naming
// rtseg serve-mock's flags.
func (f Faults) Check() error {
	for _, x := range []struct {
		name string
		v    float64
	}{{"--fault-503", f.Unavailable}, {"--fault-drop", f.Dropped}, {"--fault-slow", f.Slow}} {
		if x.v < 0 || x.v > 1 {
			return fmt.Errorf("%s %v: want a fraction from 0 to 1", x.name, x.v)
		}
	}
	if sum := f.Unavailable + f.Dropped + f.Slow; sum > 1 {
		return fmt.Errorf("--fault-503, --fault-drop and --fault-slow add up to %v: each call meets at most one fault, so they must add up to at most 1", sum)
	}
	if f.Latency < 0 {
		return fmt.Errorf("--latency %v: want a duration of at least 0", f.Latency)
	}
	if f.LatencyMax != 0 && f.LatencyMax < f.Latency {
		return fmt.Errorf("--latency-max %v: want at least --latency %v", f.LatencyMax, f.Latency)
	}
	if f.Slow > 0 && f.SlowBy <= 0 {
		return fmt.Errorf("--fault-slow-by %v: want a positive duration", f.SlowBy)
	}
	return nil
}
