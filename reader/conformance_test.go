package reader

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/klauspost/compress/zstd"
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

// placed is where a layout put a record: its index in the records given,
// and the position it must be read at.
type placed struct {
	rec int
	pos Position
}

// layout is one way of writing the conformance records: a file or a folder
// of files, in a format, an encoding and a compression, as some engine
// writes them. write returns the INPUT to read and where each record must
// come out, in reading order. fits, if set, says which records the
// layout's column types can hold (an integer column cannot hold "abc").
type layout struct {
	name  string
	fits  func(fixture.Record) bool
	write func(t *testing.T, dir string, recs []fixture.Record) (string, []placed)
}

// single is a layout of one file, each record at the position line gives.
func single(name string, line func([]fixture.Record, int) int64, write func(t *testing.T, dir string, recs []fixture.Record) string) layout {
	return layout{name: name, write: func(t *testing.T, dir string, recs []fixture.Record) (string, []placed) {
		path := write(t, dir, recs)
		want := make([]placed, len(recs))
		for i := range recs {
			want[i] = placed{rec: i, pos: Position{File: path, Line: line(recs, i)}}
		}
		return path, want
	}}
}

// parquetLayout is a layout of one Parquet file of these columns, whose
// records are those its column types hold.
func parquetLayout(name string, p fixture.Parquet, check func(t *testing.T, path string)) layout {
	l := single(name, parquetRow, func(t *testing.T, dir string, recs []fixture.Record) string {
		path := writeTo(t, filepath.Join(dir, "rows.parquet"), func(f *os.File) error { return fixture.WriteParquet(f, fixture.Of(recs), p) })
		if check != nil {
			check(t, path)
		}
		return path
	})
	l.fits = fitsColumns(p.Columns)
	return l
}

func writeCSVFile(t *testing.T, path string, recs []fixture.Record, comma rune, compress func(io.Writer) io.WriteCloser) string {
	return writeTo(t, path, func(f *os.File) error {
		var w io.Writer = f
		var zw io.WriteCloser
		if compress != nil {
			zw = compress(f)
			w = zw
		}
		if err := writeDelimited(w, recs, comma); err != nil {
			return err
		}
		if zw != nil {
			return zw.Close()
		}
		return nil
	})
}

// writeDelimited is fixture.WriteCSV with another delimiter.
func writeDelimited(w io.Writer, recs []fixture.Record, comma rune) error {
	if comma == ',' {
		return fixture.WriteCSV(w, fixture.Of(recs))
	}
	cw := csv.NewWriter(w)
	cw.Comma = comma
	cw.Write(fixture.Fields[:])
	for _, r := range recs {
		cw.Write(r[:])
	}
	cw.Flush()
	return cw.Error()
}

func gzipWriter(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }

func zstdWriter(w io.Writer) io.WriteCloser {
	zw, err := zstd.NewWriter(w)
	if err != nil {
		panic(err)
	}
	return zw
}

// bzip2File compresses a file with the bzip2 command, since Go's library
// only reads bzip2.
func bzip2File(t *testing.T, path string) string {
	t.Helper()
	if out, err := exec.Command("bzip2", "-k", path).CombinedOutput(); err != nil {
		t.Fatalf("bzip2 %s (the bzip2 command writes this test's .bz2 file): %v: %s", path, err, out)
	}
	return path + ".bz2"
}

