package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader"
)

var pageStart = time.Date(2026, 12, 1, 10, 58, 30, 0, time.UTC)

// pageRun feeds a recorder what feed does, on a clock that moves on 0.7 s
// at each outcome, and ends the run as Finish would, at fixed times.
func pageRun(t *testing.T, command string, tol string, signal int, feed func(*Recorder)) *Summary {
	t.Helper()
	rec := NewRecorder(RecorderConfig{Command: command, UsersPerSecond: 1000, Now: steppingClock(pageStart, 700*time.Millisecond)})
	feed(rec)
	sum, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	finished := pageStart.Add(3 * time.Minute)
	sum.ElapsedSeconds = finished.Sub(pageStart).Seconds()
	endpoint := "http://127.0.0.1:8080/rt-segment"
	if command == "validate" {
		endpoint = ""
	}
	sum.Describe(pageStart, finished, endpoint, 0)
	tl, err := ParseTolerance(tol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sum.Status(tl, nil, signal); err != nil {
		t.Fatal(err)
	}
	sum.MaxRejected = tl.String()
	return sum
}

func valid(line int64, user string, seg int64, exp int32) reader.Row {
	return row(line, user, seg, exp)
}

func invalid(line int64, f reader.Fields) reader.Row {
	return reader.Validate(reader.Position{File: "exports/part-0.csv", Line: line}, f, reader.Defaults{})
}

func request(seq int, entries ...chunker.Entry) *chunker.Request {
	return chunker.Encode(seq, entries)
}

func entry(user string, rows ...reader.Row) chunker.Entry {
	return chunker.Entry{User: reader.User{ID: user}, Rows: rows}
}

// The runs of the golden pages.
func cleanRun(t *testing.T) *Summary {
	return pageRun(t, "upload", "0", 0, func(rec *Recorder) {
		rec.Read(4)
		rec.Sent(uploader.Result{Request: request(0, entry("u1", valid(2, "u1", 10001, 1440), valid(3, "u1", 10002, 1440))), Attempts: 1})
		rec.Sent(uploader.Result{Request: request(1, entry("u2", valid(4, "u2", 10001, 1440)), entry("u3", valid(5, "u3", 10003, -1))), Attempts: 2, Retries: 1, Throttled: 1})
	})
}

func invalidRun(t *testing.T) *Summary {
	return pageRun(t, "upload", "1", 0, func(rec *Recorder) {
		rec.Read(6)
		rec.Invalid(invalid(2, reader.Fields{UserID: "u1", SegID: "abc"}))
		rec.Invalid(invalid(3, reader.Fields{UserID: "u2", SegID: "x1"}))
		rec.Invalid(invalid(4, reader.Fields{SegID: "10001"}))
		rec.Invalid(invalid(5, reader.Fields{UserID: "u4", SegID: "10001", Domain: "sha1mac"}))
		rec.Superseded(valid(6, "u5", 10001, 60), reader.Position{File: "in.csv", Line: 7})
		rec.Sent(uploader.Result{Request: request(0, entry("u5", valid(7, "u5", 10001, 120))), Attempts: 1})
	})
}

func warningsRun(t *testing.T) *Summary {
	return pageRun(t, "upload", "0", 0, func(rec *Recorder) {
		rec.Read(4)
		rec.Sent(uploader.Result{Request: request(0,
			entry("u1", valid(2, "u1", 10001, 1440), valid(3, "u1", 99, 1440)),
			entry("u2", valid(4, "u2", 99, 1440)),
			entry("u3", valid(5, "u3", 10001, 1440))),
			Attempts: 1, Warned: map[uploader.RowRef]string{
				{Entry: 0, Block: 1}: "No valid segments for user_id: u1.",
				{Entry: 1, Block: 0}: "No valid segments for user_id: u2.",
			}})
	})
}

func interruptedRun(t *testing.T) *Summary {
	return pageRun(t, "upload", "0", 2, func(rec *Recorder) {
		rec.Read(3)
		rec.Sent(uploader.Result{Request: request(0, entry("u1", valid(2, "u1", 10001, 1440))), Attempts: 1})
		rec.Sent(uploader.Result{Request: request(1, entry("u2", valid(3, "u2", 10001, 1440))), Attempts: 9, Retries: 8,
			Err: &uploader.GaveUpError{Attempts: 9, Last: &uploader.APIError{Status: 503, Message: "Service temporarily unavailable"}}})
		interrupted, cancel := context.WithCancel(context.Background())
		cancel()
		rec.Unsent(interrupted, request(2, entry("u3", valid(4, "u3", 10001, 1440))))
	})
}

func validateRun(t *testing.T) *Summary {
	return pageRun(t, "validate", "100%", 0, func(rec *Recorder) {
		rec.Read(3)
		rec.Invalid(invalid(2, reader.Fields{UserID: "u1", SegID: "10001", Expiration: "999999"}))
		rec.Queued(nil)
		rec.Valid(request(0, entry("u2", valid(3, "u2", 10001, 1440), valid(4, "u2", 10002, 0))))
	})
}

// syncRun is a run of rtseg sync as its summary will be: the counts
// against the delivered state, and unchanged rows an outcome of their own.
func syncRun(t *testing.T) *Summary {
	sum := pageRun(t, "sync", "0", 0, func(rec *Recorder) {
		rec.Read(2)
		rec.Sent(uploader.Result{Request: request(0, entry("u1", valid(2, "u1", 10001, 1440)), entry("u2", valid(3, "u2", 10001, -1))), Attempts: 1})
	})
	sum.RowsRead += 7
	sum.Sync, sum.Unchanged = &Sync{Added: 1, Changed: 0, Refreshed: 0, Removed: 1}, 7
	return sum
}

func reconciled(t *testing.T) *Page {
	sum := cleanRun(t)
	hours := []uploader.UsageHour{
		{Hour: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), ValidUsers: 1, ValidAdds: 2, InactiveSegments: 1,
			ErrorLines: []string{"Inactive segments (id, code, segment owner member id): (10002, '', 1234)"}},
		{Hour: time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC), ValidUsers: 2, ValidAdds: 1, ValidRemoves: 1,
			SegmentLines: []string{
				"Valid additions (user id, segment id, expiration): (u2, 10001, 1440)",
				"Valid removals (user id, segment id, expiration): (u3, 10003, -1)",
			}},
	}
	member, start, end, err := (&Summary{Command: "upload", StartedAt: sum.StartedAt, FinishedAt: sum.FinishedAt, MemberID: 1234}).UsageWindow("s.json", 0)
	if err != nil {
		t.Fatal(err)
	}
	rec := Reconcile("s.json", sum, member, start, end, hours, sum.FinishedAt.Add(2*time.Hour))
	return &Page{Summary: sum, Reconciliation: rec}
}

