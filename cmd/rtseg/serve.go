package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rtseg/rtseg/uploader/xandrtest"
	"github.com/spf13/cobra"
)

func (e *env) serveMockCommand() *cobra.Command {
	var (
		addr, token, username, password, stateOut string
		member                                    int64
		rps, ups, maxUsers, maxSegments, maxBytes int
		tokenExpiry                               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "serve-mock [flags]",
		Short: "Run a local emulator of the Instant Audience Service",
		Long: `serve-mock runs a local stand-in for the Instant Audience Service, for trying
rtseg without credentials and for tests. It answers POST /rt-segment with the
service's documented warnings and limits, POST /auth, and GET /state (the
user-segment associations it holds, as JSON). It stops on SIGINT or SIGTERM,
writing the state to --state-out if given.`,
		Example: `  rtseg serve-mock --addr 127.0.0.1:8080 --token secret &
  XANDR_TOKEN=secret rtseg upload --endpoint http://127.0.0.1:8080/rt-segment samples/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := []xandrtest.Option{
				xandrtest.WithMember(member),
				xandrtest.WithRateLimits(rps, ups),
				xandrtest.WithRequestLimits(maxUsers, maxSegments, maxBytes),
			}
			if token != "" {
				opts = append(opts, xandrtest.WithToken(token))
			}
			if username != "" {
				opts = append(opts, xandrtest.WithCredentials(username, password))
			}
			if tokenExpiry > 0 {
				opts = append(opts, xandrtest.WithTokenExpiry(tokenExpiry))
			}
			h := xandrtest.NewHandler(opts...)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			fmt.Fprintf(e.stdout, "rtseg: emulator listening on http://%s (POST /rt-segment, POST /auth, GET /state)\n", ln.Addr())
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
			}
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(shutdown)
			if stateOut != "" {
				f, err := os.Create(stateOut)
				if err != nil {
					return fmt.Errorf("--state-out: %w", err)
				}
				defer f.Close()
				if err := h.State().WriteJSON(f); err != nil {
					return fmt.Errorf("--state-out: %w", err)
				}
			}
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&token, "token", "", "accept this token without a login")
	f.StringVar(&username, "username", "", "accept logins at POST /auth with this username")
	f.StringVar(&password, "password", "", "and this password")
	f.Int64Var(&member, "member-id", 1234, "the member that tokens belong to")
	f.IntVar(&rps, "rps", 100, "POST calls per second per member, over every one-second window")
	f.IntVar(&ups, "users-per-second", 1000, "users per second per member, over every one-second window")
	f.IntVar(&maxUsers, "max-users", 1000, "users processed per request")
	f.IntVar(&maxSegments, "max-segments", 100, "segments processed per user")
	f.IntVar(&maxBytes, "max-bytes", 1_000_000, "request body limit in bytes")
	f.DurationVar(&tokenExpiry, "token-expiry", 0, "tokens expire this long after login (default: 24h, or 2h unused)")
	f.StringVar(&stateOut, "state-out", "", "write the final state here as JSON on exit")
	return cmd
}
