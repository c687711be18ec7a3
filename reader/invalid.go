package reader

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The rules a row can break. An invalid row's Err wraps one of them, so
// that callers can tell rows apart with errors.Is; its Error method gives
// the sentence the report shows.
var (
	// ErrMissing: a field every row needs is absent: user_id, a segment,
	// or the member_id a seg_code needs.
	ErrMissing = errors.New("required field is missing")
	// ErrTooLong: user_id past MaxUserIDBytes, seg_code past
	// MaxSegCodeChars.
	ErrTooLong = errors.New("field is too long")
	// ErrNotUTF8: text that is not valid UTF-8.
	ErrNotUTF8 = errors.New("field is not valid UTF-8")
	// ErrControl: text holding a control character.
	ErrControl = errors.New("field contains a control character")
	// ErrDeprecatedDomain: the domain sha1mac, which the service no longer
	// accepts.
	ErrDeprecatedDomain = errors.New("domain is deprecated")
	// ErrUnknownDomain: a domain the service does not know.
	ErrUnknownDomain = errors.New("domain is unknown")
	// ErrBothSegIDAndCode: a row naming its segment twice, by seg_id and by
	// seg_code.
	ErrBothSegIDAndCode = errors.New("seg_id and seg_code are both given")
	// ErrNotWhole: a number field that is not a base-10 whole number.
	ErrNotWhole = errors.New("field is not a whole number")
	// ErrOutOfRange: a whole number outside its field's range.
	ErrOutOfRange = errors.New("field is out of range")
	// ErrUserIDShape: a user_id without the shape of its domain's IDs
	// (see CheckUserID); the row's Err is then a *FieldError wrapping a
	// *UserIDError.
	ErrUserIDShape = errors.New("user_id does not have its domain's shape")
	// ErrMalformed: a record that cannot be read as fields (a stray
	// quote, a quote left open, the wrong number of fields).
	ErrMalformed = errors.New("malformed record")
)

// FieldError is why a row is invalid: the field that breaks a rule, and the
// rule, one of the sentinels above.
type FieldError struct {
	// Field is the field's name, one of FieldNames.
	Field string
	// Value is the field's text as it was checked: trimmed, its default
	// applied.
	Value string
	// Err is the rule broken.
	Err error
}

// Error says in a sentence what is wrong and, where it helps, how to fix it.
func (e *FieldError) Error() string {
	switch {
	case errors.Is(e.Err, ErrMissing):
		switch e.Field {
		case fieldNames[fUserID]:
			return "user_id is empty"
		case fieldNames[fMemberID]:
			return "seg_code needs a member_id (a column or --member-id)"
		case fieldNames[fSegID], fieldNames[fSegCode]:
			return "no segment: give seg_id, or seg_code with member_id"
		}
		return e.Field + " is empty"
	case errors.Is(e.Err, ErrTooLong):
		if e.Field == fieldNames[fUserID] {
			return fmt.Sprintf("user_id is %d bytes long, more than the %d allowed", len(e.Value), MaxUserIDBytes)
		}
		return fmt.Sprintf("%s is %d characters long, more than the %d allowed", e.Field, utf8.RuneCountInString(e.Value), MaxSegCodeChars)
	case errors.Is(e.Err, ErrNotUTF8):
		return e.Field + " is not valid UTF-8"
	case errors.Is(e.Err, ErrUserIDShape):
		return e.Err.Error()
	case errors.Is(e.Err, ErrControl):
		return e.Field + " contains a control character"
	case errors.Is(e.Err, ErrDeprecatedDomain):
		return `domain "sha1mac" is deprecated (since 2019) and no longer accepted`
	case errors.Is(e.Err, ErrUnknownDomain):
		return fmt.Sprintf("domain %q is not one of idfa, sha1udid, md5udid, openudid, aaid (or empty for a Xandr user ID)", e.Value)
	case errors.Is(e.Err, ErrBothSegIDAndCode):
		return "seg_id and seg_code are both given; give one of them"
	case errors.Is(e.Err, ErrNotWhole):
		return fmt.Sprintf("%s %q is not a whole number", e.Field, e.Value)
	case errors.Is(e.Err, ErrOutOfRange):
		if e.Field == fieldNames[fExpiration] {
			return fmt.Sprintf("expiration %q is not -1 (remove), 0 (never expires) or 1 to %d minutes (180 days)", e.Value, MaxExpiration)
		}
		// A number is shown as read, unless it overflows int64.
		shown := e.Value
		if n, err := strconv.ParseInt(e.Value, 10, 64); err == nil {
			shown = strconv.FormatInt(n, 10)
		}
		if f := fieldIndex(e.Field); f >= 0 {
			return fmt.Sprintf("%s %s is out of range (%s)", e.Field, shown, rangeText(intRanges[f].lo, intRanges[f].hi))
		}
		return fmt.Sprintf("%s %s is out of range", e.Field, shown)
	}
	return fmt.Sprintf("%s %q: %v", e.Field, e.Value, e.Err)
}

// Unwrap returns the rule broken.
func (e *FieldError) Unwrap() error { return e.Err }

// RecordError is a CSV record that could not be read as fields. It wraps
// ErrMalformed and the encoding/csv error, whose lines count from the start
// of the file.
type RecordError struct {
	// Columns is the header's number of fields.
	Columns int
	// Err is what encoding/csv found, usually a *csv.ParseError.
	Err error
}

// Error says what is wrong with the record and how to fix it.
func (e *RecordError) Error() string {
	var pe *csv.ParseError
	switch {
	case errors.Is(e.Err, csv.ErrFieldCount):
		return fmt.Sprintf("malformed CSV record: its number of fields differs from the header's %d", e.Columns)
	case errors.As(e.Err, &pe):
		return "malformed CSV record: " + parseProblem(pe)
	}
	return "malformed CSV record: " + e.Err.Error()
}

// Unwrap returns ErrMalformed and the encoding/csv error.
func (e *RecordError) Unwrap() []error { return []error{ErrMalformed, e.Err} }