func render(t *testing.T, p *Page) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := p.Render(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPageGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		page func(*testing.T) *Page
	}{
		{"clean", func(t *testing.T) *Page { return &Page{Summary: cleanRun(t)} }},
		{"invalid", func(t *testing.T) *Page { return &Page{Summary: invalidRun(t)} }},
		{"warnings", func(t *testing.T) *Page { return &Page{Summary: warningsRun(t)} }},
		{"interrupted", func(t *testing.T) *Page { return &Page{Summary: interruptedRun(t)} }},
		{"validate", func(t *testing.T) *Page { return &Page{Summary: validateRun(t)} }},
		{"sync", func(t *testing.T) *Page { return &Page{Summary: syncRun(t)} }},
		{"reconciled", reconciled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.page(t)
			if !p.Summary.Reconciles() {
				t.Fatalf("the run does not reconcile: %+v", p.Summary)
			}
			golden(t, "page-"+tc.name+".html", render(t, p))
		})
	}
}

// What each page must say, beyond its golden file: the verdict and the
// groups a person reads it for.
func TestPageSays(t *testing.T) {
	for _, tc := range []struct {
		name string
		page *Page
		want []string
	}{
		{"clean", &Page{Summary: cleanRun(t)}, []string{
			"Exit status <span data-total=\"exit_status\" data-value=\"0\">0</span>: The run succeeded.",
			`data-total="rows_read" data-value="4"`, `data-total="accepted" data-value="4"`,
			"No row was invalid.", "The service warned of no row.", "No row failed.",
			"429 answers came in 1 interval and retries in 1 interval.",
		}},
		{"invalid", &Page{Summary: invalidRun(t)}, []string{
			"Exit status <span data-total=\"exit_status\" data-value=\"2\">2</span>: The run finished with too many rows rejected.",
			"4 rows rejected (invalid, warned or failed), more than --max-rejected 1 allows.",
			`<td class="text">seg_id is not a whole number</td><td class="num">2</td><td class="num">50.0%</td>`,
			`<li><code>exports/part-0.csv:2</code> seg_id &#34;abc&#34; is not a whole number</li>`,
			`<li><code>exports/part-0.csv:3</code> seg_id &#34;x1&#34; is not a whole number</li>`,
			`<td class="text">user_id is empty</td>`,
		}},
		{"warnings", &Page{Summary: warningsRun(t)}, []string{
			`<td class="text">No valid segments for user_id: ….</td><td class="text"><code>99</code></td><td class="num">2</td>`,
			`<li><code>in.csv:3</code> No valid segments for user_id: u1.</li>`,
		}},
		{"interrupted", &Page{Summary: interruptedRun(t)}, []string{
			"Exit status <span data-total=\"exit_status\" data-value=\"130\">130</span>: The run was interrupted (SIGINT).",
			`<td class="text">not sent: the run was interrupted</td>`,
			`<td class="text">HTTP 503: Service temporarily unavailable (gave up after 9 attempts)</td>`,
		}},
		{"sync", &Page{Summary: syncRun(t)}, []string{
			`data-total="unchanged" data-value="7"`, `data-total="added" data-value="1"`, `data-total="removed" data-value="1"`,
			`data-total="changed" data-value="0"`, `data-total="refreshed" data-value="0"`,
		}},
		{"reconciled", reconciled(t), []string{
			"The service's counts differ from the run's.",
			"<li>the service refused 1 segment associations (0 invalid, 0 unauthorised, 1 inactive), more than the run&#39;s 0 warned rows.</li>",
			"The run ended less than 24 hours ago: the service may still be counting until 2026-12-02 11:01:30 UTC.",
			`<td class="text">Inactive segments</td><td class="text"><code>10002</code></td><td class="num">1</td>`,
			`<th scope="row">2026-12-01 10:00:00</th><td class="num">3</td><td class="num">1</td>`,
		}},
	} {
		page := string(render(t, tc.page))
		for _, w := range tc.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s: the page lacks %q", tc.name, w)
			}
		}
	}
}

