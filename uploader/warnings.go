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
// have user_id and seg_block; segment-level ones only a seg_block's fields;
// request-level ones rt_segment.
type entity struct {
	UserID     *string           `json:"user_id"`
	Domain     *string           `json:"domain"`
	RTSegment  []json.RawMessage `json:"rt_segment"`
	SegID      *int64            `json:"seg_id"`
	SegCode    *string           `json:"seg_code"`
	MemberID   *int64            `json:"member_id"`
	Value      *int64            `json:"value"`
	Expiration *int64            `json:"expiration"`
}

// attribution maps a response's warnings to rows.
type attribution struct {
	req    *chunker.Request
	warned map[RowRef]string
	resend []int
	// cursor is where the next segment-level warning's block is searched
	// from: the service reports in processing order, which is request order.
	cursor RowRef
}

// attribute maps each warning to the rows it concerns, using the request's
// order and the warning's entity. A row keeps the first warning it gets.
// Users refused as too many are returned for sending again.
func attribute(req *chunker.Request, warnings []respWarning) (map[RowRef]string, []int) {
	a := &attribution{req: req}
	for _, w := range warnings {
		var e entity
		if json.Unmarshal(w.Entity, &e) != nil {
			a.all(w.Message)
			continue
		}
		switch {
		case e.RTSegment != nil:
			a.all(w.Message)
		case e.UserID != nil:
			a.user(e, w.Message)
		default:
			a.block(e, w.Message)
		}
	}
	return a.warned, a.resend
}

func (a *attribution) mark(ref RowRef, msg string) {
	if a.warned == nil {
		a.warned = map[RowRef]string{}
	}
	if _, ok := a.warned[ref]; !ok {
		a.warned[ref] = msg
	}
}

func (a *attribution) all(msg string) {
	for i, e := range a.req.Entries {
		if a.isResent(i) {
			continue
		}
		for j := range e.Rows {
			a.mark(RowRef{i, j}, msg)
		}
	}
}

func (a *attribution) isResent(i int) bool {
	for _, r := range a.resend {
		if r == i {
			return true
		}
	}
	return false
}

func (a *attribution) user(e entity, msg string) {
	domain := ""
	if e.Domain != nil {
		domain = *e.Domain
	}
	for i, en := range a.req.Entries {
		if en.User.ID != *e.UserID || en.User.Domain != domain {
			continue
		}
		if msg == MsgTooManyUsers {
			a.resend = append(a.resend, i)
			return
		}
		for j := range en.Rows {
			a.mark(RowRef{i, j}, msg)
		}
		if next := (RowRef{i + 1, 0}); a.cursor.Entry < next.Entry {
			a.cursor = next
		}
		return
	}
	// A warning for a user we cannot find: attribute it to every row rather
	// than lose it.
	a.all(msg)
}

func (a *attribution) block(e entity, msg string) {
	for i := a.cursor.Entry; i < len(a.req.Entries); i++ {
		start := 0
		if i == a.cursor.Entry {
			start = a.cursor.Block
		}
		rows := a.req.Entries[i].Rows
		for j := start; j < len(rows); j++ {
			if e.matches(&rows[j]) {
				a.mark(RowRef{i, j}, msg)
				a.cursor = RowRef{i, j + 1}
				return
			}
		}
	}
	a.all(msg)
}

// matches reports whether the entity echoes the seg_block sent for r.
func (e entity) matches(r *reader.Row) bool {
	if r.SegID != 0 {
		if e.SegID == nil || *e.SegID != r.SegID || e.SegCode != nil {
			return false
		}
	} else if e.SegCode == nil || *e.SegCode != r.SegCode || e.MemberID == nil || *e.MemberID != r.MemberID {
		return false
	}
	if (e.Value != nil) != r.HasValue || (r.HasValue && *e.Value != int64(r.Value)) {
		return false
	}
	if (e.Expiration != nil) != r.HasExpiration || (r.HasExpiration && *e.Expiration != int64(r.Expiration)) {
		return false
	}
	return true
}
