package reader

import (
	"fmt"
	"strings"
)

// MissingColumnError reports a file that lacks a column every row needs.
type MissingColumnError struct {
	File    string
	Missing string
	Found   []string
}

func (e *MissingColumnError) Error() string {
	return fmt.Sprintf("%s: missing column %q (found: %s)", e.File, e.Missing, strings.Join(e.Found, ", "))
}

// Hint tells how to map the column.
func (e *MissingColumnError) Hint() string {
	return fmt.Sprintf("map it with --columns %s=COLUMN", strings.SplitN(e.Missing, " ", 2)[0])
}

// requireColumns checks that the file can give every row a user and a
// segment; found are the file's own names, mapped the field names.
func requireColumns(file string, found, mapped []string, opts *Options) error {
	has := make(map[string]bool, len(mapped))
	for _, m := range mapped {
		has[m] = true
	}
	missing := ""
	switch {
	case !has["user_id"]:
		missing = "user_id"
	case !has["seg_id"] && !has["seg_code"]:
		missing = "seg_id or seg_code"
	case !has["seg_id"] && !has["member_id"] && opts.Defaults.MemberID == "":
		missing = "member_id"
	}
	if missing == "" {
		return nil
	}
	return &MissingColumnError{File: file, Missing: missing, Found: found}
}
