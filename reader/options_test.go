package reader

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseColumns(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want map[string]string
		err  string // the whole error, if any
	}{
		{in: []string{""}},
		{in: nil},
		{in: []string{"user_id=uid"}, want: map[string]string{"user_id": "uid"}},
		{in: []string{" User_ID = uid , seg_id=segment"}, want: map[string]string{"user_id": "uid", "seg_id": "segment"}},
		{in: []string{"user_id"}, err: `--columns "user_id": want FIELD=COLUMN pairs separated by commas`},
		{in: []string{"user_id="}, err: `--columns "user_id=": want FIELD=COLUMN pairs separated by commas`},
		{in: []string{"=uid"}, err: `--columns "=uid": want FIELD=COLUMN pairs separated by commas`},
		{in: []string{"userid=uid"}, err: `--columns: unknown field "userid" (fields: user_id, domain, seg_id, seg_code, member_id, value, expiration)`},
		// A repeated flag adds to the mapping.
		{in: []string{"user_id=uid", "seg_id=segment", ""}, want: map[string]string{"user_id": "uid", "seg_id": "segment"}},
		// One field, two columns.
		{in: []string{"user_id=a,user_id=b"}, err: `--columns: user_id is mapped twice, to "a" and to "b"; map each field to one column`},
		{in: []string{"user_id=a", "USER_ID=b"}, err: `--columns: user_id is mapped twice, to "a" and to "b"; map each field to one column`},
		{in: []string{"user_id=a", "user_id=A "}, want: map[string]string{"user_id": "A"}},
		// Two fields, one column.
		{in: []string{"user_id=uid,seg_id=uid"}, err: `--columns: user_id and seg_id are both mapped to column "uid"; a column gives one field`},
		{in: []string{"seg_id=UID", "user_id=uid"}, err: `--columns: user_id and seg_id are both mapped to column "UID"; a column gives one field`},
		// A column that gives another field by its name.
		{in: []string{"value=seg_id"}, err: `--columns: value is mapped to column "seg_id", which gives seg_id by its name; map seg_id to another column too (seg_id=COLUMN), or value to another column`},
		{in: []string{"value=Seg_ID"}, err: `--columns: value is mapped to column "Seg_ID", which gives seg_id by its name; map seg_id to another column too (seg_id=COLUMN), or value to another column`},
		{in: []string{"value=seg_id,seg_id=segment"}, want: map[string]string{"value": "seg_id", "seg_id": "segment"}},
		{in: []string{"user_id=seg_id", "seg_id=user_id"}, want: map[string]string{"user_id": "seg_id", "seg_id": "user_id"}},
		{in: []string{"user_id=USER_ID"}, want: map[string]string{"user_id": "USER_ID"}},
	} {
		got, err := ParseColumns(tc.in...)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseColumns(%q) = %v, want error %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseColumns(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// Open refuses a mapping of fields to columns that ParseColumns would.
func TestOpenChecksColumns(t *testing.T) {
	path := writeFile(t, "in.csv", "user_id,seg_id,value\n1,2,3\n")
	for _, tc := range []struct {
		columns map[string]string
		err     string
	}{
		{map[string]string{"value": "seg_id"}, `--columns: value is mapped to column "seg_id", which gives seg_id by its name; map seg_id to another column too (seg_id=COLUMN), or value to another column`},
		{map[string]string{"user_id": "x", "seg_id": "X"}, `--columns: user_id and seg_id are both mapped to column "X"; a column gives one field`},
		{map[string]string{"User_ID": "x"}, `--columns: unknown field "User_ID" (fields: user_id, domain, seg_id, seg_code, member_id, value, expiration)`},
	} {
		if _, err := Open([]string{path}, Options{Columns: tc.columns}); err == nil || err.Error() != tc.err {
			t.Errorf("Open with columns %v: error %v, want %q", tc.columns, err, tc.err)
		}
	}
}

func TestParseDelimiter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want rune
		ok   bool
	}{{"", 0, true}, {",", 0, true}, {";", ';', true}, {`\t`, '\t', true}, {"tab", '\t', true}, {"\t", '\t', true}, {"|", '|', true}, {"ab", 0, false}, {"é", 'é', true}} {
		got, err := ParseDelimiter(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDelimiter(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestDefaultsCheck(t *testing.T) {
	if err := (Defaults{Domain: "idfa", Expiration: "1440", Value: "3"}).Check(); err != nil {
		t.Errorf("good defaults: Check() = %v", err)
	}
	err := Defaults{Expiration: "forever"}.Check()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "expiration" || !strings.HasPrefix(err.Error(), "default from flags: ") {
		t.Errorf("a bad --expiration: Check() = %v, want a FieldError for expiration", err)
	}
	err = Defaults{Remove: true, Expiration: "1440"}.Check()
	if err == nil || !strings.Contains(err.Error(), "--remove and --expiration cannot be used together") {
		t.Errorf("--remove with --expiration: Check() = %v, want them refused together", err)
	}
	if err := (Defaults{Remove: true}).Check(); err != nil {
		t.Errorf("--remove alone: Check() = %v", err)
	}
}

func TestKeepStdinReadsTwice(t *testing.T) {
	opts := Options{Stdin: strings.NewReader("user_id,seg_id\n1001,1\n1002,2\n")}
	release, err := opts.KeepStdin([]string{Stdin}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for round := range 2 {
		r, err := Open([]string{Stdin}, opts)
		if err != nil {
			t.Fatal(err)
		}
		var users []string
		for {
			row, err := r.Next()
			if err != nil {
				break
			}
			users = append(users, row.UserID)
		}
		r.Close()
		if strings.Join(users, ",") != "1001,1002" {
			t.Errorf("reading %d: rows of %v, want 1001,1002", round+1, users)
		}
	}
	if _, err := (&Options{}).KeepStdin([]string{"in.csv"}, "/nowhere"); err != nil {
		t.Errorf("KeepStdin without standard input among the inputs = %v, want nothing done", err)
	}
}
