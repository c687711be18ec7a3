package report

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rtseg/rtseg/uploader"
)

func TestUsageWindow(t *testing.T) {
	started := time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)
	run := Summary{Command: "upload", StartedAt: started, FinishedAt: started.Add(90 * time.Minute), MemberID: 9}
	member, start, end, err := run.UsageWindow("s.json", 0)
	if err != nil || member != 9 || !start.Equal(started.Truncate(time.Hour)) || !end.Equal(time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("UsageWindow = %d, %v, %v, %v; want member 9 from 10:00 to 13:00", member, start, end, err)
	}
	sync := Summary{Command: "sync", StartedAt: started, FinishedAt: started, MemberID: 9, Sync: &Sync{Removed: 3}}
	if _, _, _, err := sync.UsageWindow("s.json", 0); err != nil {
		t.Errorf("UsageWindow of a sync that sent = %v, want it reconciled as an upload is", err)
	}
	if member, _, _, _ := run.UsageWindow("s.json", 4); member != 4 {
		t.Errorf("UsageWindow with member 4 = %d, want the given member", member)
	}
	for _, tc := range []struct {
		name, problem string
		sum           Summary
		hinted        bool
	}{
		{"validate", "a summary of rtseg validate, which sends nothing", Summary{Command: "validate", StartedAt: started, FinishedAt: started}, false},
		{"sync --dry-run", "a summary of rtseg sync --dry-run, which sends nothing", Summary{Command: "sync", StartedAt: started, FinishedAt: started, Sync: &Sync{DryRun: true}}, false},
		{"no times", "no started_at and finished_at", Summary{Command: "upload"}, true},
		{"no member", "the run's member is unknown", Summary{Command: "upload", StartedAt: started, FinishedAt: started}, true},
	} {
		_, _, _, err := tc.sum.UsageWindow("s.json", 0)
		var se *SummaryError
		if !errors.As(err, &se) || !strings.HasPrefix(se.Error(), "s.json: "+tc.problem) || (se.Hint() != "") != tc.hinted {
			t.Errorf("%s: UsageWindow error = %v, want a SummaryError saying %q (hinted %v)", tc.name, err, tc.problem, tc.hinted)
		}
	}
}

func TestReconcile(t *testing.T) {
	finished := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	sum := &Summary{Command: "upload", Users: 5, Warned: 1, FinishedAt: finished, Segments: []SegmentSummary{
		{SegmentCounts: SegmentCounts{Added: 7, Removed: 1}}, {SegmentCounts: SegmentCounts{Added: 2}},
	}}
	hour := func(h int, users, adds, removes, inactive int64, samples ...string) uploader.UsageHour {
		return uploader.UsageHour{Hour: finished.Add(time.Duration(h-11) * time.Hour), ValidUsers: users, ValidAdds: adds,
			ValidRemoves: removes, InactiveSegments: inactive, ErrorLines: samples}
	}
	start, end := finished.Add(-time.Hour), finished.Add(time.Hour)
	for _, tc := range []struct {
		name    string
		hours   []uploader.UsageHour
		now     time.Time
		matches bool
		diffs   []string
		hint    bool
	}{
		{"counted over two hours", []uploader.UsageHour{hour(10, 3, 6, 1, 0), hour(11, 2, 3, 0, 1)}, finished.Add(30 * time.Hour), true, nil, false},
		{"still counting", []uploader.UsageHour{hour(10, 3, 6, 1, 0)}, finished.Add(time.Hour), false,
			[]string{"users: the run sent 5, the service counted 3", "adds: the run sent 9, the service counted 6"}, true},
		{"more refused than warned", []uploader.UsageHour{hour(10, 5, 9, 1, 2, "bad line")}, finished.Add(30 * time.Hour), false,
			[]string{"the service refused 2 segment associations (0 invalid, 0 unauthorised, 2 inactive), more than the run's 1 warned rows"}, false},
	} {
		rec := Reconcile("s.json", sum, 9, start, end, tc.hours, tc.now)
		if rec.Matches != tc.matches || strings.Join(rec.Differences, "|") != strings.Join(tc.diffs, "|") {
			t.Errorf("%s: Matches=%v Differences=%q; want %v %q", tc.name, rec.Matches, rec.Differences, tc.matches, tc.diffs)
		}
		if (rec.Err() == nil) != tc.matches || !tc.matches && !errors.Is(rec.Err(), ErrCountsDiffer) {
			t.Errorf("%s: Err() = %v", tc.name, rec.Err())
		}
		if got := rec.Hint(); (got != "") != tc.hint || tc.hint && !strings.Contains(got, "reconcile again after 2026-12-02 11:00:00 UTC") {
			t.Errorf("%s: Hint() = %q, want a hint: %v", tc.name, got, tc.hint)
		}
		var text strings.Builder
		rec.WriteText(&text)
		for _, d := range tc.diffs {
			if !strings.Contains(text.String(), "Difference: "+d+".\n") {
				t.Errorf("%s: the text does not say %q:\n%s", tc.name, d, text.String())
			}
		}
		if tc.matches && !strings.Contains(text.String(), "The service counted what the run sent.") {
			t.Errorf("%s: the text does not say the counts match:\n%s", tc.name, text.String())
		}
	}
	rec := Reconcile("s.json", sum, 9, start, end, nil, finished)
	var text strings.Builder
	rec.WriteText(&text)
	if !strings.Contains(text.String(), "The service reports nothing for these hours.") {
		t.Errorf("with no hours the text does not say so:\n%s", text.String())
	}
}
