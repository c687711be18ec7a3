package reader

import (
	"bufio"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"

	"github.com/gocarina/gocsv"
)

// MaxRecordBytes bounds one CSV record, so that a quote left open cannot
// make the reader hold the rest of a file in memory.
const MaxRecordBytes = 8 << 20

// errRecordTooLong stops reading a record longer than MaxRecordBytes.
var errRecordTooLong = errors.New("record too long")

// csvRecord receives one CSV record from gocsv. Every field is a string so
// that numbers are parsed by the validator, strictly, and never by gocsv
// (which would read "0100" as 64 and an empty cell as 0). The tags map the
// header; UnmarshalCSVWithFields takes the fields.
type csvRecord struct {
	UserID     string `csv:"user_id"`
	Domain     string `csv:"domain"`
	SegID      string `csv:"seg_id"`
	SegCode    string `csv:"seg_code"`
	MemberID   string `csv:"member_id"`
	Value      string `csv:"value"`
	Expiration string `csv:"expiration"`
}

// UnmarshalCSVWithFields implements gocsv.TypeUnmarshalCSVWithFields: gocsv
// hands each field over with its (mapped) column name, sparing the
// reflection and the allocation it spends on each field otherwise.
func (r *csvRecord) UnmarshalCSVWithFields(key, value string) error {
	switch key {
	case "user_id":
		r.UserID = value
	case "domain":
		r.Domain = value
	case "seg_id":
		r.SegID = value
	case "seg_code":
		r.SegCode = value
	case "member_id":
		r.MemberID = value
	case "value":
		r.Value = value
	case "expiration":
		r.Expiration = value
	}
	return nil
}

// csvFile reads one CSV stream: the header through gocsv's pull API on our
// own *csv.Reader, and the records after it in chunks decoded on several
// goroutines (see decoding).
type csvFile struct {
	dec    decoding
	closer io.Closer
	taking
}

var (
	utf8BOM    = []byte{0xEF, 0xBB, 0xBF}
	utf16LEBOM = []byte{0xFF, 0xFE}
	utf16BEBOM = []byte{0xFE, 0xFF}
)

// newCSVFile reads the header of a CSV stream, maps its columns and starts
// decoding the records after it: fields separated by comma, the file's
// partitions filling the fields it lacks or leaves empty. closer, if not
// nil, is closed with the file.
// Its errors, and those of the rows, do not name the file: the Reader
// makes them *InputErrors, which do.
func newCSVFile(name string, src io.Reader, closer io.Closer, comma rune, parts []partition, opts *Options) (*csvFile, error) {
	guard := &recordGuard{r: src, limit: MaxRecordBytes}
	br := bufio.NewReaderSize(guard, 64<<10)
	if err := skipBOM(br); err != nil {
		return nil, err
	}
	// The csv.Reader shares br (bufio.NewReader returns a *bufio.Reader
	// big enough as it is), so the records start at br's next byte.
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	cr.Comma = comma
	// FieldsPerRecord stays 0: the header sets it, and a record with another
	// number of fields is an error rather than fields shifted into the
	// wrong columns.
	um, err := gocsv.NewUnmarshaller(cr, &csvRecord{})
	var pe *csv.ParseError
	switch {
	case errors.Is(err, io.EOF):
		return nil, ErrEmpty
	case errors.As(err, &pe):
		return nil, fmt.Errorf("malformed header: %s", parseProblem(pe))
	case err != nil:
		return nil, fmt.Errorf("read header: %w", readError(err))
	}
	found := append([]string(nil), um.Headers...)
	m, fill, err := mapColumns(found, parts, opts, cr.Comma)
	if err != nil {
		return nil, err
	}
	mapped := make([]string, len(found))
	for i := range mapped {
		mapped[i] = "_" // a column no field reads
	}
	for field, col := range m {
		if col >= 0 {
			mapped[col] = fieldNames[field]
		}
	}
	// The header ends on the line its last field starts on, plus the line
	// breaks inside that field.
	headerLine, _ := cr.FieldPos(0)
	lastLine, _ := cr.FieldPos(len(found) - 1)
	firstLine := int64(lastLine+strings.Count(found[len(found)-1], "\n")) + 1
	// From here the splitting goroutine bounds each record itself.
	guard.limit = math.MaxInt64
	f := &csvFile{closer: closer}
	f.dec = decoding{
		name:       name,
		comma:      cr.Comma,
		header:     mapped,
		columns:    len(found),
		defaults:   opts.Defaults,
		fill:       fill,
		chunkBytes: cmp.Or(opts.chunkBytes, defaultChunkBytes),
	}
	f.dec.start(br, firstLine, int64(headerLine), min(max(1, runtime.GOMAXPROCS(0)), maxDecoders))
	return f, nil
}

// skipBOM drops a UTF-8 byte order mark and refuses UTF-16.
func skipBOM(br *bufio.Reader) error {
	head, _ := br.Peek(len(utf8BOM))
	switch {
	case len(head) >= 3 && string(head) == string(utf8BOM):
		_, err := br.Discard(len(utf8BOM))
		return err
	case len(head) >= 2 && (string(head[:2]) == string(utf16LEBOM) || string(head[:2]) == string(utf16BEBOM)):
		return errors.New("the file is UTF-16; save it as UTF-8")
	}
	return nil
}

// Next returns the next record as a row, valid or not, or io.EOF.
func (f *csvFile) Next() (Row, error) {
	return f.row(f.dec.freeRows, func() decoded {
		if res, ok := <-f.dec.results; ok {
			return <-res
		}
		return decoded{err: io.EOF}
	})
}

// readError makes a decompression error say what it means.
func readError(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the file ends early (truncated?): %w", err)
	case errors.Is(err, errRecordTooLong):
		return fmt.Errorf("no line break in the first %d MiB: is this a CSV file?", MaxRecordBytes>>20)
	}
	return err
}

// Close stops decoding and closes the file. Closing the file ends a read
// the splitting goroutine may be blocked in; standard input, which is not
// closed, is not waited for.
func (f *csvFile) Close() error {
	f.dec.halt()
	var err error
	if f.closer != nil {
		err = f.closer.Close()
		<-f.dec.split
	}
	return err
}

// isRecordProblem tells a malformed record, which is an invalid row, from a
// failure to read, which ends the run.
func isRecordProblem(err error) bool {
	return errors.Is(err, csv.ErrFieldCount) || errors.Is(err, csv.ErrQuote) || errors.Is(err, csv.ErrBareQuote)
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

// recordGuard passes a stream on until more than limit bytes were read: it
// bounds the header, which must end within MaxRecordBytes. (The splitting
// goroutine bounds each record after it.)
type recordGuard struct {
	r     io.Reader
	read  int64
	limit int64
}

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.read > g.limit {
		return 0, errRecordTooLong
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}
