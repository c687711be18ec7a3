package xandrtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
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

func (h *Handler) serveSegment(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(h.cfg.maxBytes)+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, ErrSyntax, "could not read the request body")
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.now()
	h.stats.Posts++
	member, ok := h.authorize(r, now)
	if !ok {
		h.stats.Unauthorized++
		writeError(w, http.StatusUnauthorized, ErrNoAuth, MsgNotLoggedIn)
		return
	}
	if len(body) > h.cfg.maxBytes {
		h.stats.TooLarge++
		writeError(w, http.StatusRequestEntityTooLarge, ErrSyntax, fmt.Sprintf(MsgTooLarge, h.cfg.maxBytes))
		return
	}
	var req struct {
		RTSegment []object `json:"rt_segment"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, ErrSyntax, "could not parse the request body: "+err.Error())
		return
	}
	h.stats.MaxBodyBytes = max(h.stats.MaxBodyBytes, len(body))

	users := min(len(req.RTSegment), h.cfg.maxUsers)
	lim := h.members[member]
	if lim == nil {
		lim = &memberLimits{}
		h.members[member] = lim
	}
	lim.posts.add(now, 1)
	h.stats.MaxPostsInWindow = max(h.stats.MaxPostsInWindow, lim.posts.max)
	if lim.posts.total > h.cfg.rps {
		h.throttle(w, time.Second, fmt.Sprintf(MsgRateLimited, h.cfg.rps))
		return
	}
	if ok, wait := lim.users.fits(now, users, h.cfg.ups); !ok {
		h.throttle(w, wait, fmt.Sprintf(MsgUserRateLimited, h.cfg.ups))
		return
	}
	lim.users.add(now, users)
	h.stats.MaxUsersInWindow = max(h.stats.MaxUsersInWindow, lim.users.max)
	h.stats.MaxUsersInRequest = max(h.stats.MaxUsersInRequest, len(req.RTSegment))

	h.counting(member, now)
	res := h.process(req.RTSegment, now)
	h.stats.Processed++
	writeJSON(w, http.StatusOK, res)
}

func (h *Handler) throttle(w http.ResponseWriter, wait time.Duration, msg string) {
	h.stats.Throttled++
	w.Header().Set("Retry-After", retryAfter(wait))
	writeError(w, http.StatusTooManyRequests, ErrRateExceeded, msg)
}

// process applies the entries to the state in order and returns the response,
// with warnings in processing order. Call with h.mu held.
func (h *Handler) process(entries []object, now time.Time) result {
	res := result{Status: "OK", Warnings: []warning{}}
	validUsers, validSegs := 0, 0
	for i, e := range entries {
		if i >= h.cfg.maxUsers {
			res.Warnings = append(res.Warnings, warning{MsgTooManyUsers, userEntity(e)})
			continue
		}
		n, warns := h.processUser(e)
		res.Warnings = append(res.Warnings, warns...)
		if n > 0 {
			validUsers++
			validSegs += n
		}
	}
	if validUsers == 0 {
		all := make([]any, len(entries))
		for i, e := range entries {
			all[i] = userEntity(e)
		}
		res.Warnings = append(res.Warnings, warning{MsgNoValidRequest, map[string]any{"rt_segment": all}})
	}
	h.tally(len(entries), validUsers, res.Warnings)
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
// were valid and the warnings it raised.
func (h *Handler) processUser(e object) (int, []warning) {
	var warns []warning
	var userID, domain string
	if raw, ok := e["user_id"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &userID) != nil {
			userID = ""
		}
	}
	if userID == "" {
		return 0, []warning{{MsgUserIDRequired, userEntity(e)}}
	}
	var blocks []object
	if raw, ok := e["seg_block"]; !ok || isNull(raw) || json.Unmarshal(raw, &blocks) != nil || len(blocks) == 0 {
		return 0, []warning{{MsgSegBlockRequired, userEntity(e)}}
	}
	if raw, ok := e["domain"]; ok && !isNull(raw) {
		if json.Unmarshal(raw, &domain) != nil || !validDomains[domain] {
			return 0, []warning{{fmt.Sprintf(MsgInvalidDomain, userID), userEntity(e)}}
		}
	}
	if len(blocks) > h.cfg.maxSegments {
		warns = append(warns, warning{fmt.Sprintf(MsgTooManySegments, userID, h.cfg.maxSegments), userEntity(e)})
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
		if h.admit(user, key, assoc) {
			h.apply(user, key, assoc)
		}
	}
	if valid == 0 {
		warns = append(warns, warning{fmt.Sprintf(MsgNoValidSegments, userID), userEntity(e)})
	}
	return valid, warns
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
