package reader

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/metadata"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/rtseg/rtseg/reader/internal/fixture"
)

// parquetBytes writes records as Parquet in memory.
func parquetBytes(t testing.TB, recs []fixture.Record, p fixture.Parquet) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := fixture.WriteParquet(&b, fixture.Of(recs), p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var someRecords = []fixture.Record{
	{"1001", "", "1", "", "", "", ""},
	{"1001", "", "2", "", "", "5", "0"},
	{"1002", "idfa", "3", "", "", "", "1440"},
	{"1003", "", "4", "", "", "", ""},
	{"1004", "", "5", "", "", "", ""},
}

// writeArrow writes one Arrow record as a Parquet file.
func writeArrow(t *testing.T, path string, rec arrow.Record) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(rec.Schema(), f, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // closes f too
		t.Fatal(err)
	}
	return path
}

func TestParquetColumns(t *testing.T) {
	dir := t.TempDir()
	cols := []fixture.Column{
		{Name: "UID", Field: fixture.UserID, Type: fixture.String},
		{Name: "segment", Field: fixture.SegID, Type: fixture.Int32},
		{Name: "seg_id", Field: fixture.Value, Type: fixture.Int32},
	}
	path := filepath.Join(dir, "mapped.parquet")
	os.WriteFile(path, parquetBytes(t, someRecords[:2], fixture.Parquet{Columns: cols}), 0o644)

	rows := mustRead(t, []string{path}, Options{Columns: map[string]string{"user_id": "uid", "seg_id": "Segment"}})
	want := []brief{{Line: 1, UserID: "1001", SegID: 1}, {Line: 2, UserID: "1001", SegID: 2}}
	if got := briefs(rows); !reflect.DeepEqual(got, want) {
		t.Errorf("mapped Parquet columns: rows %+v, want %+v", got, want)
	}

	_, err := readRows(t, []string{path}, Options{})
	var mc *MissingColumnError
	if !errors.As(err, &mc) || mc.Field != "user_id" || mc.Delimiter != 0 {
		t.Fatalf("unmapped Parquet columns: error %v, want a missing user_id column", err)
	}
	if want := path + `: missing column "user_id" (found: UID, segment, seg_id)`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestParquetUnsupportedColumns(t *testing.T) {
	mem := memory.DefaultAllocator
	uid := array.NewStringBuilder(mem)
	uid.Append("1001")
	seg := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Millisecond})
	seg.Append(10001)
	list := array.NewListBuilder(mem, arrow.BinaryTypes.String)
	list.Append(true)
	list.ValueBuilder().(*array.StringBuilder).Append("1001")
	ok := array.NewInt64Builder(mem)
	ok.Append(1)

	tests := []struct {
		name   string
		fields []arrow.Field
		arrays []arrow.Array
		want   string
	}{
		{name: "timestamp seg_id",
			fields: []arrow.Field{{Name: "user_id", Type: arrow.BinaryTypes.String}, {Name: "seg_id", Type: &arrow.TimestampType{Unit: arrow.Millisecond}}},
			arrays: []arrow.Array{uid.NewArray(), seg.NewArray()},
			want:   `x.parquet: column "seg_id" (for seg_id) is timestamp[ms, tz=UTC]; rtseg reads text, integer, decimal and floating-point columns`},
		{name: "list user_id",
			fields: []arrow.Field{{Name: "user_id", Type: arrow.ListOf(arrow.BinaryTypes.String)}, {Name: "seg_id", Type: arrow.PrimitiveTypes.Int64}},
			arrays: []arrow.Array{list.NewArray(), ok.NewArray()},
			want:   `x.parquet: column "user_id" (for user_id) is list<list: utf8, nullable>; rtseg reads text, integer, decimal and floating-point columns`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := array.NewRecord(arrow.NewSchema(tt.fields, nil), tt.arrays, 1)
			path := writeArrow(t, filepath.Join(t.TempDir(), "x.parquet"), rec)
			_, err := readRows(t, []string{path}, Options{})
			if err == nil || strings.ReplaceAll(err.Error(), path, "x.parquet") != tt.want {
				t.Errorf("read %s: error %v, want %q", tt.name, err, tt.want)
			}
		})
	}
}

// TestParquetUint64 checks that an unsigned value past int64 is an invalid
// row, not a wrapped-around negative number.
func TestParquetUint64(t *testing.T) {
	cols := []fixture.Column{{Name: "user_id", Field: fixture.UserID}, {Name: "seg_id", Field: fixture.SegID, Type: fixture.Uint64}}
	recs := []fixture.Record{{"1001", "", "18446744073709551615"}, {"1002", "", "9223372036854775807"}}
	path := writeFile(t, "big.parquet", string(parquetBytes(t, recs, fixture.Parquet{Columns: cols})))
	got := briefs(mustRead(t, []string{path}, Options{}))
	want := []brief{
		// Invalid for its seg_id, the row still names its user.
		{Line: 1, UserID: "1001", Reason: "seg_id 18446744073709551615 is out of range (it must be 1 to 9223372036854775807)"},
		{Line: 2, UserID: "1002", SegID: 9223372036854775807},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows %+v, want %+v", got, want)
	}
}

