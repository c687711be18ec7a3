package reader

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rtseg/rtseg/reader/internal/fixture"
)

// benchRows is the size of the benchmarks' input files.
const benchRows = 200_000

// benchFile writes benchRows sorted rows to a file in a temporary directory.
func benchFile(b *testing.B, name string) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	recs := fixture.Sorted(benchRows)
	if filepath.Ext(name) == ".parquet" {
		err = fixture.WriteParquet(f, recs, fixture.Parquet{Columns: fixture.TypedColumns(), RowGroupRows: 64 << 10, Snappy: true})
	} else {
		err = fixture.WriteCSV(f, recs)
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// readAll reads every row of path with the reader and checks the count.
func readAll(b *testing.B, path string) {
	r, err := Open([]string{path}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if !row.Valid() {
			b.Fatalf("%s: %v", row.Pos, row.Err)
		}
		n++
	}
	if n != benchRows {
		b.Fatalf("read %d rows, want %d", n, benchRows)
	}
}

func reportRows(b *testing.B) {
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkCSV reads, validates and positions every row of a CSV file.
func BenchmarkCSV(b *testing.B) {
	path := benchFile(b, "rows.csv")
	b.ReportAllocs()
	for b.Loop() {
		readAll(b, path)
	}
	reportRows(b)
}

// BenchmarkParquet reads, validates and positions every row of a Parquet
// file with string, dictionary and integer columns.
func BenchmarkParquet(b *testing.B) {
	path := benchFile(b, "rows.parquet")
	b.ReportAllocs()
	for b.Loop() {
		readAll(b, path)
	}
	reportRows(b)
}

// BenchmarkBareCSV is the baseline for BenchmarkCSV: encoding/csv and
// strconv, nothing else.
func BenchmarkBareCSV(b *testing.B) {
	path := benchFile(b, "rows.csv")
	b.ReportAllocs()
	for b.Loop() {
		if n, _, err := fixture.BareCSV(path); err != nil || n != benchRows {
			b.Fatalf("BareCSV = %d rows, %v", n, err)
		}
	}
	reportRows(b)
}

// BenchmarkBareParquet is the baseline for BenchmarkParquet: arrow record
// batches, every value touched.
func BenchmarkBareParquet(b *testing.B) {
	path := benchFile(b, "rows.parquet")
	b.ReportAllocs()
	for b.Loop() {
		if n, _, err := fixture.BareParquet(path); err != nil || n != benchRows {
			b.Fatalf("BareParquet = %d rows, %v", n, err)
		}
	}
	reportRows(b)
}
