package uploader

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rtseg/rtseg/reader"
)

// Propagation is how long the service takes to know a new or modified
// segment: the documentation asks to "wait approximately 20 minutes before
// trying to add users to any newly created segments". Until then it drops
// adds to it silently.
const Propagation = 20 * time.Minute

// SegmentPageSize is the most objects one GET answer holds, and so the most
// IDs rtseg asks for in one call.
const SegmentPageSize = 100

// lastModifiedLayout is the Segment Service's timestamp format, in UTC:
// "2019-08-14 17:26:29".
const lastModifiedLayout = "2006-01-02 15:04:05"

// sharedSegmentID is the "birthday cookie" segment, available to every
// member whoever owns it.
const sharedSegmentID = 1

// Segment is a segment as the Segment Service describes it.
type Segment struct {
	ID        int64
	Code      string
	State     string // "active" or "inactive"
	MemberID  int64  // the owner
	ShortName string
	// LastModified is zero when the service gave no readable time.
	LastModified time.Time
}

// Active reports whether the segment can be used; the documented default
// state is active.
func (s *Segment) Active() bool { return s.State == "" || strings.EqualFold(s.State, "active") }

// SegmentClient looks segments up through the Segment Service
// (GET {api}/segment), holding its calls under the API's read limit.
type SegmentClient struct {
	url      string // {api}/segment
	cfg      ReadConfig
	pageSize int
	calls    atomic.Int64
}

// NewSegmentClient returns a client of the Segment Service at api, the API
// base URL (https://api.appnexus.com).
func NewSegmentClient(api string, cfg ReadConfig) (*SegmentClient, error) {
	if err := CheckEndpoint(api); err != nil {
		return nil, err
	}
	u, err := url.JoinPath(api, "segment")
	if err != nil {
		return nil, fmt.Errorf("api %q: %w", api, err)
	}
	if err := cfg.fill(SegmentReadsPerMinute, time.Minute); err != nil {
		return nil, err
	}
	return &SegmentClient{url: u, cfg: cfg, pageSize: SegmentPageSize}, nil
}

// Calls is how many lookups (GET calls, not counting retries) the client
// has made.
func (c *SegmentClient) Calls() int64 { return c.calls.Load() }

// ByID looks up segments by ID, at most 100 IDs a call, paging through each
// answer. Segments the service does not know are absent from the map.
func (c *SegmentClient) ByID(ctx context.Context, ids []int64) (map[int64]Segment, error) {
	ids = append([]int64(nil), ids...)
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	ids = dedup(ids)
	wanted := make(map[int64]bool, len(ids))
	for _, id := range ids {
		wanted[id] = true
	}
	found := make(map[int64]Segment, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), c.pageSize)
		list := make([]string, n)
		for i, id := range ids[:n] {
			list[i] = strconv.FormatInt(id, 10)
		}
		ids = ids[n:]
		segs, err := c.pages(ctx, url.Values{"id": {strings.Join(list, ",")}})
		if err != nil {
			return nil, err
		}
		for _, s := range segs {
			if wanted[s.ID] {
				found[s.ID] = s
			}
		}
	}
	return found, nil
}

// ByCode looks up the segment of member with code (codes are not
// case-sensitive). ok is false when the service knows none.
func (c *SegmentClient) ByCode(ctx context.Context, member int64, code string) (seg Segment, ok bool, err error) {
	q := url.Values{"code": {code}}
	if member != 0 {
		q.Set("member_id", strconv.FormatInt(member, 10))
	}
	segs, err := c.pages(ctx, q)
	if err != nil {
		return Segment{}, false, err
	}
	for _, s := range segs {
		if strings.EqualFold(s.Code, code) && (member == 0 || s.MemberID == 0 || s.MemberID == member) {
			return s, true, nil
		}
	}
	return Segment{}, false, nil
}

// pages gets every page of a query's answer. "Nothing matched" is an empty
// answer, not an error.
func (c *SegmentClient) pages(ctx context.Context, q url.Values) ([]Segment, error) {
	var all []Segment
	for start := 0; ; {
		q.Set("start_element", strconv.Itoa(start))
		q.Set("num_elements", strconv.Itoa(c.pageSize))
		c.calls.Add(1)
		body, err := c.cfg.get(ctx, c.url+"?"+q.Encode())
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.NotFound() {
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		page, err := parseSegments(body)
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", redactURL(c.url), err)
		}
		all = append(all, page.segments...)
		start += len(page.segments)
		if len(page.segments) == 0 || page.count <= int64(start) {
			return all, nil
		}
	}
}

// segmentPage is one answer of GET /segment.
type segmentPage struct {
	segments []Segment
	count    int64 // how many segments match in all
}

// segmentJSON holds the documented fields rtseg reads.
type segmentJSON struct {
	ID           apiInt  `json:"id"`
	Code         *string `json:"code"`
	State        *string `json:"state"`
	MemberID     apiInt  `json:"member_id"`
	ShortName    *string `json:"short_name"`
	LastModified *string `json:"last_modified"`
}

