package main

import (
	"encoding/json"
	"strconv"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
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
