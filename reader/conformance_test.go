package reader

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/rtseg/rtseg/reader/internal/fixture"
)

// conformanceRecords are the logical rows every format must read alike:
// valid and invalid, absent and zero, text that needs quoting in CSV.
var conformanceRecords = []fixture.Record{
	{"12345678900987654321", "", "10001", "", "", "1", "1440"},
	{"12345678900987654321", "", "10002", "", "", "", "0"},
	{"12345678900987654321", "", "", "loyal, \"gold\" customers", "1234", "3", ""},
	{"6d92078a-8246-4ba4-ae5b-76104861e7dc", "aaid", "10001", "", "", "", ""},
	{"6d92078a-8246-4ba4-ae5b-76104861e7dc", "AAID", "", "cart-abandoners", "1234", "", "10080"},
	{"1ba98a6c-d1a5-49ef-ad1c-2d9230ebcd13", "idfa", "12", "", "", "0", "-1"},
	{"line\nbreak", "", "10001", "", "", "", ""},
	{"", "", "10001", "", "", "1", "1440"},
	{"5678900987654321123", "sha1mac", "10001", "", "", "1", "1440"},
	{"7890098765432112345", "", "10001", "", "", "1", "999999"},
	{"8900987654321123456", "", "", "sports\nfans", "", "1", "1440"},
	{"9", "sh1udid", "2147483648", "", "", "-2147483648", "259200"},
	{"10", "", "0", "", "", "", ""},
	{"11", "", "10001", "", "", "2147483648", ""},
	{"ünïcødé", "md5udid", "7", "", "", "", ""},
}

// numeric are the fields that integer columns hold.
var numeric = []int{fixture.SegID, fixture.MemberID, fixture.Value, fixture.Expiration}

// format is one way of writing the conformance records, and the line (CSV)
// or row number (Parquet) each record must be reported at.
type format struct {
	name  string
	write func(t *testing.T, dir string, recs []fixture.Record) string
	// line gives the position of record i (0-based) of recs.
	line func(recs []fixture.Record, i int) int64
}

// csvLine is where record i starts in a CSV file whose header is line 1 and
// whose records each end with one line break: after the header, the earlier
// records and the line breaks quoted inside them.
func csvLine(recs []fixture.Record, i int) int64 {
	line := int64(2 + i)
	for _, r := range recs[:i] {
		for _, c := range r {
			line += int64(strings.Count(c, "\n"))
		}
	}
	return line
}

// messyLine is csvLine for writeMessy, which puts a blank line before its
// fourth record.
func messyLine(recs []fixture.Record, i int) int64 {
	if i >= 3 {
		return csvLine(recs, i) + 1
	}
	return csvLine(recs, i)
}

// parquetRow is the 1-based row number.
func parquetRow(_ []fixture.Record, i int) int64 { return int64(i + 1) }

func writeTo(t *testing.T, path string, write func(*os.File) error) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

var formats = []format{
	{name: "csv", line: csvLine, write: func(t *testing.T, dir string, recs []fixture.Record) string {
		return writeTo(t, filepath.Join(dir, "rows.csv"), func(f *os.File) error { return fixture.WriteCSV(f, fixture.Of(recs)) })
	}},
	{name: "csv.gz", line: csvLine, write: func(t *testing.T, dir string, recs []fixture.Record) string {
		return writeTo(t, filepath.Join(dir, "rows.csv.gz"), func(f *os.File) error {
			zw := gzip.NewWriter(f)
			if err := fixture.WriteCSV(zw, fixture.Of(recs)); err != nil {
				return err
			}
			return zw.Close()
		})
	}},
	{name: "messy csv", line: messyLine, write: func(t *testing.T, dir string, recs []fixture.Record) string {
		return writeTo(t, filepath.Join(dir, "messy.csv"), func(f *os.File) error { return writeMessy(f, recs) })
	}},
	{name: "parquet strings", line: parquetRow, write: func(t *testing.T, dir string, recs []fixture.Record) string {
		cols := fixture.StringColumns()
		cols[fixture.Domain].Type = fixture.Dictionary
		cols[fixture.SegCode].Type = fixture.LargeString
		path := writeTo(t, filepath.Join(dir, "strings.parquet"), func(f *os.File) error {
			return fixture.WriteParquet(f, fixture.Of(recs), fixture.Parquet{Columns: cols, RowGroupRows: 4})
		})
		wantTypes(t, path, map[string]arrow.Type{"domain": arrow.DICTIONARY, "seg_code": arrow.LARGE_STRING, "user_id": arrow.STRING})
		return path
	}},
	{name: "parquet typed", line: parquetRow, write: func(t *testing.T, dir string, recs []fixture.Record) string {
		cols := []fixture.Column{
			{Name: "Expiration", Field: fixture.Expiration, Type: fixture.Int64},
			{Name: "user_id", Field: fixture.UserID, Type: fixture.Binary},
			{Name: "seg_id", Field: fixture.SegID, Type: fixture.Uint64},
			{Name: "domain", Field: fixture.Domain, Type: fixture.Dictionary},
			{Name: "seg_code", Field: fixture.SegCode, Type: fixture.String},
			{Name: "member_id", Field: fixture.MemberID, Type: fixture.Uint32},
			{Name: "value", Field: fixture.Value, Type: fixture.Int64},
			{Name: "ignored", Field: fixture.Value, Type: fixture.String},
		}
		return writeTo(t, filepath.Join(dir, "typed.parquet"), func(f *os.File) error {
			return fixture.WriteParquet(f, fixture.Of(recs), fixture.Parquet{Columns: cols, RowGroupRows: 3, Snappy: true})
		})
	}},
}

