package report

import (
	"bufio"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/dustin/go-humanize/english"
	"github.com/rtseg/rtseg/uploader"
)

// Page is the run page that --html writes (SPEC §15): one HTML file with
// its CSS inline and its charts as inline SVG, which needs no script and
// fetches nothing, so that it reads offline, in a mail or as a CI
// artifact. It shows the verdict, the reconciliation of the rows, the
// segments, the rows not accepted grouped by why, and the throughput
// against the limit; with a Reconciliation, the service's side beside the
// run's. Everything on it comes from the summary (and the service's
// statistics), and every text from the input is escaped and shown with
// its control characters written out. Its size is bounded whatever the
// run: the summary holds aggregates and the largest groups only, and the
// page lists at most MaxPageSegments segments and MaxPageHours hours.
type Page struct {
	Summary *Summary
	// Reconciliation is the service's side, from rtseg reconcile; nil
	// for the page a run writes.
	Reconciliation *Reconciliation
}

// Bounds of the page.
const (
	// MaxPageSegments is how many segments the page lists, the largest
	// first when the run has more; the rest are added up in one line.
	MaxPageSegments = 200
	// MaxPageHours is how many hours of the service's statistics it
	// lists; the rest are added up in one line.
	MaxPageHours = 200
	// maxPageSampleGroups is how many groups of the service's samples it
	// lists, of each kind.
	maxPageSampleGroups = 20
)

// How much of a text the page shows, in bytes, after its hidden
// characters are written out: with MaxGroups, MaxExamples and the lists'
// bounds, they keep the page under 1 MB even when every text is as long
// as can be and made of characters that HTML escapes.
const (
	shownReason  = 200 // a reason, message or cause
	shownAt      = 120 // file:line
	shownDetail  = 160 // an example's own reason
	shownName    = 100 // a segment, a kind of sample
	shownExample = 200 // a sample line
	shownOther   = 300 // the error of a failed run, an endpoint
)

// shown is s for the page: its hidden characters written out, at most n
// bytes.
func shown(s string, n int) string { return clipTo(printable(s), n) }

//go:embed page.tmpl
var pageText string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"n":     func(v int64) string { return humanize.Comma(v) },
	"int64": func(v int) int64 { return int64(v) },
	"count": func(v int64, singular string) string { return humanize.Comma(v) + " " + noun(v, singular) },
	"pct":   percent,
	"groups": func(v groupsView, key, head, none, other, all string) groupsTable {
		return groupsTable{V: v, Key: key, Head: head, None: none, Other: other, All: all}
	},
	"samples": func(v sampleView, key, name string) samplesTable { return samplesTable{V: v, Key: key, Name: name} },
}).Parse(pageText))

// groupsTable is a table of groups with its words.
type groupsTable struct {
	V                           groupsView
	Key, Head, None, Other, All string
}

// samplesTable is a table of the service's samples with its words.
type samplesTable struct {
	V         sampleView
	Key, Name string
}

// Render writes the page to w.
func (p *Page) Render(w io.Writer) error {
	return pageTemplate.Execute(w, p.view())
}

