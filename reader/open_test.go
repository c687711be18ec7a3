package reader

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rtseg/rtseg/objstore"
	"github.com/rtseg/rtseg/reader/internal/fixture"
)

func TestExpandInputs(t *testing.T) {
	dir := t.TempDir()
	parts := filepath.Join(dir, "export")
	os.Mkdir(parts, 0o755)
	for _, name := range []string{"part-00002.csv", "part-00000.parquet", "part-00001.csv.gz", "_SUCCESS", ".part-00000.crc", "notes.txt",
		".part-00003.csv", "_part-00004.csv.gz", "_tmp.parquet"} {
		os.WriteFile(filepath.Join(parts, name), nil, 0o644)
	}
	os.Mkdir(filepath.Join(parts, "nested.csv"), 0o755)
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	in := func(names ...string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = filepath.Join(parts, n)
		}
		return out
	}

	tests := []struct {
		name   string
		inputs []string
		want   []string
		err    string
	}{
		{name: "directory in name order", inputs: []string{parts},
			want: in("part-00000.parquet", "part-00001.csv.gz", "part-00002.csv")},
		{name: "glob in name order", inputs: []string{filepath.Join(parts, "part-*")},
			want: in("part-00000.parquet", "part-00001.csv.gz", "part-00002.csv")},
		{name: "files as given, then stdin", inputs: []string{filepath.Join(parts, "part-00002.csv"), filepath.Join(parts, "notes.txt"), "-"},
			want: append(in("part-00002.csv", "notes.txt"), "-")},
		{name: "missing file", inputs: []string{filepath.Join(dir, "nope.csv")},
			err: filepath.Join(dir, "nope.csv") + ": no such file or directory"},
		{name: "glob matching nothing", inputs: []string{filepath.Join(dir, "*.csv")},
			err: filepath.Join(dir, "*.csv") + ": no file matches this pattern"},
		{name: "directory without data files", inputs: []string{empty},
			err: empty + ": no *.csv, *.tsv or *.parquet files (nor .gz, .zst or .bz2 compressed CSV or TSV) in this directory or below it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found, err := expandInputs(tt.inputs, objstore.Options{})
			var got []string
			for _, f := range found {
				got = append(got, f.name)
			}
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Errorf("expandInputs(%v) error %v, want %q", tt.inputs, err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("expandInputs(%v) = %v, %v; want %v", tt.inputs, got, err, tt.want)
			}
		})
	}
}

// TestReadSeveralFiles reads a CSV and a Parquet file in turn: rows keep
// their own file's positions, and BytesRead counts both files.
func TestReadSeveralFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	os.WriteFile(a, []byte("user_id,seg_id\n1001,1\n"), 0o644)
	b := filepath.Join(dir, "b.parquet")
	data := parquetBytes(t, someRecords[:2], fixture.Parquet{})
	os.WriteFile(b, data, 0o644)

	r, err := Open([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []Position
	for {
		row, err := r.Next()
		if err != nil {
			break
		}
		got = append(got, row.Pos)
	}
	want := []Position{{a, 2}, {b, 1}, {b, 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("positions %v, want %v", got, want)
	}
	if n, min := r.BytesRead(), int64(len("user_id,seg_id\n1001,1\n")+len(data)/2); n < min {
		t.Errorf("BytesRead() = %d, want at least %d", n, min)
	}
}

func TestOpenOptions(t *testing.T) {
	if _, err := Open([]string{"-"}, Options{Format: "xlsx"}); err == nil || err.Error() != `unknown format "xlsx" (want csv, parquet or auto)` {
		t.Errorf("Open with format xlsx: error %v", err)
	}
	for _, d := range []rune{'"', '\n', '\r', utf8.RuneError} {
		if _, err := Open([]string{"-"}, Options{Delimiter: d}); err == nil || !strings.Contains(err.Error(), "cannot separate CSV fields") {
			t.Errorf("Open with delimiter %q: error %v, want one saying it cannot separate fields", d, err)
		}
	}
}

// TestReaderSizeAndStdin checks what progress and resuming learn from the
// reader, without expanding the inputs again: the files, their total size
// (what BytesRead reaches at the end), and whether standard input is read.
func TestReaderSizeAndStdin(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	os.WriteFile(a, []byte("user_id,seg_id\n1001,1\n"), 0o644)
	os.WriteFile(b, []byte("user_id,seg_id\n1002,2\n1003,3\n"), 0o644)

	r, err := Open([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Files(), []string{a, b}; !reflect.DeepEqual(got, want) {
		t.Errorf("Files() = %v, want %v", got, want)
	}
	want := int64(len("user_id,seg_id\n1001,1\n") + len("user_id,seg_id\n1002,2\n1003,3\n"))
	if got := r.Size(); got != want {
		t.Errorf("Size() = %d, want %d", got, want)
	}
	for _, err := r.Next(); err == nil; _, err = r.Next() {
	}
	if got := r.BytesRead(); got != want {
		t.Errorf("BytesRead() after the last row = %d, want Size() = %d", got, want)
	}

	r, err = Open([]string{a, Stdin}, Options{Stdin: strings.NewReader("")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != -1 {
		t.Errorf("with standard input: Size() = %d, want -1", r.Size())
	}

	r, err = Open([]string{a}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(a)
	if got := r.Size(); got != -1 {
		t.Errorf("Size() of a file removed since Open = %d, want -1", got)
	}
}
