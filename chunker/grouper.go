package chunker

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"github.com/rtseg/rtseg/reader"
)

// GroupConfig bounds a Grouper.
type GroupConfig struct {
	// Memory is how many bytes the rows held in memory may take (their
	// records and text, counted as allocated) before they are sorted and
	// written to a temporary file; 0 means DefaultGroupMemory. Reading the
	// files back takes a few megabytes more.
	Memory int64
	// TmpDir is where the temporary files go; "" means os.TempDir().
	TmpDir string
	// OnSpill, if set, is called after each spill of the rows in memory
	// to a temporary file, from the goroutine calling Add.
	OnSpill func()
}

// Grouper groups all rows of each user across the whole input, in whatever
// order they come, and hands each user to the packer once, with its rows in
// input order.
//
// Rows are kept in memory in a compact form up to GroupConfig.Memory. Past
// it they are sorted by user and written to a temporary file, a run; at
// Close the runs and the rows still in memory are merged, so that each
// user's rows come together again. A run is unlinked as soon as it is
// created where the system allows it (and its space is freed when it is
// closed), so no temporary file outlives the process, even one killed; runs
// are closed on every path out of Close.
//
// Users are packed in order of domain, then user ID (byte-wise), whatever
// the input order and whether or not rows were spilled: the same rows in any
// order give the same requests, byte for byte, and the same as Adjacent on
// the rows sorted by domain, then user ID, byte-wise, provided that each
// user's rows keep their order (a stable sort) or that no user has two rows
// for one segment, whose winner depends on their order.
type Grouper struct {
	p       users
	out     superseder
	budget  int64
	dir     string
	onSpill func()

	seq     uint64 // rows added so far
	recs    []rec
	arena   []byte // the text of recs
	files   names
	domains names
	codes   reader.Codes

	levels [][]*run // spilled runs by merge level
	spills int      // runs written, merges included
	open   int      // run files open
	err    error    // the spill that failed: rows stay in memory
	closed bool
	// keepNames leaves runs' names in the directory until they are
	// closed, as on systems that cannot remove an open file. For tests.
	keepNames bool
}

// rec is a row held in memory: numbers, and offsets into the arena for its
// text. It holds no pointer, so the garbage collector never scans it.
type rec struct {
	seq      uint64
	line     int64
	segID    int64
	memberID int64
	user     uint32 // offset in the arena
	userLen  uint32
	code     uint32
	codeLen  uint32
	file     uint32
	value    int32
	exp      int32
	domain   uint16
	flags    uint8
}

const (
	recSize = int64(unsafe.Sizeof(rec{}))

	hasValue      = 1 << 0
	hasExpiration = 1 << 1
	newUser       = 1 << 2 // in runs: the record starts a new user
	heldUser      = 1 << 3 // an invalid row that names its user (hold)

	// fanIn is how many runs are merged at once: the 64th run of a level
	// is merged with the others into one run of the next level, which
	// bounds the files open and the memory that reading them takes.
	fanIn        = 64
	minGrowRecs  = 1024
	minGrowArena = 64 << 10
	maxArena     = 1<<32 - 1
	// collectBefore is the size of buffers past which rebalance frees
	// them before making new ones.
	collectBefore = 4 << 20
)

// names numbers strings that many rows share: file names and domains.
type names struct {
	list  []string
	index map[string]uint32
}

func (n *names) id(s string) uint32 {
	if i, ok := n.index[s]; ok {
		return i
	}
	if n.index == nil {
		n.index = map[string]uint32{}
	}
	i := uint32(len(n.list))
	n.list = append(n.list, s)
	n.index[s] = i
	return i
}

// DefaultGroupMemory is the memory budget of a Grouper given none.
const DefaultGroupMemory = 256 << 20

// NewGrouper returns a grouper feeding p.
func NewGrouper(p *Packer, c GroupConfig) *Grouper { return newGrouper(p, p.out, c) }

// newGrouper returns a grouper handing each user to p, and superseded rows
// to out.
func newGrouper(p users, out superseder, c GroupConfig) *Grouper {
	dir := c.TmpDir
	if dir == "" {
		dir = os.TempDir()
	}
	if c.Memory <= 0 {
		c.Memory = DefaultGroupMemory
	}
	return &Grouper{p: p, out: out, budget: c.Memory, dir: dir, onSpill: c.OnSpill}
}

