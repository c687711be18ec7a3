package report

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader"
)

// RecorderConfig says where outcomes go.
type RecorderConfig struct {
	Command string
	// Report receives non-accepted rows (every row with All); nil for none.
	Report *Writer
	All    bool
	// Failed receives failed rows as input for a later run; nil for none.
	Failed *FailedWriter
	// Journal, if set, records each packed request the service
	// acknowledged whole, before its rows count as accepted.
	Journal *Journal
	// Acked, if set, takes the position of every row accepted, or
	// skipped as delivered by an earlier run: what rtseg sync writes into
	// the new state.
	Acked *Acked
	// UsersPerSecond is the run's limit, which the throughput is drawn
	// against; 0 when nothing is sent.
	UsersPerSecond int
	// Now tells the time of each outcome, for the throughput; nil for
	// time.Now.
	Now func() time.Time
}

// Recorder counts every outcome and writes the report. Its methods may be
// called from any goroutine: each hands its work to the one goroutine that
// owns the counts and the files, in the order the calls were made.
type Recorder struct {
	cfg    RecorderConfig
	events chan func()
	done   chan struct{}

	live live
	// journalErr keeps the first failure to write the journal.
	journalErr atomic.Pointer[error]

	// Owned by the recorder goroutine.
	sum Summary
	// segments counts rows by segment.
	segments segmentCounts
	err      error
	line     Line
	// groups count the rows not accepted by why; series counts what
	// happens over time, tick being the time of the event at hand.
	groups struct{ invalid, warned, failed grouper }
	series *series
	tick   time.Time
	// files are closed with the recorder when it created them.
	files []*pendingFile
}

// NewRecorder starts a recorder. Close it to get the summary.
func NewRecorder(cfg RecorderConfig) *Recorder {
	r := &Recorder{
		cfg:    cfg,
		events: make(chan func(), 256),
		done:   make(chan struct{}),
	}
	r.sum.Command = cfg.Command
	if r.cfg.Now == nil {
		r.cfg.Now = time.Now
	}
	r.series = newSeries(r.cfg.Now())
	go func() {
		defer close(r.done)
		for ev := range r.events {
			r.tick = r.cfg.Now()
			ev()
		}
	}()
	return r
}

// live mirrors the counts for other goroutines (progress, metrics) to read.
type live struct {
	rowsRead, users, requests, retries, throttled, bytesSent, inFlight atomic.Int64
	outcomes                                                           [numOutcomes]atomic.Int64
	phase                                                              atomic.Int32
}

// Live is a snapshot of the counts so far, for progress and metrics. The
// counts are read one at a time while the run goes on: each is exact, but
// together they may be a moment apart.
type Live struct {
	RowsRead int64 // rows read from the input
	RowsDone int64 // rows with an outcome: accounted for
	Rejected int64 // rows invalid, warned or failed
	// Outcomes counts the rows with each outcome, indexed by Outcome.
	Outcomes  [numOutcomes]int64
	Users     int64 // users (rt_segment entries) sent
	Requests  int64 // requests sent
	Retries   int64 // attempts after a request's first
	Throttled int64 // answers that were HTTP 429
	BytesSent int64 // request bodies sent, retries included
	InFlight  int64 // requests queued or being sent
	// Phase is what intake is doing (0 before it starts): once it is
	// Phase.Read, RowsRead is the input's total.
	Phase chunker.Phase
}

// Live returns the counts so far; it is safe to call from any goroutine.
func (r *Recorder) Live() Live {
	l := Live{
		Phase:    chunker.Phase(r.live.phase.Load()),
		RowsRead: r.live.rowsRead.Load(),
		Users:    r.live.users.Load(), Requests: r.live.requests.Load(), Retries: r.live.retries.Load(),
		Throttled: r.live.throttled.Load(), BytesSent: r.live.bytesSent.Load(), InFlight: r.live.inFlight.Load(),
	}
	for o := range l.Outcomes {
		n := r.live.outcomes[o].Load()
		l.Outcomes[o] = n
		l.RowsDone += n
		if Outcome(o).rejected() {
			l.Rejected += n
		}
	}
	return l
}

// SetPhase records what intake is doing, for Live; chunker's
// IntakeConfig.OnPhase takes it.
func (r *Recorder) SetPhase(p chunker.Phase) { r.live.phase.Store(int32(p)) }

