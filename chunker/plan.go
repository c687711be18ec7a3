package chunker

import (
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
	// Kept: delivered and absent from the snapshot in upsert mode, or
	// whose user has rows the snapshot could not read, with time to
	// live; left at the service and in the state.
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
// order (by user, then segment), kept in two temporary files: the whole
// plan, read once to write the new state from what the service
// acknowledged, and the entries that send, read once to pack them. So a
// sync that changes little reads little back before it sends.
//
// An entry in either file:
//
//	flags     uvarint: newUser, hasOld, hasNew, and hasValue, hasExpiration of each
//	action    byte
//	domain, user ID (newUser only), seg_code: uvarint length and bytes
//	seg_id, member_id: varint
//	old (hasOld): value, expiration (when present), delivered (Unix ms), state row: varints
//	new (hasNew): value, expiration (when present): varints; file uvarint index; line varint
//
// Delivered times and lines are differences from the last entry's with
// one.
type Plan struct {
	tmp        string // the directory of the files
	all, sends spool

	files    names
	lastFile string // the file of the last entry, and its index
	lastIdx  uint32
	state    string // the state file, as the old rows' positions name it
	counts   SyncCounts
	complete bool
}

// spool is one file of plan entries.
type spool struct {
	f       *os.File
	name    string // set while the name is in the directory
	buf     []byte // entries not yet written to f
	err     error  // the first write that failed
	last    reader.User
	entries int64
	// Times and lines are written as the difference from the entry
	// before's, which is small: rows of a state delivered together, in
	// order.
	lastAt, lastOld, lastNew int64
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
	p := &Plan{tmp: dir, state: state}
	for _, s := range []*spool{&p.all, &p.sends} {
		f, err := os.CreateTemp(dir, "rtseg-plan-*")
		if err != nil {
			p.Close()
			return nil, &SpillError{Dir: dir, Err: err}
		}
		s.f, s.name, s.buf = f, f.Name(), make([]byte, 0, writeBuffer)
		if os.Remove(s.name) == nil {
			s.name = ""
		}
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

func (p *Plan) file(name string) uint32 {
	// Rows come file after file: one look-up per file, not per row.
	if name != p.lastFile || p.files.list == nil {
		p.lastFile, p.lastIdx = name, p.files.id(name)
	}
	return p.lastIdx
}

// add appends the entry of an association: the state's old row and the
// snapshot's new one, either nil when absent. Entries come in the state's
// order. An unchanged association delivered before leaves out its
// snapshot row, which is the same.
func (p *Plan) add(a Action, old *reader.Delivered, new *reader.Row) error {
	p.counts.count(a)
	if err := p.all.add(p, a, old, new); err != nil {
		return err
	}
	if a.Sends() {
		return p.sends.add(p, a, old, new)
	}
	return nil
}

func (s *spool) add(p *Plan, a Action, old *reader.Delivered, new *reader.Row) error {
	r := new
	if r == nil {
		r = &old.Row
	}
	var flags uint64
	fresh := s.entries == 0 || r.UserID != s.last.ID || r.Domain != s.last.Domain
	if fresh {
		flags |= pNewUser
		s.last = r.User()
	}
	if old != nil {
		flags |= pHasOld
		if old.Row.HasValue {
			flags |= pOldValue
		}
		if old.Row.HasExpiration {
			flags |= pOldExp
		}
	}
	if new != nil {
		flags |= pHasNew
		if new.HasValue {
			flags |= pNewValue
		}
		if new.HasExpiration {
			flags |= pNewExp
		}
	}
	b := binary.AppendUvarint(s.buf, flags)
	b = append(b, byte(a))
	if fresh {
		b = appendText(b, r.Domain)
		b = appendText(b, r.UserID)
	}
	if r.SegID != 0 {
		b = append(b, 0) // no code
		b = binary.AppendVarint(b, r.SegID)
		b = append(b, 0) // member 0
	} else {
		b = appendText(b, r.SegCode)
		b = append(b, 0) // seg_id 0
		b = binary.AppendVarint(b, r.MemberID)
	}
	if old != nil {
		b = appendNumbers(b, &old.Row)
		at := old.At.UnixMilli()
		b = binary.AppendVarint(b, at-s.lastAt)
		b = binary.AppendVarint(b, old.Row.Pos.Line-s.lastOld)
		s.lastAt, s.lastOld = at, old.Row.Pos.Line
	}
	if new != nil {
		b = appendNumbers(b, new)
		b = binary.AppendUvarint(b, uint64(p.file(new.Pos.File)))
		b = binary.AppendVarint(b, new.Pos.Line-s.lastNew)
		s.lastNew = new.Pos.Line
	}
	s.buf = b
	s.entries++
	// Entries are encoded straight into the buffer, written out when
	// nearly full.
	if len(b) > writeBuffer-entryHead-2*reader.MaxUserIDBytes {
		return s.flush()
	}
	return nil
}

func (s *spool) flush() error {
	if s.err == nil && len(s.buf) > 0 {
		_, s.err = s.f.Write(s.buf)
	}
	s.buf = s.buf[:0]
	return s.err
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
	for _, s := range []*spool{&p.all, &p.sends} {
		if s.f == nil {
			continue
		}
		if err := s.flush(); err != nil {
			return &SpillError{Dir: p.tmp, Err: err}
		}
	}
	return nil
}

// Each reads the plan from its start and calls f with each entry, in
// order; f must not keep the entry, which is reused.
func (p *Plan) Each(f func(*PlanEntry) error) error { return p.each(&p.all, f) }

// eachSend is Each for the entries that send.
func (p *Plan) eachSend(f func(*PlanEntry) error) error { return p.each(&p.sends, f) }

func (p *Plan) each(s *spool, f func(*PlanEntry) error) error {
	if s.f == nil {
		return p.readErr(os.ErrClosed)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return p.readErr(err)
	}
	r := planReader{src: s.f, buf: make([]byte, 0, readBuffer), p: p}
	var e PlanEntry
	for range s.entries {
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
	return &SpillError{Dir: p.tmp, Err: fmt.Errorf("read back the plan: %w", err)}
}

// Close removes the plan's files.
func (p *Plan) Close() error {
	var errs []error
	for _, s := range []*spool{&p.all, &p.sends} {
		if s.f == nil {
			continue
		}
		errs = append(errs, s.f.Close())
		s.f = nil
		if s.name != "" {
			errs = append(errs, os.Remove(s.name))
		}
	}
	return errors.Join(errs...)
}

// planReader decodes entries from a buffer refilled from the file, so
// that a field costs a few instructions, not a call per byte.
type planReader struct {
	// lastAt, lastOld and lastNew are the entry before's, as spool's.
	lastAt, lastOld, lastNew int64
	src                      io.Reader
	buf                      []byte // buf[at:] is read and not yet decoded
	at                       int
	eof                      bool
	p                        *Plan
	user                     reader.User
	codes                    reader.Codes
	err                      error // the first field that could not be decoded
}

// entryHead is more than the numbers of an entry can take.
const entryHead = 256

var errCorruptPlan = errors.New("corrupt plan")

// more makes n bytes readable at buf[at:] if the file holds them.
func (r *planReader) more(n int) {
	if len(r.buf)-r.at >= n || r.eof {
		return
	}
	left := copy(r.buf, r.buf[r.at:])
	r.buf, r.at = r.buf[:left], 0
	if n > cap(r.buf) {
		r.buf = append(make([]byte, 0, n), r.buf...)
	}
	for len(r.buf) < n && !r.eof {
		k, err := r.src.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+k]
		switch {
		case errors.Is(err, io.EOF):
			r.eof = true
		case err != nil:
			r.eof = true
			if r.err == nil {
				r.err = err
			}
		}
	}
}

func (r *planReader) fail(n int) {
	if r.err != nil {
		return
	}
	if n == 0 {
		r.err = io.ErrUnexpectedEOF
	} else {
		r.err = errCorruptPlan
	}
}

func (r *planReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.buf[r.at:])
	if n <= 0 {
		r.fail(n)
		return 0
	}
	r.at += n
	return v
}

func (r *planReader) varint() int64 {
	v, n := binary.Varint(r.buf[r.at:])
	if n <= 0 {
		r.fail(n)
		return 0
	}
	r.at += n
	return v
}

// text returns the next length-prefixed bytes, valid until the next call.
func (r *planReader) text() []byte {
	n := r.uvarint()
	if r.err != nil || n == 0 {
		return nil
	}
	if n > maxArena {
		r.fail(-1)
		return nil
	}
	r.more(int(n))
	if uint64(len(r.buf)-r.at) < n {
		r.fail(0)
		return nil
	}
	b := r.buf[r.at : r.at+int(n)]
	r.at += int(n)
	return b
}

func (r *planReader) next(e *PlanEntry) error {
	r.more(entryHead)
	flags := r.uvarint()
	if r.err == nil && r.at == len(r.buf) {
		r.fail(0)
	}
	if r.err != nil {
		return r.err
	}
	action := r.buf[r.at]
	r.at++
	*e = PlanEntry{Action: Action(action), HasOld: flags&pHasOld != 0, HasNew: flags&pHasNew != 0}
	if flags&pNewUser != 0 {
		// Domains are a handful of constants: users share a copy.
		domain := r.user.Domain
		if d := r.text(); string(d) != domain {
			domain = string(d)
		}
		r.user = reader.User{Domain: domain, ID: string(r.text())}
	}
	code := r.codes.Shared(r.text())
	r.more(entryHead)
	base := reader.Row{UserID: r.user.ID, Domain: r.user.Domain, SegID: r.varint(), MemberID: r.varint(), SegCode: code}
	if e.HasOld {
		e.Old = base
		r.numbers(&e.Old, flags&pOldValue != 0, flags&pOldExp != 0)
		r.lastAt += r.varint()
		r.lastOld += r.varint()
		e.OldAt = time.UnixMilli(r.lastAt).UTC()
		e.Old.Pos = reader.Position{File: r.p.state, Line: r.lastOld}
	}
	if e.HasNew {
		e.New = base
		r.numbers(&e.New, flags&pNewValue != 0, flags&pNewExp != 0)
		file := r.uvarint()
		r.lastNew += r.varint()
		if r.err == nil && file >= uint64(len(r.p.files.list)) {
			r.err = fmt.Errorf("%w: file %d", errCorruptPlan, file)
		}
		if r.err == nil {
			e.New.Pos = reader.Position{File: r.p.files.list[file], Line: r.lastNew}
		}
	}
	return r.err
}

func (r *planReader) numbers(row *reader.Row, value, exp bool) {
	if value {
		row.Value, row.HasValue = int32(r.varint()), true
	}
	if exp {
		row.Expiration, row.HasExpiration = int32(r.varint()), true
	}
}
