package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/rtseg/rtseg/reader"
)

// fieldNames are the row's fields, as the report's columns name them.
var fieldNames = reader.FieldNames()

// Columns are the per-row report's columns, in order: the row's position,
// its fields, what happened to it.
var Columns = slices.Concat([]string{"file", "line"}, fieldNames[:], []string{"outcome", "reason", "attempts"})

// Line is one row of the report.
type Line struct {
	Pos      reader.Position
	Fields   reader.Fields
	Outcome  Outcome
	Reason   string
	Attempts int
}

// Writer writes report lines, as CSV, JSON lines or Parquet.
type Writer struct {
	csv    *csv.Writer    // for CSV
	jsonl  *bufio.Writer  // for JSON lines
	pq     *parquetWriter // for Parquet
	record []string
	buf    []byte
}

// NewWriter returns a writer of the given format, "csv", "jsonl" or
// "parquet" (ParquetSchema). CSV starts with its header.
func NewWriter(w io.Writer, format string) (*Writer, error) {
	switch format {
	case "", "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(Columns); err != nil {
			return nil, err
		}
		return &Writer{csv: cw}, nil
	case "jsonl":
		return &Writer{jsonl: bufio.NewWriter(w)}, nil
	case "parquet":
		pq, err := newParquetWriter(w)
		if err != nil {
			return nil, err
		}
		return &Writer{pq: pq}, nil
	}
	return nil, fmt.Errorf("--report-format %q: want csv, jsonl or parquet", format)
}

// Write writes one line. JSON lines have the CSV columns' names, in their
// order; numbers stay text as read, since an invalid row's fields may not be
// numbers at all, and strings are escaped as encoding/json escapes them.
func (w *Writer) Write(l *Line) error {
	if w.pq != nil {
		return w.pq.write(l)
	}
	values := l.Fields.Values()
	if w.csv != nil {
		w.record = append(w.record[:0], filepath.ToSlash(l.Pos.File), strconv.FormatInt(l.Pos.Line, 10))
		w.record = append(w.record, values[:]...)
		w.record = append(w.record, l.Outcome.String(), l.Reason, strconv.Itoa(l.Attempts))
		return w.csv.Write(w.record)
	}
	b := append(w.buf[:0], `{"file":`...)
	b = appendJSONString(b, filepath.ToSlash(l.Pos.File))
	b = append(b, `,"line":`...)
	b = strconv.AppendInt(b, l.Pos.Line, 10)
	for i, v := range values {
		b = append(b, ',')
		b = appendJSONString(b, fieldNames[i])
		b = append(b, ':')
		b = appendJSONString(b, v)
	}
	b = append(b, `,"outcome":`...)
	b = appendJSONString(b, l.Outcome.String())
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, l.Reason)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(l.Attempts), 10)
	b = append(b, "}\n"...)
	w.buf = b
	_, err := w.jsonl.Write(b)
	return err
}

// Close flushes what is buffered (for Parquet, ends the file); it does not
// close the underlying writer.
func (w *Writer) Close() error {
	if w.pq != nil {
		return w.pq.close()
	}
	if w.csv != nil {
		w.csv.Flush()
		return w.csv.Error()
	}
	return w.jsonl.Flush()
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters included, invalid UTF-8 replaced).
func appendJSONString(b []byte, s string) []byte {
	q, err := json.Marshal(s)
	if err != nil { // a string always marshals
		panic(err)
	}
	return append(b, q...)
}

// FailedColumns are the columns of the failed-rows file: the input fields, so
// that rtseg upload takes the file back unchanged.
var FailedColumns = slices.Clone(fieldNames[:])

// FailedWriter writes rows to retry later as CSV input.
type FailedWriter struct{ w *csv.Writer }

// NewFailedWriter writes the header and returns the writer.
func NewFailedWriter(w io.Writer) (*FailedWriter, error) {
	cw := csv.NewWriter(w)
	return &FailedWriter{w: cw}, cw.Write(FailedColumns)
}

// Write adds one row, with the values that were sent.
func (f *FailedWriter) Write(r *reader.Row) error {
	x := r.Fields()
	values := x.Values()
	return f.w.Write(values[:])
}

// Close flushes the file.
func (f *FailedWriter) Close() error {
	f.w.Flush()
	return f.w.Error()
}
