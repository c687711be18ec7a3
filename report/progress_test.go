package report

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader"
)

// requestOf is a request of n rows, one user each, from line first on.
func requestOf(seq, first, n int) *chunker.Request {
	req := &chunker.Request{Seq: seq, Body: []byte(`{}`)}
	for i := range n {
		line := int64(first + i)
		req.Entries = append(req.Entries, chunker.Entry{User: reader.User{ID: fmt.Sprint(line)},
			Rows: []reader.Row{row(line, fmt.Sprint(line), 10, 60)}})
	}
	return req
}

// TestProgressLog checks the non-terminal mode: a log line per interval
// naming the phase, with the share of rows accounted for, not of rows read:
// while unsorted input is grouped nothing is done, whatever was read; then
// requests answered count, and the time left follows their pace.
func TestProgressLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		rec := NewRecorder(RecorderConfig{Command: "upload"})
		var read atomic.Int64
		p := StartProgress(ProgressConfig{
			Log: slog.New(slog.NewTextHandler(&logs, nil)), Interval: 10 * time.Second,
			TotalBytes: 1000, BytesRead: read.Load, Sends: true,
		}, rec)
		rec.SetPhase(chunker.Grouping)
		rec.Read(50)
		read.Store(250)
		time.Sleep(15 * time.Second) // a line at 10s
		rec.Read(150)
		read.Store(1000)
		rec.SetPhase(chunker.Packing)
		var reqs []*chunker.Request
		for i := range 4 {
			req := requestOf(i, 2+50*i, 50)
			rec.Queued(req)
			reqs = append(reqs, req)
		}
		rec.SetPhase(chunker.Packed)
		for _, req := range reqs[:3] {
			rec.Sent(uploader.Result{Request: req, Attempts: 1})
			time.Sleep(10 * time.Second) // lines at 20s, 30s and 40s
		}
		synctest.Wait()
		rec.Sent(uploader.Result{Request: reqs[3], Attempts: 1})
		rec.Close()
		p.Stop()

		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 5 {
			t.Fatalf("after 45s at a 10s interval and a stop, got %d log lines, want 5:\n%s", len(lines), logs.String())
		}
		for i, want := range [][]string{
			{"msg=progress", "phase=grouping", "rows_read=50", "rows_done=0", "rows_total_estimate=200", "percent=0", "bytes_read=250", "total_bytes=1000"},
			{"phase=sending", "rows_read=200", "rows_done=50", "rows_total=200", "percent=25", "in_flight=3"},
			{"phase=sending", "rows_done=100", "percent=50", "rows_per_second=5", "time_left=20s"},
			{"phase=sending", "rows_done=150", "percent=75", "in_flight=1", "time_left=10s"},
			{`msg="progress: finished"`, "phase=done", "rows_done=200", "rows_total=200", "percent=100", "in_flight=0"},
		} {
			for _, w := range want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("progress line %d lacks %q: %s", i+1, w, lines[i])
				}
			}
		}
		if strings.Contains(lines[0], "time_left") || strings.Contains(lines[1], "time_left") {
			t.Errorf("a time left before any pace of delivery is known:\n%s", logs.String())
		}
	})
}

// TestProgressBar checks the terminal mode: a spinner with the rows read
// while their total is unknown, then a bar filled to the rows accounted
// for, short of 100% while a request is outstanding, and whole at the end;
// no log lines.
func TestProgressBar(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out, logs bytes.Buffer
		rec := NewRecorder(RecorderConfig{Command: "upload"})
		p := StartProgress(ProgressConfig{
			Bar: true, Out: &out, Log: slog.New(slog.NewTextHandler(&logs, nil)), Interval: 10 * time.Second,
			TotalBytes: -1, Sends: true,
		}, rec)
		rec.SetPhase(chunker.Grouping)
		rec.Read(100)
		time.Sleep(time.Second)
		synctest.Wait()
		if got := out.String(); !strings.Contains(got, "grouping: 100 rows read, 0 done") || strings.Contains(got, "%") {
			t.Errorf("bar while grouping input of unknown size: want the rows read and no share:\n%q", got)
		}
		out.Reset()

		rec.SetPhase(chunker.Packing)
		var reqs []*chunker.Request
		for i := range 100 {
			req := requestOf(i, 2+i, 1)
			rec.Queued(req)
			reqs = append(reqs, req)
		}
		for _, req := range reqs[:50] {
			rec.Sent(uploader.Result{Request: req, Attempts: 1})
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := out.String(); !strings.Contains(got, " 50% |") || !strings.Contains(got, "sending: 50 of 100 rows done, 50 users sent, 50 in flight") {
			t.Errorf("bar with half the rows answered lacks 50%% and the phase:\n%q", got)
		}
		for _, req := range reqs[50:99] {
			rec.Sent(uploader.Result{Request: req, Attempts: 1})
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := out.String(); !strings.Contains(got, " 99% |") || strings.Contains(got, "100%") {
			t.Errorf("bar with one request outstanding: want 99%%, not 100%%:\n%q", got)
		}
		rec.Sent(uploader.Result{Request: reqs[99], Attempts: 1})
		rec.Close()
		p.Stop()
		if got := out.String(); !strings.Contains(got, "100% |") || !strings.Contains(got, "done: 100 of 100 rows done") {
			t.Errorf("bar after stop lacks 100%% and done:\n%q", got)
		}
		if logs.Len() != 0 {
			t.Errorf("bar mode also logged:\n%s", logs.String())
		}
	})
}

// TestRate checks the pace over the last window of a phase.
func TestRate(t *testing.T) {
	r := rate{window: 30 * time.Second}
	t0 := time.Unix(0, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	r.add(at(0), chunker.Grouping, 0)
	r.add(at(5), chunker.Grouping, 10)
	if got := r.perSecond(); got != 2 {
		t.Errorf("10 in 5s: %v a second, want 2", got)
	}
	r.add(at(6), chunker.Packing, 10)
	if got := r.perSecond(); got != 0 {
		t.Errorf("a new phase: %v a second, want 0 until a second has passed", got)
	}
	for s := 7; s <= 100; s++ {
		n := int64(10 + (s-6)*100)
		if s > 60 {
			n = int64(10+54*100) + int64(s-60)*10
		}
		r.add(at(s), chunker.Packing, n)
	}
	if got := r.perSecond(); got != 10 {
		t.Errorf("10 a second over the last 40s after 100 a second before: %v a second, want 10 over the last 30s", got)
	}
}

func TestNewProgressConfig(t *testing.T) {
	for _, tc := range []struct {
		mode     string
		terminal bool
		none     bool
		bar      bool
	}{
		{"auto", true, false, true},
		{"", false, false, false},
		{"bar", false, false, true},
		{"log", true, false, false},
		{"none", true, true, false},
	} {
		cfg, err := NewProgressConfig(tc.mode, io.Discard, tc.terminal, nil)
		if err != nil || (cfg == nil) != tc.none || cfg != nil && cfg.Bar != tc.bar {
			t.Errorf("NewProgressConfig(%q, terminal %v) = %+v, %v; want none %v, bar %v", tc.mode, tc.terminal, cfg, err, tc.none, tc.bar)
		}
	}
	if _, err := NewProgressConfig("fancy", io.Discard, true, nil); err == nil || !strings.Contains(err.Error(), "--progress \"fancy\"") {
		t.Errorf("NewProgressConfig(fancy) = %v, want an error naming --progress", err)
	}
	if _, err := NewLogger("xml", io.Discard); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("NewLogger(xml) = %v, want an error naming --log-format", err)
	}
}
