package uploader

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

func openCSV(t *testing.T, text string) *reader.Reader {
	t.Helper()
	rd, err := reader.Open([]string{reader.Stdin}, reader.Options{Stdin: strings.NewReader(text)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return rd
}

func TestCollectSegments(t *testing.T) {
	rd := openCSV(t, "user_id,seg_id,seg_code,member_id\n1001,10,,\n1002,10,,\n1003,,loyal,1234\nbad,,,\n1004,11,,1234\n")
	res, err := CollectSegments(t.Context(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if res.ValidRows != 4 || len(res.Uses) != 3 {
		t.Fatalf("CollectSegments: %d valid rows, %d segments; want 4, 3", res.ValidRows, len(res.Uses))
	}
	if u := res.Uses[reader.Segment{ID: 10}]; u.Rows != 2 || u.First.Line != 2 || u.Owner != 0 {
		t.Errorf("segment 10: %+v, want 2 rows from line 2 with no owner", u)
	}
	// Segment 10 names no member; the one member the rows name owns it.
	for _, ref := range res.refs() {
		if ref.Owner != 1234 {
			t.Errorf("refs: %v should belong to member 1234, got %d", ref.Segment, ref.Owner)
		}
	}
	if res.Unowned != 0 {
		t.Errorf("Unowned = %d, want 0", res.Unowned)
	}
}

func TestCollectSegmentsUnowned(t *testing.T) {
	res, err := CollectSegments(t.Context(), openCSV(t, "user_id,seg_id,member_id\n1001,10,1\n1002,11,2\n1003,12,\n"))
	if err != nil {
		t.Fatal(err)
	}
	res.refs()
	if res.Unowned != 1 {
		t.Errorf("with two members and a row naming none, Unowned = %d, want 1", res.Unowned)
	}
}

func TestSegmentReportCheck(t *testing.T) {
	h := xandrtest.NewHandler(xandrtest.WithToken(testToken), xandrtest.WithMember(1234), xandrtest.WithSegments(
		xandrtest.Segment{ID: 10}, xandrtest.Segment{ID: 11, State: "inactive"}))
	c := newTestSegmentClient(t, h, 100, time.Second)
	res, err := CollectSegments(t.Context(), openCSV(t, "user_id,seg_id,member_id\n1001,10,1234\n1002,11,1234\n1003,11,1234\n1004,12,1234\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(t.Context(), c, time.Now()); err != nil {
		t.Fatal(err)
	}
	var out, notes strings.Builder
	res.Write(&out, &notes)
	want := "-:3: inactive: segment 11 is inactive (2 rows)\n" +
		"-:5: missing: segment 12 does not exist (1 row)\n" +
		"rtseg: 3 segments referenced by 4 valid rows checked in 1 lookup: 1 usable, 2 not (1 missing, 1 inactive)\n"
	if got := sortedLines(out.String()); got != sortedLines(want) {
		t.Errorf("Write:\n%s\nwant:\n%s", out.String(), want)
	}
	var se *SegmentsError
	if err := res.Err(); !errors.As(err, &se) || se.Unusable != 2 || se.Checked != 3 || err.Error() != "2 of 3 segments cannot take users now" {
		t.Errorf("Err() = %v, want 2 of 3 segments unusable", err)
	}
	pre := &PreflightError{SegmentsError: se}
	if pre.Error() != "--preflight: 2 of 3 segments cannot take users now; nothing was sent" || pre.Hint() == "" {
		t.Errorf("PreflightError = %q, hint %q", pre.Error(), pre.Hint())
	}
}

func TestSegmentReportNothingToCheck(t *testing.T) {
	res, err := CollectSegments(t.Context(), openCSV(t, "user_id,seg_id\nbad,x\n"))
	if err != nil {
		t.Fatal(err)
	}
	// No valid row: nothing is looked up, so no client is needed.
	if err := res.Check(t.Context(), nil, time.Now()); err != nil || res.Err() != nil {
		t.Errorf("Check with no segments = %v, Err() = %v; want nil, nil", err, res.Err())
	}
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