// WriteFile writes the page to path whole, under a temporary name renamed
// into place, so that an earlier page is never left half-overwritten.
func (p *Page) WriteFile(path string) error {
	f, err := createPending(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := p.Render(bw); err != nil {
		f.abort()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.abort()
		return err
	}
	return f.commit()
}

// noun is the noun for n of it: "row", "rows".
func noun(n int64, singular string) string { return english.PluralWord(int(n), singular, "") }

// percent is part of whole as a percentage for people: "12.5%", "<0.1%".
func percent(part, whole int64) string {
	switch {
	case whole <= 0 || part <= 0:
		return "0%"
	case part == whole:
		return "100%"
	}
	v := 100 * float64(part) / float64(whole)
	switch {
	case v < 0.1:
		return "<0.1%"
	case v > 99.9:
		return ">99.9%"
	}
	return fmt.Sprintf("%.1f%%", v)
}

// The view the template draws: numbers and text, cleaned and bounded.

type pageView struct {
	Title    string
	Command  string
	Verdict  verdictView
	Facts    []fact
	Read     int64
	Terms    []term
	Holds    bool
	Traffic  []term
	Sync     []term
	Chart    *chartView
	Segments segmentsView
	Invalid  groupsView
	Warned   groupsView
	Failed   groupsView
	Service  *serviceView
}

type verdictView struct {
	Class    string // ok, warn or bad
	Status   int
	Headline string
	Detail   string
}

type fact struct{ Name, Value string }

// term is a count shown with its name; Key names it for machines (the
// summary's field), in the page's data-total attributes.
type term struct {
	Name, Key string
	N         int64
}

func (p *Page) view() *pageView {
	s := p.Summary
	command := s.Command
	if command == "" {
		command = "upload"
	}
	v := &pageView{Command: command, Read: s.RowsRead, Holds: s.Reconciles()}
	v.Verdict = verdictOf(s, command)
	v.Title = fmt.Sprintf("rtseg %s: exit status %d, %s read", command, s.ExitStatus, count(s.RowsRead, "row"))
	v.Facts = factsOf(s, command)
	outcomes := []term{{"accepted", "accepted", s.Accepted}, {"invalid", "invalid", s.Invalid}, {"superseded", "superseded", s.Superseded},
		{"warned", "warned", s.Warned}, {"failed", "failed", s.Failed}, {"skipped", "skipped", s.Skipped}}
	if command == "validate" {
		outcomes = []term{{"valid", "valid", s.Valid}, {"invalid", "invalid", s.Invalid}, {"superseded", "superseded", s.Superseded}}
		for _, t := range []term{{"accepted", "accepted", s.Accepted}, {"warned", "warned", s.Warned}, {"failed", "failed", s.Failed}, {"skipped", "skipped", s.Skipped}} {
			if t.N != 0 {
				outcomes = append(outcomes, t)
			}
		}
	} else if s.Valid != 0 {
		outcomes = append(outcomes, term{"valid", "valid", s.Valid})
	}
	if s.Unchanged != 0 || command == "sync" {
		outcomes = append(outcomes, term{"unchanged", "unchanged", s.Unchanged})
	}
	v.Terms = outcomes
	v.Traffic = []term{{noun(s.Users, "user entry"), "users", s.Users}, {noun(s.Requests, "request"), "requests", s.Requests},
		{noun(s.Retries, "retry"), "retries", s.Retries}, {"throttled (429)", "throttled", s.Throttled}, {noun(s.BytesSent, "byte"), "bytes_sent", s.BytesSent}}
	if command == "validate" {
		v.Traffic = []term{{noun(s.Users, "user entry") + " to send", "users", s.Users}, {noun(s.Requests, "request") + " to send", "requests", s.Requests},
			{noun(s.BytesSent, "byte") + " to send", "bytes_sent", s.BytesSent}}
	}
	if s.Sync != nil || command == "sync" {
		var sy Sync
		if s.Sync != nil {
			sy = *s.Sync
		}
		v.Sync = []term{{"added", "added", sy.Added}, {"changed", "changed", sy.Changed}, {"refreshed", "refreshed", sy.Refreshed},
			{"removed", "removed", sy.Removed}, {"unchanged", "unchanged", s.Unchanged}}
	}
	v.Chart = throughputChart(s, command)
	v.Segments = segmentsOf(s.Segments)
	v.Invalid = groupsOf(s.Groups.Invalid, s.Invalid)
	v.Warned = groupsOf(s.Groups.Warned, s.Warned)
	v.Failed = groupsOf(s.Groups.Failed, s.Failed)
	if p.Reconciliation != nil {
		v.Service = serviceOf(p.Reconciliation, s)
	}
	return v
}

func verdictOf(s *Summary, command string) verdictView {
	v := verdictView{Status: s.ExitStatus}
	tol := s.MaxRejected
	if tol == "" {
		tol = "0"
	}
	rejected := s.Rejected()
	switch st := s.ExitStatus; {
	case st == StatusOK && command == "validate":
		v.Class, v.Headline = "ok", "Every row can be sent"
		if rejected > 0 {
			v.Headline = "The rows can be sent"
			v.Detail = fmt.Sprintf("%s invalid, within --max-rejected %s. Nothing was sent: this was rtseg validate.", count(rejected, "row"), tol)
		} else {
			v.Detail = "No row is invalid. Nothing was sent: this was rtseg validate."
		}
	case st == StatusOK:
		v.Class, v.Headline = "ok", "The run succeeded"
		if rejected > 0 {
			v.Detail = fmt.Sprintf("%s rejected (invalid, warned or failed), within --max-rejected %s; the others were delivered.", count(rejected, "row"), tol)
		} else {
			v.Detail = "Every row read was delivered, or was superseded by a later row, or had been delivered by an earlier run."
		}
	case st == StatusFailure:
		v.Class, v.Headline = "bad", "The run could not be done"
		v.Detail = shown(s.Error, shownOther)
		if v.Detail == "" {
			v.Detail = "It ended with an error; rtseg's last lines on standard error say which."
		}
	case st == StatusRejected:
		v.Class, v.Headline = "warn", "The run finished with too many rows rejected"
		v.Detail = fmt.Sprintf("%s rejected (invalid, warned or failed), more than --max-rejected %s allows. The tables below say why.", count(rejected, "row"), tol)
	case st > StatusInterrupted:
		v.Class = "warn"
		switch st - StatusInterrupted {
		case 2:
			v.Headline = "The run was interrupted (SIGINT)"
		case 15:
			v.Headline = "The run was interrupted (SIGTERM)"
		default:
			v.Headline = fmt.Sprintf("The run was interrupted (signal %d)", st-StatusInterrupted)
		}
		v.Detail = "It stopped reading and let the requests in flight finish; the rows never sent are failed (and in --failed). With --state-dir, the same command again sends only the rest."
	default:
		v.Class, v.Headline = "bad", fmt.Sprintf("Exit status %d", st)
	}
	return v
}

func factsOf(s *Summary, command string) []fact {
	var f []fact
	add := func(name, value string) {
		if value != "" {
			f = append(f, fact{name, value})
		}
	}
	add("Command", "rtseg "+command)
	if !s.StartedAt.IsZero() {
		add("Started", s.StartedAt.UTC().Format(uploader.UsageTimeLayout)+" UTC")
	}
	if !s.FinishedAt.IsZero() {
		add("Finished", s.FinishedAt.UTC().Format(uploader.UsageTimeLayout)+" UTC")
	}
	add("Elapsed", seconds(s.ElapsedSeconds))
	add("Endpoint", shown(s.Endpoint, shownOther))
	if s.MemberID > 0 {
		add("Member", fmt.Sprint(s.MemberID))
	}
	if s.MaxRejected != "" {
		add("--max-rejected", shown(s.MaxRejected, shownName))
	}
	return f
}

// seconds says a duration for people: "0.4s", "2m3s", "27h46m40s".
func seconds(v float64) string {
	d := time.Duration(v * float64(time.Second))
	switch {
	case d <= 0:
		return "0s"
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

type segmentsView struct {
	Rows  []segmentRow
	More  int // segments left out
	Other SegmentCounts
	Total SegmentCounts
	All   int
}

type segmentRow struct {
	Name string
	SegmentCounts
}

func segmentsOf(segs []SegmentSummary) segmentsView {
	v := segmentsView{All: len(segs)}
	rows := segs
	if len(segs) > MaxPageSegments {
		rows = slices.Clone(segs)
		slices.SortStableFunc(rows, func(a, b SegmentSummary) int {
			return cmp.Compare(segmentRows(b.SegmentCounts), segmentRows(a.SegmentCounts))
		})
		for _, s := range rows[MaxPageSegments:] {
			v.Other.add(s.SegmentCounts)
		}
		v.More = len(rows) - MaxPageSegments
		rows = rows[:MaxPageSegments]
	}
	for _, s := range segs {
		v.Total.add(s.SegmentCounts)
	}
	for _, s := range rows {
		v.Rows = append(v.Rows, segmentRow{Name: shown(s.Segment, shownName), SegmentCounts: s.SegmentCounts})
	}
	return v
}

func segmentRows(c SegmentCounts) int64 { return c.Accepted + c.Warned + c.Invalid + c.Failed }

func (c *SegmentCounts) add(d SegmentCounts) {
	c.Added += d.Added
	c.Removed += d.Removed
	c.Accepted += d.Accepted
	c.Warned += d.Warned
	c.Invalid += d.Invalid
	c.Failed += d.Failed
}

type groupsView struct {
	Groups []Group
	Other  int64 // rows in groups left out
	Total  int64
}

func groupsOf(groups []Group, total int64) groupsView {
	v := groupsView{Total: total, Other: total}
	for _, g := range groups[:min(len(groups), MaxGroups)] {
		c := Group{Reason: shown(g.Reason, shownReason), Segment: shown(g.Segment, shownName), Rows: g.Rows}
		for _, e := range g.Examples[:min(len(g.Examples), MaxExamples)] {
			c.Examples = append(c.Examples, Example{At: shown(e.At, shownAt), Detail: shown(e.Detail, shownDetail)})
		}
		v.Groups = append(v.Groups, c)
		v.Other -= g.Rows
	}
	return v
}

// The service's side.

type serviceView struct {
	Member      int64
	Start, End  string
	Compare     []compareRow
	Matches     bool
	Differences []string
	Pending     string
	Hours       []hourRow
	HoursMore   int
	HoursOther  hourRow
	HoursTotal  hourRow
	Chart       *chartView
	Errors      sampleView
	Segments    sampleView
}

type compareRow struct {
	Name, Key    string
	Run, Service int64
	RunKnown     bool // the run counts this; else "-"
	ServiceKnown bool
}

type hourRow struct {
	Hour     string
	RunUsers int64
	ServiceCounts
}

type sampleView struct {
	Lines  int
	Groups []SampleGroup
	More   int // groups left out
}

func serviceOf(rec *Reconciliation, s *Summary) *serviceView {
	v := &serviceView{Member: rec.MemberID, Start: rec.Start, End: rec.End, Matches: rec.Matches}
	for _, d := range rec.Differences {
		v.Differences = append(v.Differences, shown(d, shownOther))
	}
	if rec.Pending {
		v.Pending = fmt.Sprintf("The run ended less than %d hours ago: the service may still be counting until %s UTC. Reconcile again after then for final counts.",
			int(ProcessingDelay.Hours()), rec.finished.Add(ProcessingDelay).UTC().Format(uploader.UsageTimeLayout))
	}
	r, c := rec.Run, rec.Service
	v.Compare = []compareRow{
		{"users", "users", r.Users, c.ValidUsers, true, true},
		{"adds", "adds", r.Adds, c.ValidAdds, true, true},
		{"removes", "removes", r.Removes, c.ValidRemoves, true, true},
		{"invalid users", "invalid_users", 0, c.InvalidUsers, false, true},
		{"invalid segments", "invalid_segments", 0, c.InvalidSegments, false, true},
		{"unauthorised segments", "unauthorized_segments", 0, c.UnauthSegments, false, true},
		{"inactive segments", "inactive_segments", 0, c.InactiveSegments, false, true},
		{"other errors", "other_errors", 0, c.OtherErrors, false, true},
		{"warned rows", "warned", r.Warned, 0, true, false},
		{"failed rows", "failed", r.Failed, 0, true, false},
	}
	// The run's users by the hour their requests went out, beside the
	// service's hours.
	byHour := map[string]*hourRow{}
	var hours []*hourRow
	row := func(h string) *hourRow {
		if byHour[h] == nil {
			byHour[h] = &hourRow{Hour: h}
			hours = append(hours, byHour[h])
		}
		return byHour[h]
	}
	for _, h := range rec.Hours {
		row(h.Hour).ServiceCounts = h.ServiceCounts
	}
	if t := s.Throughput; t != nil {
		for i, p := range t.Points {
			if p.Users == 0 {
				continue
			}
			at := t.Start.Add(time.Duration(float64(i) * t.IntervalSeconds * float64(time.Second)))
			row(at.UTC().Truncate(time.Hour).Format(uploader.UsageTimeLayout)).RunUsers += p.Users
		}
	}
	slices.SortFunc(hours, func(a, b *hourRow) int { return strings.Compare(a.Hour, b.Hour) })
	for i, h := range hours {
		v.HoursTotal.add(h)
		if i < MaxPageHours {
			v.Hours = append(v.Hours, *h)
		} else {
			v.HoursOther.add(h)
			v.HoursMore++
		}
	}
	v.HoursOther.Hour = fmt.Sprintf("%s more", count(v.HoursMore, "hour"))
	v.HoursTotal.Hour = "All hours"
	v.Chart = hoursChart(v.Hours)
	v.Errors = samplesOf(rec.ErrorGroups, len(rec.ErrorSamples))
	v.Segments = samplesOf(rec.SegmentGroups, len(rec.SegmentSamples))
	return v
}

func (h *hourRow) add(d *hourRow) {
	h.RunUsers += d.RunUsers
	h.ServiceCounts.add(d.ServiceCounts)
}

func samplesOf(groups []SampleGroup, lines int) sampleView {
	v := sampleView{Lines: lines}
	for i, g := range groups {
		if i == maxPageSampleGroups {
			v.More = len(groups) - i
			break
		}
		v.Groups = append(v.Groups, SampleGroup{Kind: shown(g.Kind, shownName), Segment: shown(g.Segment, shownName), Count: g.Count, Example: shown(g.Example, shownExample)})
	}
	return v
}