// Read counts rows read, whatever becomes of them.
func (r *Recorder) Read(n int) {
	r.live.rowsRead.Add(int64(n))
	r.events <- func() { r.sum.RowsRead += int64(n) }
}

// Invalid records a row that broke a rule; the report gives its Err as the
// reason.
func (r *Recorder) Invalid(row reader.Row) {
	r.events <- func() {
		reason := ""
		if row.Err != nil {
			reason = row.Err.Error()
		}
		r.record(&row, Invalid, reason, 0)
	}
}

// Superseded records a row replaced by the later row at by.
func (r *Recorder) Superseded(row reader.Row, by reader.Position) {
	r.events <- func() {
		r.record(&row, Superseded, "replaced by the later row for the same user and segment at "+by.String(), 0)
	}
}

// Each method below keeps only a request's rows and the size of its body,
// not the body: a recorder behind a fast reader then holds no bodies.

// Valid records, for rtseg validate, a request that would be sent.
func (r *Recorder) Valid(req *chunker.Request) {
	entries, size := req.Entries, len(req.Body)
	r.live.inFlight.Add(-1)
	r.events <- func() {
		r.countRequest(size, 0, len(entries), r.tick)
		eachRow(entries, func(row *reader.Row) { r.record(row, Valid, "", 0) })
	}
}

// Skipped records a request that an earlier run delivered (--state-dir).
func (r *Recorder) Skipped(req *chunker.Request) {
	entries := req.Entries
	r.events <- func() {
		eachRow(entries, func(row *reader.Row) { r.record(row, Skipped, "delivered by an earlier run", 0) })
	}
}

// Unchanged records rows of rtseg sync's snapshot that the service holds
// already, as delivered: they are not sent. They come by the million, so
// unless the report lists them (--report-all), only their segments, which
// they count under, go to the recorder goroutine.
func (r *Recorder) Unchanged(rows []reader.Row) {
	if r.cfg.Report != nil && r.cfg.All {
		rows = slices.Clone(rows)
		r.events <- func() {
			for i := range rows {
				r.record(&rows[i], Unchanged, "", 0)
			}
		}
		return
	}
	// Segment IDs without pointers, which the collector need not scan;
	// segments named by code apart.
	ids := make([]int64, 0, len(rows))
	var codes []reader.Segment
	for i := range rows {
		if rows[i].SegID != 0 {
			ids = append(ids, rows[i].SegID)
		} else {
			codes = append(codes, rows[i].Segment())
		}
	}
	r.events <- func() {
		n := int64(len(ids) + len(codes))
		r.sum.Unchanged += n
		r.live.outcomes[Unchanged].Add(n)
		r.series.at(r.tick).Rows += n
		for _, id := range ids {
			r.segments.of(reader.Segment{ID: id}).Unchanged++
		}
		for _, seg := range codes {
			r.segments.of(seg).Unchanged++
		}
	}
}

// Queued counts a request handed on to be sent (or, for rtseg validate,
// counted): it is in flight until its last outcome.
func (r *Recorder) Queued(*chunker.Request) { r.live.inFlight.Add(1) }

// Unsent records a queued request that was never sent because ctx, which is
// done, ended the run.
func (r *Recorder) Unsent(ctx context.Context, req *chunker.Request) {
	entries := req.Entries
	reason := uploader.NotSent(ctx).Error()
	r.live.inFlight.Add(-1)
	r.events <- func() {
		eachRow(entries, func(row *reader.Row) { r.record(row, Failed, reason, 0) })
	}
}

// Sent records what became of a request that the uploader handled.
//
// A packed request the service acknowledged whole goes into the journal
// first, if there is one, so that a crash after this point never sends it
// again.
func (r *Recorder) Sent(res uploader.Result) {
	if res.Final() {
		r.live.inFlight.Add(-1)
		if r.cfg.Journal != nil && res.Err == nil {
			if err := r.cfg.Journal.Record(res.Packed); err != nil {
				r.journalErr.CompareAndSwap(nil, &err)
			}
		}
	}
	entries, size := res.Request.Entries, len(res.Request.Body)
	res.Request, res.Packed = nil, nil
	r.events <- func() {
		resent := map[int]bool{}
		for _, e := range res.Resent {
			resent[e] = true
		}
		if res.Attempts > 0 {
			sent := res.Sent
			if sent.IsZero() {
				sent = r.tick
			}
			p := r.countRequest(size, res.Attempts, len(entries)-len(res.Resent), sent)
			p.Retries += int64(res.Retries)
			p.Throttled += int64(res.Throttled)
			r.sum.Retries += int64(res.Retries)
			r.sum.Throttled += int64(res.Throttled)
			r.live.retries.Add(int64(res.Retries))
			r.live.throttled.Add(int64(res.Throttled))
		}
		for i := range entries {
			if resent[i] {
				continue
			}
			rows := entries[i].Rows
			for j := range rows {
				switch msg, warned := res.Warned[uploader.RowRef{Entry: i, Block: j}]; {
				case res.Err != nil:
					r.record(&rows[j], Failed, res.Err.Error(), res.Attempts)
				case warned:
					r.record(&rows[j], Warned, msg, res.Attempts)
				default:
					r.record(&rows[j], Accepted, "", res.Attempts)
				}
			}
		}
	}
}

