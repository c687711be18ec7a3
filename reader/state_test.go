package reader

import (
	"errors"
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
	path := filepath.Join(t.TempDir(), StateFile)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(StateSchema, f, parquet.NewWriterProperties(), pqarrow.NewArrowWriterProperties())
	if err != nil {
		t.Fatal(err)
	}
	if marked {
		w.AppendKeyValueMetadata(StateKey, StateVersion)
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, StateSchema)
	defer b.Release()
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
