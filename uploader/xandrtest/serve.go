package xandrtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// Serve answers on ln until ctx is done, then shuts down, giving calls in
// progress five seconds, and writes the state to stateOut unless it is "".
func (h *Handler) Serve(ctx context.Context, ln net.Listener, stateOut string) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	if stateOut != "" {
		if err := h.writeStateFile(stateOut); err != nil {
			return fmt.Errorf("--state-out: %w", err)
		}
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (h *Handler) writeStateFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := h.State().WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
