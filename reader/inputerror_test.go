package reader

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rtseg/rtseg/reader/internal/fixture"
)

func TestTrustedUpTo(t *testing.T) {
	errBad := errors.New("bad")
	tests := []struct {
		name string
		err  InputError
		want string
	}{
		{name: "plain CSV, rows delivered",
			err:  InputError{File: "b.csv", Previous: "a.csv", Last: Position{"b.csv", 1200}, Trusted: Position{"b.csv", 1200}, Err: errBad},
			want: "data is trustworthy up to b.csv:1200"},
		{name: "first file, no row delivered",
			err:  InputError{File: "a.csv", Err: errBad},
			want: "no data is trustworthy"},
		{name: "second file, no row delivered",
			err:  InputError{File: "b.csv", Previous: "a.csv", Err: errBad},
			want: "data is trustworthy up to the end of a.csv"},
		{name: "compressed, rows delivered",
			err:  InputError{File: "b.csv.gz", Previous: "a.csv", Last: Position{"b.csv.gz", 7000}, Compressed: true, Err: errBad},
			want: "data is trustworthy up to the end of a.csv: the rows read from b.csv.gz cannot be, since a compressed file is checked only at its end"},
		{name: "compressed first file",
			err:  InputError{File: "a.csv.gz", Last: Position{"a.csv.gz", 2}, Compressed: true, Err: errBad},
			want: "no data is trustworthy: the rows read from a.csv.gz cannot be, since a compressed file is checked only at its end"},
		{name: "Parquet, rows of the broken row group delivered",
			err:  InputError{File: "a.parquet", RowGroup: 2, Last: Position{"a.parquet", 1500}, Trusted: Position{"a.parquet", 1000}, Err: errBad},
			want: "data is trustworthy up to a.parquet:1000: the rows read from row group 2 of a.parquet cannot be, since a corrupt page can shift a column's values"},
		{name: "Parquet, first row group",
			err:  InputError{File: "a.parquet", RowGroup: 1, Last: Position{"a.parquet", 10}, Err: errBad},
			want: "no data is trustworthy: the rows read from row group 1 of a.parquet cannot be, since a corrupt page can shift a column's values"},
		{name: "standard input",
			err:  InputError{File: Stdin, Last: Position{Stdin, 3}, Trusted: Position{Stdin, 3}, Err: errBad},
			want: "data is trustworthy up to standard input:3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.TrustedUpTo(); got != tt.want {
				t.Errorf("TrustedUpTo() = %q, want %q", got, tt.want)
			}
		})
	}
}

// inputErrorOf reads every row of the inputs and returns the *InputError
// that ends the reading, failing the test unless there is one.
func inputErrorOf(t *testing.T, inputs []string, opts Options) ([]Row, *InputError) {
	t.Helper()
	rows, err := readRows(t, inputs, opts)
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("read %v: %d rows, error %v; want an *InputError", inputs, len(rows), err)
	}
	return rows, ie
}

// A plain CSV stream that fails after some rows: the rows delivered can be
// trusted.
func TestInputErrorPlainCSV(t *testing.T) {
	errDisk := errors.New("disk on fire")
	in := io.MultiReader(strings.NewReader("user_id,seg_id\n1,1\n2,2\n"), iotest.ErrReader(errDisk))
	rows, ie := inputErrorOf(t, []string{Stdin}, Options{Stdin: in})
	if len(rows) != 2 {
		t.Errorf("%d rows before the error, want 2", len(rows))
	}
	want := InputError{File: Stdin, Last: Position{Stdin, 3}, Trusted: Position{Stdin, 3}}
	if ie.File != want.File || ie.Last != want.Last || ie.Trusted != want.Trusted || ie.Compressed || ie.Previous != "" {
		t.Errorf("error %+v, want %+v", *ie, want)
	}
	if !errors.Is(ie, errDisk) || ie.Error() != "standard input: unreadable after line 3: disk on fire" {
		t.Errorf("error %q, want it to wrap the cause", ie)
	}
	if got, want := ie.TrustedUpTo(), "data is trustworthy up to standard input:3"; got != want {
		t.Errorf("TrustedUpTo() = %q, want %q", got, want)
	}
}

// A gzip file cut short after a good file: rows came out of it before its
// end, but none can be trusted.
func TestInputErrorTruncatedGzip(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	os.WriteFile(a, []byte("user_id,seg_id\n1,1\n"), 0o644)
	var csv, z bytes.Buffer
	if err := fixture.WriteCSV(&csv, fixture.Sorted(20000)); err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(&z)
	zw.Write(csv.Bytes())
	zw.Close()
	b := filepath.Join(dir, "b.csv.gz")
	os.WriteFile(b, z.Bytes()[:z.Len()/2], 0o644)

	rows, ie := inputErrorOf(t, []string{a, b}, Options{})
	if ie.File != b || ie.Previous != a || !ie.Compressed || ie.Trusted.Line != 0 || ie.Last.File != b || ie.Last.Line < 2 {
		t.Errorf("error %+v, want one about %s after %s, compressed, with rows delivered and none trusted", *ie, b, a)
	}
	if n := len(rows); n < 2 || rows[n-1].Pos != ie.Last {
		t.Errorf("last row delivered at %v, error says %v", rows[n-1].Pos, ie.Last)
	}
	// NextBatch says the same.
	r, err := Open([]string{a, b}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var last Position
	batch := make([]Row, 0, 1000)
	for err == nil {
		batch, err = r.NextBatch(batch[:0])
		if len(batch) > 0 {
			last = batch[len(batch)-1].Pos
		}
	}
	var batchErr *InputError
	if !errors.As(err, &batchErr) || batchErr.Last != last || last != ie.Last {
		t.Errorf("NextBatch: last row %v, error %+v; want both at %v", last, batchErr, ie.Last)
	}
	if !errors.Is(ie, io.ErrUnexpectedEOF) || !strings.HasPrefix(ie.Error(), b+": unreadable after line ") {
		t.Errorf("error %q, want it to name the file and say it ends early", ie)
	}
	want := "data is trustworthy up to the end of " + a + ": the rows read from " + b + " cannot be, since a compressed file is checked only at its end"
	if got := ie.TrustedUpTo(); got != want {
		t.Errorf("TrustedUpTo() = %q, want %q", got, want)
	}
}

// Errors before any row, and a missing column, are *InputErrors too: the
// hint of the error they wrap is still found.
func TestInputErrorBeforeRows(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.csv")
	os.WriteFile(a, []byte("user_id,seg_id\n1,1\n"), 0o644)
	b := filepath.Join(dir, "b.csv")
	os.WriteFile(b, []byte("uid,seg_id\n1,1\n"), 0o644)
	_, ie := inputErrorOf(t, []string{a, b}, Options{})
	var mc *MissingColumnError
	if !errors.As(ie, &mc) || mc.Hint() != "map it with --columns user_id=COLUMN" {
		t.Errorf("error %v does not carry the missing column's hint", ie)
	}
	if ie.Previous != a || ie.Last.Line != 0 || ie.TrustedUpTo() != "data is trustworthy up to the end of "+a {
		t.Errorf("error %+v: TrustedUpTo() = %q", *ie, ie.TrustedUpTo())
	}

	empty := filepath.Join(dir, "empty.csv")
	os.WriteFile(empty, nil, 0o644)
	_, ie = inputErrorOf(t, []string{empty}, Options{})
	if !errors.Is(ie, ErrEmpty) || ie.Error() != empty+": file is empty (no header line)" {
		t.Errorf("error %q, want ErrEmpty naming the file", ie)
	}
}