// TestParquetBroken cuts and damages a Parquet file in many places: every
// read ends in all the rows or in an error naming the file, never in fewer
// rows without an error, never in a panic.
func TestParquetBroken(t *testing.T) {
	recs := make([]fixture.Record, 0, 3000)
	for r := range fixture.Sorted(3000) {
		recs = append(recs, r)
	}
	good := parquetBytes(t, recs, fixture.Parquet{Columns: fixture.TypedColumns(), RowGroupRows: 1000, Snappy: true})
	dir := t.TempDir()

	for _, n := range []int{0, 3, 4, 8, 100, len(good) / 2, len(good) - 9, len(good) - 8, len(good) - 1} {
		path := filepath.Join(dir, "cut.parquet")
		os.WriteFile(path, good[:n], 0o644)
		rows, err := readRows(t, []string{path}, Options{})
		if err == nil {
			t.Errorf("file cut to %d of %d bytes: %d rows and no error, want an error", n, len(good), len(rows))
			continue
		}
		if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), "truncated or corrupt") {
			t.Errorf("file cut to %d bytes: error %q, want it to name the file and say it is truncated or corrupt", n, err)
		}
	}

	// Damage the pages: a run of bytes overwritten at many offsets.
	errs := 0
	for off := 4; off < len(good)/2; off += len(good) / 40 {
		bad := append([]byte(nil), good...)
		for i := off; i < off+16 && i < len(bad); i++ {
			bad[i] ^= 0x5a
		}
		path := filepath.Join(dir, "bad.parquet")
		os.WriteFile(path, bad, 0o644)
		rows, err := readRows(t, []string{path}, Options{})
		switch {
		case err != nil:
			errs++
			if !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("damage at %d: error %q does not name the file", off, err)
			}
		case len(rows) != len(recs):
			t.Errorf("damage at %d: %d rows and no error, want %d rows or an error", off, len(rows), len(recs))
		}
	}
	if errs == 0 {
		t.Errorf("no damaged file gave an error")
	}
}

// TestParquetFormat checks how a file is recognised as Parquet, and where
// Parquet cannot be read.
func TestParquetFormat(t *testing.T) {
	data := parquetBytes(t, someRecords, fixture.Parquet{})
	want := len(someRecords)

	noExt := writeFile(t, "export", string(data))
	if rows := mustRead(t, []string{noExt}, Options{}); len(rows) != want {
		t.Errorf("Parquet without an extension: %d rows, want %d", len(rows), want)
	}
	empty := writeFile(t, "empty.parquet", string(parquetBytes(t, nil, fixture.Parquet{})))
	if rows := mustRead(t, []string{empty}, Options{}); len(rows) != 0 {
		t.Errorf("Parquet without rows: %d rows, want none", len(rows))
	}
	forced := writeFile(t, "export.dat", string(data))
	if rows := mustRead(t, []string{forced}, Options{Format: FormatParquet}); len(rows) != want {
		t.Errorf("--format parquet: %d rows, want %d", len(rows), want)
	}

	if _, err := readRows(t, []string{Stdin}, Options{Stdin: bytes.NewReader(data)}); !errors.Is(err, errParquetFromStream) || err.Error() != errParquetStdin.Error() {
		t.Errorf("Parquet on standard input: error %v, want %v", err, errParquetStdin)
	}
	if _, err := Open([]string{Stdin}, Options{Format: FormatParquet}); !errors.Is(err, errParquetStdin) {
		t.Errorf("--format parquet with -: error %v, want %v", err, errParquetStdin)
	}

	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(data)
	zw.Close()
	gz := writeFile(t, "export.gz", z.String())
	_, err := readRows(t, []string{gz}, Options{})
	if err == nil || !strings.Contains(err.Error(), "compressed Parquet file cannot be read") {
		t.Errorf("gzipped Parquet: error %v, want one saying it cannot be read", err)
	}
}

