package report

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
)

// stateBatchRows is how many associations go into one record batch, and
// so one row group, of the state file.
const stateBatchRows = 64 << 10

// WriteState writes the delivered state that follows a sync, in the
// plan's order (by user, then segment), to path: under a temporary name
// beside it, renamed into place once whole. It changes from the plan's old
// state only by what acked holds: an association sent and acknowledged
// (or delivered by an earlier run) takes its new value, delivered at at;
// removed and acknowledged, it leaves; one that failed or was warned keeps
// its old entry, or stays absent, so that the next run sends it again. An
// association absent from the snapshot and expired leaves. It returns the
// number of associations written.
func WriteState(path string, plan *chunker.Plan, acked *Acked, at time.Time) (int64, error) {
	if !plan.Complete() {
		return 0, errors.New("write state: the plan does not cover the whole snapshot")
	}
	f, err := createPending(path)
	if err != nil {
		return 0, fmt.Errorf("write state: %w", err)
	}
	w, err := newStateWriter(f)
	if err != nil {
		f.abort()
		return 0, fmt.Errorf("write state %s: %w", path, err)
	}
	err = plan.Each(func(e *chunker.PlanEntry) error {
		sent, sends := e.Sent()
		delivered := sends && acked.Has(sent.Pos)
		switch {
		case delivered && e.Action == chunker.Removed:
		case delivered:
			w.add(&e.New, at)
		case e.HasOld && e.Action != chunker.Expired:
			w.add(&e.Old, e.OldAt)
		default:
			return nil
		}
		return w.flushIfFull()
	})
	err = errors.Join(err, w.close())
	if err != nil {
		f.abort()
		return 0, fmt.Errorf("write state %s: %w", path, err)
	}
	if err := f.commit(); err != nil {
		return 0, fmt.Errorf("write state %s: %w", path, err)
	}
	syncDir(filepath.Dir(path))
	return w.rows, nil
}

// stateWriter writes associations to a state file with arrow's Parquet
// writer, a record batch (and row group) at a time.
type stateWriter struct {
	fw   *pqarrow.FileWriter
	b    *array.RecordBuilder
	n    int
	rows int64

	domain, user, code *array.StringBuilder
	segID, member      *array.Int64Builder
	value, exp         *array.Int32Builder
	at                 *array.TimestampBuilder
}

func newStateWriter(f *pendingFile) (*stateWriter, error) {
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithCreatedBy("rtseg sync"),
		parquet.WithMaxRowGroupLength(stateBatchRows),
		// Version 2 data pages: arrow v15 writes the definition levels of
		// a version 1 page (every column here but user_id and delivered is
		// nullable) by reallocating its buffer each time it ends a literal
		// run, with a byte more each time (apache/arrow GH-41541, fixed in
		// v17): a state whose segments are named both by ID and by code
		// made some 6 GiB of garbage a million associations, which the
		// collector could not keep up with. Readers of Parquet's C++
		// (pyarrow, pandas), Java (Spark, Trino) and Rust (Polars,
		// DataFusion) implementations, DuckDB and arrow's own read them.
		parquet.WithDataPageVersion(parquet.DataPageV2),
	)
	// The writer closes its sink: the pendingFile must stay open to commit.
	fw, err := pqarrow.NewFileWriter(reader.StateSchema, struct{ io.Writer }{f}, props, pqarrow.NewArrowWriterProperties())
	if err != nil {
		return nil, err
	}
	if err := fw.AppendKeyValueMetadata(reader.StateKey, reader.StateVersion); err != nil {
		return nil, err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, reader.StateSchema)
	w := &stateWriter{fw: fw, b: b}
	w.domain = b.Field(0).(*array.StringBuilder)
	w.user = b.Field(1).(*array.StringBuilder)
	w.segID = b.Field(2).(*array.Int64Builder)
	w.code = b.Field(3).(*array.StringBuilder)
	w.member = b.Field(4).(*array.Int64Builder)
	w.value = b.Field(5).(*array.Int32Builder)
	w.exp = b.Field(6).(*array.Int32Builder)
	w.at = b.Field(7).(*array.TimestampBuilder)
	return w, nil
}

func (w *stateWriter) add(r *reader.Row, at time.Time) {
	if r.Domain == "" {
		w.domain.AppendNull()
	} else {
		w.domain.Append(r.Domain)
	}
	w.user.Append(r.UserID)
	if r.SegID != 0 {
		w.segID.Append(r.SegID)
		w.code.AppendNull()
		w.member.AppendNull()
	} else {
		w.segID.AppendNull()
		w.code.Append(r.SegCode)
		w.member.Append(r.MemberID)
	}
	if r.HasValue {
		w.value.Append(r.Value)
	} else {
		w.value.AppendNull()
	}
	if r.HasExpiration {
		w.exp.Append(r.Expiration)
	} else {
		w.exp.AppendNull()
	}
	w.at.Append(arrow.Timestamp(at.UnixMilli()))
	w.n++
	w.rows++
}

func (w *stateWriter) flushIfFull() error {
	if w.n < stateBatchRows {
		return nil
	}
	return w.flush()
}

func (w *stateWriter) flush() error {
	if w.n == 0 {
		return nil
	}
	rec := w.b.NewRecord()
	defer rec.Release()
	w.n = 0
	return w.fw.Write(rec)
}

// close writes what is left and the file's footer; the file stays open
// for its pendingFile to commit.
func (w *stateWriter) close() error {
	err := w.flush()
	w.b.Release()
	return errors.Join(err, w.fw.Close())
}
