package report

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestProgressLog checks the non-terminal mode: one log line per interval,
// with the counts so far, and a last line when stopped.
func TestProgressLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		rec := NewRecorder(RecorderConfig{Command: "upload"})
		var read atomic.Int64
		p := StartProgress(ProgressConfig{
			Log: slog.New(slog.NewTextHandler(&logs, nil)), Interval: 10 * time.Second,
			TotalBytes: 1000, BytesRead: read.Load, UsersPerSecond: 100,
		}, rec)
		rec.Read(50)
		read.Store(250)
		time.Sleep(25 * time.Second)
		synctest.Wait()
		p.Stop()
		rec.Close()

		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 3 {
			t.Fatalf("after 25s at a 10s interval and a stop, got %d log lines, want 3:\n%s", len(lines), logs.String())
		}
		for _, want := range []string{"msg=progress", "rows_read=50", "bytes_read=250", "total_bytes=1000", "time_left="} {
			if !strings.Contains(lines[0], want) {
				t.Errorf("first progress line lacks %q: %s", want, lines[0])
			}
		}
		if !strings.Contains(lines[2], `msg="progress: finished"`) {
			t.Errorf("last line is not the final one: %s", lines[2])
		}
	})
}

// TestProgressBar checks the terminal mode: a bar with the input's progress
// and the counts, and no log lines.
func TestProgressBar(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out, logs bytes.Buffer
		rec := NewRecorder(RecorderConfig{Command: "upload"})
		var read atomic.Int64
		p := StartProgress(ProgressConfig{
			Bar: true, Out: &out, Log: slog.New(slog.NewTextHandler(&logs, nil)), Interval: 10 * time.Second,
			TotalBytes: 1000, BytesRead: read.Load,
		}, rec)
		rec.Read(1234)
		read.Store(500)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !strings.Contains(out.String(), "50%") || !strings.Contains(out.String(), "1234 rows") {
			t.Errorf("bar while running lacks 50%% and the row count:\n%q", out.String())
		}
		read.Store(1000)
		p.Stop()
		rec.Close()
		if !strings.Contains(out.String(), "100%") {
			t.Errorf("bar after stop lacks 100%%:\n%q", out.String())
		}
		if logs.Len() != 0 {
			t.Errorf("bar mode also logged:\n%s", logs.String())
		}
	})
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
