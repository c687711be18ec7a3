package xandrtest

import "time"

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

// WithTokenExpiry makes every token expire this long after it was issued.
func WithTokenExpiry(d time.Duration) Option {
	return func(c *config) { c.tokenMax = d }
}
