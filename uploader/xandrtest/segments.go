package xandrtest

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Segment is a segment the emulator's Segment Service knows.
type Segment struct {
	ID        int64  // 0: one is assigned
	Code      string // optional; with the owner, names the segment too
	MemberID  int64  // the owner; 0: the emulator's member
	State     string // "active" (the default) or "inactive"
	ShortName string
	// LastModified is when the segment was last changed; zero means long
	// ago. Adds to a segment modified less than Propagation ago are dropped.
	LastModified time.Time
}

// Propagation is how long a new or modified segment takes to reach every
// server: the documentation asks to wait "approximately 20 minutes".
const Propagation = 20 * time.Minute

// lastModifiedLayout is the Segment Service's timestamp format (UTC).
const lastModifiedLayout = "2006-01-02 15:04:05"

// longAgo is the last_modified of segments configured without one: a
// month before now.
func (h *Handler) longAgo() time.Time {
	return h.cfg.now().UTC().Add(-30 * 24 * time.Hour).Truncate(time.Second)
}

// firstAssignedID is where IDs of segments configured without one start.
const firstAssignedID = 900_000

// Messages of the read endpoints. The documentation quotes the one for
// rt-segment-processed; the others are the emulator's own, in its style.
const (
	MsgUsageRateLimited   = "Rate limit exceeded. You have exceeded your request limit of %d reads per 1 seconds to rt-segment-processed, please wait and try again or contact Xandr for higher limits"
	MsgSegmentRateLimited = "Rate limit exceeded. You have exceeded your request limit of %d reads per %d seconds to segment, please wait and try again or contact Xandr for higher limits"
	MsgSegmentNotFound    = "segment not found"
	MsgNotYourMember      = "You do not have access to member %d"
	ErrNotFound           = "NOTFOUND"
)

// apiConfig configures the Segment Service and the usage statistics.
// Zero values mean the documented defaults.
type apiConfig struct {
	catalog      bool      // only the segments listed exist
	segments     []Segment // the catalogue
	segmentReads int       // GET /segment calls per readSpan per member
	readSpan     time.Duration
	usageReads   int // GET /rt-segment-processed calls per second per member
	pageSize     int // most objects in one GET answer
}

// WithSegments gives the Segment Service a catalogue: only these segments
// exist, and POST /rt-segment silently drops adds and removes to any other,
// to inactive ones, to those of another member and to those modified less
// than Propagation ago, counting them only in the usage statistics, as the
// service does. Without a catalogue every segment exists, is active, belongs
// to the caller's member and is old.
func WithSegments(segs ...Segment) Option {
	return func(c *config) {
		c.api.catalog = true
		c.api.segments = append(c.api.segments, segs...)
	}
}

// WithSegmentReadLimit sets the API's read limit for GET /segment: calls per
// span per member (default 100 per minute, as the API documents).
func WithSegmentReadLimit(calls int, span time.Duration) Option {
	return func(c *config) { c.api.segmentReads, c.api.readSpan = calls, span }
}

// WithUsageReadLimit sets the GET limit of /rt-segment-processed, calls per
// second per member (default 1000, as documented).
func WithUsageReadLimit(calls int) Option {
	return func(c *config) { c.api.usageReads = calls }
}

// WithPageSize caps num_elements, the objects in one GET answer (default
// 100, as documented).
func WithPageSize(n int) Option {
	return func(c *config) { c.api.pageSize = n }
}

func (c *apiConfig) limits() (segReads int, span time.Duration, usageReads, page int) {
	segReads, span, usageReads, page = c.segmentReads, c.readSpan, c.usageReads, c.pageSize
	if segReads <= 0 || span <= 0 {
		segReads, span = 100, time.Minute
	}
	if usageReads <= 0 {
		usageReads = 1000
	}
	if page <= 0 {
		page = 100
	}
	return
}

