package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fixedClock is a recorder's clock that stands still, for golden files.
func fixedClock() time.Time { return time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC) }

func row(line int64, user string, seg int64, exp int32) reader.Row {
	return reader.Row{
		Pos: reader.Position{File: "in.csv", Line: line}, UserID: user, SegID: seg,
		Value: 1, HasValue: true, Expiration: exp, HasExpiration: true,
	}
}

// record feeds a recorder one row of every outcome a run can have.
func record(t *testing.T, w *Writer, all bool, failed *FailedWriter) *Summary {
	t.Helper()
	return recordRun(t, RecorderConfig{Command: "upload", Report: w, All: all, Failed: failed, UsersPerSecond: 1000, Now: fixedClock})
}

// recordWith feeds the same rows to a recorder whose clock is now.
func recordWith(t *testing.T, now func() time.Time) *Summary {
	t.Helper()
	return recordRun(t, RecorderConfig{Command: "upload", UsersPerSecond: 1000, Now: now})
}

func recordRun(t *testing.T, cfg RecorderConfig) *Summary {
	t.Helper()
	rec := NewRecorder(cfg)
	rec.Read(8)
	rec.Invalid(reader.Validate(reader.Position{File: "in.csv", Line: 2}, reader.Fields{UserID: "u1", SegID: "x1"}, reader.Defaults{}))
	rec.Superseded(row(3, "u2", 10, 60), reader.Position{File: "in.csv", Line: 4})
	req := &chunker.Request{Seq: 0, Body: []byte(`{"rt_segment":[...]}`), Entries: []chunker.Entry{
		{User: reader.User{ID: "u2"}, Rows: []reader.Row{row(4, "u2", 10, 120), row(5, "u2", 11, -1)}},
		{User: reader.User{ID: "u3", Domain: "idfa"}, Rows: []reader.Row{row(6, "u3", 10, 0)}},
		{User: reader.User{ID: "u4"}, Rows: []reader.Row{row(7, "u4", 12, 5)}},
	}}
	rec.Sent(uploader.Result{Request: req, Attempts: 2, Retries: 1, Throttled: 1,
		Warned: map[uploader.RowRef]string{{Entry: 0, Block: 1}: "No valid segments for user_id: u2."},
		Resent: []int{2}})
	rec.Sent(uploader.Result{Request: chunker.Encode(0, req.Entries[2:]), Attempts: 1})
	failing := &chunker.Request{Seq: 1, Body: []byte(`{}`), Entries: []chunker.Entry{
		{User: reader.User{ID: "u5"}, Rows: []reader.Row{row(8, "u5", 10, 30)}},
	}}
	rec.Sent(uploader.Result{Request: failing, Attempts: 9, Retries: 8, Err: errors.New("HTTP 503 (gave up after 9 attempts)")})
	interrupted, cancel := context.WithCancel(context.Background())
	cancel()
	rec.Unsent(interrupted, &chunker.Request{Seq: 2, Entries: []chunker.Entry{
		{User: reader.User{ID: "u6"}, Rows: []reader.Row{row(9, "u6", 13, 30)}},
	}})
	sum, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (rerun with -update if intended):\ngot:\n%s\nwant:\n%s", name, path, got, want)
	}
}

func TestReportGolden(t *testing.T) {
	for _, tc := range []struct {
		name, format string
		all          bool
	}{
		{"report.csv", "csv", false},
		{"report-all.csv", "csv", true},
		{"report.jsonl", "jsonl", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := NewWriter(&buf, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			record(t, w, tc.all, nil)
			golden(t, tc.name, buf.Bytes())
		})
	}
}

func TestSummaryGolden(t *testing.T) {
	sum := record(t, nil, false, nil)
	if !sum.Reconciles() {
		t.Errorf("summary does not reconcile: %+v", sum)
	}
	got, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.json", append(got, '\n'))
	var human bytes.Buffer
	sum.WriteHuman(&human)
	golden(t, "summary.txt", human.Bytes())
}

