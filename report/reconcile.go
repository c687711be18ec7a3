package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/rtseg/rtseg/uploader"
)

// ProcessingDelay is how long the service may take to count what it was
// sent: its documentation now says up to 24 hours.
const ProcessingDelay = 24 * time.Hour

// ErrCountsDiffer is a reconciliation whose counts differ.
var ErrCountsDiffer = errors.New("the service's counts differ from the run's")

// ReadSummary reads a summary written with --summary.
func ReadSummary(path string) (*Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--summary: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("--summary %s: not a summary: %w", path, err)
	}
	return &s, nil
}

// SummaryError is a summary that cannot be reconciled, with how to help.
type SummaryError struct {
	Path, Problem, hint string
}

func (e *SummaryError) Error() string { return e.Path + ": " + e.Problem }

// Hint says what to do about it.
func (e *SummaryError) Hint() string { return e.hint }

// UsageWindow checks that the summary of the run at path can be reconciled
// for member (0: the summary's) and returns the member and the hours to
// read the service's statistics for: from the hour the run started to the
// end of the hour it finished.
func (s *Summary) UsageWindow(path string, member int64) (int64, time.Time, time.Time, error) {
	var zero time.Time
	switch {
	case s.Command == "sync" && s.Sync != nil && s.Sync.DryRun:
		return 0, zero, zero, &SummaryError{Path: path, Problem: "a summary of rtseg sync --dry-run, which sends nothing"}
	case s.Command != "" && s.Command != "upload" && s.Command != "sync":
		return 0, zero, zero, &SummaryError{Path: path, Problem: fmt.Sprintf("a summary of rtseg %s, which sends nothing", s.Command)}
	}
	if s.StartedAt.IsZero() || s.FinishedAt.IsZero() {
		return 0, zero, zero, &SummaryError{Path: path, Problem: "no started_at and finished_at: the run's hours are unknown",
			hint: "reconcile needs a summary written by this version of rtseg upload or sync"}
	}
	if member <= 0 {
		member = s.MemberID
	}
	if member <= 0 {
		return 0, zero, zero, &SummaryError{Path: path, Problem: "the run's member is unknown",
			hint: "give it with --member-id (the statistics are kept per member)"}
	}
	return member, s.StartedAt.UTC().Truncate(time.Hour), s.FinishedAt.UTC().Truncate(time.Hour).Add(time.Hour), nil
}

// RunCounts is what the run sent, from its summary.
type RunCounts struct {
	Users   int64 `json:"users"`   // in requests sent
	Adds    int64 `json:"adds"`    // accepted rows adding a user
	Removes int64 `json:"removes"` // accepted rows removing a user
	Warned  int64 `json:"warned"`  // rows the service answered with a warning
	Failed  int64 `json:"failed"`  // rows not delivered
}

// ServiceCounts is what the service counted.
type ServiceCounts struct {
	ValidUsers       int64 `json:"valid_users"`
	ValidAdds        int64 `json:"valid_adds"`
	ValidRemoves     int64 `json:"valid_removes"`
	InvalidUsers     int64 `json:"invalid_users"`
	InvalidSegments  int64 `json:"invalid_segments"`
	UnauthSegments   int64 `json:"unauthorized_segments"`
	InactiveSegments int64 `json:"inactive_segments"`
	OtherErrors      int64 `json:"other_errors"`
}

func (c *ServiceCounts) add(d ServiceCounts) {
	c.ValidUsers += d.ValidUsers
	c.ValidAdds += d.ValidAdds
	c.ValidRemoves += d.ValidRemoves
	c.InvalidUsers += d.InvalidUsers
	c.InvalidSegments += d.InvalidSegments
	c.UnauthSegments += d.UnauthSegments
	c.InactiveSegments += d.InactiveSegments
	c.OtherErrors += d.OtherErrors
}

// HourCounts is what the service counted in one hour.
type HourCounts struct {
	Hour string `json:"hour"`
	ServiceCounts
}

// Reconciliation compares what a run sent with what the service counted
// over the run's hours. Its JSON is what rtseg reconcile --format json
// writes.
type Reconciliation struct {
	Summary     string        `json:"summary"`
	MemberID    int64         `json:"member_id"`
	Start       string        `json:"start"`
	End         string        `json:"end"`
	Run         RunCounts     `json:"run"`
	Service     ServiceCounts `json:"service"`
	Hours       []HourCounts  `json:"hours"`
	Matches     bool          `json:"matches"`
	Differences []string      `json:"differences"`
	// Pending is set while the service may still be counting the run.
	Pending        bool     `json:"pending"`
	ErrorSamples   []string `json:"error_samples"`
	SegmentSamples []string `json:"segment_samples"`
	// ErrorGroups and SegmentGroups are the samples grouped by kind and
	// segment, as the text and the run page show them.
	ErrorGroups   []SampleGroup `json:"error_groups"`
	SegmentGroups []SampleGroup `json:"segment_groups"`

	finished time.Time
}