// partitioned is a layout of a folder of Hive partitions, as Spark writes
// a table partitioned by domain: dt=2026-12-01/domain=VALUE/part-00000.EXT,
// the domain column left out of the files, a null domain written as
// __HIVE_DEFAULT_PARTITION__, and files that are not data beside them
// (_SUCCESS, .crc files, _temporary/). Records come out folder by folder,
// in the folders' name order.
func partitioned(name, ext string, line func([]fixture.Record, int) int64, write func(t *testing.T, path string, recs []fixture.Record)) layout {
	return layout{name: name, write: func(t *testing.T, dir string, recs []fixture.Record) (string, []placed) {
		root := filepath.Join(dir, "exports")
		byFolder := map[string][]int{}
		for i, r := range recs {
			v := r[fixture.Domain]
			if v == "" {
				v = "__HIVE_DEFAULT_PARTITION__"
			}
			folder := filepath.Join(root, "dt=2026-12-01", "domain="+url.PathEscape(v))
			byFolder[folder] = append(byFolder[folder], i)
		}
		var want []placed
		for _, folder := range slices.Sorted(maps.Keys(byFolder)) {
			if err := os.MkdirAll(folder, 0o755); err != nil {
				t.Fatal(err)
			}
			var part []fixture.Record
			for _, i := range byFolder[folder] {
				r := recs[i]
				r[fixture.Domain] = "" // the folder gives it
				part = append(part, r)
			}
			path := filepath.Join(folder, "part-00000"+ext)
			write(t, path, part)
			os.WriteFile(filepath.Join(folder, ".part-00000"+ext+".crc"), []byte("crc"), 0o644)
			for j, i := range byFolder[folder] {
				want = append(want, placed{rec: i, pos: Position{File: path, Line: line(part, j)}})
			}
		}
		for _, junk := range []string{"_SUCCESS", "_temporary/0/part-00000" + ext, "dt=2026-12-01/_SUCCESS"} {
			p := filepath.Join(root, junk)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("not data"), 0o644)
		}
		return root, want
	}}
}

// withoutColumn drops a field's column from a Parquet file's columns.
func withoutColumn(cols []fixture.Column, field int) []fixture.Column {
	return slices.DeleteFunc(slices.Clone(cols), func(c fixture.Column) bool { return c.Field == field })
}

// typedColumns are the fields with the integer fields of the type given,
// user_id as plain strings, domain and seg_code as dictionaries.
func typedColumns(seg, member, value, expiration fixture.Type) []fixture.Column {
	return []fixture.Column{
		{Name: "user_id", Field: fixture.UserID, Type: fixture.String},
		{Name: "domain", Field: fixture.Domain, Type: fixture.Dictionary},
		{Name: "seg_id", Field: fixture.SegID, Type: seg},
		{Name: "seg_code", Field: fixture.SegCode, Type: fixture.String},
		{Name: "member_id", Field: fixture.MemberID, Type: member},
		{Name: "value", Field: fixture.Value, Type: value},
		{Name: "expiration", Field: fixture.Expiration, Type: expiration},
	}
}