// APIStats is what the emulator's read endpoints saw.
type APIStats struct {
	SegmentReads int `json:"segment_reads"` // GET /segment calls
	UsageReads   int `json:"usage_reads"`   // GET /rt-segment-processed calls
	// MaxSegmentReadsInWindow is the most GET /segment calls of one member
	// in any window of the read span (a minute by default).
	MaxSegmentReadsInWindow int `json:"max_segment_reads_in_window"`
	// MaxUsageReadsInWindow is the most GET /rt-segment-processed calls of
	// one member in any one-second window.
	MaxUsageReadsInWindow int `json:"max_usage_reads_in_window"`
	ReadsThrottled        int `json:"reads_throttled"` // read calls answered 429
}

// apiState is the emulator's state for the Segment Service and the usage
// statistics. It is guarded by Handler.mu.
type apiState struct {
	byID       map[int64]*Segment
	byCode     map[string]*Segment // "member:lowercase code"
	segReads   map[int64]*window
	usageReads map[int64]*window
	usage      map[int64]map[time.Time]*usageHour
	// cur is the hour of the request being processed; curMember its caller.
	cur       *usageHour
	curMember int64
	stats     APIStats
}

// APIStats returns what the read endpoints saw so far.
func (h *Handler) APIStats() APIStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.api.stats
}

// catalogue indexes the configured segments at first use. Call with h.mu
// held.
func (h *Handler) catalogue() *apiState {
	a := &h.api
	if a.byID != nil {
		return a
	}
	a.byID, a.byCode = map[int64]*Segment{}, map[string]*Segment{}
	next := int64(firstAssignedID)
	for i := range h.cfg.api.segments {
		s := h.cfg.api.segments[i]
		if s.ID == 0 {
			for a.byID[next] != nil {
				next++
			}
			s.ID = next
		}
		if s.MemberID == 0 {
			s.MemberID = h.cfg.member
		}
		if s.State == "" {
			s.State = "active"
		}
		if s.LastModified.IsZero() {
			s.LastModified = h.longAgo()
		}
		a.byID[s.ID] = &s
		if s.Code != "" {
			a.byCode[codeKey(s.MemberID, s.Code)] = &s
		}
	}
	return a
}

func codeKey(member int64, code string) string {
	return strconv.FormatInt(member, 10) + ":" + strings.ToLower(code)
}

// lookupID finds a segment by ID; without a catalogue every ID exists and
// belongs to member. Call with h.mu held.
func (h *Handler) lookupID(id, member int64) *Segment {
	if h.cfg.api.catalog {
		return h.catalogue().byID[id]
	}
	return &Segment{ID: id, MemberID: member, State: "active", ShortName: fmt.Sprintf("segment %d", id), LastModified: h.longAgo()}
}

// lookupCode finds the segment of member with code; without a catalogue
// every code exists. Call with h.mu held.
func (h *Handler) lookupCode(member int64, code string) *Segment {
	if h.cfg.api.catalog {
		return h.catalogue().byCode[codeKey(member, code)]
	}
	f := fnv.New32a()
	fmt.Fprintf(f, "%d:%s", member, strings.ToLower(code))
	id := int64(firstAssignedID)*10 + int64(f.Sum32()%1_000_000)
	return &Segment{ID: id, Code: code, MemberID: member, State: "active", ShortName: code, LastModified: h.longAgo()}
}

