package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/decimal128"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdParquet writes a Parquet file from a CSV file, so that scripts can
// carry Parquet input as text:
//
//	parquet in.csv out.parquet [rows=N] [snappy] [COLUMN=TYPE...]
//
// Columns are strings unless given a TYPE: int32, int64, uint32, uint64,
// float64, decimal (DECIMAL(38,0) in a fixed-length byte array), decimal18
// (DECIMAL(18,0) in int64) or dictionary. An empty CSV field becomes a null. rows=N starts a new row
// group every N rows; snappy compresses the pages.
func cmdParquet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: parquet in.csv out.parquet [rows=N] [COLUMN=TYPE...]")
	}
	records, err := csv.NewReader(strings.NewReader(ts.ReadFile(args[0]))).ReadAll()
	ts.Check(err)
	if len(records) == 0 {
		ts.Fatalf("parquet: %s has no header", args[0])
	}
	header, rows := records[0], records[1:]
	types := map[string]arrow.DataType{}
	group := len(rows) + 1
	var props []parquet.WriterProperty
	for _, a := range args[2:] {
		if a == "snappy" {
			props = append(props, parquet.WithCompression(compress.Codecs.Snappy))
			continue
		}
		k, v, _ := strings.Cut(a, "=")
		if k == "rows" {
			group, err = strconv.Atoi(v)
			ts.Check(err)
			continue
		}
		types[k] = map[string]arrow.DataType{
			"int32": arrow.PrimitiveTypes.Int32, "int64": arrow.PrimitiveTypes.Int64,
			"uint32": arrow.PrimitiveTypes.Uint32, "uint64": arrow.PrimitiveTypes.Uint64,
			"dictionary": &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String},
			"float64":    arrow.PrimitiveTypes.Float64,
			// DECIMAL(38,0) in a 16-byte fixed-length byte array, and
			// DECIMAL(18,0) in int64, as Snowflake unloads NUMBER.
			"decimal":   &arrow.Decimal128Type{Precision: 38},
			"decimal18": &arrow.Decimal128Type{Precision: 18},
		}[v]
		if types[k] == nil {
			ts.Fatalf("parquet: unknown type %q", v)
		}
	}
	fields := make([]arrow.Field, len(header))
	for i, h := range header {
		fields[i] = arrow.Field{Name: h, Type: arrow.BinaryTypes.String, Nullable: true}
		if t, ok := types[h]; ok {
			fields[i].Type = t
		}
	}
	schema := arrow.NewSchema(fields, nil)
	f, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	props = append(props, parquet.WithStoreDecimalAsInteger(true))
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(props...), pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	ts.Check(err)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	flush := func() {
		rec := b.NewRecord()
		defer rec.Release()
		if rec.NumRows() > 0 {
			ts.Check(w.Write(rec))
		}
	}
	for n, row := range rows {
		for i, v := range row {
			appendValue(ts, b.Field(i), v)
		}
		if (n+1)%group == 0 {
			flush()
		}
	}
	flush()
	ts.Check(w.Close()) // closes f
}

func appendValue(ts *testscript.TestScript, b array.Builder, v string) {
	if v == "" {
		b.AppendNull()
		return
	}
	var err error
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append(v)
	case *array.BinaryDictionaryBuilder:
		err = b.AppendString(v)
	case *array.Int32Builder:
		var n int64
		n, err = strconv.ParseInt(v, 10, 32)
		b.Append(int32(n))
	case *array.Int64Builder:
		var n int64
		n, err = strconv.ParseInt(v, 10, 64)
		b.Append(n)
	case *array.Uint32Builder:
		var n uint64
		n, err = strconv.ParseUint(v, 10, 32)
		b.Append(uint32(n))
	case *array.Uint64Builder:
		var n uint64
		n, err = strconv.ParseUint(v, 10, 64)
		b.Append(n)
	case *array.Float64Builder:
		var n float64
		n, err = strconv.ParseFloat(v, 64)
		b.Append(n)
	case *array.Decimal128Builder:
		var n int64
		n, err = strconv.ParseInt(v, 10, 64)
		b.Append(decimal128.FromI64(n))
	default:
		ts.Fatalf("parquet: no writer for %T", b)
	}
	ts.Check(err)
}

// cmdReportParquet reads a Parquet report back with arrow, checks that its
// columns are the report's, typed (line and attempts integers, outcome a
// dictionary string), and that its rows by outcome are the summary's
// (accepted and valid rows only with ALL, as --report-all lists them); it
// prints the rows as CSV ("" for null) for stdout checks:
// reportparquet REPORT SUMMARY.json [all].
func cmdReportParquet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: reportparquet REPORT SUMMARY.json [all]")
	}
	all := len(args) == 3 && args[2] == "all"
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	ts.Check(err)
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	ts.Check(err)
	tbl, err := fr.ReadTable(context.Background())
	ts.Check(err)
	defer tbl.Release()

	want := map[string]arrow.Type{"file": arrow.STRING, "line": arrow.INT64, "seg_id": arrow.INT64, "member_id": arrow.INT64,
		"value": arrow.INT64, "expiration": arrow.INT64, "outcome": arrow.DICTIONARY, "attempts": arrow.INT64}
	var names []string
	for i, fld := range tbl.Schema().Fields() {
		names = append(names, fld.Name)
		if t, ok := want[fld.Name]; ok && fld.Type.ID() != t {
			ts.Fatalf("column %d %s is %s, want %s", i, fld.Name, fld.Type, t)
		}
	}
	if got := strings.Join(names, ","); got != "file,line,user_id,domain,seg_id,seg_code,member_id,value,expiration,outcome,reason,attempts" {
		ts.Fatalf("columns %s, want the report's", got)
	}

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
	counts := map[string]float64{}
	for _, r := range rows {
		counts[r[9]]++
	}
	var s map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &s))
	for _, o := range []string{"accepted", "valid", "invalid", "superseded", "warned", "failed", "skipped"} {
		n, _ := s[o].(float64)
		if (o == "accepted" || o == "valid") && !all {
			n = 0
		}
		if counts[o] != n {
			ts.Fatalf("the report has %v rows %s, the summary %v", counts[o], o, n)
		}
	}
	w := csv.NewWriter(ts.Stdout())
	for _, r := range rows {
		ts.Check(w.Write(r))
	}
	w.Flush()
	ts.Check(w.Error())
}
