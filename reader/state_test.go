package reader

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// writeStateRows writes a state file of "domain user seg" rows, marked as
// a state when marked is set.
func writeStateRows(t *testing.T, rows []string, marked bool) string {
	t.Helper()
	return writeState(t, parquet.NewWriterProperties(), marked, func(b *array.RecordBuilder) {
		for _, r := range rows {
			f := strings.Fields(r)
			if f[0] == "-" {
				b.Field(0).AppendNull()
			} else {
				b.Field(0).(*array.StringBuilder).Append(f[0])
			}
			b.Field(1).(*array.StringBuilder).Append(f[1])
			var seg int64
			for _, c := range f[2] {
				seg = seg*10 + int64(c-'0')
			}
			b.Field(2).(*array.Int64Builder).Append(seg)
			b.Field(3).AppendNull()
			b.Field(4).AppendNull()
			b.Field(5).AppendNull()
			b.Field(6).(*array.Int32Builder).Append(0)
			b.Field(7).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000))
		}
	})
}

// writeState writes a state file with these writer properties, marked as a
// state when marked is set, of the rows fill appends.
func writeState(t *testing.T, props *parquet.WriterProperties, marked bool, fill func(*array.RecordBuilder)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), StateFile)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(StateSchema, f, props, pqarrow.NewArrowWriterProperties())
	if err != nil {
		t.Fatal(err)
	}
	if marked {
		w.AppendKeyValueMetadata(StateKey, StateVersion)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, StateSchema)
	defer b.Release()
	fill(b)
	rec := b.NewRecord()
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readAllState(path string) (int, error) {
	s, err := OpenState(path)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	n := 0
	for {
		if _, err := s.Next(); errors.Is(err, io.EOF) {
			return n, nil
		} else if err != nil {
			return n, err
		}
		n++
	}
}

func TestOpenState(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rows    []string
		marked  bool
		want    int
		foreign bool
		damaged string
	}{
		{"sorted", []string{"- 1000001 1", "- 1000001 2", "- 1000002 1", "aaid 0a 1", "idfa 0a 1"}, true, 5, false, ""},
		{"not a state", []string{"- 1000001 1"}, false, 0, true, ""},
		{"users out of order", []string{"- 1000002 1", "- 1000001 1"}, true, 1, false, "row 2: rows are not sorted"},
		{"domains out of order", []string{"idfa 0a 1", "- 1000001 1"}, true, 1, false, "row 2: rows are not sorted"},
		{"a segment twice", []string{"- 1000001 1", "- 1000001 1"}, true, 1, false, "row 2: rows are not sorted"},
		{"an unknown domain", []string{"sha1mac 0a 1"}, true, 0, false, "row 1: user"},
		{"no segment", []string{"- 1000001 0"}, true, 0, false, "row 1: no segment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeStateRows(t, tc.rows, tc.marked)
			n, err := readAllState(path)
			var se *StateError
			switch {
			case tc.foreign || tc.damaged != "":
				if !errors.As(err, &se) || se.Foreign != tc.foreign || !strings.Contains(err.Error(), tc.damaged) {
					t.Fatalf("read = %v, want a StateError (foreign %v) saying %q", err, tc.foreign, tc.damaged)
				}
				if se.Hint() == "" {
					t.Error("no hint")
				}
			case err != nil:
				t.Fatal(err)
			}
			if n != tc.want {
				t.Errorf("read %d rows, want %d", n, tc.want)
			}
		})
	}
	if _, err := OpenState(filepath.Join(t.TempDir(), StateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenState of no file = %v, want os.ErrNotExist", err)
	}
}

// TestStateManyPages reads a state whose user IDs span many small pages,
// past the dictionary's limit (plain pages), so that each batch of rows
// decoded takes values from several pages: every ID read back is the one
// written.
func TestStateManyPages(t *testing.T) {
	const n = 20_000
	props := parquet.NewWriterProperties(parquet.WithDataPageSize(4<<10), parquet.WithDictionaryPageSizeLimit(4<<10),
		parquet.WithMaxRowGroupLength(7_000))
	id := func(i int) string { return fmt.Sprintf("%08X-0000-4000-8000-%012X", i/2, i) }
	path := writeState(t, props, true, func(b *array.RecordBuilder) {
		for i := range n {
			b.Field(0).(*array.StringBuilder).Append("idfa")
			b.Field(1).(*array.StringBuilder).Append(id(i))
			b.Field(2).(*array.Int64Builder).Append(int64(1 + i%3))
			b.Field(3).AppendNull()
			b.Field(4).AppendNull()
			b.Field(5).(*array.Int32Builder).Append(int32(i % 100))
			b.Field(6).AppendNull()
			b.Field(7).(*array.TimestampBuilder).Append(arrow.Timestamp(1_700_000_000_000 + int64(i)))
		}
	})
	s, err := OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []*Delivered
	for {
		d, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c := *d
		got = append(got, &c)
	}
	if len(got) != n {
		t.Fatalf("read %d rows, want %d", len(got), n)
	}
	for i, d := range got {
		if d.Row.UserID != id(i) || d.Row.Domain != "idfa" || d.Row.SegID != int64(1+i%3) || d.Row.Value != int32(i%100) ||
			d.Row.HasExpiration || d.At.UnixMilli() != 1_700_000_000_000+int64(i) || d.Row.Pos.Line != int64(i+1) {
			t.Fatalf("row %d: %+v at %v", i+1, d.Row, d.At)
		}
	}
}
