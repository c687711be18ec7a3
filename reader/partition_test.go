package reader

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rtseg/rtseg/reader/internal/fixture"
)

// files writes files under dir, their paths in slash form, and returns dir.
func files(t *testing.T, dir string, contents map[string]string) string {
	t.Helper()
	for name, text := range contents {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// partRow is what TestPartitions compares of a row.
type partRow struct {
	File     string // relative to the input
	Line     int64
	Domain   string
	SegID    int64
	MemberID int64
	Value    int32
	Reason   string
	Raw      string // an invalid row's domain as the report shows it
}

func partRows(t *testing.T, input string, opts Options) []partRow {
	t.Helper()
	var out []partRow
	for _, r := range mustRead(t, []string{input}, opts) {
		rel, err := filepath.Rel(input, r.Pos.File)
		if err != nil {
			t.Fatal(err)
		}
		p := partRow{File: filepath.ToSlash(rel), Line: r.Pos.Line, Domain: r.Domain, SegID: r.SegID, MemberID: r.MemberID, Value: r.Value}
		if r.Err != nil {
			p.Reason, p.Raw = r.Err.Error(), r.Raw.Domain
		}
		out = append(out, p)
	}
	return out
}

// TestPartitions checks that key=value folders give their column to the
// rows below them: when the file lacks it or leaves it empty, never over a
// value; URL-unescaped; null for __HIVE_DEFAULT_PARTITION__ or an empty
// value; mapped by --columns as columns are; before the command line's
// defaults; and that files are read depth first in name order, skipping
// names that start with "_" or "." at every depth.
func TestPartitions(t *testing.T) {
	dir := files(t, t.TempDir(), map[string]string{
		"domain=idfa/part-0.csv":                          "user_id,seg_id\n6D92078A-8246-4BA4-AE5B-76104861E7DC,1\n",
		"domain=idfa/value=7/part-0.csv":                  "user_id,seg_id,value\n6D92078A-8246-4BA4-AE5B-76104861E7DC,2,\n6D92078A-8246-4BA4-AE5B-76104861E7DC,3,9\n",
		"domain=__HIVE_DEFAULT_PARTITION__/part-0.csv":    "user_id,seg_id,domain\n123,4,\n123,5,aaid\n",
		"domain=/part-0.csv":                              "user_id,seg_id\n124,6\n",
		"domain=sha1mac/part-0.csv":                       "user_id,seg_id\n125,7\n",
		"domain=s%68a1udid/seg_id=8/part-0.csv":           "user_id\n0123456789abcdef0123456789abcdef01234567\n",
		"domain=idfa/_temporary/0/part-0.csv":             "not,data\n",
		"domain=idfa/.part-0.csv.crc":                     "crc",
		"domain=idfa/_SUCCESS":                            "",
		"_delta_log/00000.json":                           "{}",
		"domain=idfa/value=7/.hidden=1/part-0.csv":        "not,data\n",
		"domain=idfa/value=7/notes.txt":                   "not data",
		"domain=idfa/value=7/zz=1/part-0.csv":             "user_id,seg_id\n6D92078A-8246-4BA4-AE5B-76104861E7DC,10\n",
		"domain=idfa/value=7/part-1.csv/part-0.csv":       "user_id,seg_id\n6D92078A-8246-4BA4-AE5B-76104861E7DC,11\n",
		"domain=idfa/value=7/part-1.csv/_SUCCESS":         "",
		"domain=idfa/value=7/part-1.csv/deeper/part0.csv": "user_id,seg_id\n6D92078A-8246-4BA4-AE5B-76104861E7DC,12\n",
	})
	got := partRows(t, dir, Options{Defaults: Defaults{Domain: "aaid", Value: "1", LenientIDs: true}})
	const sha1mac = `domain "sha1mac" is deprecated (since 2019) and no longer accepted`
	want := []partRow{
		// Null partitions: the default comes in; a value in the file stays.
		{File: "domain=/part-0.csv", Line: 2, Domain: "aaid", SegID: 6, Value: 1},
		{File: "domain=__HIVE_DEFAULT_PARTITION__/part-0.csv", Line: 2, Domain: "aaid", SegID: 4, Value: 1},
		{File: "domain=__HIVE_DEFAULT_PARTITION__/part-0.csv", Line: 3, Domain: "aaid", SegID: 5, Value: 1},
		{File: "domain=idfa/part-0.csv", Line: 2, Domain: "idfa", SegID: 1, Value: 1},
		// The partition value fills an empty cell, not a full one; the
		// default comes after it.
		{File: "domain=idfa/value=7/part-0.csv", Line: 2, Domain: "idfa", SegID: 2, Value: 7},
		{File: "domain=idfa/value=7/part-0.csv", Line: 3, Domain: "idfa", SegID: 3, Value: 9},
		{File: "domain=idfa/value=7/part-1.csv/deeper/part0.csv", Line: 2, Domain: "idfa", SegID: 12, Value: 7},
		{File: "domain=idfa/value=7/part-1.csv/part-0.csv", Line: 2, Domain: "idfa", SegID: 11, Value: 7},
		{File: "domain=idfa/value=7/zz=1/part-0.csv", Line: 2, Domain: "idfa", SegID: 10, Value: 7},
		// Unescaped; a partition gives a required column.
		{File: "domain=s%68a1udid/seg_id=8/part-0.csv", Line: 2, Domain: "sha1udid", SegID: 8, Value: 1},
		// An invalid row shows the partition's value as its own.
		{File: "domain=sha1mac/part-0.csv", Line: 2, Reason: sha1mac, Raw: "sha1mac"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got %+v\nwant %+v", got, want)
	}
}

// TestPartitionColumns checks that --columns maps partition keys as it
// maps columns, that a partition key naming no field is ignored, and that
// a file whose partitions give a required field is not missing it.
func TestPartitionColumns(t *testing.T) {
	dir := files(t, t.TempDir(), map[string]string{
		"id_type=idfa/segment=42/dt=2026-12-01/part-0.csv": "uid,domain\n6D92078A-8246-4BA4-AE5B-76104861E7DC,\n",
	})
	opts := Options{Columns: map[string]string{"domain": "ID_TYPE", "seg_id": "segment", "user_id": "uid"}}
	rows := mustRead(t, []string{dir}, opts)
	if len(rows) != 1 || !rows[0].Valid() || rows[0].Domain != "idfa" || rows[0].SegID != 42 {
		t.Fatalf("rows %+v, want one valid row of domain idfa, segment 42", rows)
	}

	// Without the mapping, the folders give nothing rtseg reads.
	_, err := readRows(t, []string{dir}, Options{Columns: map[string]string{"user_id": "uid"}})
	var mc *MissingColumnError
	if err == nil || !strings.Contains(err.Error(), "part-0.csv") || !errors.As(err, &mc) || mc.Field != "seg_id" {
		t.Errorf("unmapped partitions: error %v, want a missing seg_id naming the file", err)
	}
}

// TestPartitionParquet checks partitions over Parquet files, which lack
// the column, and the name of a file in a message: relative to the input.
func TestPartitionParquet(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "exports", "domain=aaid", "part-00000.snappy.parquet")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, parquetBytes(t, someRecords[:2], fixture.Parquet{Columns: withoutColumn(fixture.StringColumns(), fixture.Domain)}), 0o644)
	rows := mustRead(t, []string{filepath.Join(dir, "exports")}, Options{Defaults: Defaults{LenientIDs: true}})
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	for _, r := range rows {
		if r.Domain != "aaid" || r.Pos.File != p {
			t.Errorf("row %+v at %s, want domain aaid at %s", r, r.Pos, p)
		}
	}
}

// TestFolderErrors checks the errors of a walk: a folder without data at
// any depth, and one that cannot be read, named.
func TestFolderErrors(t *testing.T) {
	dir := files(t, t.TempDir(), map[string]string{"a/_SUCCESS": "", "a/b/.x.csv": "", "a/notes.txt": ""})
	_, err := Open([]string{filepath.Join(dir, "a")}, Options{})
	if err == nil || err.Error() != filepath.Join(dir, "a")+": "+ErrNoDataFiles.Error() {
		t.Errorf("folder without data: error %v", err)
	}

	fsys := deniedFS{fstest.MapFS{"x/a.csv": {}, "x/y/part-0.csv": {}}, "x/y"}
	_, err = walkDir(fsys, ".", "exports")
	if got, want := walkError("exports", err), "exports/x/y: permission denied"; got == nil || got.Error() != want {
		t.Errorf("unreadable folder: error %v, want %q", got, want)
	}
}

// deniedFS refuses to list one folder.
type deniedFS struct {
	fstest.MapFS
	denied string
}

func (d deniedFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == d.denied {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrPermission}
	}
	return d.MapFS.ReadDir(name)
}

// TestPartitionsOfFiles checks that a file named directly, or by a glob,
// takes the partitions of the folders in its path too.
func TestPartitionsOfFiles(t *testing.T) {
	dir := files(t, t.TempDir(), map[string]string{
		"domain=idfa/part-0.csv": "user_id,seg_id\n6D92078A-8246-4BA4-AE5B-76104861E7DC,1\n",
		"domain=aaid/part-0.csv": "user_id,seg_id\n6d92078a-8246-4ba4-ae5b-76104861e7dc,2\n",
	})
	for _, in := range [][]string{
		{filepath.Join(dir, "domain=aaid", "part-0.csv"), filepath.Join(dir, "domain=idfa", "part-0.csv")},
		{filepath.Join(dir, "domain=*", "part-0.csv")},
	} {
		rows := mustRead(t, in, Options{})
		if len(rows) != 2 || rows[0].Domain != "aaid" || rows[1].Domain != "idfa" || !rows[0].Valid() || !rows[1].Valid() {
			t.Errorf("read %v: rows %+v, want an aaid row, then an idfa row", in, rows)
		}
	}
}
