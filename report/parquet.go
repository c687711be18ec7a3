package report

import (
	"bufio"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// ParquetSchema is the report's schema as Parquet (--report-format
// parquet): the columns of the CSV report, in order, typed for a warehouse.
// line, the IDs, value, expiration and attempts are integers, null when
// absent or, for an invalid row, not a whole number (the reason then quotes
// the text); outcome is a dictionary string; empty text is null.
var ParquetSchema = arrow.NewSchema([]arrow.Field{
	{Name: "file", Type: arrow.BinaryTypes.String},
	{Name: "line", Type: arrow.PrimitiveTypes.Int64},
	{Name: "user_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "domain", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "seg_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "seg_code", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "member_id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "expiration", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "outcome", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}},
	{Name: "reason", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "attempts", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// A row group is written once it holds parquetGroupRows lines or about
// parquetGroupBytes of text: what the writer holds at most, however long
// the report.
const (
	parquetGroupRows  = 16 << 10
	parquetGroupBytes = 2 << 20
)

// parquetWriter writes report lines as Parquet, a row group at a time.
type parquetWriter struct {
	buf  *bufio.Writer
	fw   *pqarrow.FileWriter
	b    *array.RecordBuilder
	rows int
	text int
}

// writeOnly hides the file's Close from the Parquet writer, which would
// close it: the report's file is closed when it is put in place.
type writeOnly struct{ io.Writer }

func newParquetWriter(w io.Writer) (*parquetWriter, error) {
	buf := bufio.NewWriterSize(w, 256<<10)
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy),
		parquet.WithCreatedBy("rtseg"), parquet.WithMaxRowGroupLength(parquetGroupRows))
	fw, err := pqarrow.NewFileWriter(ParquetSchema, writeOnly{buf}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return nil, err
	}
	return &parquetWriter{buf: buf, fw: fw, b: array.NewRecordBuilder(memory.DefaultAllocator, ParquetSchema)}, nil
}

func (p *parquetWriter) write(l *Line) error {
	values := l.Fields.Values()
	p.b.Field(0).(*array.StringBuilder).Append(filepath.ToSlash(l.Pos.File))
	p.b.Field(1).(*array.Int64Builder).Append(l.Pos.Line)
	for i, v := range values {
		f := p.b.Field(2 + i)
		switch b := f.(type) {
		case *array.StringBuilder:
			appendText(b, v)
		case *array.Int64Builder:
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				b.Append(n)
			} else {
				b.AppendNull()
			}
		}
		p.text += len(v)
	}
	if err := p.b.Field(9).(*array.BinaryDictionaryBuilder).AppendString(l.Outcome.String()); err != nil {
		return err
	}
	appendText(p.b.Field(10).(*array.StringBuilder), l.Reason)
	p.b.Field(11).(*array.Int64Builder).Append(int64(l.Attempts))
	p.rows++
	p.text += len(l.Pos.File) + len(l.Reason)
	if p.rows >= parquetGroupRows || p.text >= parquetGroupBytes {
		return p.flush()
	}
	return nil
}

// appendText appends s, or null if it is empty.
func appendText(b *array.StringBuilder, s string) {
	if s == "" {
		b.AppendNull()
	} else {
		b.Append(s)
	}
}

// flush writes the lines held as a row group.
func (p *parquetWriter) flush() error {
	if p.rows == 0 {
		return nil
	}
	rec := p.b.NewRecord()
	defer rec.Release()
	p.rows, p.text = 0, 0
	return p.fw.Write(rec)
}

// close writes what is held and the file's footer.
func (p *parquetWriter) close() error {
	err := p.flush()
	if cerr := p.fw.Close(); err == nil {
		err = cerr
	}
	p.b.Release()
	if ferr := p.buf.Flush(); err == nil {
		err = ferr
	}
	return err
}
