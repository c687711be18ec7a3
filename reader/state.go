package reader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
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
// that the file is one and keeps its order.
type StateReader struct {
	path string
	f    *os.File
	pf   *file.Reader
	rr   pqarrow.RecordReader
	rows int64

	rec                  arrow.Record
	i, n                 int
	domain, user, code   *array.String
	segID, member        *array.Int64
	value, exp           *array.Int32
	at                   *array.Timestamp
	line                 int64
	last                 Row
	lastDomain, lastUser string
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
	props.BufferSize = parquetBufferSize
	pf, err := file.NewParquetReader(stateFile{f}, file.WithReadProps(props))
	if err != nil {
		return nil, &StateError{Path: path, Err: err}
	}
	s = &StateReader{path: path, f: f, pf: pf, rows: pf.NumRows()}
	if v := pf.MetaData().KeyValueMetadata().FindValue(StateKey); v == nil {
		pf.Close()
		return nil, &StateError{Path: path, Foreign: true, Err: fmt.Errorf("its metadata has no %q key", StateKey)}
	} else if *v != StateVersion {
		pf.Close()
		return nil, &StateError{Path: path, Foreign: true, Err: fmt.Errorf("it is of format %s; this rtseg reads format %s", *v, StateVersion)}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, &StateError{Path: path, Err: err}
	}
	schema, err := fr.Schema()
	if err != nil {
		pf.Close()
		return nil, &StateError{Path: path, Err: err}
	}
	cols := make([]int, 0, StateSchema.NumFields())
	for _, want := range StateSchema.Fields() {
		idx := schema.FieldIndices(want.Name)
		if len(idx) != 1 || !arrow.TypeEqual(schema.Field(idx[0]).Type, want.Type) {
			pf.Close()
			return nil, &StateError{Path: path, Err: fmt.Errorf("no column %s of type %s", want.Name, want.Type)}
		}
		cols = append(cols, idx[0])
	}
	if s.rr, err = fr.GetRecordReader(context.Background(), cols, nil); err != nil {
		pf.Close()
		return nil, &StateError{Path: path, Err: err}
	}
	return s, nil
}

// Path is the state file's path, as rows' positions name it.
func (s *StateReader) Path() string { return s.path }

// Len is the number of associations the state holds.
func (s *StateReader) Len() int64 { return s.rows }

// Next returns the next association, or io.EOF after the last. Any other
// error is a *StateError: the file is damaged, or out of order.
func (s *StateReader) Next() (Delivered, error) {
	for s.i >= s.n {
		if err := s.nextRecord(); err != nil {
			return Delivered{}, err
		}
	}
	i := s.i
	s.i++
	s.line++
	if s.user.IsNull(i) || s.at.IsNull(i) {
		return Delivered{}, s.damaged(errors.New("user_id or delivered_at is null"))
	}
	domain, user := s.domain.Value(i), s.user.Value(i)
	// Consecutive rows of one user share one copy of its ID.
	if user != s.lastUser || domain != s.lastDomain {
		s.lastDomain, s.lastUser = strings.Clone(domain), strings.Clone(user)
	}
	r := Row{Pos: Position{File: s.path, Line: s.line}, Domain: s.lastDomain, UserID: s.lastUser}
	if d, ok := canonicalDomain(domain); !ok || d != domain || user == "" {
		return Delivered{}, s.damaged(fmt.Errorf("user %q of domain %q", user, domain))
	}
	if !s.segID.IsNull(i) {
		r.SegID = s.segID.Value(i)
	}
	if !s.code.IsNull(i) {
		r.SegCode = strings.Clone(s.code.Value(i))
	}
	if !s.member.IsNull(i) {
		r.MemberID = s.member.Value(i)
	}
	if (r.SegID > 0) == (r.SegCode != "" && r.MemberID > 0) || r.SegID < 0 {
		return Delivered{}, s.damaged(errors.New("no segment, or two"))
	}
	if !s.value.IsNull(i) {
		r.Value, r.HasValue = s.value.Value(i), true
	}
	if !s.exp.IsNull(i) {
		r.Expiration, r.HasExpiration = s.exp.Value(i), true
		if r.Expiration < 0 || r.Expiration > MaxExpiration {
			return Delivered{}, s.damaged(fmt.Errorf("expiration %d", r.Expiration))
		}
	}
	if s.line > 1 {
		c := CompareUsers(s.last.User(), r.User())
		if c == 0 {
			c = s.last.Segment().Compare(r.Segment())
		}
		if c >= 0 {
			return Delivered{}, s.damaged(errors.New("rows are not sorted by user and segment"))
		}
	}
	s.last = r
	return Delivered{Row: r, At: time.UnixMilli(int64(s.at.Value(i))).UTC()}, nil
}

func (s *StateReader) damaged(err error) error {
	return &StateError{Path: s.path, Err: fmt.Errorf("row %d: %w", s.line, err)}
}

func (s *StateReader) nextRecord() (err error) {
	// Arrow may panic on a corrupt file.
	defer func() {
		if p := recover(); p != nil {
			err = s.damaged(fmt.Errorf("%v", p))
		}
	}()
	s.rec, s.i, s.n = nil, 0, 0
	if !s.rr.Next() {
		if err := s.rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return &StateError{Path: s.path, Err: fmt.Errorf("after row %d: %w", s.line, err)}
		}
		if s.line != s.rows {
			return &StateError{Path: s.path, Err: fmt.Errorf("%d rows read of the %d it holds", s.line, s.rows)}
		}
		return io.EOF
	}
	s.rec = s.rr.Record()
	cols := s.rec.Columns()
	var ok [8]bool
	s.domain, ok[0] = cols[0].(*array.String)
	s.user, ok[1] = cols[1].(*array.String)
	s.segID, ok[2] = cols[2].(*array.Int64)
	s.code, ok[3] = cols[3].(*array.String)
	s.member, ok[4] = cols[4].(*array.Int64)
	s.value, ok[5] = cols[5].(*array.Int32)
	s.exp, ok[6] = cols[6].(*array.Int32)
	s.at, ok[7] = cols[7].(*array.Timestamp)
	for _, good := range ok {
		if !good {
			return s.damaged(errors.New("a column of an unexpected type"))
		}
	}
	s.n = int(s.rec.NumRows())
	return nil
}

// Close closes the file.
func (s *StateReader) Close() error {
	if s.rr != nil {
		s.rr.Release()
	}
	s.rec = nil
	s.pf.Close()
	return s.f.Close()
}

// stateFile gives the Parquet reader a file it cannot close: StateReader
// closes it.
type stateFile struct{ f *os.File }

func (s stateFile) ReadAt(p []byte, off int64) (int, error) { return s.f.ReadAt(p, off) }
func (s stateFile) Seek(off int64, whence int) (int64, error) {
	return s.f.Seek(off, whence)
}
