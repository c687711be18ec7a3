package chunker

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rtseg/rtseg/reader"
)

// Action is what rtseg sync decides for one association, by comparing the
// snapshot with the delivered state.
type Action uint8

const (
	// Unchanged: the service holds it as the snapshot has it, with time
	// to live; not sent. A snapshot row removing an association that the
	// state does not hold is unchanged too.
	Unchanged Action = iota
	// Added: new in the snapshot; sent.
	Added
	// Changed: its value or expiration differs from what was delivered;
	// sent.
	Changed
	// Refreshed: the same as delivered, but its lifetime at the service
	// ends within --refresh-before (or --full sends everything); sent.
	Refreshed
	// Removed: delivered, and absent from the snapshot in mirror mode (or
	// removed by a snapshot row with expiration -1); sent with
	// expiration -1.
	Removed
	// Kept: delivered and absent from the snapshot in upsert mode, with
	// time to live; left at the service and in the state.
	Kept
	// Expired: delivered, absent from the snapshot, and its lifetime at
	// the service is over; dropped from the state, not sent.
	Expired
)

var actionNames = [...]string{"unchanged", "added", "changed", "refreshed", "removed", "kept", "expired"}

// String names the action as the summary counts it.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Sends reports whether the action sends the association.
func (a Action) Sends() bool { return a == Added || a == Changed || a == Refreshed || a == Removed }

// PlanEntry is one association of the snapshot or of the delivered state,
// with what rtseg sync decided for it.
type PlanEntry struct {
	Action Action
	// Old is the association as delivered, if HasOld: a row of the state,
	// its position the state file and row, and OldAt when it was
	// delivered.
	Old    reader.Row
	OldAt  time.Time
	HasOld bool
	// New is the snapshot's row for the association, if HasNew.
	New    reader.Row
	HasNew bool
}

// Sent is the row that the entry sends, if its action sends one: the
// snapshot's row, or for an association removed by its absence, the
// state's row with expiration -1 (its position the state's row).
func (e *PlanEntry) Sent() (reader.Row, bool) {
	switch {
	case !e.Action.Sends():
		return reader.Row{}, false
	case e.HasNew:
		return e.New, true
	}
	r := e.Old
	r.Value, r.HasValue = 0, false
	r.Expiration, r.HasExpiration = reader.ExpirationRemove, true
	return r, true
}

// SyncCounts count the associations of a sync by action, and the
// delivered state it started from.
type SyncCounts struct {
	Added, Changed, Refreshed, Removed, Unchanged, Kept, Expired int64
	// Delivered is the number of associations in the state before the run.
	Delivered int64
}

func (c *SyncCounts) count(a Action) {
	switch a {
	case Unchanged:
		c.Unchanged++
	case Added:
		c.Added++
	case Changed:
		c.Changed++
	case Refreshed:
		c.Refreshed++
	case Removed:
		c.Removed++
	case Kept:
		c.Kept++
	case Expired:
		c.Expired++
	}
}

// Plan is what rtseg sync decided for every association, in the state's
// order (by user, then segment), kept in a temporary file: it is read once
// to send what changed, and again to write the new state from what the
// service acknowledged.
//
// An entry in the file:
//
//	flags     uvarint: newUser, hasOld, hasNew, and hasValue, hasExpiration of each
//	action    byte
//	domain, user ID (newUser only), seg_code: uvarint length and bytes
//	seg_id, member_id: varint
//	old (hasOld): value, expiration (when present), delivered (Unix ms), state row: varints
//	new (hasNew): value, expiration (when present): varints; file uvarint index; line varint
type Plan struct {
	f    *os.File
	tmp  string // the directory it is in
	name string // set while the name is in the directory
	w    *bufio.Writer
	buf  []byte

	files    []string
	fileIdx  map[string]int
	state    string // the state file, as the old rows' positions name it
	lastUser reader.User
	entries  int64
	counts   SyncCounts
	complete bool
}

const (
	pNewUser = 1 << iota
	pHasOld
	pHasNew
	pOldValue
	pOldExp
	pNewValue
	pNewExp
)

// newPlan creates a plan in dir ("" for the system's temporary directory),
// for the state file state.
func newPlan(dir, state string) (*Plan, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "rtseg-plan-*")
	if err != nil {
		return nil, &SpillError{Dir: dir, Err: err}
	}
	p := &Plan{f: f, tmp: dir, name: f.Name(), w: bufio.NewWriterSize(f, writeBuffer), fileIdx: map[string]int{}, state: state}
	if os.Remove(p.name) == nil {
		p.name = ""
	}
	return p, nil
}

// Counts are the plan's associations by action.
func (p *Plan) Counts() SyncCounts { return p.counts }

// Complete reports whether the plan covers the whole snapshot and state:
// the input was read to its end and compared with all of the state, and
// nothing refused the run before sending. Only then may a new state be
// written from it.
func (p *Plan) Complete() bool { return p.complete }

func (p *Plan) file(name string) int {
	i, ok := p.fileIdx[name]
	if !ok {
		i = len(p.files)
		p.files = append(p.files, name)
		p.fileIdx[name] = i
	}
	return i
}

