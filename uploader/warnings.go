package uploader

import (
	"encoding/json"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
)

// MsgTooManyUsers is the service's warning for users beyond its per-request
// limit; those users are sent again rather than reported.
const MsgTooManyUsers = "Too many user_ids in request."

// RowRef names one seg_block of a request: entry and block index.
type RowRef struct{ Entry, Block int }

// entity holds the fields a warning's entity may carry. User-level entities
// have user_id (and the user's seg_blocks); segment-level ones only one
// seg_block's fields; request-level ones rt_segment.
type entity struct {
	UserID    *string           `json:"user_id"`
	Domain    *string           `json:"domain"`
	SegBlock  []block           `json:"seg_block"`
	RTSegment []json.RawMessage `json:"rt_segment"`
	block
}

// block is a seg_block as the service echoes it: absent fields were null or
// not sent.
type block struct {
	SegID      *int64  `json:"seg_id"`
	SegCode    *string `json:"seg_code"`
	MemberID   *int64  `json:"member_id"`
	Value      *int64  `json:"value"`
	Expiration *int64  `json:"expiration"`
}

// attribution maps a response's warnings to rows.
//
// The service reports warnings in the order it processes the request, which
// is the request's order. A segment-level warning names no user, only the
// fields of one seg_block, and many users may have sent identical blocks: it
// belongs to the first matching block from where the previous warnings left
// off (the cursor). A user-level warning names its user and moves the
// cursor to that user's entry, whether it comes before or after the
// warnings for the user's blocks.
type attribution struct {
	req    *chunker.Request
	warned map[RowRef]string
	resend []int
	resent map[int]bool
	cursor RowRef // where the next segment-level warning is searched from
	users  int    // where the next user-level warning is searched from
	// seen records, per entry, the user-level messages it already got, so
	// that two users with one user_id in different domains each get theirs.
	seen map[int]map[string]bool
}

// attribute maps each warning to the rows it concerns. A row keeps the
// first warning it gets. Users refused as too many for one request are
// returned for sending again, and their rows are not marked.
func attribute(req *chunker.Request, warnings []respWarning) (map[RowRef]string, []int) {
	a := &attribution{req: req, resent: map[int]bool{}, seen: map[int]map[string]bool{}}
	entities := make([]*entity, len(warnings))
	for i, w := range warnings {
		var e entity
		if json.Unmarshal(w.Entity, &e) == nil {
			entities[i] = &e
		}
	}
	placed := a.tooMany(warnings, entities)
	for i, w := range warnings {
		e := entities[i]
		switch {
		case placed[i]:
		case e == nil:
			a.all(w.Message)
		case e.RTSegment != nil:
			a.all(w.Message)
		case e.UserID != nil:
			a.user(e, w.Message)
		default:
			a.block(&e.block, w.Message)
		}
	}
	return a.warned, a.resend
}

// tooMany places the warnings for users beyond the service's per-request
// limit: they are the last users of the request, in order. If the k such
// warnings name the last k users, those are sent again; otherwise each is
// placed by searching like any user-level warning. It returns the indices
// of the warnings it placed.
func (a *attribution) tooMany(warnings []respWarning, entities []*entity) map[int]bool {
	var refused []int
	for i, w := range warnings {
		if w.Message == MsgTooManyUsers && entities[i] != nil && entities[i].UserID != nil {
			refused = append(refused, i)
		}
	}
	first := len(a.req.Entries) - len(refused)
	if len(refused) == 0 || first < 0 {
		return nil
	}
	for k, w := range refused {
		e, u := entities[w], a.req.Entries[first+k].User
		if u.ID != *e.UserID || e.Domain != nil && u.Domain != *e.Domain {
			return nil
		}
	}
	placed := map[int]bool{}
	for k, w := range refused {
		i := first + k
		a.resent[i] = true
		a.resend = append(a.resend, i)
		placed[w] = true
	}
	return placed
}

