package main

import (
	"fmt"
	"net"
	"time"

	"github.com/rtseg/rtseg/uploader/xandrtest"
	"github.com/spf13/cobra"
)

func (e *env) serveMockCommand() *cobra.Command {
	var (
		addr, token, username, password, stateOut string
		member                                    int64
		rps, ups, maxUsers, maxSegments, maxBytes int
		tokenExpiry, loginSpan                    time.Duration
		logins                                    int
		faults                                    xandrtest.Faults
		seed                                      uint64
	)
	cmd := &cobra.Command{
		Use:   "serve-mock [flags]",
		Short: "Run a local emulator of the Instant Audience Service",
		Long: `serve-mock runs a local stand-in for the Instant Audience Service, for trying
rtseg without credentials and for tests. It answers POST /rt-segment with the
service's documented warnings and limits, POST /auth, and GET /state (the
user-segment associations it holds, as JSON). It stops on SIGINT or SIGTERM,
writing the state to --state-out if given.

The --fault-* flags make it misbehave as a real service sometimes does, to
see that no row is lost: answers of HTTP 503, connections dropped after the
request was processed, answers slower than the client waits, tokens that
expire (--token-expiry), lower limits (--rps, --users-per-second) and
answers that come back late as from a distant region (--latency). Each
call meets at most one fault, drawn from a generator seeded by --fault-seed,
so a run's faults can be reproduced.`,
		Example: `  rtseg serve-mock --addr 127.0.0.1:8080 --token secret &
  XANDR_TOKEN=secret rtseg upload --endpoint http://127.0.0.1:8080/rt-segment samples/

  # A flaky, slower service: 10% 503s, 5% dropped, 5% answered after 40s
  rtseg serve-mock --token secret --fault-503 0.1 --fault-drop 0.05 \
    --fault-slow 0.05 --fault-slow-by 40s --token-expiry 10m --rps 20 --users-per-second 200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := faults.Check(); err != nil {
				return usageError(cmd, "%v", err)
			}
			if rps < 1 || ups < 1 || logins < 1 || loginSpan <= 0 {
				return usageError(cmd, "--rps, --users-per-second and --login-limit must be at least 1, and --login-span positive")
			}
			opts := []xandrtest.Option{
				xandrtest.WithMember(member),
				xandrtest.WithRateLimits(rps, ups),
				xandrtest.WithRequestLimits(maxUsers, maxSegments, maxBytes),
				xandrtest.WithLoginLimit(logins, loginSpan),
				xandrtest.WithFaults(faults),
				xandrtest.WithSeed(seed),
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
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "rtseg: emulator listening on http://%s (POST /rt-segment, POST /auth, GET /state)\n", ln.Addr())
			return xandrtest.NewHandler(opts...).Serve(cmd.Context(), ln, stateOut)
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
	f.IntVar(&logins, "login-limit", 10, "logins allowed per --login-span; more are answered 429")
	f.DurationVar(&loginSpan, "login-span", 5*time.Minute, "the window --login-limit counts over")
	f.Float64Var(&faults.Unavailable, "fault-503", 0, "fraction of calls answered HTTP 503 without processing them (0 to 1)")
	f.BoolVar(&faults.RateLimitCode, "fault-503-ratelimit", false, "those 503s carry an x-ratelimit-code header, as when the API throttles")
	f.Float64Var(&faults.Dropped, "fault-drop", 0, "fraction of calls processed, then dropped without an answer")
	f.Float64Var(&faults.Slow, "fault-slow", 0, "fraction of calls processed, then answered only after --fault-slow-by")
	f.DurationVar(&faults.SlowBy, "fault-slow-by", 40*time.Second, "how late slow calls are answered")
	f.DurationVar(&faults.Latency, "latency", 0, "answer every call this late, as a service far away does (counted and applied on arrival)")
	f.DurationVar(&faults.LatencyMax, "latency-max", 0, "answer each call after a delay drawn evenly from --latency to this")
	f.Uint64Var(&seed, "fault-seed", 1, "seed of the generator that picks the calls that meet a fault")
	f.StringVar(&stateOut, "state-out", "", "write the final state here as JSON on exit")
	return cmd
}
