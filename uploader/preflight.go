package uploader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dustin/go-humanize/english"
	"github.com/rtseg/rtseg/reader"
)

// SegmentUse is how an input uses one segment.
type SegmentUse struct {
	Rows  int64           // valid rows that reference it
	First reader.Position // the first of them
	Owner int64           // the member_id of a row, 0 if none gave one
}

// SegmentReport is the outcome of a segment check: each segment of an
// input with what the Segment Service says of it and how the input uses it.
type SegmentReport struct {
	Checks    []SegmentCheck
	Uses      map[reader.Segment]*SegmentUse
	ValidRows int64
	Calls     int64 // lookups made
	// Unowned counts the segments whose owner could not be checked: no
	// row and no flag named a member.
	Unowned int
}

// CollectSegments reads every row and counts, for each distinct segment,
// the valid rows that reference it.
func CollectSegments(ctx context.Context, rd *reader.Reader) (*SegmentReport, error) {
	res := &SegmentReport{Uses: map[reader.Segment]*SegmentUse{}}
	for ctx.Err() == nil {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return nil, err
		}
		if !row.Valid() {
			continue
		}
		res.ValidRows++
		seg := row.Segment()
		u := res.Uses[seg]
		if u == nil {
			u = &SegmentUse{First: row.Pos}
			res.Uses[seg] = u
		}
		u.Rows++
		if u.Owner == 0 {
			u.Owner = row.MemberID
		}
	}
	return nil, ctx.Err()
}

// Check looks the segments up with the Segment Service; none is looked up
// when the rows named none. Each should belong to the member of its rows,
// else to the one member all rows name.
func (res *SegmentReport) Check(ctx context.Context, c *SegmentClient, now time.Time) error {
	refs := res.refs()
	if len(refs) == 0 {
		return nil
	}
	var err error
	res.Checks, err = c.Check(ctx, refs, now)
	res.Calls = c.Calls()
	if err != nil {
		return fmt.Errorf("look up segments: %w", err)
	}
	return nil
}

// refs lists the segments to check, each with the member that should own
// it: the row's member_id, else the one member of all the rows.
func (res *SegmentReport) refs() []SegmentRef {
	members := map[int64]bool{}
	for _, u := range res.Uses {
		if u.Owner != 0 {
			members[u.Owner] = true
		}
	}
	var only int64
	if len(members) == 1 {
		for m := range members {
			only = m
		}
	}
	refs := make([]SegmentRef, 0, len(res.Uses))
	for seg, u := range res.Uses {
		owner := u.Owner
		if owner == 0 {
			owner = only
		}
		if owner == 0 {
			res.Unowned++
		}
		refs = append(refs, SegmentRef{Segment: seg, Owner: owner})
	}
	return refs
}

// Problems is how many segments cannot take users now.
func (res *SegmentReport) Problems() int {
	n := 0
	for _, c := range res.Checks {
		if c.Problem != ProblemNone {
			n++
		}
	}
	return n
}

// Err is nil when every segment can take users, else a *SegmentsError.
func (res *SegmentReport) Err() error {
	if bad := res.Problems(); bad > 0 {
		return &SegmentsError{Unusable: bad, Checked: len(res.Checks)}
	}
	return nil
}

// SegmentsError is a check that found segments that cannot take users now.
type SegmentsError struct {
	Unusable, Checked int
}

func (e *SegmentsError) Error() string {
	return fmt.Sprintf("%d of %s cannot take users now", e.Unusable, plural(int64(e.Checked), "segment"))
}

// Hint says what to do about them.
func (e *SegmentsError) Hint() string {
	return "the service would drop adds to them without a word; fix the input or the segments, then check again"
}

// PreflightError refuses to start an upload whose segments cannot all take
// users.
type PreflightError struct{ *SegmentsError }

func (e *PreflightError) Error() string {
	return "--preflight: " + e.SegmentsError.Error() + "; nothing was sent"
}

// Hint says what to do about them.
func (e *PreflightError) Hint() string {
	return "fix the input or the segments and run again (each line above names the first row using the segment); without --preflight the service drops adds to them without a word"
}

// Write prints one line per segment with a problem, starting with the
// first row that references it, then a line of totals; notes, such as
// segments whose owner was not checked, go to notes.
func (res *SegmentReport) Write(out, notes io.Writer) {
	kinds := map[Problem]int{}
	for _, c := range res.Checks {
		if c.Problem == ProblemNone {
			continue
		}
		kinds[c.Problem]++
		u := res.Uses[c.Ref.Segment]
		fmt.Fprintf(out, "%s: %s: %s (%s)\n", u.First, c.Problem, c.Reason, plural(u.Rows, "row"))
	}
	bad := res.Problems()
	line := fmt.Sprintf("rtseg: %s referenced by %s checked in %s: ",
		plural(int64(len(res.Checks)), "segment"), plural(res.ValidRows, "valid row"), plural(res.Calls, "lookup"))
	if bad == 0 {
		line += "all usable"
	} else {
		var parts []string
		for _, p := range []Problem{ProblemMissing, ProblemInactive, ProblemOtherMember, ProblemFresh} {
			if kinds[p] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", kinds[p], p))
			}
		}
		line += fmt.Sprintf("%d usable, %d not (%s)", len(res.Checks)-bad, bad, strings.Join(parts, ", "))
	}
	fmt.Fprintln(out, line)
	if res.Unowned > 0 {
		fmt.Fprintf(notes, "rtseg: note: who owns %s was not checked: no member is known; give --member-id\n", plural(int64(res.Unowned), "segment"))
	}
}

// plural is n with its noun, in the plural unless n is 1: "1 row", "2 rows".
func plural(n int64, noun string) string {
	return fmt.Sprintf("%d %s", n, english.PluralWord(int(n), noun, ""))
}
