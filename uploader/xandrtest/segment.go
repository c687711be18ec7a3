package xandrtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rtseg/rtseg/reader"
)

// object is a JSON object as received, so that warnings can echo it.
type object map[string]json.RawMessage

// echo returns the object without its null fields, as the service's warning
// entities show it.
func (o object) echo() map[string]any {
	out := make(map[string]any, len(o))
	for k, v := range o {
		if !isNull(v) {
			out[k] = v
		}
	}
	return out
}

func isNull(v json.RawMessage) bool { return len(v) == 0 || string(bytes.TrimSpace(v)) == "null" }

type warning struct {
	Message string `json:"message"`
	Entity  any    `json:"entity"`
}

type result struct {
	Status   string         `json:"status"`
	Message  map[string]int `json:"message"`
	Warnings []warning      `json:"warnings"`
}

var validDomains = map[string]bool{
	"idfa": true, "sh1udid": true, "sha1udid": true, "md5udid": true, "openudid": true, "aaid": true,
}

// fault is what an injected fault does to one call.
type fault int

const (
	faultNone        fault = iota
	faultUnavailable       // answer 503 without processing
	faultDrop              // process, then close the connection unanswered
	faultSlow              // process, then answer late
)

// drawFault picks the fault, if any, that a call meets. Call with h.mu held.
func (h *Handler) drawFault() fault {
	f := h.cfg.faults
	if f.Unavailable <= 0 && f.Dropped <= 0 && f.Slow <= 0 {
		return faultNone
	}
	x := h.rng.Float64()
	switch {
	case x < f.Unavailable:
		return faultUnavailable
	case x < f.Unavailable+f.Dropped:
		return faultDrop
	case x < f.Unavailable+f.Dropped+f.Slow:
		return faultSlow
	}
	return faultNone
}