// Values from the input and from the service appear escaped: HTML and
// scripts as text, control characters and bidirectional marks written out.
func TestPageEscapesHostileValues(t *testing.T) {
	const script = `<script>alert(1)</script>`
	const user = "u\x1b[2J\u202e" + script
	file := `<img src=x onerror=alert(2)>.csv`
	hostile := func(line int64, user string) reader.Row {
		r := row(line, user, 10001, 1440)
		r.Pos.File = file
		return r
	}
	sum := pageRun(t, "upload", "0", 0, func(rec *Recorder) {
		rec.Read(6)
		rec.Invalid(reader.Validate(reader.Position{File: file, Line: 2}, reader.Fields{UserID: "u\x1b[2J\u202e" + script, SegID: "10001"}, reader.Defaults{}))
		rec.Invalid(reader.Validate(reader.Position{File: file, Line: 3}, reader.Fields{UserID: "u", SegID: script}, reader.Defaults{}))
		rec.Invalid(reader.Validate(reader.Position{File: file, Line: 4}, reader.Fields{UserID: "u", SegCode: `"><script>x()</script>`, MemberID: "7", Expiration: "9e9"}, reader.Defaults{}))
		rec.Sent(uploader.Result{Request: request(0, entry(user, hostile(5, user)), entry("v", hostile(6, "v\nw"))), Attempts: 1,
			Warned: map[uploader.RowRef]string{{Entry: 0, Block: 0}: "No valid segments for user_id: " + user + "."}})
		rec.Sent(uploader.Result{Request: request(1, entry("x", hostile(7, "x"))), Attempts: 1, Err: errors.New(`HTTP 400: bad <b onmouseover="alert(3)">request</b>`)})
	})
	sum.Error = "boom <script>alert(4)</script>\x07"
	sum.ExitStatus = StatusFailure
	rec := Reconcile("s.json", sum, 7, pageStart, pageStart.Add(time.Hour), []uploader.UsageHour{{Hour: pageStart.Truncate(time.Hour),
		ErrorLines: []string{"Inactive segments (id, code, segment owner member id): (0, '" + script + "\x1b', 7)", "<b>bold</b>\x00"}}}, pageStart)
	page := string(render(t, &Page{Summary: sum, Reconciliation: rec}))
	for _, bad := range []string{"<script", "<img", "<b>bold", "<b onmouseover", "\x1b", "\x00", "\x07", "\u202e"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	for _, want := range []string{
		"&lt;img src=x onerror=alert(2)&gt;.csv:2",
		`u\x1b[2J\u202e&lt;script&gt;alert(1)&lt;/script&gt;`,
		"boom &lt;script&gt;alert(4)&lt;/script&gt;\\x07",
		"No valid segments for user_id: ….",
		`7:&#34;&gt;&lt;script&gt;x()&lt;/script&gt;`,
		"HTTP 400: bad &lt;b onmouseover=&#34;alert(3)&#34;&gt;request&lt;/b&gt;",
		`7:&lt;script&gt;alert(1)&lt;/script&gt;\x1b`,
		`&lt;b&gt;bold&lt;/b&gt;\x00`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks the escaped %q", want)
		}
	}
}