// writeMessy writes records as a hand-edited or spreadsheet export might:
// a BOM, CRLF line ends, columns in another order with mixed case, an extra
// column, every field quoted, a blank line, and line breaks inside quotes
// written as CRLF.
func writeMessy(f *os.File, recs []fixture.Record) error {
	order := []int{fixture.Expiration, fixture.SegCode, fixture.UserID, fixture.Value, fixture.Domain, fixture.MemberID, fixture.SegID}
	var b bytes.Buffer
	b.WriteString("\xEF\xBB\xBF")
	for _, i := range order {
		fmt.Fprintf(&b, "%s,", strings.ToUpper(fixture.Fields[i][:1])+fixture.Fields[i][1:])
	}
	b.WriteString("Comment\r\n")
	for n, r := range recs {
		if n == 3 {
			b.WriteString("\r\n")
		}
		for _, i := range order {
			cell := strings.ReplaceAll(strings.ReplaceAll(r[i], `"`, `""`), "\n", "\r\n")
			fmt.Fprintf(&b, "\"%s\",", cell)
		}
		b.WriteString("\"say \"\"hi\"\", then, bye\"\r\n")
	}
	_, err := f.Write(b.Bytes())
	return err
}

// wantTypes fails the test unless the file's columns read back with the
// Arrow types given, so that the test covers the reader's paths it claims.
func wantTypes(t *testing.T, path string, want map[string]arrow.Type) {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	for name, typ := range want {
		idx := rr.Schema().FieldIndices(name)
		if len(idx) != 1 || rr.Schema().Field(idx[0]).Type.ID() != typ {
			t.Fatalf("%s: column %s does not read back as %s: schema %s", path, name, typ, rr.Schema())
		}
	}
	if pf.NumRowGroups() < 2 {
		t.Fatalf("%s: %d row groups, want several", path, pf.NumRowGroups())
	}
}

// TestConformance reads the same logical records written as CSV, gzipped
// CSV, messy CSV and Parquet (strings, dictionary, large strings, typed
// integers, nulls, several row groups) and wants the same rows from each:
// the same fields, the same validity and reasons, the same raw text for
// invalid rows. Positions differ by format only as documented: a CSV row is
// at the line its record starts on (header = line 1), a Parquet row at its
// 1-based row number.
func TestConformance(t *testing.T) {
	// Integer columns cannot hold text like "abc": the typed Parquet file
	// gets the records whose numbers fit it, and so does its reference.
	var typed []fixture.Record
	for _, r := range conformanceRecords {
		if fitsTyped(r) {
			typed = append(typed, r)
		}
	}
	if len(typed) < 10 {
		t.Fatalf("only %d records fit the typed file", len(typed))
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			recs := conformanceRecords
			if f.name == "parquet typed" {
				recs = typed
			}
			path := f.write(t, t.TempDir(), recs)
			// CSV records are decoded in chunks: in one, and each
			// record in a chunk of its own.
			for _, chunk := range []int{0, 1} {
				rows := mustRead(t, []string{path}, Options{chunkBytes: chunk})
				if len(rows) != len(recs) {
					t.Fatalf("%s: %d rows, want %d", f.name, len(rows), len(recs))
				}
				for i, rec := range recs {
					pos := Position{File: path, Line: f.line(recs, i)}
					want := Validate(pos, fieldsOf(rec), Defaults{})
					if !reflect.DeepEqual(rows[i], want) {
						t.Errorf("%s, chunks of %d bytes: record %d:\n got %+v\nwant %+v", f.name, chunk, i, rows[i], want)
					}
				}
			}
		})
	}
}

// fitsTyped reports whether a record's numbers fit the typed Parquet file:
// seg_id uint64, member_id uint32, value and expiration int64.
func fitsTyped(r fixture.Record) bool {
	for _, i := range numeric {
		if r[i] == "" {
			continue
		}
		lo := int64(-1 << 63)
		if i == fixture.SegID || i == fixture.MemberID {
			lo = 0
		}
		if n, err := strconv.ParseInt(r[i], 10, 64); err != nil || n < lo || n > 1<<32-1 {
			return false
		}
	}
	return true
}

func fieldsOf(r fixture.Record) Fields {
	return Fields{UserID: r[0], Domain: r[1], SegID: r[2], SegCode: r[3], MemberID: r[4], Value: r[5], Expiration: r[6]}
}

// TestConformanceCovers checks that the records exercise what the
// conformance test claims: valid and invalid rows, both segment kinds,
// absent and zero values, quoted line breaks.
func TestConformanceCovers(t *testing.T) {
	var valid, invalid, codes, zero, absent, breaks int
	for _, r := range conformanceRecords {
		row := Validate(Position{}, fieldsOf(r), Defaults{})
		if row.Valid() {
			valid++
			if row.SegCode != "" {
				codes++
			}
			if row.HasExpiration && row.Expiration == 0 {
				zero++
			}
			if !row.HasExpiration {
				absent++
			}
		} else {
			invalid++
		}
		if strings.Contains(strings.Join(r[:], ""), "\n") {
			breaks++
		}
	}
	if valid < 5 || invalid < 5 || codes < 2 || zero < 1 || absent < 1 || breaks < 2 {
		t.Errorf("records cover valid %d, invalid %d, seg_code %d, expiration 0 %d, absent %d, line breaks %d", valid, invalid, codes, zero, absent, breaks)
	}
}
