package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// dataTotal is a count the run page shows, named for machines.
var dataTotal = regexp.MustCompile(`data-total="([^"]+)" data-value="(-?[0-9]+)"`)

// pageCounts reads the counts a run page shows: data-total name to value.
func pageCounts(page string) map[string][]int64 {
	counts := map[string][]int64{}
	for _, m := range dataTotal.FindAllStringSubmatch(page, -1) {
		v, _ := strconv.ParseInt(m[2], 10, 64)
		counts[m[1]] = append(counts[m[1]], v)
	}
	return counts
}

// summaryCount is what a summary says of a count the page names: a field
// ("accepted"), a sum over its segments ("segments.added"), or the rows of
// an outcome whose groups the page lists ("groups.invalid"). It reports
// false for a count the summary does not hold (the service's side).
func summaryCount(s map[string]any, name string) (int64, bool) {
	n := func(v any) int64 { f, _ := v.(float64); return int64(f) }
	if field, ok := strings.CutPrefix(name, "segments."); ok {
		segs, _ := s["segments"].([]any)
		var sum int64
		for _, seg := range segs {
			sum += n(seg.(map[string]any)[field])
		}
		return sum, true
	}
	if outcome, ok := strings.CutPrefix(name, "groups."); ok {
		return n(s[outcome]), true
	}
	if strings.Contains(name, ".") {
		return 0, false
	}
	return n(s[name]), true
}

// cmdPageTotals checks a run page against its summary: every count the
// page shows that the summary holds is equal to it, the page shows at
// least rows_read, each outcome and the exit status, and it holds no
// script: pagetotals PAGE.html SUMMARY.json.
func cmdPageTotals(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: pagetotals PAGE.html SUMMARY.json")
	}
	page := ts.ReadFile(args[0])
	var s map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &s))
	counts := pageCounts(page)
	var wrong []string
	for _, must := range []string{"rows_read", "invalid", "superseded", "exit_status", "users", "requests"} {
		if len(counts[must]) == 0 {
			wrong = append(wrong, "no "+must)
		}
	}
	for name, values := range counts {
		want, ok := summaryCount(s, name)
		if !ok {
			continue
		}
		for _, v := range values {
			if v != want {
				wrong = append(wrong, fmt.Sprintf("%s = %d, the summary says %d", name, v, want))
			}
		}
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		wrong = append(wrong, "it holds a script")
	}
	if len(wrong) > 0 {
		ts.Fatalf("page %s against summary %s: %s", args[0], args[1], strings.Join(wrong, "; "))
	}
	ts.Logf("page %s shows %d counts, each the summary's", args[0], len(counts))
}
