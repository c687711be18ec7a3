package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"rtseg": func() { os.Exit(run(os.Args[1:])) },
	})
}

// TestScripts runs cmd/rtseg/testdata/script/*.txtar: each starts the real
// rtseg binary against an emulator on loopback and checks what a user sees.
func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams("testdata/script"))
}

// scriptParams is how every script directory runs: the same set-up, and
// the same commands.
func scriptParams(dir string) testscript.Params {
	return testscript.Params{
		Dir: dir,
		Setup: func(env *testscript.Env) error {
			env.Values[mockKey{}] = &mockSlot{}
			env.Values[redisKey{}] = &redisSlot{}
			env.Values[clockKey{}] = &clockSlot{}
			env.Values[gatewayKey{}] = &gatewaySlot{}
			env.Values[storesKey{}] = storesSlot{}
			// The state that uploading samples/ must leave, shared by scripts.
			state, err := filepath.Abs("testdata/samples-state.json")
			if err != nil {
				return err
			}
			env.Setenv("SAMPLES_STATE", state)
			// Scripts run in $WORK; give them the samples as the README's
			// demo sees them.
			return os.CopyFS(env.WorkDir+"/samples", os.DirFS("../../samples"))
		},
		Condition: scriptCondition,
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"mock":       cmdMock,
			"state":      cmdState,
			"holds":      cmdHolds,
			"stats":      cmdStats,
			"limits":     cmdLimits,
			"reconciles": cmdReconciles,
			"pty":        cmdPty,
			"nosecrets":  cmdNoSecrets,
			"site":       cmdSite, // site_script_test.go
			// resume_test.go
			"waitprocessed": cmdWaitProcessed,
			"sigterm":       cmdSigterm,
			"redelivered":   cmdRedelivered,
			"gen":           cmdGen,
			"summary":       cmdSummary,
			"near":          cmdNear,
			"chunker":       cmdChunker, // chunker_test.go
			"parquet":       cmdParquet,
			"rows":          cmdRows, // reader_script_test.go
			"poke":          cmdPoke,
			"reportparquet": cmdReportParquet,
			// files_script_test.go
			"users":    cmdUsers,
			"gzip":     cmdGzip,
			"zstd":     cmdZstd, // files_script_test.go
			"corrupt":  cmdCorrupt,
			"samesize": cmdSameSize,
			"holdlock": cmdHoldLock,
			// sync_script_test.go
			"snapshot":   cmdSnapshot,
			"statefile":  cmdStateFile,
			"staterows":  cmdStateRows,
			"csvhead":    cmdCSVHead,
			"samecounts": cmdSameCounts,
			// metrics_script_test.go
			"prom":          cmdProm,
			"promsummary":   cmdPromSummary,
			"pushgateway":   cmdPushgateway,
			"pushes":        cmdPushes,
			"pushedsummary": cmdPushedSummary,
			// page_script_test.go
			"pagetotals": cmdPageTotals,
			// limiter_script_test.go
			"redis":   cmdRedis,
			"clock":   cmdClock,
			"fair":    cmdFair,
			"elapsed": cmdElapsed,
			// objstore_script_test.go
			"objects": cmdObjects,
			"peakrss": cmdPeakRSS,
			"wide":    cmdWide,
		},
	}
}

type mockKey struct{}

// mockSlot holds a script's emulator, once 'mock' has started it.
type mockSlot struct{ m *mock }

type mock struct {
	srv                              *xandrtest.Server
	rps, ups, users, segments, bytes int
}

func mockOf(ts *testscript.TestScript) *mock {
	m := ts.Value(mockKey{}).(*mockSlot).m
	if m == nil {
		ts.Fatalf("no emulator: run 'mock' first")
	}
	return m
}

