package report

import (
	"cmp"
	"slices"
	"strings"
)

// SampleGroup counts the service's sample lines (error_log_lines and
// segment_log_lines of its usage statistics) of one kind about one
// segment, instead of repeating them: 180 lines "Unauthorized segments (id,
// code, segment owner member id): (777, ”, 0)" are one group of 180.
type SampleGroup struct {
	// Kind is what the lines say, as the service names it ("Inactive
	// segments", "Valid additions"); a line in no documented shape is its
	// own kind.
	Kind string `json:"kind"`
	// Segment is the segment the lines name: its ID, or member:code; ""
	// when they name none.
	Segment string `json:"segment,omitempty"`
	// Count is how many times the samples name it: a line listing several
	// (id, code, member) tuples counts each.
	Count int64 `json:"count"`
	// Example is the first line of the group, as the service wrote it.
	Example string `json:"example"`
}

// parseSample reads the documented shape of a sample line: a kind, maybe
// the names of the columns in parentheses, a colon, and the rest
// ("Inactive segments (id, code, segment owner member id): (321456, 'seg',
// 123)"). It reports false for a line of another shape.
func parseSample(line string) (kind, columns, rest string, ok bool) {
	head, rest, found := strings.Cut(line, ":")
	if !found {
		return "", "", "", false
	}
	if before, after, paren := strings.Cut(head, "("); paren {
		after = strings.TrimSpace(after)
		if !strings.HasSuffix(after, ")") || strings.ContainsAny(after[:len(after)-1], "()") {
			return "", "", "", false
		}
		head, columns = before, after[:len(after)-1]
	}
	kind = strings.TrimSpace(head)
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (c != ' ' || i == 0) {
			return "", "", "", false
		}
	}
	return kind, columns, strings.TrimSpace(rest), kind != ""
}

// GroupSamples groups the service's sample lines by kind and segment, most
// first; among equals, in the order first met.
func GroupSamples(lines []string) []SampleGroup {
	type key struct{ kind, segment string }
	index := map[key]int{}
	var groups []SampleGroup
	add := func(kind, segment, line string) {
		k := key{clip(kind), clip(segment)}
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, SampleGroup{Kind: k.kind, Segment: k.segment, Example: clip(line)})
		}
		groups[i].Count++
	}
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		kind, cols, rest, ok := parseSample(line)
		if !ok {
			add(line, "", line)
			continue
		}
		columns := splitTuple(cols)
		tuples := tuplesIn(rest)
		if len(tuples) == 0 {
			add(kind, "", line)
			continue
		}
		for _, t := range tuples {
			add(kind, sampleSegment(kind, columns, splitTuple(t)), line)
		}
	}
	slices.SortStableFunc(groups, func(a, b SampleGroup) int { return cmp.Compare(b.Count, a.Count) })
	return groups
}

// tuplesIn returns the text inside each top-level pair of parentheses of s,
// outside quotes.
func tuplesIn(s string) []string {
	var out []string
	depth, start := 0, 0
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			if depth == 0 {
				start = i + 1
			}
			depth++
		case c == ')' && depth > 0:
			depth--
			if depth == 0 {
				out = append(out, s[start:i])
			}
		}
	}
	return out
}

// splitTuple splits "1580557697843484206, 'a, b', 123" into its values,
// unquoted.
func splitTuple(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// sampleSegment is the segment a tuple names, by the line's column names
// ("segment id"; or "id", "code" and "segment owner member id"), or by
// the documented order when the line gives none.
func sampleSegment(kind string, columns, values []string) string {
	col := func(names ...string) int {
		for i, c := range columns {
			if slices.Contains(names, strings.ToLower(strings.TrimSpace(c))) {
				return i
			}
		}
		return -1
	}
	id, code, owner := col("segment id", "seg_id", "id"), col("code", "segment code", "seg_code"), col("segment owner member id", "member id", "member_id")
	if len(columns) == 0 {
		switch k := strings.ToLower(kind); {
		case strings.HasSuffix(k, "segments"):
			id, code, owner = 0, 1, 2
		case strings.HasSuffix(k, "additions"), strings.HasSuffix(k, "removals"):
			id = 1
		}
	}
	value := func(i int) string {
		if i < 0 || i >= len(values) {
			return ""
		}
		return values[i]
	}
	if v := value(id); v != "" && v != "0" {
		return v
	}
	if c := value(code); c != "" {
		if o := value(owner); o != "" && o != "0" {
			return o + ":" + c
		}
		return c
	}
	return ""
}
