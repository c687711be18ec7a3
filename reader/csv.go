package reader

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"

	"github.com/gocarina/gocsv"
)

// MaxRecordBytes bounds one CSV record, so that a quote left open cannot
// make the reader hold the rest of a file in memory.
const MaxRecordBytes = 8 << 20

// errRecordTooLong stops reading a record longer than MaxRecordBytes.
var errRecordTooLong = errors.New("record too long")

// csvRecord receives one CSV record from gocsv. Every field is a string so
// that numbers are parsed by the validator, strictly, and never by gocsv
// (which would read "0100" as 64 and an empty cell as 0).
type csvRecord struct {
	UserID     string `csv:"user_id"`
	Domain     string `csv:"domain"`
	SegID      string `csv:"seg_id"`
	SegCode    string `csv:"seg_code"`
	MemberID   string `csv:"member_id"`
	Value      string `csv:"value"`
	Expiration string `csv:"expiration"`
}

// csvFile reads one CSV stream through gocsv's pull API on our own
// *csv.Reader, which knows each record's start line.
type csvFile struct {
	name    string
	cr      *csv.Reader
	um      *gocsv.Unmarshaller
	v       validator
	columns int
	guard   *recordGuard
	closer  io.Closer
	line    int // start line of the last record read
}

var (
	utf8BOM    = []byte{0xEF, 0xBB, 0xBF}
	utf16LEBOM = []byte{0xFF, 0xFE}
	utf16BEBOM = []byte{0xFE, 0xFF}
)

// newCSVFile reads the header of a CSV stream and maps its columns. closer,
// if not nil, is closed with the file.
func newCSVFile(name string, src io.Reader, closer io.Closer, opts *Options) (*csvFile, error) {
	f := &csvFile{name: name, v: newValidator(opts.Defaults), closer: closer}
	f.guard = &recordGuard{r: src, limit: MaxRecordBytes}
	br := bufio.NewReaderSize(f.guard, 64<<10)
	if err := skipBOM(name, br); err != nil {
		return nil, err
	}
	f.cr = csv.NewReader(br)
	f.cr.ReuseRecord = true
	f.cr.Comma = ','
	if opts.Delimiter != 0 {
		f.cr.Comma = opts.Delimiter
	}
	// FieldsPerRecord stays 0: the header sets it, and a record with another
	// number of fields is an error rather than fields shifted into the
	// wrong columns.
	um, err := gocsv.NewUnmarshaller(f.cr, &csvRecord{})
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	case errors.As(err, &pe):
		return nil, fmt.Errorf("%s:%d: malformed header: %s", name, pe.StartLine, parseProblem(pe))
	case err != nil:
		return nil, fmt.Errorf("%s: read header: %w", name, f.readError(err))
	}
	found := append([]string(nil), um.Headers...)
	m, err := mapColumns(name, found, opts, f.cr.Comma)
	if err != nil {
		return nil, err
	}
	mapped := make([]string, len(found))
	for field, col := range m {
		if col >= 0 {
			mapped[col] = fieldNames[field]
		}
	}
	if err := um.RenormalizeHeaders(func([]string) []string { return mapped }); err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	f.um, f.columns = um, len(found)
	f.guard.start = f.cr.InputOffset()
	return f, nil
}

// skipBOM drops a UTF-8 byte order mark and refuses UTF-16.
func skipBOM(name string, br *bufio.Reader) error {
	head, _ := br.Peek(len(utf8BOM))
	switch {
	case len(head) >= 3 && string(head) == string(utf8BOM):
		_, err := br.Discard(len(utf8BOM))
		return err
	case len(head) >= 2 && (string(head[:2]) == string(utf16LEBOM) || string(head[:2]) == string(utf16BEBOM)):
		return fmt.Errorf("%s: the file is UTF-16; save it as UTF-8", name)
	}
	return nil
}

// Next returns the next record as a row, valid or not, or io.EOF.
func (f *csvFile) Next() (Row, error) {
	v, err := f.um.Read()
	f.guard.start = f.cr.InputOffset()
	if err == nil {
		f.line, _ = f.cr.FieldPos(0)
		rec := v.(*csvRecord)
		r := record{
			{text: rec.UserID}, {text: rec.Domain}, {text: rec.SegID}, {text: rec.SegCode},
			{text: rec.MemberID}, {text: rec.Value}, {text: rec.Expiration},
		}
		return f.v.row(Position{File: f.name, Line: int64(f.line)}, &r), nil
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.Err != nil && isRecordProblem(pe.Err) {
		f.line = pe.StartLine
		return Row{Pos: Position{File: f.name, Line: int64(pe.StartLine)}, Reason: f.reason(pe)}, nil
	}
	if errors.Is(err, io.EOF) {
		return Row{}, io.EOF
	}
	if errors.Is(err, errRecordTooLong) {
		return Row{}, fmt.Errorf("%s: the record after line %d is longer than %d MiB: is a quote left open?", f.name, f.line, MaxRecordBytes>>20)
	}
	return Row{}, fmt.Errorf("read %s after line %d: %w", f.name, f.line, f.readError(err))
}

// readError makes a decompression error say what it means.
func (f *csvFile) readError(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the file ends early (truncated?): %w", err)
	case errors.Is(err, errRecordTooLong):
		return fmt.Errorf("no line break in the first %d MiB: is this a CSV file?", MaxRecordBytes>>20)
	}
	return err
}

// Close closes the file.
func (f *csvFile) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// isRecordProblem tells a malformed record, which is an invalid row, from a
// failure to read, which ends the run.
func isRecordProblem(err error) bool {
	return errors.Is(err, csv.ErrFieldCount) || errors.Is(err, csv.ErrQuote) || errors.Is(err, csv.ErrBareQuote)
}

// reason says what is wrong with a malformed record.
func (f *csvFile) reason(pe *csv.ParseError) string {
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return fmt.Sprintf("malformed CSV record: its number of fields differs from the header's %d", f.columns)
	}
	return "malformed CSV record: " + parseProblem(pe)
}

func parseProblem(pe *csv.ParseError) string {
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		return fmt.Sprintf(`a " in a field that is not quoted (line %d, column %d); quote the field and double the " inside it`, pe.Line, pe.Column)
	case errors.Is(pe.Err, csv.ErrQuote):
		return fmt.Sprintf(`a quoted field is not closed properly (line %d, column %d): a quote left open, or a " inside quotes that is not doubled`, pe.Line, pe.Column)
	}
	return fmt.Sprintf("%v (line %d, column %d)", pe.Err, pe.Line, pe.Column)
}

// recordGuard passes a stream on until the record being read grows past
// its limit: start is the offset where that record begins.
type recordGuard struct {
	r     io.Reader
	read  int64
	start int64
	limit int64
}

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.read-g.start > g.limit {
		return 0, errRecordTooLong
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}