// serveSegmentLookup answers GET /segment: by id (a comma-separated list), by
// code (with member_id), or every segment of the catalogue (of member_id if
// given), paged by start_element and num_elements.
func (h *Handler) serveSegmentLookup(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.now()
	a := &h.api
	a.stats.SegmentReads++
	member, ok := h.authorize(r, now)
	if !ok {
		writeError(w, http.StatusUnauthorized, ErrNoAuth, MsgNotLoggedIn)
		return
	}
	limit, span, _, pageSize := h.cfg.api.limits()
	reads := memberWindow(&a.segReads, member, span)
	reads.add(now, 1)
	a.stats.MaxSegmentReadsInWindow = max(a.stats.MaxSegmentReadsInWindow, reads.max)
	if reads.count(now) > limit {
		_, wait := reads.fits(now, 0, limit)
		a.stats.ReadsThrottled++
		w.Header().Set("x-ratelimit-code", "api-read")
		w.Header().Set("Retry-After", retryAfter(wait))
		writeError(w, http.StatusTooManyRequests, ErrRateExceeded, fmt.Sprintf(MsgSegmentRateLimited, limit, int(span.Seconds())))
		return
	}

	q := r.URL.Query()
	start, n, msg := paging(q.Get("start_element"), q.Get("num_elements"), pageSize)
	if msg != "" {
		writeError(w, http.StatusBadRequest, ErrSyntax, msg)
		return
	}
	queryMember := member
	if v := q.Get("member_id"); v != "" {
		m, err := strconv.ParseInt(v, 10, 64)
		if err != nil || m <= 0 {
			writeError(w, http.StatusBadRequest, ErrSyntax, "member_id must be a positive whole number")
			return
		}
		queryMember = m
	}
	var found []*Segment
	lookup := true
	switch {
	case q.Has("id"):
		seen := map[int64]bool{}
		for part := range strings.SplitSeq(q.Get("id"), ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil || id <= 0 {
				writeError(w, http.StatusBadRequest, ErrSyntax, fmt.Sprintf("id %q is not a segment ID", part))
				return
			}
			if s := h.lookupID(id, member); s != nil && !seen[id] {
				seen[id] = true
				found = append(found, s)
			}
		}
	case q.Has("code"):
		if s := h.lookupCode(queryMember, q.Get("code")); s != nil {
			found = append(found, s)
		}
	default:
		lookup = false
		if h.cfg.api.catalog {
			for _, s := range h.catalogue().byID {
				if q.Get("member_id") == "" || s.MemberID == queryMember {
					found = append(found, s)
				}
			}
		}
	}
	if lookup && len(found) == 0 {
		writeError(w, http.StatusNotFound, ErrNotFound, MsgSegmentNotFound)
		return
	}
	sort.Slice(found, func(i, j int) bool { return found[i].ID < found[j].ID })
	page := found[min(start, len(found)):min(start+n, len(found))]
	out := make([]map[string]any, len(page))
	for i, s := range page {
		out[i] = segmentObject(s)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status":        "OK",
		"count":         len(found),
		"start_element": start,
		"num_elements":  n,
		"segments":      out,
	})
}

// paging reads start_element and num_elements; num_elements is capped at
// the page size.
func paging(startText, numText string, pageSize int) (start, n int, msg string) {
	start, n = 0, pageSize
	if startText != "" {
		v, err := strconv.Atoi(startText)
		if err != nil || v < 0 {
			return 0, 0, "start_element must be a whole number, 0 or more"
		}
		start = v
	}
	if numText != "" {
		v, err := strconv.Atoi(numText)
		if err != nil || v < 1 {
			return 0, 0, "num_elements must be a whole number, 1 or more"
		}
		n = min(v, pageSize)
	}
	return start, n, ""
}

// segmentObject is a segment with the documented fields.
func segmentObject(s *Segment) map[string]any {
	var code, shortName any
	if s.Code != "" {
		code = s.Code
	}
	if s.ShortName != "" {
		shortName = s.ShortName
	}
	return map[string]any{
		"id":                  s.ID,
		"code":                code,
		"state":               s.State,
		"short_name":          shortName,
		"description":         nil,
		"member_id":           s.MemberID,
		"category":            nil,
		"price":               0,
		"expire_minutes":      nil,
		"enable_rm_piggyback": true,
		"max_usersync_pixels": nil,
		"last_modified":       s.LastModified.UTC().Format(lastModifiedLayout),
		"provider":            nil,
		"parent_segment_id":   nil,
		"advertiser_id":       nil,
		"piggyback_pixels":    nil,
	}
}