// countRequest counts a request of users sent (or, for validate, packed)
// at t, and returns its point of the throughput.
func (r *Recorder) countRequest(bodySize, attempts, users int, t time.Time) *Point {
	r.sum.Requests++
	r.sum.Users += int64(users)
	r.live.requests.Add(1)
	r.live.users.Add(int64(users))
	bytes := int64(bodySize * max(attempts, 1))
	r.sum.BytesSent += bytes
	r.live.bytesSent.Add(bytes)
	p := r.series.at(t)
	p.Requests++
	p.Users += int64(users)
	return p
}

func eachRow(entries []chunker.Entry, f func(*reader.Row)) {
	for i := range entries {
		for j := range entries[i].Rows {
			f(&entries[i].Rows[j])
		}
	}
}

// record counts one row's outcome and writes it where it belongs. It runs on
// the recorder goroutine.
func (r *Recorder) record(row *reader.Row, o Outcome, reason string, attempts int) {
	switch o {
	case Accepted:
		r.sum.Accepted++
	case Invalid:
		r.sum.Invalid++
	case Superseded:
		r.sum.Superseded++
	case Warned:
		r.sum.Warned++
	case Failed:
		r.sum.Failed++
	case Skipped:
		r.sum.Skipped++
	case Valid:
		r.sum.Valid++
	case Unchanged:
		r.sum.Unchanged++
	}
	if r.cfg.Acked != nil && (o == Accepted || o == Skipped) {
		r.cfg.Acked.add(row.Pos)
	}
	r.live.outcomes[o].Add(1)
	r.series.at(r.tick).Rows++
	r.countSegment(row, o)
	r.group(row, o, reason)
	if r.err != nil {
		return
	}
	if r.cfg.Report != nil && (r.cfg.All || (o != Accepted && o != Valid && o != Unchanged)) {
		r.line = Line{Pos: row.Pos, Fields: row.Fields(), Outcome: o, Reason: reason, Attempts: attempts}
		r.err = r.cfg.Report.Write(&r.line)
	}
	if o == Failed && r.cfg.Failed != nil && r.err == nil {
		r.err = r.cfg.Failed.Write(row)
	}
}

// group counts an invalid, warned or failed row under why.
func (r *Recorder) group(row *reader.Row, o Outcome, reason string) {
	switch o {
	case Invalid:
		r.groups.invalid.add(invalidReason(row.Err), "", row.Pos, reason)
	case Warned:
		seg := ""
		if s, ok := segmentOf(row); ok {
			seg = s.String()
		}
		r.groups.warned.add(warningReason(reason, row.UserID), seg, row.Pos, reason)
	case Failed:
		r.groups.failed.add(reason, "", row.Pos, reason)
	}
}

// countSegment counts a row accepted, warned, invalid or failed under its
// segment. Other outcomes count under none: a segment none of whose rows has
// one of these is left out of the summary, and is not looked up.
func (r *Recorder) countSegment(row *reader.Row, o Outcome) {
	if o != Accepted && o != Warned && o != Invalid && o != Failed && o != Unchanged {
		return
	}
	seg, ok := segmentOf(row)
	if !ok {
		return
	}
	s := r.segments.of(seg)
	switch o {
	case Accepted:
		s.Accepted++
		if row.Removes() {
			s.Removed++
		} else {
			s.Added++
		}
	case Warned:
		s.Warned++
	case Invalid:
		s.Invalid++
	case Failed:
		s.Failed++
	case Unchanged:
		s.Unchanged++
	}
}

