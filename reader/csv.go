package reader

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gocarina/gocsv"
)

// csvRecord receives one CSV record from gocsv. Every field is a string so
// that numbers are parsed by Validate, strictly, and never by reflection.
type csvRecord struct {
	UserID     string `csv:"user_id"`
	Domain     string `csv:"domain"`
	SegID      string `csv:"seg_id"`
	SegCode    string `csv:"seg_code"`
	MemberID   string `csv:"member_id"`
	Value      string `csv:"value"`
	Expiration string `csv:"expiration"`
}

// fieldNames are the fields a file may carry, in report order.
var fieldNames = []string{"user_id", "domain", "seg_id", "seg_code", "member_id", "value", "expiration"}

// csvFile reads one CSV stream through gocsv's pull API on our own
// *csv.Reader, which gives each record's start line.
type csvFile struct {
	name     string
	csv      *csv.Reader
	um       *gocsv.Unmarshaller
	defaults Defaults
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func newCSVFile(name string, r io.Reader, opts *Options) (*csvFile, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == string(utf8BOM) {
		br.Discard(len(utf8BOM))
	}
	cr := csv.NewReader(br)
	cr.ReuseRecord = true
	if opts.Delimiter != 0 {
		cr.Comma = opts.Delimiter
	}
	um, err := gocsv.NewUnmarshaller(cr, csvRecord{})
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, ErrEmpty)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read header: %w", name, err)
	}
	found := um.Headers
	mapped := mapHeaders(found, opts.Columns)
	if err := requireColumns(name, found, mapped, opts); err != nil {
		return nil, err
	}
	if err := um.RenormalizeHeaders(func([]string) []string { return mapped }); err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	return &csvFile{name: name, csv: cr, um: um, defaults: opts.Defaults}, nil
}

// mapHeaders turns the file's column names into field names: case and
// surrounding space are ignored, and --columns maps FIELD=COLUMN.
func mapHeaders(headers []string, columns map[string]string) []string {
	byColumn := make(map[string]string, len(columns))
	for field, col := range columns {
		byColumn[strings.ToLower(strings.TrimSpace(col))] = field
	}
	out := make([]string, len(headers))
	for i, h := range headers {
		h = strings.ToLower(strings.TrimSpace(h))
		if field, ok := byColumn[h]; ok {
			h = field
		} else if _, remapped := columns[h]; remapped {
			h = "" // the field is taken from another column
		}
		out[i] = h
	}
	return out
}

func (f *csvFile) Next() (Row, error) {
	for {
		v, err := f.um.Read()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				pos := Position{File: f.name, Line: int64(pe.StartLine)}
				return Row{Pos: pos, Reason: "malformed CSV record: " + pe.Err.Error()}, nil
			}
			if errors.Is(err, io.EOF) {
				return Row{}, io.EOF
			}
			return Row{}, fmt.Errorf("%s: %w", f.name, err)
		}
		rec := v.(csvRecord)
		line, _ := f.csv.FieldPos(0)
		pos := Position{File: f.name, Line: int64(line)}
		return Validate(pos, Fields(rec), f.defaults), nil
	}
}
