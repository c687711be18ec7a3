package uploader

import (
	"errors"
	"testing"
	"time"
)

// Settings out of range are refused by the constructors, each with a
// message naming the flag to change.
func TestSettingErrors(t *testing.T) {
	limiter := func(posts, users int) *Limiter {
		l, err := NewLimiter(posts, users, time.Second, 0)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	valid := func(change func(*Config)) func() error {
		return func() error {
			cfg := Config{Endpoint: "https://streaming-data.example/rt-segment", Auth: StaticToken{}, Workers: 8, MaxRetries: 8, Timeout: time.Second}
			change(&cfg)
			_, err := New(cfg)
			return err
		}
	}
	tests := []struct {
		name     string
		build    func() error
		wantFlag string
		want     string
	}{
		{"too many workers", valid(func(c *Config) { c.Workers = 20 }), "--workers",
			"--workers must be 1 to 14 (the API allows 15 concurrent calls, and logging in may need one), not 20"},
		{"no workers", valid(func(c *Config) { c.Workers = 0 }), "--workers",
			"--workers must be 1 to 14 (the API allows 15 concurrent calls, and logging in may need one), not 0"},
		{"negative retries", valid(func(c *Config) { c.MaxRetries = -1 }), "--max-retries",
			"--max-retries must be at least 0, not -1"},
		{"no timeout", valid(func(c *Config) { c.Timeout = 0 }), "--timeout",
			"--timeout must be positive, not 0s"},
		{"requests larger than the users limit", valid(func(c *Config) { c.MaxUsers, c.Limiter = 2000, limiter(100, 1000) }), "--max-users",
			"--max-users 2000 is more than --users-per-second 1000: a request could never be sent"},
		{"no POST calls", func() error { _, err := NewLimiter(0, 1000, time.Second, 0); return err }, "--rps",
			"--rps must be at least 1, not 0"},
		{"no users", func() error { _, err := NewLimiter(100, -5, time.Second, 0); return err }, "--users-per-second",
			"--users-per-second must be at least 1, not -5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.build()
			var se *SettingError
			if !errors.As(err, &se) || se.Flag != tt.wantFlag {
				t.Fatalf("error %v, want a *SettingError for %s", err, tt.wantFlag)
			}
			if err.Error() != tt.want {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
	// At the edges, the settings are taken.
	for name, build := range map[string]func() error{
		"14 workers, no retries":          valid(func(c *Config) { c.Workers, c.MaxRetries = MaxWorkers, 0 }),
		"requests as large as the limit":  valid(func(c *Config) { c.MaxUsers, c.Limiter = 1000, limiter(1, 1000) }),
		"no limiter, any size of request": valid(func(c *Config) { c.MaxUsers = 1 << 20 }),
		"limits of one call and one user": func() error { _, err := NewLimiter(1, 1, time.Second, 0); return err },
	} {
		if err := build(); err != nil {
			t.Errorf("%s: %v, want no error", name, err)
		}
	}
}