func TestFailedFileIsInput(t *testing.T) {
	var buf bytes.Buffer
	fw, err := NewFailedWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	sum := record(t, nil, false, fw)
	golden(t, "failed.csv", buf.Bytes())

	// The failed file reads back as the same valid rows (whose made-up
	// user IDs have no domain's shape).
	path := filepath.Join(t.TempDir(), "failed.csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rd, err := reader.Open([]string{path}, reader.Options{Defaults: reader.Defaults{LenientIDs: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var n int64
	for {
		r, err := rd.Next()
		if err != nil {
			break
		}
		if !r.Valid() {
			t.Errorf("failed file row %s is invalid: %v", r.Pos, r.Err)
		}
		n++
	}
	if n != sum.Failed {
		t.Errorf("failed file has %d rows, summary says %d failed", n, sum.Failed)
	}
}

func TestRecorderCountsIndependently(t *testing.T) {
	rec := NewRecorder(RecorderConfig{Command: "upload"})
	rec.Read(3) // three rows read, only two given outcomes
	rec.Invalid(reader.Row{Err: errors.New("bad")})
	rec.Superseded(row(3, "u", 1, 1), reader.Position{})
	sum, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Reconciles() {
		t.Errorf("Reconciles() = true for 3 rows read and 2 outcomes")
	}
}

// A segment none of whose rows is accepted, warned, invalid or failed (rows
// rtseg validate would send, rows skipped or superseded) is left out of the
// summary's segments rather than listed with nothing but zeros.
func TestSummarySegmentsHaveCounts(t *testing.T) {
	rec := NewRecorder(RecorderConfig{Command: "validate"})
	rec.Read(4)
	rec.Invalid(reader.Validate(reader.Position{File: "in.csv", Line: 2}, reader.Fields{UserID: "u1", SegID: "7", Value: "x"}, reader.Defaults{}))
	rec.Superseded(row(3, "u2", 8, 60), reader.Position{File: "in.csv", Line: 4})
	rec.Valid(&chunker.Request{Body: []byte(`{}`), Entries: []chunker.Entry{
		{User: reader.User{ID: "u2"}, Rows: []reader.Row{row(4, "u2", 8, 120), row(5, "u2", 9, 5)}},
	}})
	sum, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Reconciles() || sum.Valid != 2 || sum.Invalid != 1 || sum.Superseded != 1 {
		t.Errorf("summary: %d valid, %d invalid, %d superseded of %d read", sum.Valid, sum.Invalid, sum.Superseded, sum.RowsRead)
	}
	want := []SegmentSummary{{Segment: "7", SegID: 7, SegmentCounts: SegmentCounts{Invalid: 1}}}
	if len(sum.Segments) != 1 || sum.Segments[0] != want[0] {
		t.Errorf("segments %+v, want %+v", sum.Segments, want)
	}
}

// The recorder journals a packed request once the service acknowledged all
// of it, before its rows count, and counts requests in flight from queued
// to their last outcome.
func TestRecorderJournalsAcknowledged(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	in := filepath.Join(dir, "in.csv")
	state := filepath.Join(dir, "state")
	j := openJournal(t, state, id)
	rec := NewRecorder(RecorderConfig{Command: "upload", Journal: j})
	whole, failing, stopped := packed(t, in, "a", false, 2, 1), packed(t, in, "c", false, 5, 1), packed(t, in, "d", false, 6, 1)
	two := append(packed(t, in, "b", false, 3, 1).Entries, packed(t, in, "e", false, 4, 1).Entries...)
	split := chunker.Encode(1, two)
	for _, req := range []*chunker.Request{whole, split, failing, stopped} {
		rec.Queued(req)
	}
	if got := rec.Live().InFlight; got != 4 {
		t.Errorf("after queueing 4 requests, InFlight = %d", got)
	}
	rec.Sent(uploader.Result{Request: whole, Packed: whole, Attempts: 1})
	// The service took b and refused e as one user too many; e, sent
	// again, is acknowledged in a Result of its own.
	rec.Sent(uploader.Result{Request: split, Packed: split, Attempts: 1, Resent: []int{1}})
	if got := rec.Live().InFlight; got != 3 {
		t.Errorf("with a request's second part still to go, InFlight = %d, want 3", got)
	}
	if got := j.Len(); got != 1 {
		t.Errorf("with a request's second part still to go, the journal holds %d requests, want 1", got)
	}
	rec.Sent(uploader.Result{Request: chunker.Encode(split.Seq, split.Entries[1:]), Packed: split, Attempts: 1})
	rec.Sent(uploader.Result{Request: failing, Packed: failing, Attempts: 9, Err: errors.New("HTTP 503 (gave up after 9 attempts)")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec.Unsent(ctx, stopped)
	if got := rec.Live().InFlight; got != 0 {
		t.Errorf("after every request's last outcome, InFlight = %d", got)
	}
	sum, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 3 || sum.Failed != 2 {
		t.Errorf("accepted %d, failed %d; want 3, 2", sum.Accepted, sum.Failed)
	}
	j.Close()
	// What the next run finds.
	j = openJournal(t, state, id)
	defer j.Close()
	for _, tc := range []struct {
		name string
		req  *chunker.Request
		want bool
	}{{"acknowledged", whole, true}, {"acknowledged in two parts", split, true}, {"failed", failing, false}, {"never sent", stopped, false}} {
		if got := j.Acknowledged(tc.req); got != tc.want {
			t.Errorf("%s request: journaled = %v, want %v", tc.name, got, tc.want)
		}
	}
}
