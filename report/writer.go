package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/rtseg/rtseg/reader"
)

// Columns are the per-row report's columns, in order.
var Columns = []string{"file", "line", "user_id", "domain", "seg_id", "seg_code", "member_id", "value", "expiration", "outcome", "reason", "attempts"}

// Line is one row of the report.
type Line struct {
	Pos      reader.Position
	Fields   reader.Fields
	Outcome  Outcome
	Reason   string
	Attempts int
}

// LineWriter writes report lines.
type LineWriter interface {
	Write(l *Line) error
	// Close flushes what is buffered; it does not close the underlying writer.
	Close() error
}

// NewWriter returns a writer of the given format, "csv" or "jsonl".
func NewWriter(w io.Writer, format string) (LineWriter, error) {
	switch format {
	case "", "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(Columns); err != nil {
			return nil, err
		}
		return &csvWriter{w: cw}, nil
	case "jsonl":
		bw := bufio.NewWriter(w)
		return &jsonlWriter{w: bw, enc: json.NewEncoder(bw)}, nil
	}
	return nil, fmt.Errorf("unknown report format %q (want csv or jsonl)", format)
}

type csvWriter struct {
	w      *csv.Writer
	record [12]string
}

func (c *csvWriter) Write(l *Line) error {
	f := &l.Fields
	c.record = [12]string{l.Pos.File, strconv.FormatInt(l.Pos.Line, 10), f.UserID, f.Domain, f.SegID, f.SegCode,
		f.MemberID, f.Value, f.Expiration, l.Outcome.String(), l.Reason, strconv.Itoa(l.Attempts)}
	return c.w.Write(c.record[:])
}

func (c *csvWriter) Close() error {
	c.w.Flush()
	return c.w.Error()
}

type jsonlWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// jsonLine has the CSV columns' names; numbers stay text as read, since an
// invalid row's fields may not be numbers at all.
type jsonLine struct {
	File       string `json:"file"`
	Line       int64  `json:"line"`
	UserID     string `json:"user_id"`
	Domain     string `json:"domain"`
	SegID      string `json:"seg_id"`
	SegCode    string `json:"seg_code"`
	MemberID   string `json:"member_id"`
	Value      string `json:"value"`
	Expiration string `json:"expiration"`
	Outcome    string `json:"outcome"`
	Reason     string `json:"reason"`
	Attempts   int    `json:"attempts"`
}

func (j *jsonlWriter) Write(l *Line) error {
	f := &l.Fields
	return j.enc.Encode(jsonLine{l.Pos.File, l.Pos.Line, f.UserID, f.Domain, f.SegID, f.SegCode,
		f.MemberID, f.Value, f.Expiration, l.Outcome.String(), l.Reason, l.Attempts})
}

func (j *jsonlWriter) Close() error { return j.w.Flush() }

// FailedColumns are the columns of the failed-rows file: the input fields, so
// that rtseg upload takes the file back unchanged.
var FailedColumns = []string{"user_id", "domain", "seg_id", "seg_code", "member_id", "value", "expiration"}

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
	return f.w.Write([]string{x.UserID, x.Domain, x.SegID, x.SegCode, x.MemberID, x.Value, x.Expiration})
}

// Close flushes the file.
func (f *FailedWriter) Close() error {
	f.w.Flush()
	return f.w.Error()
}