var layouts = []layout{
	single("csv", csvLine, func(t *testing.T, dir string, recs []fixture.Record) string {
		return writeCSVFile(t, filepath.Join(dir, "rows.csv"), recs, ',', nil)
	}),
	single("csv.gz", csvLine, func(t *testing.T, dir string, recs []fixture.Record) string {
		return writeCSVFile(t, filepath.Join(dir, "rows.csv.gz"), recs, ',', gzipWriter)
	}),
	single("csv.zst", csvLine, func(t *testing.T, dir string, recs []fixture.Record) string {
		return writeCSVFile(t, filepath.Join(dir, "rows.csv.zst"), recs, ',', zstdWriter)
	}),
	single("csv.bz2", csvLine, func(t *testing.T, dir string, recs []fixture.Record) string {
		return bzip2File(t, writeCSVFile(t, filepath.Join(dir, "rows.csv"), recs, ',', nil))
	}),
	single("tsv", csvLine, func(t *testing.T, dir string, recs []fixture.Record) string {
		return writeCSVFile(t, filepath.Join(dir, "rows.tsv"), recs, '\t', nil)
	}),
	single("tsv.zst", csvLine, func(t *testing.T, dir string, recs []fixture.Record) string {
		return writeCSVFile(t, filepath.Join(dir, "rows.tsv.zst"), recs, '\t', zstdWriter)
	}),
	single("messy csv", messyLine, func(t *testing.T, dir string, recs []fixture.Record) string {
		return writeTo(t, filepath.Join(dir, "messy.csv"), func(f *os.File) error { return writeMessy(f, recs) })
	}),
	partitioned("hive csv.gz", ".csv.gz", csvLine, func(t *testing.T, path string, recs []fixture.Record) {
		writeCSVFile(t, path, recs, ',', gzipWriter)
	}),
	{name: "spark parquet", write: partitioned("", ".snappy.parquet", parquetRow, func(t *testing.T, path string, recs []fixture.Record) {
		cols := withoutColumn(fixture.StringColumns(), fixture.Domain)
		writeTo(t, path, func(f *os.File) error {
			return fixture.WriteParquet(f, fixture.Of(recs), fixture.Parquet{Columns: cols, RowGroupRows: 2, Snappy: true})
		})
	}).write},
	parquetLayout("parquet strings", fixture.Parquet{Columns: func() []fixture.Column {
		cols := fixture.StringColumns()
		cols[fixture.Domain].Type = fixture.Dictionary
		cols[fixture.SegCode].Type = fixture.LargeString
		return cols
	}(), RowGroupRows: 4}, func(t *testing.T, path string) {
		wantTypes(t, path, map[string]arrow.Type{"domain": arrow.DICTIONARY, "seg_code": arrow.LARGE_STRING, "user_id": arrow.STRING})
	}),
	parquetLayout("parquet typed", fixture.Parquet{Columns: []fixture.Column{
		{Name: "Expiration", Field: fixture.Expiration, Type: fixture.Int64},
		{Name: "user_id", Field: fixture.UserID, Type: fixture.Binary},
		{Name: "seg_id", Field: fixture.SegID, Type: fixture.Uint64},
		{Name: "domain", Field: fixture.Domain, Type: fixture.Dictionary},
		{Name: "seg_code", Field: fixture.SegCode, Type: fixture.String},
		{Name: "member_id", Field: fixture.MemberID, Type: fixture.Uint32},
		{Name: "value", Field: fixture.Value, Type: fixture.Int64},
		{Name: "ignored", Field: fixture.Value, Type: fixture.String},
	}, RowGroupRows: 3, Snappy: true}, nil),
	parquetLayout("parquet narrow integers", fixture.Parquet{Columns: typedColumns(fixture.Int64, fixture.Uint16, fixture.Int8, fixture.Int32), RowGroupRows: 5}, nil),
	parquetLayout("parquet unsigned integers", fixture.Parquet{Columns: typedColumns(fixture.Uint32, fixture.Uint64, fixture.Int16, fixture.Uint32), RowGroupRows: 5}, nil),
	// Snowflake unloads NUMBER(38,0) as DECIMAL(38,0) in a 16-byte
	// fixed-length byte array, or, optimizing physical types, in int64:
	// DECIMAL(38,0) on INT64, which Parquet's rules do not allow and arrow
	// will not write, so the file is written as DECIMAL(18,0) and its
	// footer given precision 38 (snowflakeInt64).
	parquetLayout("snowflake decimal(38,0) flba", fixture.Parquet{Columns: typedColumns(fixture.Decimal, fixture.Decimal, fixture.Decimal, fixture.Decimal), Snappy: true},
		wantStorage(map[string]storage{"seg_id": {physical: parquet.Types.FixedLenByteArray}})),
	parquetLayout("snowflake decimal(38,0) int64", fixture.Parquet{Columns: typedColumns(fixture.DecimalInt64, fixture.DecimalInt64, fixture.DecimalInt64, fixture.DecimalInt64), Snappy: true},
		snowflakeInt64),
	parquetLayout("decimal(18,0) int64", fixture.Parquet{Columns: typedColumns(fixture.DecimalInt64, fixture.DecimalInt64, fixture.DecimalInt64, fixture.DecimalInt64)},
		wantStorage(map[string]storage{"seg_id": {physical: parquet.Types.Int64}})),
	parquetLayout("parquet decimal byte array", fixture.Parquet{Columns: typedColumns(fixture.DecimalBytes, fixture.DecimalBytes, fixture.DecimalBytes, fixture.DecimalBytes), RowGroupRows: 4},
		wantStorage(map[string]storage{"seg_id": {physical: parquet.Types.ByteArray}})),
	parquetLayout("parquet decimal int32, int64, scale 2", fixture.Parquet{Columns: typedColumns(fixture.DecimalInt64, fixture.DecimalInt64, fixture.DecimalInt32, fixture.DecimalScaled), RowGroupRows: 4},
		wantStorage(map[string]storage{"value": {physical: parquet.Types.Int32}, "expiration": {physical: parquet.Types.FixedLenByteArray}})),
	// pandas writes an integer column with missing values as float64.
	parquetLayout("pandas float64 with nulls", fixture.Parquet{Columns: typedColumns(fixture.Float64, fixture.Float64, fixture.Float64, fixture.Float64)}, nil),
	parquetLayout("parquet float32", fixture.Parquet{Columns: typedColumns(fixture.Float32, fixture.Float32, fixture.Float32, fixture.Float32)}, nil),
	// BigQuery: int64 numbers, dictionary strings, and columns of other
	// types around them that are not read.
	parquetLayout("bigquery int64 and dictionary strings", fixture.Parquet{Columns: append([]fixture.Column{
		{Name: "exported_at", Field: fixture.UserID, Type: fixture.ExtraTimestamp},
		{Name: "tags", Field: fixture.UserID, Type: fixture.ExtraList},
	}, append(typedColumns(fixture.Int64, fixture.Int64, fixture.Int64, fixture.Int64),
		fixture.Column{Name: "score", Field: fixture.UserID, Type: fixture.ExtraDouble})...), RowGroupRows: 6, Snappy: true}, nil),
	// (Arrow v15's delta encoders crash on a column chunk of nulls only:
	// one row group here.)
	parquetLayout("parquet v2 pages, delta encodings, a required column", fixture.Parquet{
		Columns: func() []fixture.Column {
			cols := typedColumns(fixture.Int64, fixture.Int64, fixture.Int32, fixture.Int64)
			cols[fixture.Domain].Type = fixture.String
			return cols
		}(), V2Pages: true, Delta: true, Required: map[string]bool{"user_id": true}},
		wantStorage(map[string]storage{
			"user_id": {physical: parquet.Types.ByteArray, required: true, encoding: parquet.Encodings.DeltaLengthByteArray, v2: true},
			"seg_id":  {physical: parquet.Types.Int64, encoding: parquet.Encodings.DeltaBinaryPacked, v2: true},
		})),
	parquetLayout("parquet a row per row group", fixture.Parquet{Columns: typedColumns(fixture.Int64, fixture.Int64, fixture.Int32, fixture.Int64), RowGroupRows: 1}, nil),
}