// cmdMock starts an emulator: mock [token=T[,T2...]] [login=USER:PASS]
// [rate=POSTS,USERS] [limits=USERS,SEGMENTS,BYTES] [expiry=DURATION]
// [segments=|inactive=|other=|fresh=SEG,...] (see mockSegments),
// [logins=N/DURATION], and faults: [503=FRACTION] [ratelimit-code]
// [drop=FRACTION] [slow=FRACTION:DURATION] [seed=N], and every answer
// late: [latency=DURATION] or [latency=MIN-MAX].
// It sets $ENDPOINT (the rt-segment URL) and $API (the API base).
func cmdMock(ts *testscript.TestScript, neg bool, args []string) {
	m := &mock{rps: 100, ups: 1000, users: 1000, segments: 100, bytes: 1_000_000}
	var opts []xandrtest.Option
	var faults xandrtest.Faults
	fraction := func(v string) float64 {
		f, err := strconv.ParseFloat(v, 64)
		ts.Check(err)
		return f
	}
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "token":
			for _, t := range strings.Split(v, ",") {
				opts = append(opts, xandrtest.WithToken(t))
			}
		case "login":
			u, p, _ := strings.Cut(v, ":")
			opts = append(opts, xandrtest.WithCredentials(u, p))
		case "rate":
			n := ints(ts, v, 2)
			m.rps, m.ups = n[0], n[1]
		case "limits":
			n := ints(ts, v, 3)
			m.users, m.segments, m.bytes = n[0], n[1], n[2]
		case "expiry":
			d, err := time.ParseDuration(v)
			ts.Check(err)
			opts = append(opts, xandrtest.WithTokenExpiry(d))
		case "segments", "inactive", "other", "fresh":
			opts = append(opts, xandrtest.WithSegments(mockSegments(ts, k, v)...))
		case "logins":
			n, per, _ := strings.Cut(v, "/")
			count, err := strconv.Atoi(n)
			ts.Check(err)
			d, err := time.ParseDuration(per)
			ts.Check(err)
			opts = append(opts, xandrtest.WithLoginLimit(count, d))
		case "503":
			faults.Unavailable = fraction(v)
		case "ratelimit-code":
			faults.RateLimitCode = true
		case "drop":
			faults.Dropped = fraction(v)
		case "slow":
			f, d, _ := strings.Cut(v, ":")
			faults.Slow = fraction(f)
			var err error
			faults.SlowBy, err = time.ParseDuration(d)
			ts.Check(err)
		case "latency":
			lo, hi, _ := strings.Cut(v, "-")
			var err error
			faults.Latency, err = time.ParseDuration(lo)
			ts.Check(err)
			if hi != "" {
				faults.LatencyMax, err = time.ParseDuration(hi)
				ts.Check(err)
			}
		case "seed":
			n, err := strconv.ParseUint(v, 10, 64)
			ts.Check(err)
			opts = append(opts, xandrtest.WithSeed(n))
		default:
			ts.Fatalf("mock: unknown option %q", a)
		}
	}
	opts = append(opts, xandrtest.WithFaults(faults),
		xandrtest.WithRateLimits(m.rps, m.ups), xandrtest.WithRequestLimits(m.users, m.segments, m.bytes))
	m.srv = xandrtest.NewServer(opts...)
	ts.Defer(m.srv.Close)
	ts.Value(mockKey{}).(*mockSlot).m = m
	ts.Setenv("ENDPOINT", m.srv.URL+"/rt-segment")
	ts.Setenv("API", m.srv.URL)
}

func ints(ts *testscript.TestScript, s string, n int) []int {
	parts := strings.Split(s, ",")
	if len(parts) != n {
		ts.Fatalf("want %d numbers in %q", n, s)
	}
	out := make([]int, n)
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		ts.Check(err)
		out[i] = v
	}
	return out
}

// cmdState compares the emulator's state with JSON files in the format of
// GET /state: state want.json [more.json...], the users of several files
// (of different users) taken together.
func cmdState(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: state want.json [more.json...]")
	}
	var b strings.Builder
	ts.Check(mockOf(ts).srv.State().WriteJSON(&b))
	var got any
	ts.Check(json.Unmarshal([]byte(b.String()), &got))
	var users []map[string]any
	for _, f := range args {
		var part []map[string]any
		ts.Check(json.Unmarshal([]byte(ts.ReadFile(f)), &part))
		users = append(users, part...)
	}
	// In the order of GET /state: by domain, then user ID.
	sort.SliceStable(users, func(i, j int) bool {
		di, _ := users[i]["domain"].(string)
		dj, _ := users[j]["domain"].(string)
		if di != dj {
			return di < dj
		}
		return fmt.Sprint(users[i]["user_id"]) < fmt.Sprint(users[j]["user_id"])
	})
	want := make([]any, len(users))
	for i, u := range users {
		want[i] = u
	}
	if equal := reflect.DeepEqual(got, any(want)); equal == neg {
		ts.Fatalf("emulator state:\n%s\nwant (neg=%v) the users of %s", b.String(), neg, strings.Join(args, ", "))
	}
}