// segmentOf is the segment a row counts under: an invalid row counts under
// the segment its fields name, if they name one.
func segmentOf(row *reader.Row) (reader.Segment, bool) {
	if row.Valid() {
		return row.Segment(), true
	}
	raw := row.Fields()
	if id, err := strconv.ParseInt(strings.TrimSpace(raw.SegID), 10, 64); err == nil && id > 0 {
		return reader.Segment{ID: id}, true
	}
	if m, err := strconv.ParseInt(strings.TrimSpace(raw.MemberID), 10, 64); err == nil && raw.SegCode != "" {
		return reader.Segment{MemberID: m, Code: strings.TrimSpace(raw.SegCode)}, true
	}
	return reader.Segment{}, false
}

// segmentCounts counts rows by segment. It is looked up for every row, so
// it is keyed by numbers and strings alone (a key that is a struct holding a
// string hashes far slower): segments named by ID, the most, by the ID,
// others by member, then code. The counts sit in one slice without
// pointers, which the garbage collector need not scan however many segments
// there are.
type segmentCounts struct {
	byID   map[int64]int32 // index in counts
	byCode map[int64]map[string]int32
	counts []SegmentCounts
}

// of returns the counts of a segment, from its first row on.
func (c *segmentCounts) of(seg reader.Segment) *SegmentCounts {
	if seg.ID != 0 {
		i, ok := c.byID[seg.ID]
		if !ok {
			if c.byID == nil {
				c.byID = map[int64]int32{}
			}
			i = c.add()
			c.byID[seg.ID] = i
		}
		return &c.counts[i]
	}
	codes := c.byCode[seg.MemberID]
	i, ok := codes[seg.Code]
	if !ok {
		if codes == nil {
			if c.byCode == nil {
				c.byCode = map[int64]map[string]int32{}
			}
			codes = map[string]int32{}
			c.byCode[seg.MemberID] = codes
		}
		i = c.add()
		codes[seg.Code] = i
	}
	return &c.counts[i]
}

func (c *segmentCounts) add() int32 {
	c.counts = append(c.counts, SegmentCounts{})
	return int32(len(c.counts) - 1)
}

// summaries lists the segments' counts, sorted: by ID, then by member and
// code.
func (c *segmentCounts) summaries() []SegmentSummary {
	out := make([]SegmentSummary, 0, len(c.counts))
	add := func(seg reader.Segment, i int32) {
		out = append(out, SegmentSummary{Segment: seg.String(), SegID: seg.ID, MemberID: seg.MemberID, SegCode: seg.Code,
			SegmentCounts: c.counts[i]})
	}
	for id, i := range c.byID {
		add(reader.Segment{ID: id}, i)
	}
	for member, codes := range c.byCode {
		for code, i := range codes {
			add(reader.Segment{MemberID: member, Code: code}, i)
		}
	}
	slices.SortFunc(out, func(a, b SegmentSummary) int {
		return reader.Segment{ID: a.SegID, MemberID: a.MemberID, Code: a.SegCode}.Compare(
			reader.Segment{ID: b.SegID, MemberID: b.MemberID, Code: b.SegCode})
	})
	return out
}

// Close waits for every recorded outcome, flushes the report, closes the
// files it created, and returns the summary, without elapsed time and exit
// status, which the caller knows. Its error says what could not be written:
// the journal, or the report and failed-rows files.
func (r *Recorder) Close() (*Summary, error) {
	close(r.events)
	<-r.done
	errs := []error{r.err}
	if r.cfg.Report != nil {
		errs = append(errs, r.cfg.Report.Close())
	}
	if r.cfg.Failed != nil {
		errs = append(errs, r.cfg.Failed.Close())
	}
	errs = append(errs, r.closeFiles(errors.Join(errs...) == nil))
	r.sum.Segments = r.segments.summaries()
	r.sum.Groups = Groups{Invalid: r.groups.invalid.top(), Warned: r.groups.warned.top(), Failed: r.groups.failed.top()}
	r.sum.Throughput = r.series.throughput()
	r.sum.Throughput.UsersPerSecond = r.cfg.UsersPerSecond
	err := errors.Join(errs...)
	if err != nil {
		err = fmt.Errorf("write report: %w", err)
	}
	if jerr := r.journalErr.Load(); jerr != nil {
		err = errors.Join(*jerr, err)
	}
	return &r.sum, err
}
