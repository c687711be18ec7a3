package report

import (
	"cmp"
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rtseg/rtseg/reader"
)

// Group counts the rows that share why they were not accepted: an invalid
// rule, a warning of the service for one segment, or the cause of a
// failure. The summary keeps the largest groups of each kind, with a few
// rows of each as examples.
type Group struct {
	// Reason is the rule broken, the service's message (its user ID left
	// out), or the cause of the failure.
	Reason string `json:"reason"`
	// Segment is the segment of a warning, as the summary's segments name
	// it; "" when the group is not by segment or the rows name none.
	Segment string `json:"segment,omitempty"`
	// Rows counts the group's rows, exactly.
	Rows int64 `json:"rows"`
	// Examples are the first MaxExamples rows of the group.
	Examples []Example `json:"examples,omitempty"`
}

// Example is one row of a group: where it is, and its own reason when that
// says more than the group's (the value that broke the rule).
type Example struct {
	At     string `json:"at"` // file:line
	Detail string `json:"detail,omitempty"`
}

// Groups are the rows not accepted, grouped. Each list holds the largest
// groups, most rows first, at most MaxGroups of them; the rows of the
// groups left out are the outcome's count less the rows of those listed.
type Groups struct {
	Invalid []Group `json:"invalid_reasons,omitempty"`
	Warned  []Group `json:"warnings,omitempty"`
	Failed  []Group `json:"failures,omitempty"`
}

// Bounds of the grouping, whatever the size of the run.
const (
	// MaxGroups is how many groups of each kind the summary lists.
	MaxGroups = 20
	// MaxExamples is how many rows of a group it lists.
	MaxExamples = 5
	// maxTracked is how many groups of each kind a run counts exactly;
	// rows of further groups count only in the outcome's total.
	maxTracked = 1000
	// maxText bounds the length of a reason, a segment or an example in
	// bytes, so that no input makes a group large.
	maxText = 300
)

// grouper counts rows by group in bounded memory: exactly, for the first
// maxTracked groups it meets, and in their total for the rest. Runs have
// few reasons, as the keys leave values out; the bound holds whatever.
type grouper struct {
	index  map[groupKey]int
	groups []Group
	order  []int // the index of each group in the order first met
}

type groupKey struct{ reason, segment string }

// add counts a row of the group (reason, segment) at pos, with its own
// detail.
func (g *grouper) add(reason, segment string, pos reader.Position, detail string) {
	k := groupKey{clip(reason), clip(segment)}
	i, ok := g.index[k]
	if !ok {
		if len(g.groups) >= maxTracked {
			return
		}
		if g.index == nil {
			g.index = map[groupKey]int{}
		}
		i = len(g.groups)
		g.index[k] = i
		g.groups = append(g.groups, Group{Reason: k.reason, Segment: k.segment})
	}
	gr := &g.groups[i]
	gr.Rows++
	if len(gr.Examples) < MaxExamples {
		ex := Example{At: clip(pos.String())}
		if detail = clip(detail); detail != gr.Reason {
			ex.Detail = detail
		}
		gr.Examples = append(gr.Examples, ex)
	}
}

// top lists the largest groups, most rows first; among equals, the first
// met first.
func (g *grouper) top() []Group {
	out := slices.Clone(g.groups)
	slices.SortStableFunc(out, func(a, b Group) int { return cmp.Compare(b.Rows, a.Rows) })
	return out[:min(len(out), MaxGroups)]
}

// clip bounds s to maxText bytes, cut at a character, marking the cut.
func clip(s string) string { return clipTo(s, maxText) }

// clipTo bounds s to n bytes, cut at a character, marking the cut.
func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// invalidReason is the group of an invalid row: its rule, without the value
// that broke it, so that "seg_id "abc" is not a whole number" and
// "seg_id "x1" is not a whole number" count together. The row's own
// sentence is the example's detail.
func invalidReason(err error) string {
	if err == nil {
		return "invalid"
	}
	var re *reader.RecordError
	var pe *csv.ParseError
	if errors.As(err, &re) && errors.As(re.Err, &pe) {
		// Its sentence names the line and column of each record.
		switch {
		case errors.Is(pe.Err, csv.ErrBareQuote):
			return `malformed CSV record: a " in a field that is not quoted`
		case errors.Is(pe.Err, csv.ErrQuote):
			return "malformed CSV record: a quoted field is not closed properly"
		case !errors.Is(pe.Err, csv.ErrFieldCount):
			return "malformed CSV record: " + pe.Err.Error()
		}
	}
	var fe *reader.FieldError
	if !errors.As(err, &fe) {
		return err.Error()
	}
	for _, rule := range []error{reader.ErrTooLong, reader.ErrUnknownDomain, reader.ErrNotWhole, reader.ErrOutOfRange} {
		if errors.Is(fe.Err, rule) {
			text := rule.Error()
			if rest, ok := strings.CutPrefix(text, "field "); ok {
				return fe.Field + " " + rest
			}
			return text
		}
	}
	return fe.Error()
}

// warningReason is the group of a warned row: the service's message, with
// the row's user ID left out where the message names it ("No valid
// segments for user_id: 42." counts with every other user's).
func warningReason(msg, user string) string {
	if user == "" {
		return msg
	}
	return strings.Replace(msg, "user_id: "+user, "user_id: …", 1)
}
