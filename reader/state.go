package reader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// The delivered state of rtseg sync: a Parquet file, one row per
// association the service holds from earlier syncs, sorted by user
// (CompareUsers), then segment (Segment.Compare). Its columns are the
// input's fields, so that the file is itself input rtseg reads, and when
// the association was delivered.
const (
	// StateFile is the state's name inside --state-dir.
	StateFile = "state.parquet"
	// StateKey is the key of the file metadata that marks a Parquet file
	// as a delivered state, and StateVersion its value: the format.
	StateKey     = "rtseg.state"
	StateVersion = "1"
	// StateDeliveredColumn holds when each association was delivered
	// (a UTC timestamp in milliseconds).
	StateDeliveredColumn = "delivered_at"
)

// StateSchema is the Arrow schema of the delivered state: the input's
// fields (null when absent; domain null for a Xandr user ID) and
// delivered_at.
var StateSchema = arrow.NewSchema([]arrow.Field{
	{Name: "domain", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "user_id", Type: arrow.BinaryTypes.String},
	{Name: "seg_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "seg_code", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "member_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "value", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "expiration", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: StateDeliveredColumn, Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
}, nil)

// CompareUsers orders users as the delivered state is sorted, and as
// rtseg groups unsorted input: by domain, then user ID, byte-wise (a
// Xandr user ID, whose domain is empty, first). It returns -1, 0 or +1.
func CompareUsers(a, b User) int {
	if c := strings.Compare(a.Domain, b.Domain); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// Delivered is one association of the delivered state: as a row (its
// position is the state file and its 1-based row number) and when it was
// delivered.
type Delivered struct {
	Row Row
	At  time.Time
}

// StateError is a state file rtseg cannot trust: unreadable, written by
// something else, or breaking its own rules. It is never taken for an
// empty state.
type StateError struct {
	Path string
	Err  error
	// Foreign is set for a readable Parquet file that is not a state.
	Foreign bool
}

func (e *StateError) Error() string {
	if e.Foreign {
		return fmt.Sprintf("%s is not a delivered state written by rtseg sync: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("delivered state %s is damaged: %v", e.Path, e.Err)
}

func (e *StateError) Unwrap() error { return e.Err }

// Hint says how to go on without losing track of what the service holds.
func (e *StateError) Hint() string {
	if e.Foreign {
		return "point --state-dir at a directory of its own, or move that file away"
	}
	return "restore the file from a backup; or move it away and run again with --full, which sends the whole snapshot and rebuilds the state (associations delivered earlier and no longer in the snapshot are then left to expire at the service)"
}

// StateReader reads a delivered state, one association at a time, checking
// that the file is one and keeps its order. A goroutine of its own decodes
// the file's columns a batch of rows ahead, into buffers reused: reading a
// state of millions of rows takes little of the reading goroutine's time,
// and allocates little beyond the text of the user IDs.
type StateReader struct {
	dec stateDecoder

	// The batches cycle: free to the decoder, ready back.
	free, ready chan *stateBatch
	done        chan struct{} // closed by Close: the decoder stops
	stopped     chan struct{} // closed by the decoder as it returns
	started     bool
	cur         *stateBatch // the batch rows are handed out from, at i
	i           int
}

// stateBatch is rows decoded, and what ends the rows after them (nil
// when more follow).
type stateBatch struct {
	rows []Delivered
	err  error
}

// stateBatches is how many batches cycle between the decoder and the
// reader: the decoder may run two ahead.
const stateBatches = 3

// stateDecoder decodes a state file's rows, a batch at a time.
type stateDecoder struct {
	path string
	f    *os.File
	pf   *file.Reader
	rows int64
	// leaf is each column of StateSchema's index among the file's.
	leaf [stateColumns]int

	group int   // the next row group
	left  int64 // rows of the current row group not yet decoded
	cols  [stateColumns]stateColumn

	line                 int64 // rows decoded
	last                 Row
	lastDomain, lastUser string
	arena                []byte // the batch's user IDs
	text                 string // arena as a string, which rows share
	spans                []span // each row's user ID in text
	codes                Codes
}

const (
	stateColumns = 8
	// stateBatchRows is how many rows of the state are decoded at once.
	stateBatchRows = 4 << 10
	// stateBufferSize is what each column reads from the file at once:
	// the buffers are made anew for each row group.
	stateBufferSize = 64 << 10
)

// stateColumn is a column of the current row group, and its values of
// the batch being decoded: texts, ints or longs by its type, dense (nulls
// left out), and levels telling nulls apart if the column has any.
type stateColumn struct {
	r      file.ColumnChunkReader
	maxDef int16
	defs   []int16
	texts  []parquet.ByteArray
	ints   []int32
	longs  []int64
	next   int // the next value of the batch's dense values
}

// OpenState opens the delivered state at path. A missing file is an error
// for which errors.Is(err, os.ErrNotExist) holds; any other failure is a
// *StateError.
func OpenState(path string) (s *StateReader, err error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, &StateError{Path: path, Err: err}
	}
	defer func() {
		if p := recover(); p != nil {
			err = &StateError{Path: path, Err: fmt.Errorf("%v", p)}
		}
		if err != nil {
			f.Close()
		}
	}()
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	props.BufferSize = stateBufferSize
	pf, err := file.NewParquetReader(stateFile{f}, file.WithReadProps(props))
	if err != nil {
		return nil, &StateError{Path: path, Err: err}
	}
	s = &StateReader{dec: stateDecoder{path: path, f: f, pf: pf, rows: pf.NumRows()}}
	if v := pf.MetaData().KeyValueMetadata().FindValue(StateKey); v == nil {
		pf.Close()
		return nil, &StateError{Path: path, Foreign: true, Err: fmt.Errorf("its metadata has no %q key", StateKey)}
	} else if *v != StateVersion {
		pf.Close()
		return nil, &StateError{Path: path, Foreign: true, Err: fmt.Errorf("it is of format %s; this rtseg reads format %s", *v, StateVersion)}
	}
	// The columns' types are checked as Arrow sees them; their values are
	// then read without Arrow's arrays, straight into buffers reused.
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, &StateError{Path: path, Err: err}
	}
	schema, err := fr.Schema()
	if err != nil {
		pf.Close()
		return nil, &StateError{Path: path, Err: err}
	}
	for i, want := range StateSchema.Fields() {
		idx := schema.FieldIndices(want.Name)
		leaf := pf.MetaData().Schema.ColumnIndexByName(want.Name)
		if len(idx) != 1 || leaf < 0 || !arrow.TypeEqual(schema.Field(idx[0]).Type, want.Type) {
			pf.Close()
			return nil, &StateError{Path: path, Err: fmt.Errorf("no column %s of type %s", want.Name, want.Type)}
		}
		s.dec.leaf[i] = leaf
	}
	s.free, s.ready = make(chan *stateBatch, stateBatches), make(chan *stateBatch, stateBatches)
	s.done, s.stopped = make(chan struct{}), make(chan struct{})
	for range stateBatches {
		s.free <- &stateBatch{}
	}
	return s, nil
}

// Path is the state file's path, as rows' positions name it.
func (s *StateReader) Path() string { return s.dec.path }

// Len is the number of associations the state holds.
func (s *StateReader) Len() int64 { return s.dec.rows }

// Next returns the next association, valid until the next call, or io.EOF
// after the last. Any other error is a *StateError: the file is damaged,
// or out of order.
func (s *StateReader) Next() (*Delivered, error) {
	for s.cur == nil || s.i == len(s.cur.rows) {
		if s.cur != nil {
			if s.cur.err != nil {
				return nil, s.cur.err
			}
			s.free <- s.cur
		}
		if !s.started {
			s.started = true
			go s.decodeAhead()
		}
		s.cur, s.i = <-s.ready, 0
	}
	s.i++
	return &s.cur.rows[s.i-1], nil
}

// decodeAhead decodes batches as they are free, until the last or Close.
func (s *StateReader) decodeAhead() {
	defer close(s.stopped)
	for {
		var b *stateBatch
		select {
		case b = <-s.free:
		case <-s.done:
			return
		}
		s.dec.decode(b)
		s.ready <- b // never blocks: there are as many places as batches
		if b.err != nil {
			return
		}
	}
}

func (s *stateDecoder) damaged(err error) error {
	return &StateError{Path: s.path, Err: fmt.Errorf("row %d: %w", s.line, err)}
}

// The columns, in StateSchema's order.
const (
	sDomain = iota
	sUser
	sSegID
	sCode
	sMember
	sValue
	sExp
	sAt
)

// decode decodes the next batch of rows into b, those before the first
// that cannot be read; then b.err says why, or io.EOF after the last row.
// The batch's rows are overwritten, not cleared: the text they point to
// stays referenced until then.
func (s *stateDecoder) decode(b *stateBatch) {
	b.rows = b.rows[:0]
	// Arrow may panic on a corrupt file.
	defer func() {
		if p := recover(); p != nil {
			b.err = s.damaged(fmt.Errorf("%v", p))
		}
	}()
	for s.left == 0 {
		if s.group == s.pf.NumRowGroups() {
			b.err = io.EOF
			if s.line != s.rows {
				b.err = &StateError{Path: s.path, Err: fmt.Errorf("%d rows read of the %d it holds", s.line, s.rows)}
			}
			return
		}
		if b.err = s.openGroup(); b.err != nil {
			return
		}
	}
	n := min(s.left, stateBatchRows)
	for c := range s.cols {
		if err := s.cols[c].read(n); err != nil {
			b.err = &StateError{Path: s.path, Err: fmt.Errorf("after row %d: %w", s.line, err)}
			return
		}
	}
	s.left -= n
	s.users(int(n))
	b.rows = slices.Grow(b.rows, int(n))
	for i := range int(n) {
		b.rows = b.rows[:i+1]
		if b.err = s.row(i, &b.rows[i]); b.err != nil {
			b.rows = b.rows[:i]
			return
		}
	}
}

// openGroup starts reading the next row group.
func (s *stateDecoder) openGroup() error {
	rg := s.pf.RowGroup(s.group)
	s.group++
	for c := range s.cols {
		r, err := rg.Column(s.leaf[c])
		if err != nil {
			return &StateError{Path: s.path, Err: fmt.Errorf("after row %d: %w", s.line, err)}
		}
		var ok bool
		switch c {
		case sDomain, sUser, sCode:
			_, ok = r.(*file.ByteArrayColumnChunkReader)
		case sSegID, sMember, sAt:
			_, ok = r.(*file.Int64ColumnChunkReader)
		default:
			_, ok = r.(*file.Int32ColumnChunkReader)
		}
		if !ok {
			return s.damaged(errors.New("a column of an unexpected type"))
		}
		col := &s.cols[c]
		col.r, col.maxDef = r, r.Descriptor().MaxDefinitionLevel()
	}
	s.left = rg.NumRows()
	return nil
}

// read decodes the column's next n rows.
func (c *stateColumn) read(n int64) error {
	var defs []int16
	if c.maxDef > 0 {
		c.defs = slices.Grow(c.defs[:0], int(n))[:n]
		defs = c.defs
	}
	var total int64
	var err error
	switch r := c.r.(type) {
	case *file.ByteArrayColumnChunkReader:
		c.texts = slices.Grow(c.texts[:0], int(n))[:n]
		total, _, err = r.ReadBatch(n, c.texts, defs, nil)
	case *file.Int64ColumnChunkReader:
		c.longs = slices.Grow(c.longs[:0], int(n))[:n]
		total, _, err = r.ReadBatch(n, c.longs, defs, nil)
	case *file.Int32ColumnChunkReader:
		c.ints = slices.Grow(c.ints[:0], int(n))[:n]
		total, _, err = r.ReadBatch(n, c.ints, defs, nil)
	}
	if err == nil && total != n {
		err = fmt.Errorf("a column holds %d rows of %d", total, n)
	}
	c.next = 0
	return err
}

// has reports whether the column's value of row i is present, and moves
// past it if so.
func (c *stateColumn) has(i int) bool {
	if c.maxDef > 0 && c.defs[i] < c.maxDef {
		return false
	}
	c.next++
	return true
}

// span is where a row's user ID is in the batch's text: from and to, or
// one of spanLast (the last user of the batch before) and spanNull.
type span struct{ from, to int32 }

var (
	spanLast = span{-1, -1}
	spanNull = span{-2, -2}
)

// users finds the rows' user IDs: a row that continues the user before it
// shares its span, and the text of the others goes into the arena, which
// becomes one string for the batch. The texts a column reader hands out
// point into its dictionary or into the page they were on, which stays
// whole while they do (arrow's Go allocator never reuses a page's
// memory), however many pages the batch spans.
func (s *stateDecoder) users(n int) {
	col := &s.cols[sUser]
	s.arena, s.spans = s.arena[:0], s.spans[:0]
	var prev []byte
	cur := spanLast
	k := 0
	for i := range n {
		if col.maxDef > 0 && col.defs[i] < col.maxDef {
			s.spans = append(s.spans, spanNull)
			continue
		}
		b := col.texts[k]
		k++
		switch {
		case prev != nil && bytes.Equal(b, prev):
		case prev == nil && string(b) == s.lastUser && s.lastUser != "":
		default:
			from := int32(len(s.arena))
			s.arena = append(s.arena, b...)
			cur = span{from, int32(len(s.arena))}
		}
		prev = b
		s.spans = append(s.spans, cur)
	}
	s.text = string(s.arena)
}

// row builds row i of the batch, checking it.
func (s *stateDecoder) row(i int, d *Delivered) error {
	s.line++
	c := &s.cols
	c[sUser].has(i)
	at, hasAt := int64(0), c[sAt].has(i)
	if hasAt {
		at = c[sAt].longs[c[sAt].next-1]
	}
	sp := s.spans[i]
	if sp == spanNull || !hasAt {
		return s.damaged(errors.New("user_id or delivered_at is null"))
	}
	user := s.lastUser
	if sp != spanLast {
		user = s.text[sp.from:sp.to]
	}
	var domain string
	if c[sDomain].has(i) {
		b := c[sDomain].texts[c[sDomain].next-1]
		if string(b) == s.lastDomain {
			domain = s.lastDomain
		} else if d, ok := canonicalDomain(string(b)); ok && d == string(b) {
			domain = d // a constant, shared by every row of the domain
		} else {
			return s.damaged(fmt.Errorf("user %q of domain %q", user, b))
		}
	}
	if user == "" {
		return s.damaged(fmt.Errorf("user %q of domain %q", user, domain))
	}
	s.lastDomain, s.lastUser = domain, user
	r := &d.Row
	*r = Row{Pos: Position{File: s.path, Line: s.line}, Domain: domain, UserID: user}
	if c[sSegID].has(i) {
		r.SegID = c[sSegID].longs[c[sSegID].next-1]
	}
	if c[sCode].has(i) {
		r.SegCode = s.codes.Shared(c[sCode].texts[c[sCode].next-1])
	}
	if c[sMember].has(i) {
		r.MemberID = c[sMember].longs[c[sMember].next-1]
	}
	if (r.SegID > 0) == (r.SegCode != "" && r.MemberID > 0) || r.SegID < 0 {
		return s.damaged(errors.New("no segment, or two"))
	}
	if c[sValue].has(i) {
		r.Value, r.HasValue = c[sValue].ints[c[sValue].next-1], true
	}
	if c[sExp].has(i) {
		r.Expiration, r.HasExpiration = c[sExp].ints[c[sExp].next-1], true
		if r.Expiration < 0 || r.Expiration > MaxExpiration {
			return s.damaged(fmt.Errorf("expiration %d", r.Expiration))
		}
	}
	if s.line > 1 {
		c := CompareUsers(s.last.User(), r.User())
		if c == 0 {
			c = s.last.Segment().Compare(r.Segment())
		}
		if c >= 0 {
			return s.damaged(errors.New("rows are not sorted by user and segment"))
		}
	}
	s.last = *r
	d.At = time.UnixMilli(at).UTC()
	return nil
}

// Close stops decoding and closes the file.
func (s *StateReader) Close() error {
	if s.done == nil {
		return nil // closed already
	}
	close(s.done)
	s.done = nil
	if s.started {
		<-s.stopped
	}
	s.cur = nil
	s.dec.pf.Close()
	return s.dec.f.Close()
}

// stateFile gives the Parquet reader a file it cannot close: StateReader
// closes it.
type stateFile struct{ f *os.File }

func (s stateFile) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }
func (s stateFile) Seek(off int64, whence int) (int64, error) {
	return s.f.Seek(off, whence)
}
