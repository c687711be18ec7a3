package reader

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseColumns(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		err  string
	}{
		{"", nil, ""},
		{"user_id=uid", map[string]string{"user_id": "uid"}, ""},
		{" User_ID = uid , seg_id=segment", map[string]string{"user_id": "uid", "seg_id": "segment"}, ""},
		{"user_id", nil, `--columns "user_id": want FIELD=COLUMN pairs separated by commas`},
		{"user_id=", nil, "want FIELD=COLUMN pairs"},
		{"=uid", nil, "want FIELD=COLUMN pairs"},
		{"userid=uid", nil, `--columns: unknown field "userid" (fields: user_id, domain, seg_id, seg_code, member_id, value, expiration)`},
	} {
		got, err := ParseColumns(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseColumns(%q) = %v, want an error saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseColumns(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
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
	opts := Options{Stdin: strings.NewReader("user_id,seg_id\nu1,1\nu2,2\n")}
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
		if strings.Join(users, ",") != "u1,u2" {
			t.Errorf("reading %d: rows of %v, want u1,u2", round+1, users)
		}
	}
	if _, err := (&Options{}).KeepStdin([]string{"in.csv"}, "/nowhere"); err != nil {
		t.Errorf("KeepStdin without standard input among the inputs = %v, want nothing done", err)
	}
}