// fitsColumns says whether a record's cells fit the types of columns.
func fitsColumns(cols []fixture.Column) func(fixture.Record) bool {
	return func(r fixture.Record) bool {
		for _, c := range cols {
			cell := r[c.Field]
			if cell == "" || !slices.Contains(numeric, c.Field) {
				continue
			}
			n, err := strconv.ParseInt(cell, 10, 64)
			if err != nil {
				return false
			}
			lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
			switch c.Type {
			case fixture.Int8:
				lo, hi = math.MinInt8, math.MaxInt8
			case fixture.Int16:
				lo, hi = math.MinInt16, math.MaxInt16
			case fixture.Int32, fixture.DecimalInt32:
				lo, hi = math.MinInt32, math.MaxInt32
			case fixture.Uint8:
				lo, hi = 0, math.MaxUint8
			case fixture.Uint16:
				lo, hi = 0, math.MaxUint16
			case fixture.Uint32:
				lo, hi = 0, math.MaxUint32
			case fixture.Uint64:
				lo = 0
			case fixture.Float32:
				if float64(float32(n)) != float64(n) {
					return false
				}
			}
			if n < lo || n > hi {
				return false
			}
		}
		return true
	}
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

// TestConformance reads the same logical records in every layout (CSV,
// TSV, compressed with gzip, zstd or bzip2, messy CSV, Hive partitions, and
// Parquet as Spark, Snowflake, pandas and BigQuery write it: strings,
// dictionaries, large strings, integers of every width, DECIMAL in every
// storage, floats, nulls, v2 pages, delta encodings, row groups of every
// size) and wants the same rows from each: the same fields, the same
// validity and reasons, the same raw text for invalid rows. Positions
// differ by layout only as documented: a CSV row is at the line its record
// starts on (header = line 1), a Parquet row at its 1-based row number, in
// the file that holds it.
func TestConformance(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			var recs []fixture.Record
			for _, r := range conformanceRecords {
				if l.fits == nil || l.fits(r) {
					recs = append(recs, r)
				}
			}
			if len(recs) < 10 {
				t.Fatalf("only %d records fit the layout", len(recs))
			}
			input, placements := l.write(t, t.TempDir(), recs)
			// CSV records are decoded in chunks: in one, and each
			// record in a chunk of its own.
			for _, chunk := range []int{0, 1} {
				rows := mustRead(t, []string{input}, Options{chunkBytes: chunk})
				if len(rows) != len(placements) {
					t.Fatalf("%s: %d rows, want %d", l.name, len(rows), len(placements))
				}
				for i, p := range placements {
					want := Validate(p.pos, fieldsOf(recs[p.rec]), Defaults{})
					if !reflect.DeepEqual(rows[i], want) {
						t.Errorf("%s, chunks of %d bytes: record %d:\n got %+v\nwant %+v", l.name, chunk, p.rec, rows[i], want)
					}
				}
			}
		})
	}
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