// errClosed is returned by Add after Close.
var errClosed = errors.New("chunker: add to a closed grouper")

// Add takes the next valid row. An error, such as rows that could not be
// spilled to disk, means the row was not taken; Close still packs every row
// taken before.
func (g *Grouper) Add(row reader.Row) error { return g.add(row, 0) }

// hold takes an invalid row that names its user (rtseg sync): the user
// has rows the input could not read. It is held as a record of its own,
// so that grouping bounds it as it bounds rows.
func (g *Grouper) hold(row reader.Row) error {
	return g.add(reader.Row{Pos: row.Pos, UserID: row.UserID, Domain: row.Domain}, heldUser)
}

func (g *Grouper) add(row reader.Row, flags uint8) error {
	if g.closed {
		return errClosed
	}
	domain := g.domains.id(row.Domain)
	if domain > 1<<16-1 {
		return fmt.Errorf("chunker: more than %d distinct domains", 1<<16)
	}
	text := len(row.UserID) + len(row.SegCode)
	if !g.room(text) {
		if g.err != nil {
			return g.err
		}
		if len(g.recs) > 0 {
			if err := g.spill(); err != nil {
				return err
			}
		}
		if !g.room(text) {
			g.grow(text, true)
		}
	}
	r := rec{
		seq:      g.seq,
		line:     row.Pos.Line,
		segID:    row.SegID,
		memberID: row.MemberID,
		user:     uint32(len(g.arena)),
		userLen:  uint32(len(row.UserID)),
		file:     g.files.id(row.Pos.File),
		value:    row.Value,
		exp:      row.Expiration,
		domain:   uint16(domain),
		flags:    flags,
	}
	g.arena = append(g.arena, row.UserID...)
	r.code, r.codeLen = uint32(len(g.arena)), uint32(len(row.SegCode))
	g.arena = append(g.arena, row.SegCode...)
	if row.HasValue {
		r.flags |= hasValue
	}
	if row.HasExpiration {
		r.flags |= hasExpiration
	}
	g.recs = append(g.recs, r)
	g.seq++
	return nil
}

// room makes room for one more record and its text (user ID and code, of
// the given length), growing the buffers within the budget. It reports false
// if that would take them past the budget.
func (g *Grouper) room(text int) bool {
	if len(g.recs) < cap(g.recs) && len(g.arena)+text <= cap(g.arena) {
		return true
	}
	return g.grow(text, false)
}

// grow enlarges the buffers to hold one more record and its text: it doubles
// them, or grows them less so that what they hold while growing stays within
// the budget. A buffer grows by copying into a new one, so for a moment both
// are live: the old buffer counts against the budget too. When force is set
// it goes past the budget if it must; otherwise it reports false when there
// is no room left.
func (g *Grouper) grow(text int, force bool) bool {
	oldRecs, oldArena := cap(g.recs), cap(g.arena)
	recs, arena := oldRecs, oldArena
	// held is what the buffers take while growing to recs and arena.
	held := func() int64 {
		n := int64(recs)*recSize + int64(arena)
		if recs > oldRecs {
			n += int64(oldRecs) * recSize
		}
		if arena > oldArena {
			n += int64(oldArena)
		}
		return n
	}
	if len(g.recs) == recs {
		recs = max(2*recs, int(min(minGrowRecs, g.budget/4/recSize)), 1)
		if over := held() - g.budget; over > 0 && !force {
			recs -= int((over + recSize - 1) / recSize)
		}
	}
	if len(g.arena)+text > arena {
		arena = min(max(2*arena, int(min(minGrowArena, g.budget/4)), len(g.arena)+text), maxArena)
		if over := held() - g.budget; over > 0 && !force {
			arena -= int(over)
		}
	}
	if recs <= len(g.recs) || arena < len(g.arena)+text {
		if !force || len(g.arena)+text > maxArena {
			return false
		}
		recs, arena = max(recs, len(g.recs)+1), max(arena, len(g.arena)+text)
	}
	// make and copy, rather than append, to allocate exactly this much.
	if recs > cap(g.recs) {
		g.recs = append(make([]rec, 0, recs), g.recs...)
	}
	if arena > cap(g.arena) {
		g.arena = append(make([]byte, 0, arena), g.arena...)
	}
	return true
}

