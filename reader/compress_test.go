package reader

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/rtseg/rtseg/reader/internal/fixture"
)

// TestCompressedDamage checks that a damaged zstd or bzip2 file is an
// error naming the file and its compression, never a file of other rows.
func TestCompressedDamage(t *testing.T) {
	dir := t.TempDir()
	recs := fixture.Sorted(20_000)
	var plain bytes.Buffer
	if err := fixture.WriteCSV(&plain, recs); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "rows.csv")
	os.WriteFile(csvPath, plain.Bytes(), 0o644)
	bz := bzip2File(t, csvPath)
	var zb bytes.Buffer
	zw, _ := zstd.NewWriter(&zb)
	zw.Write(plain.Bytes())
	zw.Close()
	zst := filepath.Join(dir, "rows.csv.zst")
	os.WriteFile(zst, zb.Bytes(), 0o644)

	flip := func(path string) string {
		data, _ := os.ReadFile(path)
		for i := len(data) / 2; i < len(data)/2+8; i++ {
			data[i] ^= 0xff
		}
		bad := filepath.Join(dir, "bad-"+filepath.Base(path))
		os.WriteFile(bad, data, 0o644)
		return bad
	}
	cut := func(path string) string {
		data, _ := os.ReadFile(path)
		bad := filepath.Join(dir, "cut-"+filepath.Base(path))
		os.WriteFile(bad, data[:len(data)/2], 0o644)
		return bad
	}
	tests := []struct {
		path string
		want []string
	}{
		{flip(bz), []string{"bad-rows.csv.bz2: ", "bzip2"}},
		{cut(bz), []string{"cut-rows.csv.bz2: ", "bzip2"}},
		{flip(zst), []string{"bad-rows.csv.zst: ", "zstd"}},
		{cut(zst), []string{"cut-rows.csv.zst: ", "ends early"}},
	}
	for _, tt := range tests {
		_, err := readRows(t, []string{tt.path}, Options{})
		var ie *InputError
		if !errors.As(err, &ie) || !ie.Compressed && ie.Last.Line > 0 {
			t.Errorf("%s: error %v, want an *InputError of a compressed file", tt.path, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q, want it to say %q", tt.path, err, w)
			}
		}
	}
	// Undamaged, both read every row.
	for _, p := range []string{bz, zst} {
		if rows := mustRead(t, []string{p}, Options{}); len(rows) != 20_000 {
			t.Errorf("%s: %d rows, want 20000", p, len(rows))
		}
	}
}

// TestTSVDelimiter checks that *.tsv files are tab-separated, compressed
// or not, unless --delimiter says otherwise.
func TestTSVDelimiter(t *testing.T) {
	dir := files(t, t.TempDir(), map[string]string{
		"a.tsv":  "user_id\tseg_id\n1\t2\n",
		"b.TSV":  "user_id\tseg_id\n1\t3\n",
		"c.psv":  "user_id|seg_id\n1|4\n",
		"d.tsv2": "user_id,seg_id\n1,5\n",
	})
	for name, want := range map[string]int64{"a.tsv": 2, "b.TSV": 3} {
		rows := mustRead(t, []string{filepath.Join(dir, name)}, Options{})
		if len(rows) != 1 || !rows[0].Valid() || rows[0].SegID != want {
			t.Errorf("%s: rows %+v, want seg_id %d", name, rows, want)
		}
	}
	rows := mustRead(t, []string{filepath.Join(dir, "c.psv")}, Options{Delimiter: '|'})
	if len(rows) != 1 || rows[0].SegID != 4 {
		t.Errorf("c.psv with --delimiter '|': rows %+v", rows)
	}
	if _, err := readRows(t, []string{filepath.Join(dir, "a.tsv")}, Options{Delimiter: ';'}); err == nil {
		t.Errorf("a.tsv read with --delimiter ';': no error, want a missing column")
	}
	rows = mustRead(t, []string{filepath.Join(dir, "d.tsv2")}, Options{})
	if len(rows) != 1 || rows[0].SegID != 5 {
		t.Errorf("d.tsv2 (not .tsv): rows %+v, want a comma-separated row", rows)
	}
}

// TestCompressedStdin checks that standard input may be zstd or bzip2
// compressed too, recognised by its content.
func TestCompressedStdin(t *testing.T) {
	plain := "user_id,seg_id\n1,2\n1,3\n"
	var zb bytes.Buffer
	zw, _ := zstd.NewWriter(&zb)
	zw.Write([]byte(plain))
	zw.Close()
	path := filepath.Join(t.TempDir(), "in.csv")
	os.WriteFile(path, []byte(plain), 0o644)
	bz, err := os.ReadFile(bzip2File(t, path))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"zstd": zb.Bytes(), "bzip2": bz} {
		rows := mustRead(t, []string{Stdin}, Options{Stdin: bytes.NewReader(data)})
		if len(rows) != 2 || rows[1].SegID != 3 || rows[1].Pos.Line != 3 {
			t.Errorf("%s on standard input: rows %+v", name, rows)
		}
	}
}