func (a *attribution) mark(ref RowRef, msg string) {
	if a.warned == nil {
		a.warned = map[RowRef]string{}
	}
	if _, ok := a.warned[ref]; !ok {
		a.warned[ref] = msg
	}
}

// all marks every row not sent again: for request-level warnings, and for
// any warning whose rows cannot be found, rather than lose it.
func (a *attribution) all(msg string) {
	for i, e := range a.req.Entries {
		if a.resent[i] {
			continue
		}
		for j := range e.Rows {
			a.mark(RowRef{i, j}, msg)
		}
	}
}

func (a *attribution) user(e *entity, msg string) {
	i := a.findUser(e, msg)
	if i < 0 {
		a.all(msg)
		return
	}
	if a.seen[i] == nil {
		a.seen[i] = map[string]bool{}
	}
	a.seen[i][msg] = true
	a.users = i
	if a.cursor.Entry < i {
		a.cursor = RowRef{i, 0}
	}
	if msg == MsgTooManyUsers {
		if !a.resent[i] {
			a.resent[i] = true
			a.resend = append(a.resend, i)
		}
		return
	}
	rows := a.req.Entries[i].Rows
	// The entity's seg_blocks say which of the user's rows it concerns; each
	// block stands for one row, the first of the user's not yet matched.
	matched := make([]bool, len(rows))
	some := false
	for k := range e.SegBlock {
		for j := range rows {
			if !matched[j] && e.SegBlock[k].matches(&rows[j]) {
				matched[j], some = true, true
				break
			}
		}
	}
	for j := range rows {
		if matched[j] || !some {
			a.mark(RowRef{i, j}, msg)
		}
	}
}

// findUser returns the entry a user-level entity names, searching in
// request order from the previous user-level warning: the entry whose
// user_id matches, and domain too if the entity gives one, preferring one
// that has not had this message yet. It returns -1 if there is none.
func (a *attribution) findUser(e *entity, msg string) int {
	n := len(a.req.Entries)
	first := -1
	for k := range n {
		i := (a.users + k) % n
		u := a.req.Entries[i].User
		if u.ID != *e.UserID || e.Domain != nil && u.Domain != *e.Domain {
			continue
		}
		if !a.seen[i][msg] {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	return first
}

// block attributes a segment-level warning to the first matching row not
// yet warned, from the cursor on, then from the start.
func (a *attribution) block(b *block, msg string) {
	entries := a.req.Entries
	try := func(i, j int) bool {
		if a.resent[i] || !b.matches(&entries[i].Rows[j]) {
			return false
		}
		if _, done := a.warned[RowRef{i, j}]; done {
			return false
		}
		a.mark(RowRef{i, j}, msg)
		a.cursor = RowRef{i, j + 1}
		return true
	}
	for i := a.cursor.Entry; i < len(entries); i++ {
		start := 0
		if i == a.cursor.Entry {
			start = a.cursor.Block
		}
		for j := start; j < len(entries[i].Rows); j++ {
			if try(i, j) {
				return
			}
		}
	}
	for i := 0; i <= min(a.cursor.Entry, len(entries)-1); i++ {
		for j := range entries[i].Rows {
			if try(i, j) {
				return
			}
		}
	}
	// Every matching row has a warning already (a second warning for one
	// block keeps the first); with no match at all, warn every row.
	for i := range entries {
		for j := range entries[i].Rows {
			if !a.resent[i] && b.matches(&entries[i].Rows[j]) {
				return
			}
		}
	}
	a.all(msg)
}

// matches reports whether the echoed block can be the seg_block sent for r:
// every field it gives equals the row's.
func (b *block) matches(r *reader.Row) bool {
	switch {
	case b.SegID != nil && *b.SegID != r.SegID,
		b.SegCode != nil && (r.SegID != 0 || *b.SegCode != r.SegCode),
		b.MemberID != nil && *b.MemberID != r.MemberID,
		b.Value != nil && (!r.HasValue || *b.Value != int64(r.Value)),
		b.Expiration != nil && (!r.HasExpiration || *b.Expiration != int64(r.Expiration)):
		return false
	}
	return true
}