// add appends an entry; entries come in the state's order.
func (p *Plan) add(e *PlanEntry) error {
	var user reader.User
	var seg reader.Segment
	if e.HasNew {
		user, seg = e.New.User(), e.New.Segment()
	} else {
		user, seg = e.Old.User(), e.Old.Segment()
	}
	var flags uint64
	fresh := p.entries == 0 || user != p.lastUser
	if fresh {
		flags |= pNewUser
		p.lastUser = user
	}
	if e.HasOld {
		flags |= pHasOld
		if e.Old.HasValue {
			flags |= pOldValue
		}
		if e.Old.HasExpiration {
			flags |= pOldExp
		}
	}
	if e.HasNew {
		flags |= pHasNew
		if e.New.HasValue {
			flags |= pNewValue
		}
		if e.New.HasExpiration {
			flags |= pNewExp
		}
	}
	b := binary.AppendUvarint(p.buf[:0], flags)
	b = append(b, byte(e.Action))
	if fresh {
		b = appendText(b, user.Domain)
		b = appendText(b, user.ID)
	}
	b = appendText(b, seg.Code)
	b = binary.AppendVarint(b, seg.ID)
	b = binary.AppendVarint(b, seg.MemberID)
	if e.HasOld {
		b = appendNumbers(b, &e.Old)
		b = binary.AppendVarint(b, e.OldAt.UnixMilli())
		b = binary.AppendVarint(b, e.Old.Pos.Line)
	}
	if e.HasNew {
		b = appendNumbers(b, &e.New)
		b = binary.AppendUvarint(b, uint64(p.file(e.New.Pos.File)))
		b = binary.AppendVarint(b, e.New.Pos.Line)
	}
	p.buf = b
	p.entries++
	p.counts.count(e.Action)
	_, err := p.w.Write(b)
	return err
}

func appendText(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendNumbers(b []byte, r *reader.Row) []byte {
	if r.HasValue {
		b = binary.AppendVarint(b, int64(r.Value))
	}
	if r.HasExpiration {
		b = binary.AppendVarint(b, int64(r.Expiration))
	}
	return b
}

// finish flushes what was written, so that the plan can be read.
func (p *Plan) finish() error {
	if err := p.w.Flush(); err != nil {
		return &SpillError{Dir: p.dir(), Err: err}
	}
	return nil
}

func (p *Plan) dir() string { return p.tmp }

// Each reads the plan from its start and calls f with each entry, in
// order; f must not keep the entry, which is reused.
func (p *Plan) Each(f func(*PlanEntry) error) error {
	if _, err := p.f.Seek(0, io.SeekStart); err != nil {
		return p.readErr(err)
	}
	r := planReader{br: bufio.NewReaderSize(p.f, readBuffer), p: p}
	var e PlanEntry
	for range p.entries {
		if err := r.next(&e); err != nil {
			return p.readErr(err)
		}
		if err := f(&e); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plan) readErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &SpillError{Dir: p.dir(), Err: fmt.Errorf("read back the plan: %w", err)}
}

// Close removes the plan's file.
func (p *Plan) Close() error {
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f = nil
	if p.name != "" {
		err = errors.Join(err, os.Remove(p.name))
	}
	return err
}

type planReader struct {
	br   *bufio.Reader
	p    *Plan
	user reader.User
	text []byte
}

func (r *planReader) next(e *PlanEntry) error {
	flags, err := binary.ReadUvarint(r.br)
	if err != nil {
		return err
	}
	action, err := r.br.ReadByte()
	if err != nil {
		return err
	}
	*e = PlanEntry{Action: Action(action), HasOld: flags&pHasOld != 0, HasNew: flags&pHasNew != 0}
	if flags&pNewUser != 0 {
		domain, err := r.string()
		if err != nil {
			return err
		}
		id, err := r.string()
		if err != nil {
			return err
		}
		r.user = reader.User{Domain: domain, ID: id}
	}
	code, err := r.string()
	if err != nil {
		return err
	}
	var n [2]int64
	for i := range n {
		if n[i], err = binary.ReadVarint(r.br); err != nil {
			return err
		}
	}
	base := reader.Row{UserID: r.user.ID, Domain: r.user.Domain, SegID: n[0], MemberID: n[1], SegCode: code}
	if e.HasOld {
		e.Old = base
		if err := r.numbers(&e.Old, flags&pOldValue != 0, flags&pOldExp != 0); err != nil {
			return err
		}
		var v [2]int64
		for i := range v {
			if v[i], err = binary.ReadVarint(r.br); err != nil {
				return err
			}
		}
		e.OldAt = time.UnixMilli(v[0]).UTC()
		e.Old.Pos = reader.Position{File: r.p.state, Line: v[1]}
	}
	if e.HasNew {
		e.New = base
		if err := r.numbers(&e.New, flags&pNewValue != 0, flags&pNewExp != 0); err != nil {
			return err
		}
		file, err := binary.ReadUvarint(r.br)
		if err != nil {
			return err
		}
		line, err := binary.ReadVarint(r.br)
		if err != nil {
			return err
		}
		if file >= uint64(len(r.p.files)) {
			return fmt.Errorf("corrupt plan: file %d", file)
		}
		e.New.Pos = reader.Position{File: r.p.files[file], Line: line}
	}
	return nil
}

func (r *planReader) numbers(row *reader.Row, value, exp bool) error {
	if value {
		v, err := binary.ReadVarint(r.br)
		if err != nil {
			return err
		}
		row.Value, row.HasValue = int32(v), true
	}
	if exp {
		v, err := binary.ReadVarint(r.br)
		if err != nil {
			return err
		}
		row.Expiration, row.HasExpiration = int32(v), true
	}
	return nil
}

func (r *planReader) string() (string, error) {
	n, err := binary.ReadUvarint(r.br)
	if err != nil {
		return "", err
	}
	if n > maxArena {
		return "", fmt.Errorf("corrupt plan: a field of %d bytes", n)
	}
	if n == 0 {
		return "", nil
	}
	if uint64(cap(r.text)) < n {
		r.text = make([]byte, n)
	}
	r.text = r.text[:n]
	if _, err := io.ReadFull(r.br, r.text); err != nil {
		return "", err
	}
	return string(r.text), nil
}
