package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// cmdWaitProcessed waits until the emulator has processed at least N calls:
// waitprocessed N. It gives up after a minute.
func cmdWaitProcessed(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: waitprocessed N")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	m := mockOf(ts)
	deadline := time.Now().Add(time.Minute)
	for m.srv.Stats().Processed < n {
		if time.Now().After(deadline) {
			ts.Fatalf("the emulator processed %d calls in a minute, want %d", m.srv.Stats().Processed, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cmdSigterm sends SIGTERM to the commands running in the background
// (testscript's kill knows only INT and KILL).
func cmdSigterm(ts *testscript.TestScript, neg bool, args []string) {
	cmds := ts.BackgroundCmds()
	if len(cmds) == 0 {
		ts.Fatalf("sigterm: nothing runs in the background")
	}
	for _, c := range cmds {
		ts.Check(c.Process.Signal(syscall.SIGTERM))
	}
}

// cmdRedelivered checks how many seg_blocks the emulator processed more than
// once over all runs: what it processed less the rows the last run's
// summary counts as accepted now or delivered before (skipped). It must be
// between 0 and MAX: redelivered SUMMARY.json MAX.
func cmdRedelivered(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: redelivered SUMMARY.json MAX")
	}
	var s struct {
		Accepted, Skipped, Warned int
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &s))
	limit, err := strconv.Atoi(args[1])
	ts.Check(err)
	processed := mockOf(ts).srv.Stats().Segments
	again := processed - s.Accepted - s.Skipped
	ts.Logf("the emulator processed %d seg_blocks; the summary has %d accepted and %d skipped: %d delivered twice", processed, s.Accepted, s.Skipped, again)
	if s.Warned != 0 || again < 0 || again > limit {
		ts.Fatalf("%d seg_blocks delivered twice (with %d warned), want 0 to %d", again, s.Warned, limit)
	}
}

// TestResumeNeverSendsAnEarlierValue runs rtseg upload --sorted twice on
// input whose user 1001 comes back with a later value for segment 1. In the
// first run the service refuses the request holding the earlier value and
// acknowledges the later one; the resumed run must not send the earlier
// value after it, and reports that row superseded by the later one.
func TestResumeNeverSendsAnEarlierValue(t *testing.T) {
	dir := t.TempDir()
	input := filepath.Join(dir, "in.csv")
	os.WriteFile(input, []byte("user_id,seg_id,value\n1001,1,1\n1002,1,5\n1001,1,2\n"), 0o644)
	emulator := xandrtest.NewHandler(xandrtest.WithToken("t0k3n"))
	var refuse atomic.Bool
	refuse.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if refuse.Load() && bytes.Contains(body, []byte(`"value":1}`)) {
			http.Error(w, `{"response":{"status":"error","error_id":"SYNTAX","error":"refused for the test"}}`, http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		emulator.ServeHTTP(w, r)
	}))
	defer srv.Close()

	upload := func(summary string) (int, string) {
		var stderr strings.Builder
		e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, signal: func() int { return 0 },
			getenv: func(k string) string { return map[string]string{"XANDR_TOKEN": "t0k3n"}[k] }}
		code := e.execute(t.Context(), []string{"upload", "--endpoint", srv.URL + "/rt-segment", "--sorted", "--max-users", "1",
			"--state-dir", filepath.Join(dir, "state"), "--report", filepath.Join(dir, "report.csv"), "--report-all",
			"--summary", filepath.Join(dir, summary), "--progress", "none", input})
		return code, stderr.String()
	}
	if code, stderr := upload("first.json"); code != exitRejected {
		t.Fatalf("first run: exit %d, want %d (one row refused)\n%s", code, exitRejected, stderr)
	}
	value := func() string {
		if v := emulator.State()[xandrtest.UserKey{UserID: "1001"}]["1"].Value; v != nil {
			return strconv.FormatInt(*v, 10)
		}
		return "none"
	}
	if got := value(); got != "2" {
		t.Fatalf("after the first run the emulator holds 1001 in segment 1 with value %s, want 2", got)
	}
	refuse.Store(false)
	if code, stderr := upload("second.json"); code != exitOK {
		t.Fatalf("resumed run: exit %d, want 0\n%s", code, stderr)
	}
	if got := value(); got != "2" {
		t.Errorf("after the resumed run the emulator holds 1001 in segment 1 with value %s, want 2: an earlier value was sent after a later one", got)
	}
	report, _ := os.ReadFile(filepath.Join(dir, "report.csv"))
	if want := "in.csv:4"; !strings.Contains(string(report), ",superseded,replaced by the later row for the same user and segment at "+input[:len(input)-len("in.csv")]+want) {
		t.Errorf("the resumed run's report does not say line 2 was superseded by line 4:\n%s", report)
	}
}
