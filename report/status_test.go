package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTolerance(t *testing.T) {
	for _, tc := range []struct {
		in             string
		rejected, read int64
		allows         bool
	}{
		{"0", 0, 100, true},
		{"0", 1, 100, false},
		{"5", 5, 10, true},
		{"5", 6, 10, false},
		{"10%", 10, 100, true},
		{"10%", 11, 100, false},
		{"0.1%", 1, 1000, true},
		{"0.1%", 2, 1000, false},
		{" 100% ", 7, 7, true},
		{"0%", 0, 0, true},
	} {
		tol, err := ParseTolerance(tc.in)
		if err != nil {
			t.Errorf("ParseTolerance(%q) = %v", tc.in, err)
			continue
		}
		if got := tol.Allows(tc.rejected, tc.read); got != tc.allows {
			t.Errorf("ParseTolerance(%q).Allows(%d of %d) = %v, want %v", tc.in, tc.rejected, tc.read, got, tc.allows)
		}
	}
	for _, bad := range []string{"", "-1", "x", "101%", "-1%", "1.5", "%", "NaN%", "nan%", "Inf%", "+Inf%", "-Inf%", "-0.5%", "NaN", "Inf"} {
		_, err := ParseTolerance(bad)
		if err == nil || !strings.HasPrefix(err.Error(), "--max-rejected ") {
			t.Errorf("ParseTolerance(%q) = %v, want an error naming --max-rejected", bad, err)
		}
	}
}

func TestSummaryStatus(t *testing.T) {
	boom := errors.New("authentication refused")
	clean := Summary{RowsRead: 10, Accepted: 10}
	rejected := Summary{RowsRead: 10, Accepted: 7, Invalid: 1, Warned: 1, Failed: 1}
	unaccounted := Summary{RowsRead: 10, Accepted: 9}
	for _, tc := range []struct {
		name    string
		sum     Summary
		tol     string
		runErr  error
		signal  int
		want    int
		wantErr error
	}{
		{"all accepted", clean, "0", nil, 0, StatusOK, nil},
		{"rejected beyond the tolerance", rejected, "2", nil, 0, StatusRejected, nil},
		{"rejected within the tolerance", rejected, "30%", nil, 0, StatusOK, nil},
		{"the run failed", clean, "0", boom, 0, StatusFailure, boom},
		{"outcomes do not add up", unaccounted, "100%", nil, 0, StatusFailure, ErrUnaccounted},
		{"SIGINT", clean, "0", nil, 2, 130, nil},
		{"SIGTERM over a rejected run", rejected, "0", nil, 15, 143, nil},
		{"a failure stays a failure under a signal", clean, "0", boom, 15, StatusFailure, boom},
	} {
		tol, err := ParseTolerance(tc.tol)
		if err != nil {
			t.Fatal(err)
		}
		sum := tc.sum
		got, gotErr := sum.Status(tol, tc.runErr, tc.signal)
		if got != tc.want || !errors.Is(gotErr, tc.wantErr) || (tc.wantErr == nil) != (gotErr == nil) {
			t.Errorf("%s: Status = %d, %v; want %d, %v", tc.name, got, gotErr, tc.want, tc.wantErr)
		}
		if sum.ExitStatus != got {
			t.Errorf("%s: ExitStatus = %d, want %d as returned", tc.name, sum.ExitStatus, got)
		}
	}
}