// Reconcile compares the summary of the run at path with the service's
// hourly statistics for member from start to end, as of now.
func Reconcile(path string, sum *Summary, member int64, start, end time.Time, hours []uploader.UsageHour, now time.Time) *Reconciliation {
	rec := &Reconciliation{
		Summary: path, MemberID: member,
		Start: start.Format(uploader.UsageTimeLayout), End: end.Format(uploader.UsageTimeLayout),
		Run:            RunCounts{Users: sum.Users, Warned: sum.Warned, Failed: sum.Failed},
		Hours:          []HourCounts{},
		Differences:    []string{},
		ErrorSamples:   []string{},
		SegmentSamples: []string{},
		Pending:        now.Sub(sum.FinishedAt) < ProcessingDelay,
		finished:       sum.FinishedAt,
	}
	for _, s := range sum.Segments {
		rec.Run.Adds += s.Added
		rec.Run.Removes += s.Removed
	}
	for _, h := range hours {
		c := ServiceCounts{h.ValidUsers, h.ValidAdds, h.ValidRemoves, h.InvalidUsers, h.InvalidSegments, h.UnauthSegments, h.InactiveSegments, h.OtherErrors}
		rec.Hours = append(rec.Hours, HourCounts{Hour: h.Hour.Format(uploader.UsageTimeLayout), ServiceCounts: c})
		rec.Service.add(c)
		rec.ErrorSamples = append(rec.ErrorSamples, h.ErrorLines...)
		rec.SegmentSamples = append(rec.SegmentSamples, h.SegmentLines...)
	}
	differ := func(what string, run, service int64) {
		if run != service {
			rec.Differences = append(rec.Differences, fmt.Sprintf("%s: the run sent %d, the service counted %d", what, run, service))
		}
	}
	differ("users", rec.Run.Users, rec.Service.ValidUsers)
	differ("adds", rec.Run.Adds, rec.Service.ValidAdds)
	differ("removes", rec.Run.Removes, rec.Service.ValidRemoves)
	s := rec.Service
	if dropped := s.InvalidSegments + s.UnauthSegments + s.InactiveSegments; dropped > rec.Run.Warned {
		rec.Differences = append(rec.Differences, fmt.Sprintf(
			"the service refused %d segment associations (%d invalid, %d unauthorised, %d inactive), more than the run's %d warned rows",
			dropped, s.InvalidSegments, s.UnauthSegments, s.InactiveSegments, rec.Run.Warned))
	}
	rec.Matches = len(rec.Differences) == 0
	rec.ErrorGroups = orEmpty(GroupSamples(rec.ErrorSamples))
	rec.SegmentGroups = orEmpty(GroupSamples(rec.SegmentSamples))
	return rec
}

// Err is nil when the counts match, else ErrCountsDiffer.
func (rec *Reconciliation) Err() error {
	if rec.Matches {
		return nil
	}
	return ErrCountsDiffer
}

// Hint says when to reconcile again while the service may still be
// counting, or "".
func (rec *Reconciliation) Hint() string {
	if rec.Matches || !rec.Pending {
		return ""
	}
	return fmt.Sprintf("the run ended less than %d hours ago and the service may still be counting: reconcile again after %s UTC",
		int(ProcessingDelay.Hours()), rec.finished.Add(ProcessingDelay).UTC().Format(uploader.UsageTimeLayout))
}

// WriteJSON writes the reconciliation as indented JSON.
func (rec *Reconciliation) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rec)
}

// WriteText writes the reconciliation for a person: the counts side by
// side, the service's samples, and the differences.
func (rec *Reconciliation) WriteText(w io.Writer) {
	fmt.Fprintf(w, "rtseg: reconcile %s: member %d, %s to %s UTC\n\n", rec.Summary, rec.MemberID, rec.Start, rec.End)
	row := func(name, run, service string) { fmt.Fprintf(w, "%-22s %9s %16s\n", name, run, service) }
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	row("", "run sent", "service counted")
	row("users", n(rec.Run.Users), n(rec.Service.ValidUsers))
	row("adds", n(rec.Run.Adds), n(rec.Service.ValidAdds))
	row("removes", n(rec.Run.Removes), n(rec.Service.ValidRemoves))
	row("invalid users", "-", n(rec.Service.InvalidUsers))
	row("invalid segments", "-", n(rec.Service.InvalidSegments))
	row("unauthorised segments", "-", n(rec.Service.UnauthSegments))
	row("inactive segments", "-", n(rec.Service.InactiveSegments))
	row("other errors", "-", n(rec.Service.OtherErrors))
	row("warned rows", n(rec.Run.Warned), "-")
	row("failed rows", n(rec.Run.Failed), "-")
	if len(rec.Hours) == 0 {
		fmt.Fprintf(w, "\nThe service reports nothing for these hours.\n")
	}
	for _, s := range []struct {
		title  string
		lines  int
		groups []SampleGroup
	}{{"error", len(rec.ErrorSamples), rec.ErrorGroups}, {"segment", len(rec.SegmentSamples), rec.SegmentGroups}} {
		if len(s.groups) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nThe service's %s samples (%s), by kind and segment:\n", s.title, count(s.lines, "line"))
		for _, g := range s.groups {
			fmt.Fprintf(w, "%8d  %s\n", g.Count, g.Title())
		}
	}
	fmt.Fprintln(w)
	if rec.Matches {
		fmt.Fprintln(w, "The service counted what the run sent.")
		return
	}
	for _, d := range rec.Differences {
		fmt.Fprintf(w, "Difference: %s.\n", d)
	}
	fmt.Fprintln(w, "Other uploads of the same member in these hours, and requests the service processed although rtseg saw them fail, also count.")
}

// Title names the group in a line: "Inactive segments, segment 10002".
func (g SampleGroup) Title() string {
	if g.Segment == "" {
		return printable(g.Kind)
	}
	return printable(g.Kind) + ", segment " + printable(g.Segment)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
