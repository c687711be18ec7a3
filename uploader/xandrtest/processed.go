package xandrtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The usage statistics (GET /rt-segment-processed).
//
// The field names are those of Xandr's "Check usage statistics" page. The
// shape of an hourly answer -- {"response": {"status": "OK", "report": [one
// object per hour with activity]}} -- and the wording of the sample log lines
// are the emulator's own design; rtseg's client reads it tolerantly.

// usageTimeLayout is the format of start, end and processed_hour.
const usageTimeLayout = "2006-01-02 15:04:05"

// maxLogLines is how many sample lines of each kind an hour keeps.
const maxLogLines = 10

// usageHour is what the service processed for one member in one hour,
// counted per request.
type usageHour struct {
	validUsers, validAdds, validRemoves                             int
	invalidUsers, invalidSegments, unauthSegments, inactiveSegments int
	otherErrors                                                     int
	errorLines, segmentLines                                        []string
}

// counting starts the statistics of one POST /rt-segment by member at now;
// process then counts into them. Call with h.mu held.
func (h *Handler) counting(member int64, now time.Time) {
	a := &h.api
	if a.usage == nil {
		a.usage = map[int64]map[time.Time]*usageHour{}
	}
	hours := a.usage[member]
	if hours == nil {
		hours = map[time.Time]*usageHour{}
		a.usage[member] = hours
	}
	hour := now.UTC().Truncate(time.Hour)
	u := hours[hour]
	if u == nil {
		u = &usageHour{}
		hours[hour] = u
	}
	a.cur, a.curMember = u, member
}

// reaches decides whether one valid seg_block reaches the state. With a
// catalogue, adds and removes to segments that are missing, inactive, of
// another member or not yet propagated are dropped silently: the response
// says nothing, and only the usage statistics count them, with a sample
// line among the errors. What reaches the state gets a sample line among
// the valid work. The lines take the documented shapes ("Inactive segments
// (id, code, segment owner member id): (321456, 'segment_312456', 123)",
// "Valid additions (user id, segment id, expiration): (..., 3737552,
// 1440)"). Call with h.mu held.
func (h *Handler) reaches(user UserKey, key string, a Assoc) bool {
	u := h.api.cur
	if u == nil {
		return true
	}
	if h.cfg.api.catalog {
		if line, drop := h.segmentProblem(u, key); drop {
			if len(u.errorLines) < maxLogLines {
				u.errorLines = append(u.errorLines, line)
			}
			return false
		}
	}
	kind := "Valid additions"
	if a.Expiration != nil && *a.Expiration == -1 {
		u.validRemoves++
		kind = "Valid removals"
	} else {
		u.validAdds++
	}
	if len(u.segmentLines) < maxLogLines {
		id := key
		if member, code, ok := strings.Cut(key, ":"); ok {
			m, _ := strconv.ParseInt(member, 10, 64)
			id = "0"
			if s := h.lookupCode(m, code); s != nil {
				id = strconv.FormatInt(s.ID, 10)
			}
		}
		exp := "''"
		if a.Expiration != nil {
			exp = strconv.FormatInt(*a.Expiration, 10)
		}
		u.segmentLines = append(u.segmentLines, fmt.Sprintf("%s (user id, segment id, expiration): (%s, %s, %s)", kind, user.UserID, id, exp))
	}
	return true
}

// segmentProblem counts a segment the service would not use and describes
// it as the service's error lines do, or returns false. key is "123" for
// an ID, "member:code" otherwise.
func (h *Handler) segmentProblem(u *usageHour, key string) (string, bool) {
	var s *Segment
	var id, owner int64
	var code string
	if member, c, ok := strings.Cut(key, ":"); ok {
		owner, _ = strconv.ParseInt(member, 10, 64)
		code = c
		s = h.lookupCode(owner, code)
	} else {
		id, _ = strconv.ParseInt(key, 10, 64)
		s = h.lookupID(id, h.api.curMember)
	}
	if s != nil {
		id, code, owner = s.ID, s.Code, s.MemberID
	}
	now := h.cfg.now()
	var kind string
	switch {
	case s == nil:
		u.invalidSegments++
		kind = "Invalid segments"
	case s.State != "active":
		u.inactiveSegments++
		kind = "Inactive segments"
	case s.MemberID != h.api.curMember && s.ID != 1:
		u.unauthSegments++
		kind = "Unauthorized segments"
	case now.Sub(s.LastModified) < Propagation:
		// Not yet propagated: the service does not know it yet.
		u.invalidSegments++
		kind = "Invalid segments"
	default:
		return "", false
	}
	return fmt.Sprintf("%s (id, code, segment owner member id): (%d, '%s', %d)", kind, id, code, owner), true
}

// segmentLevel are the warnings about one seg_block.
var segmentLevel = map[string]bool{MsgSegmentRequired: true, MsgBothSegmentKeys: true, MsgBadExpiration: true}