// bigSummary is a synthetic summary of a run of 100 million rows over 28
// hours: every list at its bound, 10,000 segments, and its texts of
// length long made of ch.
func bigSummary(long int, ch string) (*Summary, *Reconciliation) {
	text := func(prefix string, i int) string {
		s := fmt.Sprintf("%s %d ", prefix, i)
		return s + strings.Repeat(ch, max(long-len(s), 0))
	}
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s := &Summary{Command: "upload", RowsRead: 100_000_000, Accepted: 99_000_000, Invalid: 500_000, Superseded: 300_000,
		Warned: 100_000, Failed: 100_000, Users: 60_000_000, Requests: 60_000, Retries: 2_000, Throttled: 300,
		BytesSent: 9_000_000_000, ElapsedSeconds: 100_000, ExitStatus: StatusRejected, MaxRejected: "0.1%",
		StartedAt: start, FinishedAt: start.Add(100_000 * time.Second), Endpoint: "https://streaming-data.appnexus.com/rt-segment", MemberID: 1234}
	for i := range 10_000 {
		code := text("", i)[:min(long, 400)]
		s.Segments = append(s.Segments, SegmentSummary{Segment: "1234:" + code, MemberID: 1234, SegCode: code,
			SegmentCounts: SegmentCounts{Added: 9_800, Removed: 100, Accepted: 9_900, Warned: 10, Invalid: 50, Failed: 10}})
	}
	group := func(kind string, i int, seg string) Group {
		g := Group{Reason: text(kind, i), Segment: seg, Rows: int64(20_000 - i)}
		for k := range MaxExamples {
			g.Examples = append(g.Examples, Example{At: text("exports/part", k) + ":123456789", Detail: text("detail", k)})
		}
		return g
	}
	for i := range MaxGroups {
		s.Groups.Invalid = append(s.Groups.Invalid, group("reason", i, ""))
		s.Groups.Warned = append(s.Groups.Warned, group("message", i, text("seg", i)))
		s.Groups.Failed = append(s.Groups.Failed, group("cause", i, ""))
	}
	s.Throughput = &Throughput{Start: start, IntervalSeconds: 128, UsersPerSecond: 1000}
	for i := range MaxPoints {
		s.Throughput.Points = append(s.Throughput.Points, Point{At: float64(i * 128), Users: 600_000 / 10 * 128 / 128, Requests: 600,
			Retries: int64(i % 3), Throttled: int64(i % 7 / 6), Rows: 100_000})
	}
	var hours []uploader.UsageHour
	for h := range 29 {
		u := uploader.UsageHour{Hour: start.Add(time.Duration(h) * time.Hour), ValidUsers: 2_100_000, ValidAdds: 3_400_000, ValidRemoves: 30_000}
		for k := range 200 {
			u.ErrorLines = append(u.ErrorLines, fmt.Sprintf("Unauthorized segments (id, code, segment owner member id): (%d, '%s', 0)", 1000+h*200+k, text("", k)))
			u.SegmentLines = append(u.SegmentLines, fmt.Sprintf("Valid additions (user id, segment id, expiration): (%d, %d, 1440)", k, 5000+h*200+k))
		}
		hours = append(hours, u)
	}
	rec := Reconcile("s.json", s, 1234, start, start.Add(29*time.Hour), hours, start.Add(30*time.Hour))
	return s, rec
}

// The page of a 100-million-row run stays under 1 MB, even when every
// text is at its longest and made of characters HTML escapes.
func TestPageSizeOfAHundredMillionRowRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		long int
		ch   string
	}{
		{"typical texts", 60, "x"},
		{"longest texts, all escaped", 2_000, "&"},
	} {
		sum, rec := bigSummary(tc.long, tc.ch)
		if !sum.Reconciles() {
			t.Fatalf("%s: the synthetic summary does not reconcile", tc.name)
		}
		run := len(render(t, &Page{Summary: sum}))
		reconciled := len(render(t, &Page{Summary: sum, Reconciliation: rec}))
		t.Logf("%s: the page of a 100M-row run is %d bytes, %d with the service's side", tc.name, run, reconciled)
		if reconciled >= 1<<20 || run >= 1<<20 {
			t.Errorf("%s: the page is %d bytes (%d with the service's side), want under 1 MiB", tc.name, run, reconciled)
		}
	}
}

// Rows of groups the summary leaves out are on the page too, as one line,
// so that each table adds up to its outcome's count.
func TestPageListsTheRestOfTheRows(t *testing.T) {
	sum := &Summary{Command: "upload", RowsRead: 10, Invalid: 10, ExitStatus: StatusRejected,
		Groups: Groups{Invalid: []Group{{Reason: "seg_id is not a whole number", Rows: 7, Examples: []Example{{At: "in.csv:2"}}}}}}
	page := string(render(t, &Page{Summary: sum}))
	for _, want := range []string{
		`<td class="text">seg_id is not a whole number</td><td class="num">7</td><td class="num">70.0%</td>`,
		`<tr><td><em>other reasons</em></td><td class="num">3</td><td class="num">30.0%</td><td></td></tr>`,
		`<td class="num" data-total="groups.invalid" data-value="10">10</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