// storage is how a Parquet column is stored: its physical type, whether it
// is required, an encoding its pages use, and whether its data pages are
// of version 2.
type storage struct {
	physical parquet.Type
	required bool
	encoding parquet.Encoding
	v2       bool
}

// wantStorage fails the test unless the file's columns are stored as
// given, so that a layout covers the storage it claims. encoding is
// checked when not zero (PLAIN).
func wantStorage(want map[string]storage) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		pf, err := file.OpenParquetFile(path, false)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		sc := pf.MetaData().Schema
		for name, w := range want {
			i := sc.ColumnIndexByName(name)
			if i < 0 {
				t.Fatalf("%s: no column %s", path, name)
			}
			col := sc.Column(i)
			cc, err := pf.MetaData().RowGroup(0).ColumnChunk(i)
			if err != nil {
				t.Fatal(err)
			}
			got := storage{physical: col.PhysicalType(), required: col.MaxDefinitionLevel() == 0, encoding: w.encoding}
			if w.encoding != 0 && !slices.Contains(cc.Encodings(), w.encoding) {
				got.encoding = cc.Encodings()[0]
			}
			pr, err := pf.RowGroup(0).GetColumnPageReader(i)
			if err != nil {
				t.Fatal(err)
			}
			for pr.Next() {
				if _, ok := pr.Page().(*file.DataPageV2); ok {
					got.v2 = true
				}
			}
			if got != w {
				t.Errorf("%s: column %s stored as %+v, want %+v", path, name, got, w)
			}
		}
	}
}

// snowflakeInt64 gives the DECIMAL(18,0) INT64 columns of a file the
// precision 38 Snowflake writes, in the footer, and checks that arrow
// itself then refuses the file, so that the reader's fix is what reads it.
func snowflakeInt64(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	footer := data[len(data)-8-n : len(data)-8]
	changed, err := rewriteDecimalPrecision(footer, func(physical, precision int32) int32 {
		if physical == thriftPhysicalInt64 && precision == 18 {
			return 38
		}
		return precision
	})
	// Four columns, each with a converted and a logical precision.
	if err != nil || changed != 8 {
		t.Fatalf("%s: %d precisions changed, %v; want 8", path, changed, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openParquet(bytes.NewReader(data), int64(len(data)), parquet.NewReaderProperties(nil)); err == nil {
		t.Fatalf("%s: arrow reads DECIMAL(38,0) on INT64 itself; the test no longer covers the footer fix", path)
	}
	sc := func() string {
		fixed, ok := footerFix(bytes.NewReader(data), int64(len(data)))
		if !ok {
			t.Fatalf("%s: no footer fix", path)
		}
		pf, err := openParquet(fixed, int64(len(data)), parquet.NewReaderProperties(nil))
		if err != nil {
			t.Fatalf("%s: fixed footer: %v", path, err)
		}
		defer pf.Close()
		return pf.MetaData().Schema.Column(pf.MetaData().Schema.ColumnIndexByName("seg_id")).LogicalType().String()
	}()
	if sc != "Decimal(precision=18, scale=0)" {
		t.Errorf("%s: seg_id read as %s, want Decimal(precision=18, scale=0)", path, sc)
	}
}
