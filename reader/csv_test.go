package reader

import (
	"bytes"
	"compress/gzip"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestCSVHeader(t *testing.T) {
	tests := []struct {
		name    string
		content string
		opts    Options
		want    Row    // the first row, without its position
		err     string // the whole error, if any
		hint    string
	}{
		{name: "case and space ignored", content: " User_ID ,SEG_ID\n1001,5\n",
			want: Row{UserID: "1001", SegID: 5}},
		{name: "any order, extra columns ignored", content: "ts,seg_id,note,user_id,value\n2024,5,hi,1001,3\n",
			want: Row{UserID: "1001", SegID: 5, Value: 3, HasValue: true}},
		{name: "mapped columns", content: "uid,segment,user_id\n1001,5,ignored\n",
			opts: Options{Columns: map[string]string{"user_id": "UID", "seg_id": "segment"}},
			want: Row{UserID: "1001", SegID: 5}},
		{name: "columns swapped", content: "user_id,seg_id\n5,1001\n",
			opts: Options{Columns: map[string]string{"user_id": "seg_id", "seg_id": "user_id"}},
			want: Row{UserID: "1001", SegID: 5}},
		{name: "member_id from a default", content: "user_id,seg_code\n1001,c\n",
			opts: Options{Defaults: Defaults{MemberID: "7"}},
			want: Row{UserID: "1001", SegCode: "c", MemberID: 7}},
		{name: "missing user_id", content: "uid,seg_id\n1001,5\n",
			err:  `in.csv: missing column "user_id" (found: uid, seg_id)`,
			hint: "map it with --columns user_id=COLUMN"},
		{name: "missing segment", content: "user_id,segment\n1001,5\n",
			err:  `in.csv: missing column "seg_id" or "seg_code" (found: user_id, segment)`,
			hint: "map it with --columns seg_id=COLUMN"},
		{name: "seg_code without member_id", content: "user_id,seg_code\n1001,c\n",
			err:  `in.csv: missing column "member_id" (found: user_id, seg_code)`,
			hint: "map it with --columns member_id=COLUMN"},
		{name: "mapped column absent", content: "user_id,seg_id\n1001,5\n",
			opts: Options{Columns: map[string]string{"user_id": "uid"}},
			err:  `in.csv: missing column "uid", which --columns maps to user_id (found: user_id, seg_id)`,
			hint: "check the column name given to --columns (names match ignoring case)"},
		{name: "optional mapped column absent", content: "user_id,seg_id\n1001,5\n",
			opts: Options{Columns: map[string]string{"value": "score"}},
			err:  `in.csv: missing column "score", which --columns maps to value (found: user_id, seg_id)`,
			hint: "check the column name given to --columns (names match ignoring case)"},
		{name: "two columns for one field", content: "user_id,seg_id,USER_ID\n1001,5,1002\n",
			err: `in.csv: columns "user_id" and "USER_ID" both give user_id; keep one of them`},
		{name: "semicolons read with commas", content: "user_id;seg_id\n1001;5\n",
			err:  `in.csv: missing column "user_id" (found: user_id;seg_id)`,
			hint: `the header reads as a single column: if its fields are separated by ";", use --delimiter ';'`},
		{name: "tabs read with semicolons", content: "user_id\tseg_id\n1001\t5\n",
			opts: Options{Delimiter: ';'},
			err:  `in.csv: missing column "user_id" (found: "user_id\tseg_id")`,
			hint: `the header reads as a single column: if its fields are separated by tabs, use --delimiter '\t'`},
		{name: "commas read with semicolons", content: "user_id,seg_id\n1001,5\n",
			opts: Options{Delimiter: ';'},
			err:  `in.csv: missing column "user_id" (found: user_id,seg_id)`,
			hint: `the header reads as a single column: if its fields are separated by ",", use --delimiter ','`},
		{name: "semicolons", content: "user_id;seg_id\n1001;5\n", opts: Options{Delimiter: ';'},
			want: Row{UserID: "1001", SegID: 5}},
		{name: "tabs", content: "user_id\tseg_id\n1001\t5\n", opts: Options{Delimiter: '\t'},
			want: Row{UserID: "1001", SegID: 5}},
		{name: "control characters in the header", content: "user\aid,,seg_id\n1001,,5\n",
			err:  `in.csv: missing column "user_id" (found: "user\aid", "", seg_id)`,
			hint: "the header is not text: check that the file is CSV or TSV, plain or compressed with gzip, zstd or bzip2"},
		{name: "binary with a semicolon", content: "\x00\x01binary;stuff\x02\n1001\n",
			err:  `in.csv: missing column "user_id" (found: "\x00\x01binary;stuff\x02")`,
			hint: "the header is not text: check that the file is CSV or TSV, plain or compressed with gzip, zstd or bzip2"},
		{name: "not UTF-8", content: "user_id\xff;seg_id\n1001;5\n",
			err:  `in.csv: missing column "user_id" (found: "user_id\xff;seg_id")`,
			hint: "the header is not text: check that the file is CSV or TSV, plain or compressed with gzip, zstd or bzip2"},
		{name: "malformed header", content: "user_id,se\"g_id\n1001,5\n",
			err: `in.csv: malformed header: a " in a field that is not quoted (line 1, column 11); quote the field and double the " inside it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "in.csv", tt.content)
			rows, err := readRows(t, []string{path}, tt.opts)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("read %q: no error, want %q", tt.content, tt.err)
				}
				if got := strings.ReplaceAll(err.Error(), path, "in.csv"); got != tt.err {
					t.Errorf("read %q: error\n%s\nwant\n%s", tt.content, got, tt.err)
				}
				var h interface{ Hint() string }
				hint := ""
				if errors.As(err, &h) {
					hint = h.Hint()
				}
				if hint != tt.hint {
					t.Errorf("read %q: hint %q, want %q", tt.content, hint, tt.hint)
				}
				return
			}
			if err != nil {
				t.Fatalf("read %q: %v", tt.content, err)
			}
			if len(rows) != 1 {
				t.Fatalf("read %q: %d rows, want 1", tt.content, len(rows))
			}
			tt.want.Pos = Position{File: path, Line: 2}
			if rows[0] != tt.want {
				t.Errorf("read %q:\n%+v, want\n%+v", tt.content, rows[0], tt.want)
			}
		})
	}
}

// TestCSVLines checks that each row carries the line its record starts on,
// whatever comes before it: a BOM, CRLF line ends, quoted newlines, blank
// lines, malformed records.
func TestCSVLines(t *testing.T) {
	content := "\xEF\xBB\xBFuser_id,seg_id,note\r\n" + // 1
		"1002,2,plain\r\n" + // 2
		"1003,3,\"two\r\nlines\"\r\n" + // 3-4
		"1005,5,\"a, \"\"quoted\"\" comma\"\r\n" + // 5
		"\r\n" + // 6: blank, skipped
		"\"1007\",\"7\",\"three\nlines\nhere\"\r\n" + // 7-9
		"1010,10,bad \" quote\r\n" + // 10: malformed
		"1011,11\r\n" + // 11: too few fields
		"1012,12,fine\r\n" + // 12
		"1013,13,\"unclosed\r\n1014,14,x\r\n" // 13-14: a quote left open runs to the end
	path := writeFile(t, "lines.csv", content)
	got := briefs(mustRead(t, []string{path}, Options{}))
	want := []brief{
		{Line: 2, UserID: "1002", SegID: 2},
		{Line: 3, UserID: "1003", SegID: 3},
		{Line: 5, UserID: "1005", SegID: 5},
		{Line: 7, UserID: "1007", SegID: 7},
		{Line: 10, Reason: `malformed CSV record: a " in a field that is not quoted (line 10, column 13); quote the field and double the " inside it`},
		{Line: 11, Reason: "malformed CSV record: its number of fields differs from the header's 3"},
		{Line: 12, UserID: "1012", SegID: 12},
		{Line: 13, Reason: `malformed CSV record: a quoted field is not closed properly (line 14, column 11): a quote left open, or a " inside quotes that is not doubled`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows of %q:\n%+v\nwant\n%+v", content, got, want)
	}
}

func TestCSVGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("user_id,seg_id\n1001,1\n1002,2\n"))
	zw.Close()
	want := []brief{{Line: 2, UserID: "1001", SegID: 1}, {Line: 3, UserID: "1002", SegID: 2}}
	for _, name := range []string{"in.csv.gz", "in.csv", "in.dat"} {
		path := writeFile(t, name, buf.String())
		if got := briefs(mustRead(t, []string{path}, Options{})); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rows %+v, want %+v", name, got, want)
		}
	}

	truncated := writeFile(t, "cut.csv.gz", buf.String()[:buf.Len()-12])
	_, err := readRows(t, []string{truncated}, Options{})
	if err == nil || !strings.Contains(err.Error(), truncated) || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated gzip: error %v, want one naming %s and saying it is truncated", err, truncated)
	}
}

