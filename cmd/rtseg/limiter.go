package main

import (
	"context"
	"log/slog"

	"github.com/rtseg/rtseg/uploader"
	"github.com/rtseg/rtseg/uploader/redislimit"
)

// limiter builds the limiter of POST calls and users: this process's own,
// or one shared through the Redis of --limiter (or RTSEG_LIMITER).
func (e *env) limiter(ctx context.Context, o *options, logger *slog.Logger) (*uploader.Limiter, func(), error) {
	url := o.limiter
	if url == "" {
		url = e.getenv("RTSEG_LIMITER")
	}
	if url == "" {
		l, err := uploader.NewLimiter(o.rps, o.usersPerSecond, uploader.LimitSpan, uploader.LimitJitter)
		return l, func() {}, err
	}
	store, err := redislimit.Open(ctx, url, o.limiterKey)
	if err != nil {
		return nil, nil, err
	}
	l, err := uploader.NewSharedLimiter(o.rps, o.usersPerSecond, uploader.LimitSpan,
		uploader.SharedConfig{Store: store, GiveUp: o.limiterWait, Logger: logger})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return l, func() { store.Close() }, nil
}