// tally counts a processed request's users and keeps samples of its
// warnings. validUsers are the users with a valid segment, among them the
// unknown ones, whose IDs name no user on the platform: those count as
// invalid. Call with h.mu held, after process.
func (h *Handler) tally(entries, validUsers int, unknown []UserKey, warnings []warning) {
	u := h.api.cur
	if u == nil {
		return
	}
	h.api.cur = nil
	considered := min(entries, h.cfg.maxUsers)
	validUsers -= len(unknown)
	u.validUsers += validUsers
	u.invalidUsers += considered - validUsers
	u.otherErrors += entries - considered
	now := h.cfg.now().UTC().Format(usageTimeLayout)
	for _, user := range unknown {
		if len(u.errorLines) < maxLogLines {
			who := "user_id " + strconv.Quote(user.UserID)
			if user.Domain != "" {
				who = user.Domain + " " + who
			}
			u.errorLines = append(u.errorLines, fmt.Sprintf("%s Invalid user: %s is no user on the platform", now, who))
		}
	}
	for _, w := range warnings {
		if segmentLevel[w.Message] {
			u.invalidSegments++
		}
		if len(u.errorLines) < maxLogLines {
			entity, _ := json.Marshal(w.Entity)
			line := fmt.Sprintf("%s %s %s", now, w.Message, entity)
			if len(line) > 300 {
				line = line[:297] + "..."
			}
			u.errorLines = append(u.errorLines, line)
		}
	}
}

// serveProcessed answers GET /rt-segment-processed?member_id=M&start=S&end=E:
// the caller's member's statistics, one row per hour with activity from
// start (inclusive) to end (exclusive), or with agg=true one row adding them
// all up. Without start and end it covers the last two weeks.
func (h *Handler) serveProcessed(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.now()
	a := &h.api
	a.stats.UsageReads++
	member, ok := h.authorize(r, now)
	if !ok {
		writeError(w, http.StatusUnauthorized, ErrNoAuth, MsgNotLoggedIn)
		return
	}
	_, _, limit, _ := h.cfg.api.limits()
	win := memberWindow(&a.usageReads, member, time.Second)
	win.add(now, 1)
	a.stats.MaxUsageReadsInWindow = max(a.stats.MaxUsageReadsInWindow, win.max)
	if win.count(now) > limit {
		a.stats.ReadsThrottled++
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, ErrRateExceeded, fmt.Sprintf(MsgUsageRateLimited, limit))
		return
	}

	q := r.URL.Query()
	asked, err := strconv.ParseInt(q.Get("member_id"), 10, 64)
	if err != nil || asked <= 0 {
		writeError(w, http.StatusBadRequest, ErrSyntax, "member_id is required: a positive whole number")
		return
	}
	if asked != member {
		writeError(w, http.StatusForbidden, ErrUnauth, fmt.Sprintf(MsgNotYourMember, asked))
		return
	}
	end := now.UTC()
	start := end.Add(-14 * 24 * time.Hour)
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"start", &start}, {"end", &end}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(usageTimeLayout, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, ErrSyntax, fmt.Sprintf("%s %q: want a time such as 2015-11-01+01:00:00", p.name, v))
				return
			}
			*p.t = t
		}
	}
	var hours []time.Time
	for hour := range a.usage[member] {
		if !hour.Before(start.Truncate(time.Hour)) && hour.Before(end) {
			hours = append(hours, hour)
		}
	}
	sort.Slice(hours, func(i, j int) bool { return hours[i].Before(hours[j]) })
	if q.Get("agg") == "true" {
		sum := &usageHour{}
		last := end.Truncate(time.Hour)
		for _, hour := range hours {
			u := a.usage[member][hour]
			sum.validUsers += u.validUsers
			sum.validAdds += u.validAdds
			sum.validRemoves += u.validRemoves
			sum.invalidUsers += u.invalidUsers
			sum.invalidSegments += u.invalidSegments
			sum.unauthSegments += u.unauthSegments
			sum.inactiveSegments += u.inactiveSegments
			sum.otherErrors += u.otherErrors
		}
		row := usageRow(member, last, sum)
		row["error_log_lines"], row["segment_log_lines"] = nil, nil
		writeJSON(w, http.StatusOK, map[string]any{"status": "OK", "report": row})
		return
	}
	rows := make([]map[string]any, len(hours))
	for i, hour := range hours {
		rows[i] = usageRow(member, hour, a.usage[member][hour])
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "OK", "report": rows})
}

func usageRow(member int64, hour time.Time, u *usageHour) map[string]any {
	var errs, segs any
	if len(u.errorLines) > 0 {
		errs = u.errorLines
	}
	if len(u.segmentLines) > 0 {
		segs = u.segmentLines
	}
	return map[string]any{
		"processed_hour":        hour.Format(usageTimeLayout),
		"member_id":             member,
		"num_valid_users":       u.validUsers,
		"num_valid_adds":        u.validAdds,
		"num_valid_removes":     u.validRemoves,
		"num_invalid_users":     u.invalidUsers,
		"num_invalid_segments":  u.invalidSegments,
		"num_unauth_segments":   u.unauthSegments,
		"num_inactive_segments": u.inactiveSegments,
		"num_other_errors":      u.otherErrors,
		"error_log_lines":       errs,
		"segment_log_lines":     segs,
	}
}