func (j *segmentJSON) segment() Segment {
	s := Segment{ID: int64(j.ID), MemberID: int64(j.MemberID), Code: deref(j.Code), State: deref(j.State), ShortName: deref(j.ShortName)}
	if t, err := time.Parse(lastModifiedLayout, deref(j.LastModified)); err == nil {
		s.LastModified = t
	}
	return s
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// parseSegments reads an answer of GET /segment. It takes "segments" as an
// array or as an object keyed by ID (the documentation shows both), a single
// "segment", and an answer wrapped in "response" or not. count is the total
// when given, else the segments in this answer.
func parseSegments(body []byte) (segmentPage, error) {
	inner, err := unwrap(body)
	if err != nil {
		return segmentPage{}, fmt.Errorf("unreadable answer: %w", err)
	}
	var r struct {
		Status   string          `json:"status"`
		ErrorID  string          `json:"error_id"`
		Error    string          `json:"error"`
		Count    *apiInt         `json:"count"`
		Segments json.RawMessage `json:"segments"`
		Segment  json.RawMessage `json:"segment"`
	}
	if err := json.Unmarshal(inner, &r); err != nil {
		return segmentPage{}, fmt.Errorf("unreadable answer: %w", err)
	}
	var raw []segmentJSON
	switch t := bytes.TrimSpace(r.Segments); {
	case len(t) == 0 || string(t) == "null":
	case t[0] == '[':
		if err := json.Unmarshal(t, &raw); err != nil {
			return segmentPage{}, fmt.Errorf("unreadable segments: %w", err)
		}
	case t[0] == '{':
		var byID map[string]segmentJSON
		if err := json.Unmarshal(t, &byID); err != nil {
			return segmentPage{}, fmt.Errorf("unreadable segments: %w", err)
		}
		for _, s := range byID {
			raw = append(raw, s)
		}
	default:
		return segmentPage{}, fmt.Errorf("unreadable segments: %.40s", t)
	}
	if t := bytes.TrimSpace(r.Segment); len(t) > 0 && t[0] == '{' {
		var s segmentJSON
		if err := json.Unmarshal(t, &s); err != nil {
			return segmentPage{}, fmt.Errorf("unreadable segment: %w", err)
		}
		raw = append(raw, s)
	}
	page := segmentPage{segments: make([]Segment, 0, len(raw))}
	for i := range raw {
		page.segments = append(page.segments, raw[i].segment())
	}
	sort.Slice(page.segments, func(i, j int) bool { return page.segments[i].ID < page.segments[j].ID })
	page.count = int64(len(page.segments))
	if r.Count != nil {
		page.count = int64(*r.Count)
	}
	return page, nil
}

func dedup(sorted []int64) []int64 {
	out := sorted[:0]
	for i, v := range sorted {
		if i == 0 || v != sorted[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// Problem is why the service would drop adds to a segment.
type Problem int

const (
	ProblemNone        Problem = iota
	ProblemMissing             // the service does not know the segment
	ProblemInactive            // its state is inactive
	ProblemOtherMember         // another member owns it
	ProblemFresh               // modified less than Propagation ago
)

var problemNames = [...]string{"ok", "missing", "inactive", "other-member", "fresh"}

// String gives the problem's name as rtseg prints it.
func (p Problem) String() string {
	if p < 0 || int(p) >= len(problemNames) {
		return "unknown"
	}
	return problemNames[p]
}

// SegmentRef is a segment an input references, with the member expected to
// own it (0 when unknown: ownership is then not checked).
type SegmentRef struct {
	Segment reader.Segment
	Owner   int64
}

// SegmentCheck is what the service says of one referenced segment.
type SegmentCheck struct {
	Ref     SegmentRef
	Found   bool
	Info    Segment // when Found
	Problem Problem
	// Reason says in a sentence what is wrong; empty when nothing is.
	Reason string
}

// Check looks up every referenced segment (IDs in batches of 100, codes one
// by one) and says of each whether the service would take adds to it now:
// it must exist, be active, belong to the expected owner, and not have been
// modified less than Propagation before now. The result is in the order of
// IDs, then members and codes.
func (c *SegmentClient) Check(ctx context.Context, refs []SegmentRef, now time.Time) ([]SegmentCheck, error) {
	var ids []int64
	for _, r := range refs {
		if r.Segment.ID != 0 {
			ids = append(ids, r.Segment.ID)
		}
	}
	byID, err := c.ByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]SegmentCheck, 0, len(refs))
	for _, r := range refs {
		ch := SegmentCheck{Ref: r}
		if r.Segment.ID != 0 {
			ch.Info, ch.Found = byID[r.Segment.ID]
		} else if ch.Info, ch.Found, err = c.ByCode(ctx, r.Segment.MemberID, r.Segment.Code); err != nil {
			return nil, err
		}
		ch.Problem, ch.Reason = judge(&ch, now)
		out = append(out, ch)
	}
	slices.SortStableFunc(out, func(a, b SegmentCheck) int { return a.Ref.Segment.Compare(b.Ref.Segment) })
	return out, nil
}

// judge decides a segment's problem, the gravest first.
func judge(ch *SegmentCheck, now time.Time) (Problem, string) {
	name := describeSegment(ch.Ref.Segment)
	s := &ch.Info
	switch {
	case !ch.Found:
		return ProblemMissing, name + " does not exist"
	case !s.Active():
		return ProblemInactive, fmt.Sprintf("%s is %s", name, s.State)
	case ch.Ref.Owner != 0 && s.MemberID != 0 && s.MemberID != ch.Ref.Owner && s.ID != sharedSegmentID:
		return ProblemOtherMember, fmt.Sprintf("%s belongs to member %d, not %d", name, s.MemberID, ch.Ref.Owner)
	case !s.LastModified.IsZero() && now.Sub(s.LastModified) < Propagation:
		usable := s.LastModified.Add(Propagation).UTC()
		return ProblemFresh, fmt.Sprintf("%s was modified at %s UTC, less than %d minutes ago: the service may drop adds to it until %s UTC",
			name, s.LastModified.Format(lastModifiedLayout), int(Propagation.Minutes()), usable.Format(lastModifiedLayout))
	}
	return ProblemNone, ""
}

func describeSegment(s reader.Segment) string {
	if s.ID != 0 {
		return fmt.Sprintf("segment %d", s.ID)
	}
	return fmt.Sprintf("segment %q of member %d", s.Code, s.MemberID)
}
