package report

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rtseg/rtseg/reader"
)

func TestInvalidReasonLeavesOutTheValue(t *testing.T) {
	pos := reader.Position{File: "in.csv", Line: 2}
	for _, tc := range []struct {
		name   string
		fields reader.Fields
		want   string
	}{
		{"not whole", reader.Fields{UserID: "u", SegID: "abc"}, "seg_id is not a whole number"},
		{"another value", reader.Fields{UserID: "u", SegID: "x1"}, "seg_id is not a whole number"},
		{"out of range", reader.Fields{UserID: "u", SegID: "1", Expiration: "999999"}, "expiration is out of range"},
		{"unknown domain", reader.Fields{UserID: "u", SegID: "1", Domain: "fax"}, "domain is unknown"},
		{"too long", reader.Fields{UserID: strings.Repeat("u", 300), SegID: "1"}, "user_id is too long"},
		{"empty user", reader.Fields{SegID: "1"}, "user_id is empty"},
		{"deprecated", reader.Fields{UserID: "u", SegID: "1", Domain: "sha1mac"}, `domain "sha1mac" is deprecated (since 2019) and no longer accepted`},
	} {
		row := reader.Validate(pos, tc.fields, reader.Defaults{})
		if row.Err == nil {
			t.Fatalf("%s: Validate(%+v) is valid", tc.name, tc.fields)
		}
		if got := invalidReason(row.Err); got != tc.want {
			t.Errorf("%s: invalidReason(%q) = %q, want %q", tc.name, row.Err, got, tc.want)
		}
	}
	if got := invalidReason(errors.New("malformed CSV record: a quote left open")); got != "malformed CSV record: a quote left open" {
		t.Errorf("invalidReason of another error = %q, want its text", got)
	}
	// A malformed record's sentence names its line and column; its group
	// does not.
	for _, line := range []int{3, 70} {
		err := &reader.RecordError{Columns: 2, Err: &csv.ParseError{StartLine: line, Line: line, Column: 4, Err: csv.ErrBareQuote}}
		if got, want := invalidReason(err), `malformed CSV record: a " in a field that is not quoted`; got != want {
			t.Errorf("invalidReason(%q) = %q, want %q", err, got, want)
		}
	}
}

func TestWarningReasonLeavesOutTheUser(t *testing.T) {
	for _, tc := range []struct{ msg, user, want string }{
		{"No valid segments for user_id: 42.", "42", "No valid segments for user_id: …."},
		{"Too many segments for user_id: 1. Only the first 100 were processed.", "1", "Too many segments for user_id: …. Only the first 100 were processed."},
		{"'expiration' must be -1, 0 or a positive number of minutes", "1", "'expiration' must be -1, 0 or a positive number of minutes"},
	} {
		if got := warningReason(tc.msg, tc.user); got != tc.want {
			t.Errorf("warningReason(%q, %q) = %q, want %q", tc.msg, tc.user, got, tc.want)
		}
	}
}

// A run with more distinct reasons than the grouper tracks keeps its
// memory bounded and its counts exact: the groups it lists count exactly,
// and the rows of the others are the total less theirs.
func TestGrouperIsBoundedAndExact(t *testing.T) {
	var g grouper
	total := 0
	for i := range 3 * maxTracked {
		reason := fmt.Sprintf("reason %d", i)
		for range 1 + i%7 {
			g.add(reason, "", reader.Position{File: "in.csv", Line: int64(total + 2)}, reason+" in detail")
			total++
		}
	}
	if len(g.groups) != maxTracked || len(g.index) != maxTracked {
		t.Fatalf("grouper tracks %d groups (index %d), want at most %d", len(g.groups), len(g.index), maxTracked)
	}
	top := g.top()
	if len(top) != MaxGroups {
		t.Fatalf("top() lists %d groups, want %d", len(top), MaxGroups)
	}
	for i, gr := range top {
		var want int64 = 7
		if gr.Rows != want {
			t.Errorf("top()[%d] = %q with %d rows, want %d (the largest first)", i, gr.Reason, gr.Rows, want)
		}
		if len(gr.Examples) != MaxExamples {
			t.Errorf("top()[%d] has %d examples, want %d", i, len(gr.Examples), MaxExamples)
		}
		if gr.Examples[0].Detail != gr.Reason+" in detail" {
			t.Errorf("top()[%d] example detail %q, want the row's own reason", i, gr.Examples[0].Detail)
		}
	}
	if top[0].Reason != "reason 6" || top[1].Reason != "reason 13" {
		t.Errorf("top() starts %q, %q; want the first met among equals first (reason 6, reason 13)", top[0].Reason, top[1].Reason)
	}
}

func TestClipBoundsText(t *testing.T) {
	long := strings.Repeat("é", maxText)
	got := clip(long)
	if len(got) > maxText || !strings.HasSuffix(got, "…") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Errorf("clip(%d bytes) = %d bytes %q..., want at most %d bytes cut at a character and marked", len(long), len(got), got[:10], maxText)
	}
	if clip("short") != "short" {
		t.Errorf("clip changed a short text")
	}
}

func TestPrintableWritesOutHiddenCharacters(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain user 42", "plain user 42"},
		{"a\nb\tc", `a\x0ab\x09c`},
		{"\x1b[31mred", `\x1b[31mred`},
		{"evil\u202egpj.exe", `evil\u202egpj.exe`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"zero\u200bwidth", `zero\u200bwidth`},
		{"café <b>", "café <b>"},
	} {
		if got := printable(tc.in); got != tc.want {
			t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