// TestParquetReadAhead reads a Parquet file of several runs of rows, which
// a goroutine decodes ahead: row by row and in batches of any size, the
// rows come in file order, numbered from 1; and closing the reader halfway
// stops the goroutine.
func TestParquetReadAhead(t *testing.T) {
	const n = 3*parquetRows + 17
	recs := slices.Collect(fixture.Sorted(n))
	path := writeFile(t, "many.parquet", string(parquetBytes(t, recs, fixture.Parquet{Columns: fixture.TypedColumns(), RowGroupRows: 5000})))

	rows := mustRead(t, []string{path}, Options{})
	if len(rows) != n {
		t.Fatalf("read %d rows, want %d", len(rows), n)
	}
	for i, row := range rows {
		want := Validate(Position{File: path, Line: int64(i + 1)}, fieldsOf(recs[i]), Defaults{})
		if !reflect.DeepEqual(row, want) {
			t.Fatalf("row %d = %+v, want %+v", i+1, row, want)
		}
	}

	for _, size := range []int{1, 1000, parquetRows, n + 1} {
		r, err := Open([]string{path}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []Row
		for {
			batch, err := r.NextBatch(make([]Row, 0, size))
			got = append(got, batch...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("NextBatch(%d): %v", size, err)
			}
		}
		r.Close()
		if !reflect.DeepEqual(got, rows) {
			t.Errorf("NextBatch in batches of %d: %d rows, not the %d rows Next gives", size, len(got), len(rows))
		}
	}

	before := runtime.NumGoroutine()
	r, err := Open([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close halfway: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before Open", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// damagedParquet writes 30,000 records as Parquet in row groups of 7,000
// rows, then overwrites 4 bytes at the offset off gives for its metadata.
func damagedParquet(t *testing.T, snappy bool, off func(*metadata.FileMetaData) int64) string {
	t.Helper()
	good := parquetBytes(t, slices.Collect(fixture.Sorted(30_000)), fixture.Parquet{Columns: fixture.TypedColumns(), RowGroupRows: 7000, Snappy: snappy})
	pf, err := file.NewParquetReader(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	at := off(pf.MetaData())
	bad := append([]byte(nil), good...)
	copy(bad[at:], []byte{0xde, 0xad, 0xbe, 0xef})
	return writeFile(t, "bad.parquet", string(bad))
}

// dataPage is the offset of the first data page of column col in row
// group rg.
func dataPage(rg, col int) func(*metadata.FileMetaData) int64 {
	return func(md *metadata.FileMetaData) int64 {
		cc, err := md.RowGroup(rg).ColumnChunk(col)
		if err != nil {
			panic(err)
		}
		if cc.HasDictionaryPage() {
			return cc.DictionaryPageOffset()
		}
		return cc.DataPageOffset()
	}
}

// A page that cannot be read ends the reading of its file with an error
// naming the row group, never with fewer rows and no error; the rows of
// the row groups before it can be trusted.
func TestParquetDamagedPage(t *testing.T) {
	tests := []struct {
		name    string
		snappy  bool
		off     func(*metadata.FileMetaData) int64
		group   int
		trusted int64
		err     string // after the file's name
	}{
		// arrow v15 took the damaged page header for the end of the
		// column's chunk and read 23,000 rows, their user IDs shifted.
		{name: "page header at offset 4", off: func(*metadata.FileMetaData) int64 { return 4 },
			group: 1, trusted: 0,
			err: ": row group 1 of 5 (rows 1 to 7000): only 0 of its 7000 rows could be read: the file is truncated or corrupt"},
		{name: "page header in row group 3", off: dataPage(2, 2),
			group: 3, trusted: 14000,
			err: ": row group 3 of 5 (rows 14001 to 21000): only 0 of its 7000 rows could be read: the file is truncated or corrupt"},
		{name: "snappy page in row group 2", snappy: true, off: func(md *metadata.FileMetaData) int64 { return dataPage(1, 0)(md) + 40 },
			group: 2, trusted: 7000,
			err: ": row group 2 of 5 (rows 7001 to 14000): the file is truncated or corrupt: snappy: corrupt input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := damagedParquet(t, tt.snappy, tt.off)
			rows, ie := inputErrorOf(t, []string{path}, Options{})
			if ie.Error() != path+tt.err {
				t.Errorf("error %q, want %q", ie, path+tt.err)
			}
			if ie.RowGroup != tt.group || ie.Trusted.Line != tt.trusted || tt.trusted > 0 && ie.Trusted.File != path {
				t.Errorf("error in row group %d, trusted up to %v; want %d, %d", ie.RowGroup, ie.Trusted, tt.group, tt.trusted)
			}
			if int64(len(rows)) < tt.trusted {
				t.Errorf("%d rows before the error, want at least the %d trusted", len(rows), tt.trusted)
			}
		})
	}
}

// A footer that ends early can make arrow wrap io.EOF in its error: the
// reader's error must never pass for the end of the input, which callers
// test with errors.Is(err, io.EOF).
func TestParquetFooterCutShort(t *testing.T) {
	good := parquetBytes(t, someRecords, fixture.Parquet{})
	// The file ends with the footer, its length and "PAR1".
	n := int(binary.LittleEndian.Uint32(good[len(good)-8:]))
	dir := t.TempDir()
	for cut := 1; cut < n; cut++ {
		bad := append([]byte(nil), good[:len(good)-8-cut]...)
		bad = binary.LittleEndian.AppendUint32(bad, uint32(n-cut))
		bad = append(bad, "PAR1"...)
		path := filepath.Join(dir, "short-footer.parquet")
		os.WriteFile(path, bad, 0o644)
		rows, err := readRows(t, []string{path}, Options{})
		var ie *InputError
		if !errors.As(err, &ie) || errors.Is(err, io.EOF) {
			t.Fatalf("footer without its last %d bytes: %d rows, error %v; want an *InputError that is not io.EOF", cut, len(rows), err)
		}
		if !strings.HasPrefix(err.Error(), path+": not a readable Parquet file (truncated or corrupt?): ") {
			t.Errorf("footer without its last %d bytes: error %q, want it to name the file and say it is truncated or corrupt", cut, err)
		}
	}
}