func TestCSVStdin(t *testing.T) {
	opts := Options{Stdin: strings.NewReader("user_id,seg_id\n1001,1\n")}
	got := mustRead(t, []string{Stdin}, opts)
	want := Row{Pos: Position{File: "-", Line: 2}, UserID: "1001", SegID: 1}
	if len(got) != 1 || got[0] != want {
		t.Errorf("rows from stdin %+v, want [%+v]", got, want)
	}

	if _, err := Open([]string{Stdin, Stdin}, Options{}); err == nil {
		t.Errorf("Open(-, -): no error, want one: standard input can be read once")
	}
}

func TestCSVEmpty(t *testing.T) {
	tests := []struct {
		name, content string
		err           error
	}{
		{name: "empty", content: "", err: ErrEmpty},
		{name: "only a BOM", content: "\xEF\xBB\xBF", err: ErrEmpty},
		{name: "only blank lines", content: "\n\r\n\n", err: ErrEmpty},
		{name: "header only", content: "user_id,seg_id\n"},
		{name: "header only, no newline", content: "user_id,seg_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "in.csv", tt.content)
			rows, err := readRows(t, []string{path}, Options{})
			if !errors.Is(err, tt.err) {
				t.Fatalf("read %q: error %v, want %v", tt.content, err, tt.err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), path+": ") {
				t.Errorf("read %q: error %q does not start with the file name", tt.content, err)
			}
			if len(rows) != 0 {
				t.Errorf("read %q: %d rows, want none", tt.content, len(rows))
			}
		})
	}
}

