package main

import (
	"encoding/csv"
	"os"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdParquet writes a Parquet file from a CSV file, so that scripts can
// carry Parquet input as text:
//
//	parquet in.csv out.parquet [rows=N] [snappy] [COLUMN=TYPE...]
//
// Columns are strings unless given a TYPE: int32, int64, uint32, uint64 or
// dictionary. An empty CSV field becomes a null. rows=N starts a new row
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
	}
	ts.Check(err)
}
