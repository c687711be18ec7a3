package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
	"github.com/spf13/cobra"
)

// processingDelay is how long the service may take to count what it was
// sent: its documentation now says up to 24 hours.
const processingDelay = 24 * time.Hour

// describeRun records in the summary what rtseg reconcile needs: when the
// run started and ended, where it sent, and for which member.
func describeRun(sum *report.Summary, o *options, start time.Time, send bool) {
	sum.StartedAt, sum.FinishedAt = start.UTC(), time.Now().UTC()
	if send {
		sum.Endpoint = bareURL(o.endpoint)
	}
	sum.MemberID = runMember(o.memberID, sum.Segments)
}

// bareURL is a URL without credentials, query or fragment.
func bareURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// runMember is --member-id, else the one member the run's segments name.
func runMember(flag string, segs []report.SegmentSummary) int64 {
	if m, err := strconv.ParseInt(flag, 10, 64); err == nil && m > 0 {
		return m
	}
	var member int64
	for _, s := range segs {
		switch {
		case s.MemberID == 0 || s.MemberID == member:
		case member == 0:
			member = s.MemberID
		default:
			return 0 // several members: none is the run's
		}
	}
	return member
}

type reconcileFlags struct {
	summary, format, endpoint, member string
	o                                 options
}

func (e *env) reconcileCommand() *cobra.Command {
	rf := &reconcileFlags{}
	cmd := &cobra.Command{
		Use:   "reconcile --summary S.json",
		Short: "Compare a run's summary with what the service says it processed",
		Long: `Reconcile reads the summary of an upload (--summary of rtseg upload), fetches
the service's hourly usage statistics (GET {endpoint base}/rt-segment-processed)
for the run's member and the hours it covered, and prints side by side what
the run sent (users, adds, removes) and what the service counted (valid
users, adds and removes; invalid users; invalid, unauthorised and inactive
segments), with the service's samples of error lines.

The service counts per request and per member: other uploads of the same
member in the same hours, and requests it processed although rtseg saw them
fail, show up as differences. It may take up to 24 hours to count
everything: reconcile a recent run again later.

Exit status: 0 the service counted what the run sent, 2 the counts differ,
1 the comparison could not be done.`,
		Example: `  rtseg upload --summary run.json exports/
  rtseg reconcile --summary run.json
  rtseg reconcile --summary run.json --format json > reconciliation.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.runReconcile(cmd, rf)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&rf.summary, "summary", "", "the run's summary (JSON, from rtseg upload --summary)")
	f.StringVar(&rf.format, "format", "text", "output: text or json")
	f.StringVar(&rf.endpoint, "endpoint", "", "the rt-segment URL the statistics are beside (default: the summary's, else RTSEG_ENDPOINT, else "+defaultEndpoint+")")
	f.StringVar(&rf.member, "member-id", "", "the member whose statistics to read (default: the summary's)")
	f.StringVar(&rf.o.api, "api", e.envOr("RTSEG_API", defaultAPI), "authentication base URL, for XANDR_USERNAME and XANDR_PASSWORD [RTSEG_API]")
	f.StringVar(&rf.o.tokenFile, "token-file", "", "read the API token from this file (else XANDR_TOKEN, or log in with XANDR_USERNAME and XANDR_PASSWORD)")
	f.IntVar(&rf.o.maxRetries, "max-retries", 8, "attempts after the first for one call")
	f.DurationVar(&rf.o.timeout, "timeout", 30*time.Second, "time limit of one HTTP attempt")
	return cmd
}

func (e *env) runReconcile(cmd *cobra.Command, rf *reconcileFlags) error {
	if rf.summary == "" {
		return usageError(cmd, "--summary is required")
	}
	if rf.format != "text" && rf.format != "json" {
		return usageError(cmd, "--format %q: want text or json", rf.format)
	}
	sum, err := readSummary(rf.summary)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	if sum.Command != "" && sum.Command != "upload" {
		return &exitError{code: exitFailure, err: fmt.Errorf("%s: a summary of rtseg %s, which sends nothing", rf.summary, sum.Command)}
	}
	if sum.StartedAt.IsZero() || sum.FinishedAt.IsZero() {
		return &exitError{code: exitFailure, err: fmt.Errorf("%s: no started_at and finished_at: the run's hours are unknown", rf.summary),
			hint: "reconcile needs a summary written by this version of rtseg upload"}
	}
	member := sum.MemberID
	if rf.member != "" {
		if member, err = strconv.ParseInt(rf.member, 10, 64); err != nil || member <= 0 {
			return usageError(cmd, "--member-id %q: want a positive whole number", rf.member)
		}
	}
	if member == 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%s: the run's member is unknown", rf.summary),
			hint: "give it with --member-id (the statistics are kept per member)"}
	}
	endpoint := rf.endpoint
	for _, v := range []string{sum.Endpoint, e.getenv("RTSEG_ENDPOINT"), defaultEndpoint} {
		if endpoint == "" {
			endpoint = v
		}
	}
	auth, err := e.auth(&rf.o)
	if err != nil {
		return asExitError(err)
	}
	reads, err := uploader.NewReadLimiter(uploader.UsageReadsPerSecond, uploader.LimitSpan, uploader.LimitJitter)
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	client, err := uploader.NewUsageClient(endpoint, uploader.ReadConfig{
		Auth:       auth,
		Reads:      reads,
		MaxRetries: rf.o.maxRetries,
		Timeout:    rf.o.timeout,
	})
	if err != nil {
		return &exitError{code: exitFailure, err: err}
	}
	start := sum.StartedAt.UTC().Truncate(time.Hour)
	end := sum.FinishedAt.UTC().Truncate(time.Hour).Add(time.Hour)
	hours, err := client.Hours(cmd.Context(), member, start, end)
	if err != nil {
		return asExitError(fmt.Errorf("read the usage statistics: %w", err))
	}
	rec := reconcile(rf.summary, sum, member, start, end, hours, time.Now())
	if rf.format == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rec); err != nil {
			return asExitError(err)
		}
	} else {
		rec.writeText(e.stdout)
	}
	if !rec.Matches {
		xe := &exitError{code: exitRejected, err: errors.New("the service's counts differ from the run's")}
		if rec.Pending {
			xe.hint = fmt.Sprintf("the run ended less than %d hours ago and the service may still be counting: reconcile again after %s UTC",
				int(processingDelay.Hours()), sum.FinishedAt.Add(processingDelay).UTC().Format(uploader.UsageTimeLayout))
		}
		return xe
	}
	return nil
}

func readSummary(path string) (*report.Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--summary: %w", err)
	}
	var s report.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("--summary %s: not a summary: %w", path, err)
	}
	return &s, nil
}

// runCounts is what the run sent, from its summary.
type runCounts struct {
	Users   int64 `json:"users"`   // in requests sent
	Adds    int64 `json:"adds"`    // accepted rows adding a user
	Removes int64 `json:"removes"` // accepted rows removing a user
	Warned  int64 `json:"warned"`  // rows the service answered with a warning
	Failed  int64 `json:"failed"`  // rows not delivered
}

// serviceCounts is what the service counted over the run's hours.
type serviceCounts struct {
	ValidUsers       int64 `json:"valid_users"`
	ValidAdds        int64 `json:"valid_adds"`
	ValidRemoves     int64 `json:"valid_removes"`
	InvalidUsers     int64 `json:"invalid_users"`
	InvalidSegments  int64 `json:"invalid_segments"`
	UnauthSegments   int64 `json:"unauthorized_segments"`
	InactiveSegments int64 `json:"inactive_segments"`
	OtherErrors      int64 `json:"other_errors"`
}

type hourCounts struct {
	Hour string `json:"hour"`
	serviceCounts
}

// reconciliation is the comparison, as --format json writes it.
type reconciliation struct {
	Summary        string        `json:"summary"`
	MemberID       int64         `json:"member_id"`
	Start          string        `json:"start"`
	End            string        `json:"end"`
	Run            runCounts     `json:"run"`
	Service        serviceCounts `json:"service"`
	Hours          []hourCounts  `json:"hours"`
	Matches        bool          `json:"matches"`
	Differences    []string      `json:"differences"`
	Pending        bool          `json:"pending"`
	ErrorSamples   []string      `json:"error_samples"`
	SegmentSamples []string      `json:"segment_samples"`
}

func reconcile(path string, sum *report.Summary, member int64, start, end time.Time, hours []uploader.UsageHour, now time.Time) *reconciliation {
	rec := &reconciliation{
		Summary: path, MemberID: member,
		Start: start.Format(uploader.UsageTimeLayout), End: end.Format(uploader.UsageTimeLayout),
		Run:            runCounts{Users: sum.Users, Warned: sum.Warned, Failed: sum.Failed},
		Hours:          []hourCounts{},
		Differences:    []string{},
		ErrorSamples:   []string{},
		SegmentSamples: []string{},
		Pending:        now.Sub(sum.FinishedAt) < processingDelay,
	}
	for _, s := range sum.Segments {
		rec.Run.Adds += s.Added
		rec.Run.Removes += s.Removed
	}
	for _, h := range hours {
		c := serviceCounts{h.ValidUsers, h.ValidAdds, h.ValidRemoves, h.InvalidUsers, h.InvalidSegments, h.UnauthSegments, h.InactiveSegments, h.OtherErrors}
		rec.Hours = append(rec.Hours, hourCounts{Hour: h.Hour.Format(uploader.UsageTimeLayout), serviceCounts: c})
		t := &rec.Service
		t.ValidUsers += c.ValidUsers
		t.ValidAdds += c.ValidAdds
		t.ValidRemoves += c.ValidRemoves
		t.InvalidUsers += c.InvalidUsers
		t.InvalidSegments += c.InvalidSegments
		t.UnauthSegments += c.UnauthSegments
		t.InactiveSegments += c.InactiveSegments
		t.OtherErrors += c.OtherErrors
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
	return rec
}

func (rec *reconciliation) writeText(w io.Writer) {
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
		title string
		lines []string
	}{{"The service's error samples", rec.ErrorSamples}, {"The service's segment samples", rec.SegmentSamples}} {
		if len(s.lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", s.title)
		for _, l := range s.lines {
			fmt.Fprintf(w, "  %s\n", l)
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