func TestCSVUTF16(t *testing.T) {
	path := writeFile(t, "in.csv", "\xFF\xFEu\x00,\x00")
	_, err := readRows(t, []string{path}, Options{})
	if err == nil || !strings.Contains(err.Error(), "UTF-16") {
		t.Errorf("read UTF-16: error %v, want one saying the file is UTF-16", err)
	}
}

// A gzip file of something else than CSV gets no hint about delimiters.
func TestCSVGzipGarbage(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("\x00\x01binary;stuff\x02\x03\nmore\x07garbage\n"))
	zw.Close()
	path := writeFile(t, "garbage.csv.gz", z.String())
	_, err := readRows(t, []string{path}, Options{})
	var mc *MissingColumnError
	if !errors.As(err, &mc) || mc.Delimiter != 0 || !mc.Binary {
		t.Fatalf("read gzip garbage: error %v, want a missing column in a header that is not text", err)
	}
	if want := path + `: missing column "user_id" (found: "\x00\x01binary;stuff\x02\x03")`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if want := "the header is not text: check that the file is CSV or TSV, plain or compressed with gzip, zstd or bzip2"; mc.Hint() != want {
		t.Errorf("hint %q, want %q", mc.Hint(), want)
	}
}

// A file name with a control character is quoted in messages.
func TestFileNameQuoted(t *testing.T) {
	path := writeFile(t, "in\x1b[31m.csv", "uid,seg_id\n1,1\n")
	_, err := readRows(t, []string{path}, Options{})
	if want := strconv.Quote(path) + `: missing column "user_id" (found: uid, seg_id)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// TestCSVRecordTooLong checks that a quote left open ends the run with a
// clear error instead of reading the rest of the file into one field.
func TestCSVRecordTooLong(t *testing.T) {
	var b strings.Builder
	b.WriteString("user_id,seg_id\n1001,1\n1002,\"2\n")
	line := strings.Repeat("x", 99) + "\n"
	for b.Len() < MaxRecordBytes+(1<<20) {
		b.WriteString(line)
	}
	path := writeFile(t, "open.csv", b.String())
	rows, err := readRows(t, []string{path}, Options{})
	want := path + ": the record after line 2 is longer than 8 MiB: is a quote left open?"
	if err == nil || err.Error() != want {
		t.Fatalf("read a quote left open: error %v, want %q", err, want)
	}
	if len(rows) != 1 {
		t.Errorf("read a quote left open: %d rows before the error, want 1", len(rows))
	}

	long := writeFile(t, "long.csv", strings.Repeat("x", MaxRecordBytes+(1<<20)))
	_, err = readRows(t, []string{long}, Options{})
	if want := long + ": read header: no line break in the first 8 MiB: is this a CSV file?"; err == nil || err.Error() != want {
		t.Errorf("read a file without line breaks: error %v, want %q", err, want)
	}
}