func TestWriteEnd(t *testing.T) {
	tol, _ := ParseTolerance("1")
	var b strings.Builder
	sum := Summary{RowsRead: 10, Accepted: 7, Invalid: 3}
	sum.Status(tol, nil, 0)
	sum.WriteEnd(&b, tol, "r.csv", false)
	want := "rtseg: report: r.csv\nrtseg: 3 rows rejected (invalid, warned or failed), more than --max-rejected 1 allows\n"
	if b.String() != want {
		t.Errorf("WriteEnd wrote\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	sum = Summary{RowsRead: 10, Accepted: 10}
	sum.Status(tol, nil, 0)
	sum.WriteEnd(&b, tol, "r.csv", false)
	if b.String() != "" {
		t.Errorf("WriteEnd for a run whose report lists nothing wrote %q", b.String())
	}
}

func TestDescribeFindsTheMember(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	seg := func(member int64) SegmentSummary { return SegmentSummary{MemberID: member} }
	for _, tc := range []struct {
		name   string
		flag   int64
		segs   []SegmentSummary
		member int64
	}{
		{"the flag wins", 7, []SegmentSummary{seg(9)}, 7},
		{"one member named by codes", 0, []SegmentSummary{seg(0), seg(9), seg(9)}, 9},
		{"several members: none is the run's", 0, []SegmentSummary{seg(9), seg(8)}, 0},
		{"segments by ID only", 0, []SegmentSummary{seg(0)}, 0},
	} {
		s := Summary{Segments: tc.segs}
		s.Describe(start, start.Add(time.Hour), "https://x.example/rt-segment", tc.flag)
		if s.MemberID != tc.member {
			t.Errorf("%s: MemberID = %d, want %d", tc.name, s.MemberID, tc.member)
		}
		if !s.StartedAt.Equal(start) || !s.FinishedAt.Equal(start.Add(time.Hour)) || s.Endpoint != "https://x.example/rt-segment" {
			t.Errorf("%s: Describe recorded %v to %v at %q", tc.name, s.StartedAt, s.FinishedAt, s.Endpoint)
		}
	}
}

func TestFinish(t *testing.T) {
	dir := t.TempDir()
	tol, _ := ParseTolerance("0")
	var out strings.Builder
	sum := Summary{Command: "upload", RowsRead: 3, Accepted: 2, Failed: 1, Users: 2, Requests: 1}
	start := time.Now().Add(-2 * time.Second)
	path := filepath.Join(dir, "s.json")
	status, err := sum.Finish(Ending{Start: start, Endpoint: "https://x.example/rt-segment", Member: 5, Tolerance: tol,
		SummaryPath: path, ReportPath: "r.csv", Out: &out}, nil)
	if status != StatusRejected || err != nil {
		t.Errorf("Finish = %d, %v; want %d, nil", status, err, StatusRejected)
	}
	written, rerr := ReadSummary(path)
	if rerr != nil || written.ExitStatus != StatusRejected || written.MemberID != 5 || written.ElapsedSeconds < 2 || written.Endpoint == "" {
		t.Errorf("the summary written: %+v, %v", written, rerr)
	}
	for _, want := range []string{"rtseg: 3 rows read: 2 accepted, 1 failed\n", "rtseg: report: r.csv\n", "more than --max-rejected 0 allows\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("Finish wrote\n%s\nwithout %q", out.String(), want)
		}
	}
	// A summary that cannot be written fails the run.
	sum = Summary{Command: "upload", RowsRead: 1, Accepted: 1}
	status, err = sum.Finish(Ending{Start: start, Tolerance: tol, SummaryPath: filepath.Join(dir, "none", "s.json"), Out: &out}, nil)
	if status != StatusFailure || err == nil || !strings.HasPrefix(err.Error(), "--summary: ") {
		t.Errorf("Finish into a missing directory = %d, %v; want a failure naming --summary", status, err)
	}
}

// Finish writes the run page after the summary, with the exit status the
// summary has, on a signal as at the end; a page that cannot be written
// fails the run.
func TestFinishWritesThePage(t *testing.T) {
	dir := t.TempDir()
	tol, _ := ParseTolerance("0")
	var out strings.Builder
	sum := Summary{Command: "upload", RowsRead: 2, Accepted: 1, Failed: 1, Users: 1, Requests: 1,
		Groups: Groups{Failed: []Group{{Reason: "not sent: the run was interrupted", Rows: 1}}}}
	page := filepath.Join(dir, "run.html")
	status, err := sum.Finish(Ending{Start: time.Now(), Tolerance: tol, Signal: 15, SummaryPath: filepath.Join(dir, "s.json"), HTMLPath: page, Out: &out}, nil)
	if status != StatusInterrupted+15 || err != nil {
		t.Fatalf("Finish = %d, %v; want %d, nil", status, err, StatusInterrupted+15)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-value="143">143</span>: The run was interrupted (SIGTERM).`, `data-total="failed" data-value="1"`,
		"not sent: the run was interrupted"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the directory holds %d files, want the summary and the page only", len(entries))
	}
	sum = Summary{Command: "upload", RowsRead: 1, Accepted: 1}
	status, err = sum.Finish(Ending{Start: time.Now(), Tolerance: tol, HTMLPath: filepath.Join(dir, "none", "run.html"), Out: &out}, nil)
	if status != StatusFailure || err == nil || !strings.HasPrefix(err.Error(), "--html: ") {
		t.Errorf("Finish into a missing directory = %d, %v; want a failure naming --html", status, err)
	}
}
