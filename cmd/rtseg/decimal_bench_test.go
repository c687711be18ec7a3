//go:build unix

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/decimal128"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// decimalBenchRows is the size of BenchmarkValidateDecimal's input.
const decimalBenchRows = 2_000_000

// BenchmarkValidateDecimal runs rtseg validate --sorted over 2M rows whose
// numbers are stored as Snowflake unloads NUMBER(38,0), DECIMAL(38,0) in
// 16-byte fixed-length byte arrays, and over the same rows stored as
// int64: the first should take at most 1.5 times as long, without more
// memory. It reports rows per second, CPU seconds per run, and the peak
// RSS of the runs (Linux: the process's, reset after the input is
// written).
func BenchmarkValidateDecimal(b *testing.B) {
	for _, storage := range []string{"int64", "decimal38"} {
		b.Run(storage, func(b *testing.B) {
			in := decimalBenchFile(b, storage)
			e := &env{stdin: os.Stdin, stdout: io.Discard, stderr: io.Discard, signal: func() int { return 0 }, getenv: func(string) string { return "" }}
			args := []string{"validate", "--sorted", "--progress", "none", "--report", filepath.Join(b.TempDir(), "report.csv"), in}
			// The peak RSS of the runs alone, not of writing the file.
			runtime.GC()
			debug.FreeOSMemory()
			resetPeakRSS(b)
			cpu := cpuTime(b)
			for b.Loop() {
				if code := e.execute(context.Background(), args); code != exitOK {
					b.Fatalf("rtseg validate exited %d", code)
				}
			}
			b.ReportMetric(float64(decimalBenchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peakRSS(b))/(1<<20), "peak-RSS-MiB")
			// CPU time, which a machine shared with other work
			// disturbs less than elapsed time.
			b.ReportMetric((cpuTime(b)-cpu).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS sets the process's peak RSS (VmHWM) to its RSS now, as
// Linux does on writing 5 to /proc/self/clear_refs.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset the peak RSS: %v", err)
	}
}

// peakRSS is the process's peak RSS in bytes, VmHWM in /proc/self/status.
func peakRSS(b *testing.B) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n << 10
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// decimalBenchFile writes decimalBenchRows rows, sorted by user, four
// segments a user: user_id a string, seg_id, value and expiration of the
// storage given (int64, or DECIMAL(38,0) in fixed-length byte arrays).
func decimalBenchFile(b *testing.B, storage string) string {
	b.Helper()
	num := arrow.DataType(arrow.PrimitiveTypes.Int64)
	if storage == "decimal38" {
		num = &arrow.Decimal128Type{Precision: 38, Scale: 0}
	}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.BinaryTypes.String},
		{Name: "seg_id", Type: num},
		{Name: "value", Type: num, Nullable: true},
		{Name: "expiration", Type: num, Nullable: true},
	}, nil)
	path := filepath.Join(b.TempDir(), storage+".parquet")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(128<<10))
	w, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		b.Fatal(err)
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer rb.Release()
	appendNum := func(i int, v int64) {
		switch fb := rb.Field(i).(type) {
		case *array.Int64Builder:
			fb.Append(v)
		case *array.Decimal128Builder:
			fb.Append(decimal128.FromI64(v))
		}
	}
	for i := range decimalBenchRows {
		u := i / 4
		rb.Field(0).(*array.StringBuilder).Append(strconv.Itoa(10_000_000_000 + u))
		appendNum(1, int64(1000+(u*7+i%4*13)%5000))
		appendNum(2, int64(i%4))
		appendNum(3, 1440)
		if rb.Field(0).Len() == 64<<10 || i == decimalBenchRows-1 {
			rec := rb.NewRecord()
			if err := w.Write(rec); err != nil {
				b.Fatal(err)
			}
			rec.Release()
		}
	}
	if err := w.Close(); err != nil { // closes f
		b.Fatal(err)
	}
	return path
}
