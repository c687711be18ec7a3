package report

import (
	"reflect"
	"strings"
	"testing"
)

func TestGroupSamples(t *testing.T) {
	var lines []string
	for range 180 {
		lines = append(lines, "Unauthorized segments (id, code, segment owner member id): (777, '', 0)")
	}
	lines = append(lines,
		"Inactive segments (id, code, segment owner member id): (321456, 'segment_312456', 123)",
		"Invalid segments (id, code, segment owner member id): (0, 'segment_654321', 123)",
		"Inactive segments (id, code, segment owner member id): (321456, 'segment_312456', 123), (9, 'a, b', 123)",
		"Valid additions (user id, segment id, expiration): (1580557697843484206, 3737552, 1440)",
		"Valid additions (user id, segment id, expiration): (1580557697843484207, 3737552, 1440)",
		"Valid removals: (15, 10003, -1)",
		"Inactive users: 4",
		"  ",
		"something else entirely",
		"something else entirely",
	)
	got := GroupSamples(lines)
	want := []SampleGroup{
		{Kind: "Unauthorized segments", Segment: "777", Count: 180, Example: lines[0]},
		{Kind: "Inactive segments", Segment: "321456", Count: 2, Example: lines[180]},
		{Kind: "Valid additions", Segment: "3737552", Count: 2, Example: lines[183]},
		{Kind: "something else entirely", Count: 2, Example: "something else entirely"},
		{Kind: "Invalid segments", Segment: "123:segment_654321", Count: 1, Example: lines[181]},
		{Kind: "Inactive segments", Segment: "9", Count: 1, Example: lines[182]},
		{Kind: "Valid removals", Segment: "10003", Count: 1, Example: lines[185]},
		{Kind: "Inactive users", Count: 1, Example: lines[186]},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GroupSamples:\n got %+v\nwant %+v", got, want)
	}
	if got := GroupSamples(nil); len(got) != 0 {
		t.Errorf("GroupSamples(nil) = %v, want none", got)
	}
}

// rtseg reconcile's text gives the samples grouped, one line a group, not
// the service's raw lines again and again.
func TestReconcileTextGroupsSamples(t *testing.T) {
	rec := &Reconciliation{Summary: "s.json", Matches: true, Hours: []HourCounts{{Hour: "2026-12-01 10:00:00"}}}
	for range 200 {
		rec.ErrorSamples = append(rec.ErrorSamples, "Unauthorized segments (id, code, segment owner member id): (777, '', 0)")
	}
	rec.ErrorSamples = append(rec.ErrorSamples, "Inactive segments (id, code, segment owner member id): (10002, '\x1b[2J', 1234)")
	rec.ErrorGroups = GroupSamples(rec.ErrorSamples)
	var b strings.Builder
	rec.WriteText(&b)
	text := b.String()
	for _, want := range []string{
		"\nThe service's error samples (201 lines), by kind and segment:\n",
		"\n     200  Unauthorized segments, segment 777\n",
		"\n       1  Inactive segments, segment 10002\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("reconcile text lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "(777, '', 0)") != 0 || strings.Contains(text, "\x1b") {
		t.Errorf("reconcile text repeats raw lines or holds a control character:\n%s", text)
	}
}
