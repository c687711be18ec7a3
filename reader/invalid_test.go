package reader

import (
	"encoding/csv"
	"errors"
	"testing"
	"unsafe"
)

// TestRecordError checks that a malformed CSV record is an invalid row
// whose Err says what is wrong in the report's words and lets a caller
// find the rule (ErrMalformed) and encoding/csv's own error, with the lines
// of the file.
func TestRecordError(t *testing.T) {
	path := writeFile(t, "bad.csv", "user_id,seg_id\nu1,1\nu\"2,2\nu3\n")
	rows := mustRead(t, []string{path}, Options{})
	if len(rows) != 3 {
		t.Fatalf("read %d rows, want 3", len(rows))
	}
	tests := []struct {
		row    Row
		csvErr error
		line   int
		reason string
	}{
		{rows[1], csv.ErrBareQuote, 3,
			`malformed CSV record: a " in a field that is not quoted (line 3, column 2); quote the field and double the " inside it`},
		{rows[2], csv.ErrFieldCount, 4,
			"malformed CSV record: its number of fields differs from the header's 2"},
	}
	for _, tt := range tests {
		err := tt.row.Err
		var re *RecordError
		var pe *csv.ParseError
		switch {
		case tt.row.Valid():
			t.Errorf("row at %v is valid, want a malformed record", tt.row.Pos)
		case !errors.Is(err, ErrMalformed) || !errors.Is(err, tt.csvErr):
			t.Errorf("row at %v: Err %v does not wrap ErrMalformed and %v", tt.row.Pos, err, tt.csvErr)
		case !errors.As(err, &re) || re.Columns != 2:
			t.Errorf("row at %v: Err %#v, want a *RecordError for 2 columns", tt.row.Pos, err)
		case !errors.As(err, &pe) || pe.StartLine != tt.line:
			t.Errorf("row at %v: csv.ParseError %+v, want one starting on line %d", tt.row.Pos, pe, tt.line)
		case err.Error() != tt.reason:
			t.Errorf("row at %v: Err.Error() = %q, want %q", tt.row.Pos, err.Error(), tt.reason)
		}
		var fe *FieldError
		if errors.As(err, &fe) {
			t.Errorf("row at %v: a malformed record names the field %s", tt.row.Pos, fe.Field)
		}
	}
}

// TestFieldErrorKeepsNoBuffer checks that an invalid row's error holds its
// own copy of the value, not the reader's buffer, which the next record
// overwrites.
func TestFieldErrorKeepsNoBuffer(t *testing.T) {
	v := newValidator(Defaults{})
	buf := []byte("email")
	rec := record{{text: "u"}, {text: unsafe.String(&buf[0], len(buf))}, {text: "1"}}
	row := v.row(Position{}, &rec)
	copy(buf, "other")
	var fe *FieldError
	if !errors.As(row.Err, &fe) || fe.Value != "email" || !errors.Is(fe, ErrUnknownDomain) {
		t.Fatalf("Err = %#v, want a *FieldError for domain \"email\"", row.Err)
	}
}

// TestValidRowsAllocateNothing checks that validating a valid record of
// the user before costs no allocation: rows are read by the million.
func TestValidRowsAllocateNothing(t *testing.T) {
	v := newValidator(Defaults{Expiration: "1440"})
	rec := record{{text: idfa}, {text: "idfa"}, {text: "12"}, {}, {}, {text: "3"}, {}}
	v.row(Position{}, &rec)
	var row Row
	allocs := testing.AllocsPerRun(100, func() { row = v.row(Position{File: "f", Line: 2}, &rec) })
	if !row.Valid() {
		t.Fatalf("row invalid: %v", row.Err)
	}
	if allocs != 0 {
		t.Errorf("validating a valid row: %v allocations, want 0", allocs)
	}
}