func (h *Handler) serveSegment(w http.ResponseWriter, r *http.Request) {
	// A call counts against the rate limits when it arrives, not when it
	// gets the lock behind other calls.
	arrived := h.cfg.now()
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(h.cfg.maxBytes)+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, ErrSyntax, "could not read the request body")
		return
	}
	res, f, reply, late := h.admit(r, body, arrived)
	if !wait(r.Context(), late) {
		return // the caller gave up
	}
	if reply != nil {
		reply(w)
		return
	}
	switch f {
	case faultDrop:
		dropConnection(w)
		return
	case faultSlow:
		if !wait(r.Context(), h.cfg.faults.SlowBy) {
			return
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// wait waits d, or until the caller gives up: then it returns false.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// latency draws how late the answer to a call leaves (Faults.Latency).
// Call with h.mu held.
func (h *Handler) latency() time.Duration {
	f := h.cfg.faults
	if f.LatencyMax <= f.Latency {
		return f.Latency
	}
	return f.Latency + time.Duration(h.latencyRNG.Int64N(int64(f.LatencyMax-f.Latency)+1))
}

// admit checks a call and, if it passes, applies it to the state. It returns
// the response and the fault to inject, or a reply that refuses the call,
// and how late the answer leaves (Faults.Latency).
func (h *Handler) admit(r *http.Request, body []byte, now time.Time) (*result, fault, func(http.ResponseWriter), time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	late := h.latency()
	res, f, reply := h.admitLocked(r, body, now)
	return res, f, reply, late
}

// admitLocked is admit with h.mu held.
func (h *Handler) admitLocked(r *http.Request, body []byte, now time.Time) (*result, fault, func(http.ResponseWriter)) {
	h.stats.Posts++
	member, ok := h.authorize(r, now)
	if !ok {
		h.stats.Unauthorized++
		return nil, faultNone, errorReply(http.StatusUnauthorized, ErrNoAuth, MsgNotLoggedIn)
	}
	if len(body) > h.cfg.maxBytes {
		h.stats.TooLarge++
		return nil, faultNone, errorReply(http.StatusRequestEntityTooLarge, ErrSyntax, fmt.Sprintf(MsgTooLarge, h.cfg.maxBytes))
	}
	var req struct {
		RTSegment []object `json:"rt_segment"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, faultNone, errorReply(http.StatusBadRequest, ErrSyntax, "could not parse the request body: "+err.Error())
	}
	h.stats.MaxBodyBytes = max(h.stats.MaxBodyBytes, len(body))

	users := min(len(req.RTSegment), h.cfg.maxUsers)
	lim := h.members[member]
	if lim == nil {
		lim = newMemberLimits()
		h.members[member] = lim
	}
	// Every call counts against the POST limit, throttled or not.
	postsOK, _ := lim.posts.fits(now, 1, h.cfg.rps)
	lim.posts.add(now, 1)
	h.stats.MaxPostsInWindow = max(h.stats.MaxPostsInWindow, lim.posts.max)
	if !postsOK {
		return nil, faultNone, h.throttle(time.Second, fmt.Sprintf(MsgRateLimited, h.cfg.rps))
	}
	if ok, wait := lim.users.fits(now, users, h.cfg.ups); !ok {
		return nil, faultNone, h.throttle(wait, fmt.Sprintf(MsgUserRateLimited, h.cfg.ups))
	}
	f := h.drawFault()
	if f == faultUnavailable {
		h.stats.Unavailable++
		code := h.cfg.faults.RateLimitCode
		return nil, f, func(w http.ResponseWriter) {
			if code {
				w.Header().Set(HeaderRateLimitCode, ErrSystem)
			}
			writeError(w, http.StatusServiceUnavailable, ErrSystem, MsgUnavailable)
		}
	}
	lim.users.add(now, users)
	h.stats.MaxUsersInWindow = max(h.stats.MaxUsersInWindow, lim.users.max)
	h.stats.MaxUsersInRequest = max(h.stats.MaxUsersInRequest, len(req.RTSegment))

	h.counting(member, now)
	tok := r.Header.Get("Authorization")
	if tok == "" {
		tok = r.URL.Query().Get("access_token")
	}
	h.arrivals = append(h.arrivals, Arrival{At: now, Token: tok, Users: users})
	res := h.process(req.RTSegment, now)
	h.stats.Processed++
	switch f {
	case faultDrop:
		h.stats.Dropped++
	case faultSlow:
		h.stats.Slowed++
	}
	return &res, f, nil
}

// dropConnection closes the call's connection without an answer, as a
// network failure after the service has done its work would.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // aborts the response just the same
	}
	conn.Close()
}

func errorReply(code int, id, msg string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) { writeError(w, code, id, msg) }
}

// throttle counts a call refused for its rate. Call with h.mu held.
func (h *Handler) throttle(wait time.Duration, msg string) func(http.ResponseWriter) {
	h.stats.Throttled++
	return func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", retryAfter(wait))
		writeError(w, http.StatusTooManyRequests, ErrRateExceeded, msg)
	}
}

// process applies the entries to the state in order and returns the response,
// with warnings in processing order. Call with h.mu held.
func (h *Handler) process(entries []object, now time.Time) result {
	res := result{Status: "OK", Warnings: []warning{}}
	validUsers, validSegs := 0, 0
	var unknown []UserKey
	for i, e := range entries {
		if i >= h.cfg.maxUsers {
			res.Warnings = append(res.Warnings, warning{MsgTooManyUsers, userEntity(e)})
			continue
		}
		n, user, known, warns := h.processUser(e)
		res.Warnings = append(res.Warnings, warns...)
		if n > 0 {
			validUsers++
			validSegs += n
			if !known {
				unknown = append(unknown, user)
			}
		}
	}
	if validUsers == 0 {
		all := make([]any, len(entries))
		for i, e := range entries {
			all[i] = userEntity(e)
		}
		res.Warnings = append(res.Warnings, warning{MsgNoValidRequest, map[string]any{"rt_segment": all}})
	}
	h.tally(len(entries), validUsers, unknown, res.Warnings)
	h.stats.Users += validUsers
	h.stats.Segments += validSegs
	res.Message = map[string]int{"users_in_request": validUsers, "segments_in_request": validSegs}
	return res
}

// userEntity echoes a user entry as a warning entity: its fields without
// nulls, and its seg_blocks likewise.
func userEntity(e object) map[string]any {
	out := e.echo()
	var blocks []object
	if raw, ok := e["seg_block"]; ok && json.Unmarshal(raw, &blocks) == nil && blocks != nil {
		echoed := make([]any, len(blocks))
		for i, b := range blocks {
			echoed[i] = b.echo()
		}
		out["seg_block"] = echoed
	}
	return out
}

// processUser applies one user entry and returns how many of its segments
// were valid, the user, whether the platform could know it, and the
// warnings it raised.
//
// The service accepts a user ID of any shape (its own examples send
// "asdf"), but one that is not of its domain's shape -- a Xandr user ID is
// a positive 64-bit number, an idfa a UUID, and so on -- names no user on
// the platform: the emulator accepts it and applies it to the state, as
// the response says, but its usage statistics count it among the invalid
// users, not the valid ones, and count none of its segments.
func (h *Handler) processUser(e object) (int, UserKey, bool, []warning) {
	var warns []warning
	var userID, domain string
	if raw, ok := e["user_id"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &userID) != nil {
			userID = ""
		}
	}
	if userID == "" {
		return 0, UserKey{}, false, []warning{{MsgUserIDRequired, userEntity(e)}}
	}
	var blocks []object
	if raw, ok := e["seg_block"]; !ok || isNull(raw) || json.Unmarshal(raw, &blocks) != nil || len(blocks) == 0 {
		return 0, UserKey{}, false, []warning{{MsgSegBlockRequired, userEntity(e)}}
	}
	if raw, ok := e["domain"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &domain) != nil || !validDomains[domain] {
			return 0, UserKey{}, false, []warning{{fmt.Sprintf(MsgInvalidDomain, userID), userEntity(e)}}
		}
	}
	known := reader.CheckUserID(domain, userID) == nil
	if len(blocks) > h.cfg.maxSegments {
		// The entity lists the seg_blocks that were not processed.
		entity := e.echo()
		dropped := make([]any, 0, len(blocks)-h.cfg.maxSegments)
		for _, b := range blocks[h.cfg.maxSegments:] {
			dropped = append(dropped, b.echo())
		}
		entity["seg_block"] = dropped
		warns = append(warns, warning{fmt.Sprintf(MsgTooManySegments, userID, h.cfg.maxSegments), entity})
		blocks = blocks[:h.cfg.maxSegments]
	}
	h.stats.MaxSegmentsForUser = max(h.stats.MaxSegmentsForUser, len(blocks))
	user := UserKey{Domain: domain, UserID: userID}
	valid := 0
	for _, b := range blocks {
		key, assoc, msg := parseBlock(b)
		if msg != "" {
			warns = append(warns, warning{msg, b.echo()})
			continue
		}
		valid++
		if !known || h.reaches(user, key, assoc) {
			h.apply(user, key, assoc)
		}
	}
	if valid == 0 {
		warns = append(warns, warning{fmt.Sprintf(MsgNoValidSegments, userID), userEntity(e)})
	}
	return valid, user, known, warns
}

// parseBlock reads one seg_block: the segment's key and the association, or
// the warning message that refuses it.
func parseBlock(b object) (string, Assoc, string) {
	segID, hasID := intField(b, "seg_id")
	memberID, hasMember := intField(b, "member_id")
	var code string
	if raw, ok := b["seg_code"]; ok && !isNull(raw) {
		json.Unmarshal(raw, &code)
	}
	var key string
	switch {
	case hasID && code != "":
		return "", Assoc{}, MsgBothSegmentKeys
	case hasID && segID > 0:
		key = strconv.FormatInt(segID, 10)
	case code != "" && hasMember && memberID > 0:
		key = strconv.FormatInt(memberID, 10) + ":" + code
	default:
		return "", Assoc{}, MsgSegmentRequired
	}
	var a Assoc
	if v, ok := intField(b, "value"); ok {
		a.Value = &v
	}
	if x, ok := intField(b, "expiration"); ok {
		if x < -1 {
			return "", Assoc{}, MsgBadExpiration
		}
		a.Expiration = &x
	}
	return key, a, ""
}

func intField(b object, name string) (int64, bool) {
	raw, ok := b[name]
	if !ok || isNull(raw) {
		return 0, false
	}
	var n int64
	if json.Unmarshal(raw, &n) != nil {
		return 0, false
	}
	return n, true
}

// apply records one association: expiration -1 removes it.
func (h *Handler) apply(u UserKey, key string, a Assoc) {
	if a.Expiration != nil && *a.Expiration == -1 {
		if segs := h.state[u]; segs != nil {
			delete(segs, key)
			if len(segs) == 0 {
				delete(h.state, u)
			}
		}
		return
	}
	segs := h.state[u]
	if segs == nil {
		segs = map[string]Assoc{}
		h.state[u] = segs
	}
	segs[key] = a
}