// cmdHolds checks that the emulator holds a user in a segment (given by
// ID, or as MEMBER:CODE): holds [DOMAIN:]USER SEGMENT; '! holds' that it
// does not.
func cmdHolds(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: holds [DOMAIN:]USER SEGMENT")
	}
	key := xandrtest.UserKey{UserID: args[0]}
	if d, u, ok := strings.Cut(args[0], ":"); ok {
		key = xandrtest.UserKey{Domain: d, UserID: u}
	}
	_, held := mockOf(ts).srv.State()[key][args[1]]
	if held == neg {
		ts.Fatalf("emulator holds %s in segment %s: %v, want %v", args[0], args[1], held, !neg)
	}
}

// cmdStats prints what the emulator saw, as JSON, for stdout checks. It
// cannot be negated.
func cmdStats(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! stats")
	}
	b, err := json.MarshalIndent(mockOf(ts).srv.Stats(), "", "  ")
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%s\n", b)
}

// cmdLimits fails if the emulator saw any limit exceeded: POST calls or users
// in a one-second window, users in a request, segments for a user, bytes in
// a body, calls at once, or a call answered 429 (under the race detector,
// the windows and 429s are only logged). '! limits' fails unless one was.
func cmdLimits(ts *testscript.TestScript, neg bool, args []string) {
	m := mockOf(ts)
	s := m.srv.Stats()
	// over lists what a request carried past a limit; late, the windows
	// that counted too much and the calls refused for it.
	var over, late []string
	check := func(to *[]string, name string, got, limit int) {
		if got > limit {
			*to = append(*to, fmt.Sprintf("%s = %d, over the limit of %d", name, got, limit))
		}
	}
	check(&late, "POST calls in one second", s.MaxPostsInWindow, m.rps)
	check(&late, "users in one second", s.MaxUsersInWindow, m.ups)
	check(&over, "users in one request", s.MaxUsersInRequest, m.users)
	check(&over, "segments for one user", s.MaxSegmentsForUser, m.segments)
	check(&over, "bytes in one body", s.MaxBodyBytes, m.bytes)
	check(&over, "calls at once", s.MaxInFlight, 15) // the API's limit
	if s.Throttled > 0 {
		late = append(late, fmt.Sprintf("%d calls answered with 429", s.Throttled))
	}
	// The windows hold while delays on the way stay within the limiter's
	// allowance; the race detector stalls rtseg and the emulator for
	// longer. .ci/run runs every script without it as well, where the
	// windows are checked.
	if raceBuild && !neg && len(late) > 0 {
		ts.Logf("under the race detector, not checked: emulator saw %s", strings.Join(late, "; "))
		late = nil
	}
	over = append(over, late...)
	switch {
	case len(over) > 0 && !neg:
		ts.Logf("the busiest second's calls, as the emulator counted them:\n%s", busiestSecond(m.srv.Arrivals()))
		ts.Fatalf("emulator saw %s", strings.Join(over, "; "))
	case len(over) == 0 && neg:
		ts.Fatalf("emulator saw every limit kept, want one exceeded")
	case neg:
		ts.Logf("emulator saw %s", strings.Join(over, "; "))
	}
}

// busiestSecond lists the calls of the one-second window that counted the
// most, each with its time from the window's start, token and users: when
// a limit is broken, it shows who sent them and how they bunched.
func busiestSecond(arrivals []xandrtest.Arrival) string {
	slices.SortFunc(arrivals, func(a, b xandrtest.Arrival) int { return a.At.Compare(b.At) })
	first, n := 0, 0
	for i, j := 0, 0; i < len(arrivals); i++ {
		for arrivals[i].At.Sub(arrivals[j].At) >= time.Second {
			j++
		}
		if i-j+1 > n {
			first, n = j, i-j+1
		}
	}
	var b strings.Builder
	for _, a := range arrivals[first : first+n] {
		fmt.Fprintf(&b, "  +%v %s %d users\n", a.At.Sub(arrivals[first].At).Round(time.Millisecond), a.Token, a.Users)
	}
	return b.String()
}

// cmdReconciles checks a summary: rows_read equals the sum of the outcomes.
func cmdReconciles(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: reconciles summary.json")
	}
	var s map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &s))
	n := func(k string) int64 {
		v, _ := s[k].(float64)
		return int64(v)
	}
	sum := n("accepted") + n("invalid") + n("superseded") + n("warned") + n("failed") + n("skipped") + n("valid") + n("unchanged")
	if ok := n("rows_read") == sum; ok == neg {
		ts.Fatalf("rows_read %d, outcomes add up to %d", n("rows_read"), sum)
	}
}
