package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/rtseg/rtseg/reader"
)

// readParquetReport reads a Parquet report back with arrow, as a table of
// its rows as text ("" for null), and the file's reader for its metadata.
func readParquetReport(t *testing.T, b []byte) ([][]string, *file.Reader, *arrow.Schema) {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	rows := make([][]string, tbl.NumRows())
	for i := range rows {
		rows[i] = make([]string, tbl.NumCols())
	}
	for c := range int(tbl.NumCols()) {
		i := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for j := range chunk.Len() {
				if !chunk.IsNull(j) {
					rows[i][c] = chunk.ValueStr(j)
				}
				i++
			}
		}
	}
	return rows, pf, tbl.Schema()
}

// TestParquetReport checks that a Parquet report holds the CSV report's
// lines, typed: its schema is ParquetSchema (outcome a dictionary string),
// numbers are integers, absent values and numbers an invalid row has as
// text that is not a whole number are null.
func TestParquetReport(t *testing.T) {
	var pq, text bytes.Buffer
	w, err := NewWriter(&pq, "parquet")
	if err != nil {
		t.Fatal(err)
	}
	sum := record(t, w, true, nil)
	cw, _ := NewWriter(&text, "csv")
	record(t, cw, true, nil)

	got, _, schema := readParquetReport(t, pq.Bytes())
	for i, f := range ParquetSchema.Fields() {
		if g := schema.Field(i); g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) || g.Nullable != f.Nullable {
			t.Errorf("column %d read back: %s, want %s", i, g, f)
		}
	}
	if _, ok := schema.Field(9).Type.(*arrow.DictionaryType); !ok {
		t.Errorf("outcome read back as %s, want a dictionary", schema.Field(9).Type)
	}
	want, err := csv.NewReader(&text).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want = want[1:] // the header
	if len(got) != len(want) || int64(len(got)) != sum.RowsRead {
		t.Fatalf("Parquet report has %d rows, the CSV report %d, the summary %d", len(got), len(want), sum.RowsRead)
	}
	for i := range want {
		for c, name := range Columns {
			w := want[i][c]
			if ParquetSchema.Field(c).Type.ID() == arrow.INT64 {
				if _, err := strconv.ParseInt(w, 10, 64); err != nil {
					w = "" // not a whole number: null
				}
			}
			if got[i][c] != w {
				t.Errorf("row %d, %s = %q, want %q", i+1, name, got[i][c], w)
			}
		}
	}
	if got[0][4] != "" || want[0][4] != "x1" {
		t.Errorf("the invalid row's seg_id x1 = %q, want null", got[0][4])
	}
}

// TestParquetReportRowGroups checks that a long report is written a row
// group at a time, holding no more than a row group's lines, and that every
// line is there, in order.
func TestParquetReportRowGroups(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "parquet")
	if err != nil {
		t.Fatal(err)
	}
	const n = 2*parquetGroupRows + 100
	for i := range n {
		l := Line{Pos: reader.Position{File: "in.csv", Line: int64(i + 2)},
			Fields:  reader.Fields{UserID: fmt.Sprint(1000 + i), SegID: "7", Expiration: "1440"},
			Outcome: Outcome(i % int(numOutcomes)), Attempts: 1}
		if err := w.Write(&l); err != nil {
			t.Fatal(err)
		}
		if held := w.pq.rows; held >= parquetGroupRows {
			t.Fatalf("after %d lines the writer holds %d, more than a row group", i+1, held)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rows, pf, _ := readParquetReport(t, buf.Bytes())
	if pf.NumRowGroups() != 3 || len(rows) != n {
		t.Fatalf("%d rows in %d row groups, want %d in 3", len(rows), pf.NumRowGroups(), n)
	}
	for i, r := range rows {
		if r[1] != strconv.Itoa(i+2) || r[9] != Outcome(i%int(numOutcomes)).String() {
			t.Fatalf("row %d: line %s, outcome %s", i+1, r[1], r[9])
		}
	}
}
