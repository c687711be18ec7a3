package reader

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rtseg/rtseg/reader/internal/fixture"
)

// FuzzCSV reads arbitrary bytes as CSV from standard input. Whatever the
// input: no panic; either the file is refused as a whole before any row
// (no header, missing columns, ...) or every record encoding/csv finds
// yields exactly one row, valid or invalid, at the line that record starts
// on; a valid row has a user and a segment, an invalid one a reason; and
// cutting the records into chunks of one record each changes nothing.
func FuzzCSV(f *testing.F) {
	seeds := []string{
		"user_id,seg_id\nu1,1\n",
		"\xEF\xBB\xBFUser_ID,SEG_ID,value\r\nu1,1,2\r\nu2,2,\r\n",
		"user_id,seg_code,member_id\n\"a,b\",\"c \"\"d\"\"\",1\n\"multi\nline\",x,2\n",
		"user_id,seg_id\nu1,\"unclosed\nu2,2\n",
		"user_id,seg_id\nu\"1,1\nu2,2\n",
		"user_id,seg_id,expiration\nu1,1\nu2,2,3,4\n\n\nu3,3,-1\n",
		"user_id,seg_id\n,\n \t,0x1F\nu,1.9\nu,0100\nu,99999999999999999999\n",
		"user_id,seg_id,domain\nu1,1,sha1mac\nu2,2,SH1UDID\nu3,3,email\n",
		"user_id;seg_id\nu1;1\n",
		"user_id,seg_id\r\nu1,1\ru2,2\r\n",
		"user_id,seg_id\nu\x00,1\n\xff\xfe,2\n",
		"",
		"\n\n",
		"user_id",
		"user_id,seg_id\n\"u1\"x\",1\nu2,\"2\nu3\",3\nu4,4\n",
		"user_id,seg_id\nu\"1,\"1\nu2\",2\r\n\"u\"\"3\r\n\"\"\",3\r\n",
		"user_id\tseg_id\n\"a\tb\"\t1\n\"c\"\t\"2\"\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, gzipMagic) || bytes.HasPrefix(data, parquetMagic) {
			return // not CSV: the reader decompresses or refuses these
		}
		rows, err := readRows(t, []string{Stdin}, Options{Stdin: bytes.NewReader(data)})
		// Records cut into chunks of one record each read the same.
		single, singleErr := readRows(t, []string{Stdin}, Options{Stdin: bytes.NewReader(data), chunkBytes: 1})
		if !reflect.DeepEqual(rows, single) || fmt.Sprint(err) != fmt.Sprint(singleErr) {
			t.Fatalf("a record to a chunk reads otherwise:\n got %+v, %v\nwant %+v, %v", single, singleErr, rows, err)
		}
		if err != nil {
			if len(rows) > 0 {
				t.Fatalf("error after %d rows: %v", len(rows), err)
			}
			return // the file is refused as a whole
		}

		want := recordLines(t, data)
		if len(rows) != len(want) {
			t.Fatalf("%d rows, want one per record: %d (records start at lines %v)", len(rows), len(want), want)
		}
		for i, row := range rows {
			if row.Pos.File != Stdin || row.Pos.Line != want[i] {
				t.Errorf("row %d at %v, want %s:%d", i, row.Pos, Stdin, want[i])
			}
			if row.Valid() && (row.UserID == "" || row.SegID == 0 && (row.SegCode == "" || row.MemberID == 0)) {
				t.Errorf("row %d is valid without a user or a segment: %+v", i, row)
			}
		}
	})
}

// recordLines lists the start line of every record after the header, as
// encoding/csv alone finds them.
func recordLines(t *testing.T, data []byte) []int64 {
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	if _, err := cr.Read(); err != nil {
		t.Fatalf("the reader accepted a header that encoding/csv refuses: %v", err)
	}
	var lines []int64
	for {
		_, err := cr.Read()
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			return lines
		case errors.As(err, &pe):
			lines = append(lines, int64(pe.StartLine))
		case err != nil:
			t.Fatalf("encoding/csv: %v", err)
		default:
			line, _ := cr.FieldPos(0)
			lines = append(lines, int64(line))
		}
	}
}

// damageable is a real input file to damage: its name, its bytes and its
// number of rows.
type damageable struct {
	name string
	data []byte
	rows int
}

// damageables are the inputs FuzzDamage damages: the same records as gzip
// CSV, as snappy Parquet with typed columns and as uncompressed Parquet
// with string columns, both in several row groups.
var damageables = sync.OnceValues(func() ([]damageable, error) {
	const n = 2000
	recs := slices.Collect(fixture.Sorted(n))
	var plain, gz, snappy, strs bytes.Buffer
	if err := fixture.WriteCSV(&plain, fixture.Of(recs)); err != nil {
		return nil, err
	}
	zw := gzip.NewWriter(&gz)
	zw.Write(plain.Bytes())
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := fixture.WriteParquet(&snappy, fixture.Of(recs), fixture.Parquet{Columns: fixture.TypedColumns(), RowGroupRows: 700, Snappy: true}); err != nil {
		return nil, err
	}
	if err := fixture.WriteParquet(&strs, fixture.Of(recs), fixture.Parquet{RowGroupRows: 700}); err != nil {
		return nil, err
	}
	return []damageable{
		{"rows.csv.gz", gz.Bytes(), n},
		{"rows.parquet", snappy.Bytes(), n},
		{"strings.parquet", strs.Bytes(), n},
	}, nil
})

// FuzzDamage damages real gzip CSV and Parquet files, as storage or a
// transfer would: four bytes overwritten at an offset, or the file cut
// short there. Reading the damaged file must give every row of the
// original and no error, or end in an *InputError naming the file: never
// fewer rows without an error, never a panic. The seeds damage each file
// in each of its first and last 24 bytes and at 60 offsets between, so
// that a plain go test tries them all.
func FuzzDamage(f *testing.F) {
	inputs, err := damageables()
	if err != nil {
		f.Fatal(err)
	}
	for i, in := range inputs {
		kind, size := uint8(i), len(in.data)
		var offsets []int
		for off := range min(24, size) {
			offsets = append(offsets, off, size-1-off)
		}
		for off := 24; off < size-24; off += size / 60 {
			offsets = append(offsets, off)
		}
		for j, off := range offsets {
			f.Add(kind, uint32(off), uint32(0xdeadbeef), false)
			if j%4 == 0 {
				f.Add(kind, uint32(off), uint32(0), true)
			}
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, kind uint8, off, value uint32, cut bool) {
		in := inputs[int(kind)%len(inputs)]
		at := int(off) % len(in.data)
		data := append([]byte(nil), in.data...)
		if cut {
			data = data[:at]
		} else {
			copy(data[at:], binary.BigEndian.AppendUint32(nil, value))
		}
		path := filepath.Join(dir, in.name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rows, err := readRows(t, []string{path}, Options{})
		if err == nil {
			if len(rows) != in.rows {
				t.Fatalf("%s damaged at %d (cut %v): %d rows and no error, want %d rows or an error", in.name, at, cut, len(rows), in.rows)
			}
			return
		}
		var ie *InputError
		if !errors.As(err, &ie) || ie.File != path || !strings.HasPrefix(err.Error(), path+": ") {
			t.Fatalf("%s damaged at %d (cut %v): error %q (%T), want an *InputError naming the file", in.name, at, cut, err, err)
		}
	})
}
