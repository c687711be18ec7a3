package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// corruptUsers and corruptSegments shape the inputs the fuzz test damages:
// each user has every segment, so that an upload of all of them takes well
// under the service's second.
const corruptUsers, corruptSegments = 300, 10

var corruptInputs = sync.OnceValues(func() (map[string][]byte, error) {
	var csv bytes.Buffer
	z := gzip.NewWriter(&csv)
	fmt.Fprintln(z, "user_id,seg_id,expiration")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user_id", Type: arrow.BinaryTypes.String},
		{Name: "seg_id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "expiration", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	var pq bytes.Buffer
	w, err := pqarrow.NewFileWriter(schema, &pq,
		parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithMaxRowGroupLength(1000)),
		pqarrow.DefaultWriterProps())
	if err != nil {
		return nil, err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for u := range corruptUsers {
		for s := range corruptSegments {
			user := strconv.Itoa(5_000_001 + u)
			fmt.Fprintf(z, "%s,%d,1440\n", user, 1+s)
			b.Field(0).(*array.StringBuilder).Append(user)
			b.Field(1).(*array.Int64Builder).Append(int64(1 + s))
			b.Field(2).(*array.Int32Builder).Append(1440)
		}
	}
	rec := b.NewRecord()
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return map[string][]byte{"in.csv.gz": csv.Bytes(), "in.parquet": pq.Bytes()}, nil
})

// FuzzCorruptInput damages a real gzip or Parquet file at an offset. For
// each, rtseg validate reads every row (exit 0, or 2 for rows it finds
// invalid) or exits 1; it never reports fewer rows and exits as if all was
// well. rtseg upload of the same unsorted input sends nothing when reading
// fails.
func FuzzCorruptInput(f *testing.F) {
	inputs, err := corruptInputs()
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"in.csv.gz", "in.parquet"} {
		size := len(inputs[name])
		for _, at := range []int{4, 12, 40, size / 8, size / 3, size / 2, 2 * size / 3, size - 400, size - 40, size - 12} {
			f.Add(name == "in.parquet", uint32(at), byte(0xff), false)
		}
		f.Add(name == "in.parquet", uint32(size/2), byte(0), true)
		f.Add(name == "in.parquet", uint32(size-9), byte(0), true)
	}
	f.Fuzz(func(t *testing.T, parquet bool, at uint32, mask byte, truncate bool) {
		name := "in.csv.gz"
		if parquet {
			name = "in.parquet"
		}
		data := bytes.Clone(inputs[name])
		at %= uint32(len(data))
		if truncate {
			data = data[:at]
		} else {
			for i := at; i < at+4 && int(i) < len(data); i++ {
				data[i] ^= mask
			}
		}
		dir := t.TempDir()
		input := filepath.Join(dir, name)
		if err := os.WriteFile(input, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rows := corruptUsers * corruptSegments
		srv := xandrtest.NewServer(xandrtest.WithToken("t0k3n"))
		defer srv.Close()
		for _, command := range []string{"validate", "upload"} {
			summary := filepath.Join(dir, command+".json")
			args := []string{command, "--progress", "none", "--report", filepath.Join(dir, command+".csv"), "--summary", summary, input}
			if command == "upload" {
				args = append(args, "--endpoint", srv.URL+"/rt-segment")
			}
			var stderr strings.Builder
			e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, signal: func() int { return 0 },
				getenv: func(k string) string { return map[string]string{"XANDR_TOKEN": "t0k3n"}[k] }}
			code := e.execute(t.Context(), args)
			var s struct {
				RowsRead int64 `json:"rows_read"`
				Invalid  int64 `json:"invalid"`
			}
			if b, err := os.ReadFile(summary); err == nil {
				if err := json.Unmarshal(b, &s); err != nil {
					t.Fatalf("%s: summary: %v", command, err)
				}
			}
			switch {
			case code == exitFailure:
				if command == "upload" && srv.Stats().Posts > 0 {
					t.Errorf("upload of unsorted input that could not be read sent %d requests\n%s", srv.Stats().Posts, stderr.String())
				}
			case code != exitOK && code != exitRejected:
				t.Errorf("%s of %s damaged at %d: exit %d, want 0, 1 or 2\n%s", command, name, at, code, stderr.String())
			case s.RowsRead != int64(rows):
				t.Errorf("%s of %s damaged at %d: exit %d after %d rows, want all %d rows or exit 1\n%s", command, name, at, code, s.RowsRead, rows, stderr.String())
			case code == exitRejected && s.Invalid == 0:
				t.Errorf("%s of %s damaged at %d: exit 2 with no invalid row\n%s", command, name, at, stderr.String())
			}
		}
	})
}