// rebalance sizes the buffers emptied by a spill: records and text share the
// budget in the proportion the spilled run had (its record count and text
// length are given), so that the next run fills the budget.
func (g *Grouper) rebalance(n, text int) {
	if n == 0 || g.budget <= 0 {
		return
	}
	recBytes := int64(n) * recSize
	recs := int(g.budget * recBytes / (recBytes + int64(text)) / recSize)
	arena := int(min(g.budget-int64(recs)*recSize, maxArena))
	if recs < 1 || arena < text/n {
		return
	}
	near := func(a, b int) bool { return a >= b-b/8 && a <= b+b/8 }
	if !near(recs, cap(g.recs)) || !near(arena, cap(g.arena)) {
		old := int64(cap(g.recs))*recSize + int64(cap(g.arena))
		g.recs, g.arena = nil, nil
		if old >= collectBefore {
			// Free the old buffers before making the new ones, or both
			// stay in memory until the collector next runs. Cheap: what
			// the heap holds besides is small, and the buffers hold no
			// pointers to scan.
			runtime.GC()
		}
		g.recs = make([]rec, 0, recs)
		g.arena = make([]byte, 0, arena)
	}
}

// compareRecs orders records by domain, user ID and input order.
func (g *Grouper) compareRecs(a, b *rec) int {
	if a.domain != b.domain {
		return strings.Compare(g.domains.list[a.domain], g.domains.list[b.domain])
	}
	if c := bytes.Compare(g.userOf(a), g.userOf(b)); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func (g *Grouper) userOf(r *rec) []byte { return g.arena[r.user : r.user+r.userLen] }
func (g *Grouper) codeOf(r *rec) []byte { return g.arena[r.code : r.code+r.codeLen] }

func (g *Grouper) sortRecs() {
	slices.SortFunc(g.recs, func(a, b rec) int { return g.compareRecs(&a, &b) })
}

// Close packs every user and flushes the last requests. The temporary files
// are closed and removed whatever happens.
func (g *Grouper) Close() (err error) {
	if g.closed {
		return nil
	}
	g.closed = true
	defer func() { err = errors.Join(err, g.closeRuns()) }()
	g.sortRecs()
	e := emitter{g: g}
	if len(g.levels) == 0 {
		for i := range g.recs {
			r := &g.recs[i]
			if err := e.add(r, g.userOf(r), g.codeOf(r)); err != nil {
				return err
			}
		}
	} else {
		srcs := []source{&memSource{g: g, i: -1}}
		for _, level := range g.levels {
			for _, r := range level {
				src, err := r.reader()
				if err != nil {
					return g.readErr(err)
				}
				srcs = append(srcs, src)
			}
		}
		if err := g.merge(srcs, func(it *item) error { return e.add(&it.rec, it.user, it.code) }); err != nil {
			return err
		}
	}
	if err := e.flush(); err != nil {
		return err
	}
	g.recs, g.arena = nil, nil
	return g.p.Flush()
}

// emitter gathers the rows of one user at a time from sorted records and
// hands each user to the packer.
type emitter struct {
	g      *Grouper
	domain uint16
	cur    latest
}

func (e *emitter) add(r *rec, user, code []byte) error {
	if !e.cur.empty() && (r.domain != e.domain || e.cur.user.ID != string(user)) {
		if err := e.flush(); err != nil {
			return err
		}
	}
	g := e.g
	if e.cur.empty() {
		e.domain = r.domain
		e.cur.reset(reader.User{Domain: g.domains.list[r.domain], ID: string(user)})
	}
	pos := reader.Position{File: g.files.list[r.file], Line: r.line}
	if r.flags&heldUser != 0 {
		e.cur.hold(pos)
		return nil
	}
	row := reader.Row{
		Pos:           pos,
		UserID:        e.cur.user.ID,
		Domain:        e.cur.user.Domain,
		SegID:         r.segID,
		MemberID:      r.memberID,
		Value:         r.value,
		HasValue:      r.flags&hasValue != 0,
		Expiration:    r.exp,
		HasExpiration: r.flags&hasExpiration != 0,
	}
	if len(code) > 0 {
		row.SegCode = g.codes.Shared(code)
	}
	return e.cur.add(row, g.out)
}

func (e *emitter) flush() error {
	if e.cur.empty() {
		return nil
	}
	err := e.cur.handOn(e.g.p, false)
	e.cur.reset(reader.User{})
	return err
}
