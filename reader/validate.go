package reader

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a row's fields, from the service's documentation.
const (
	MaxUserIDBytes   = 256
	MaxSegCodeChars  = 50
	MaxExpiration    = 259200 // 180 days in minutes
	ExpirationNever  = 0
	ExpirationRemove = -1
)

// Domains, as the service spells them. The docs also spell sha1udid as
// "sh1udid"; both are accepted and sent as "sha1udid".
const (
	domainIDFA       = "idfa"
	domainSHA1UDID   = "sha1udid"
	domainSH1UDID    = "sh1udid"
	domainMD5UDID    = "md5udid"
	domainOpenUDID   = "openudid"
	domainAAID       = "aaid"
	domainDeprecated = "sha1mac"
)

// canonicalDomain returns the domain as it is sent (a constant, so that rows
// do not each hold a copy) and whether it is accepted.
func canonicalDomain(d string) (string, bool) {
	switch strings.ToLower(d) {
	case "":
		return "", true
	case domainIDFA:
		return domainIDFA, true
	case domainSHA1UDID, domainSH1UDID:
		return domainSHA1UDID, true
	case domainMD5UDID:
		return domainMD5UDID, true
	case domainOpenUDID:
		return domainOpenUDID, true
	case domainAAID:
		return domainAAID, true
	}
	return "", false
}

// Defaults fill fields that a row leaves empty or that its file lacks.
type Defaults struct {
	Domain     string
	MemberID   string
	Value      string
	Expiration string
	// Remove makes every row remove its user from its segment.
	Remove bool
	// LenientIDs turns off the check that a user ID has its domain's
	// shape (CheckUserID), for members with IDs of their own.
	LenientIDs bool
}

// Validate checks one record's fields against the rules of SPEC §3 and returns
// the row, valid or carrying the reason it is not. Fields are trimmed of
// surrounding space; an empty field is absent and takes its default.
func Validate(pos Position, raw Fields, d Defaults) Row {
	v := newValidator(d)
	var rec record
	for f, text := range raw.Values() {
		rec[f].text = text
	}
	return v.row(pos, &rec)
}

// cell is one field of a record as read: text (CSV, Parquet strings) or an
// integer (Parquet integer, decimal and floating-point columns). The zero
// cell is absent (an empty CSV field, a null). A number that no integer
// field can take (12.5, NaN, 1e30) is its text and the rule it breaks,
// ErrNotWhole or ErrOutOfRange, in err.
type cell struct {
	text  string
	num   int64
	isNum bool
	err   error
}

// String gives the cell as text, as a report shows it.
func (c cell) String() string {
	if c.isNum {
		return strconv.FormatInt(c.num, 10)
	}
	return c.text
}

// trimmed returns the cell without the space around its text.
func (c cell) trimmed() cell {
	if !c.isNum {
		c.text = strings.TrimSpace(c.text)
	}
	return c
}

// present reports whether a trimmed cell holds a value.
func (c cell) present() bool { return c.isNum || c.text != "" }

// record is the fields of one input record, in report order.
type record [numFields]cell

// fields returns a copy of the record as text, for the report of an
// invalid row.
func (r *record) fields() Fields {
	var fs Fields
	for f, c := range r {
		*fs.at(f) = strings.Clone(c.String())
	}
	return fs
}

// validator turns records into rows. Strings a valid row keeps are copied,
// so that a row never pins a reader's buffer (a CSV line, an Arrow batch);
// consecutive rows of one user share one copy of the user ID.
type validator struct {
	defaults Defaults
	// def holds the defaults as trimmed cells, by field.
	def record
	// lastUID and lastDomain are the user of the last valid row.
	lastUID, lastDomain string
	// fill holds the values a file's partitions give, by field, and
	// filling whether there are any.
	partFill record
	filling  bool
}

// fillWith has the validator fill a record's empty cells with the cells
// of fill (a file's partitions) before anything else, as if the record
// held them: an invalid row's fields show them, and --failed keeps them.
func (v *validator) fillWith(fill record) {
	v.partFill = fill
	for _, c := range fill {
		v.filling = v.filling || c.present()
	}
}

func newValidator(d Defaults) validator {
	v := validator{defaults: d}
	v.def[fDomain] = cell{text: strings.TrimSpace(d.Domain)}
	v.def[fMemberID] = cell{text: strings.TrimSpace(d.MemberID)}
	v.def[fValue] = cell{text: strings.TrimSpace(d.Value)}
	v.def[fExpiration] = cell{text: strings.TrimSpace(d.Expiration)}
	return v
}

// row validates one record. The record's cells may point into buffers that
// the next read overwrites.
func (v *validator) row(pos Position, rec *record) Row {
	if v.filling {
		filled := *rec
		for f, c := range v.partFill {
			if c.present() && !filled[f].trimmed().present() {
				filled[f] = c
			}
		}
		rec = &filled
	}
	var t record
	for f, c := range rec {
		t[f] = c.trimmed()
		if !t[f].present() {
			t[f] = v.def[f]
		}
	}
	row := Row{Pos: pos}
	if err := v.fill(&row, &t); err != nil {
		raw := rec.fields()
		bad := Row{Pos: pos, Err: err, Raw: &raw}
		bad.Domain, bad.UserID = v.userOf(&t, err)
		return bad
	}
	return row
}

// userOf returns the user of an invalid row, as a valid row would name
// it, if the row broke no rule of its user_id and domain: "" otherwise.
func (v *validator) userOf(t *record, err error) (domain, id string) {
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field == fieldNames[fUserID] || fe.Field == fieldNames[fDomain] {
		return "", ""
	}
	uid := t[fUserID].String()
	domain, _ = canonicalDomain(t[fDomain].String())
	// The check of the ID's shape comes last in fill: the row may not
	// have met it.
	if !v.defaults.LenientIDs && checkUserID(domain, uid) != nil {
		return "", ""
	}
	return domain, strings.Clone(uid)
}

// broken returns the error of a field f whose trimmed cell c breaks rule.
func broken(f int, c cell, rule error) *FieldError {
	return &FieldError{Field: fieldNames[f], Value: strings.Clone(c.String()), Err: rule}
}

// fill sets the row's fields from a trimmed record with its defaults
// applied, or returns the *FieldError saying why it cannot.
func (v *validator) fill(row *Row, t *record) error {
	uid := t[fUserID].String()
	switch {
	case uid == "":
		return broken(fUserID, t[fUserID], ErrMissing)
	case len(uid) > MaxUserIDBytes:
		return broken(fUserID, t[fUserID], ErrTooLong)
	case !utf8.ValidString(uid):
		return broken(fUserID, t[fUserID], ErrNotUTF8)
	case hasControl(uid):
		return broken(fUserID, t[fUserID], ErrControl)
	}

	domainText := t[fDomain].String()
	domain, ok := canonicalDomain(domainText)
	switch {
	case strings.EqualFold(domainText, domainDeprecated):
		return broken(fDomain, t[fDomain], ErrDeprecatedDomain)
	case !ok:
		return broken(fDomain, t[fDomain], ErrUnknownDomain)
	}
	row.Domain = domain

	segID, segCode := t[fSegID], t[fSegCode]
	switch {
	case segID.present() && segCode.present():
		return broken(fSegID, segID, ErrBothSegIDAndCode)
	case segID.present():
		id, err := parseInt(segID, fSegID)
		if err != nil {
			return err
		}
		row.SegID = id
	case segCode.present():
		code := segCode.String()
		if !utf8.ValidString(code) {
			return broken(fSegCode, segCode, ErrNotUTF8)
		}
		if utf8.RuneCountInString(code) > MaxSegCodeChars {
			return broken(fSegCode, segCode, ErrTooLong)
		}
		if hasControl(code) {
			return broken(fSegCode, segCode, ErrControl)
		}
		row.SegCode = strings.Clone(code)
	default:
		return broken(fSegID, segID, ErrMissing)
	}

	if member := t[fMemberID]; member.present() {
		id, err := parseInt(member, fMemberID)
		if err != nil {
			return err
		}
		row.MemberID = id
	} else if row.SegCode != "" {
		return broken(fMemberID, member, ErrMissing)
	}

	if value := t[fValue]; value.present() {
		n, err := parseInt(value, fValue)
		if err != nil {
			return err
		}
		row.Value, row.HasValue = int32(n), true
	}

	if v.defaults.Remove {
		row.Expiration, row.HasExpiration = ExpirationRemove, true
	} else if exp := t[fExpiration]; exp.present() {
		n, err := parseInt(exp, fExpiration)
		if err != nil {
			return err
		}
		row.Expiration, row.HasExpiration = int32(n), true
	}

	// Last, as the one rule --lenient-ids lifts: a row that breaks
	// another says so first. The user of the valid row before passed.
	if !v.defaults.LenientIDs && (uid != v.lastUID || domain != v.lastDomain) {
		if err := checkUserID(domain, uid); err != nil {
			return broken(fUserID, t[fUserID], err)
		}
	}
	if uid != v.lastUID {
		v.lastUID = strings.Clone(uid)
	}
	v.lastDomain = domain
	row.UserID = v.lastUID
	return nil
}

// hasControl reports whether s holds a control character (C0, DEL or C1),
// looking at ASCII bytes directly.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return strings.IndexFunc(s[i:], unicode.IsControl) >= 0
		}
		if c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// intRanges are the ranges of the integer fields.
var intRanges = [numFields]struct{ lo, hi int64 }{
	fSegID:      {1, math.MaxInt64},
	fMemberID:   {1, math.MaxInt64},
	fValue:      {math.MinInt32, math.MaxInt32},
	fExpiration: {ExpirationRemove, MaxExpiration},
}

// parseInt reads the integer cell of field f strictly: base 10 only, no
// fraction, no silent wrap-around, within the field's range. It fails with
// a *FieldError wrapping ErrNotWhole or ErrOutOfRange.
func parseInt(c cell, f int) (int64, error) {
	if c.err != nil {
		return 0, broken(f, c, c.err)
	}
	n := c.num
	if !c.isNum {
		var err error
		n, err = strconv.ParseInt(c.text, 10, 64)
		if err != nil {
			text := c.text
			if whole, ok := zeroFraction(text); ok {
				// 1440.0, as pandas writes a float column.
				text = whole
				n, err = strconv.ParseInt(whole, 10, 64)
			}
			switch {
			case err == nil:
			case !isInteger(text):
				return 0, broken(f, c, ErrNotWhole)
			default:
				return 0, broken(f, c, ErrOutOfRange)
			}
		}
	}
	if r := intRanges[f]; n < r.lo || n > r.hi {
		return 0, broken(f, c, ErrOutOfRange)
	}
	return n, nil
}

// zeroFraction returns a number written with a fraction of zeros
// ("1440.0", "-12.00") without it; ok is false for anything else ("12.5",
// "1e3", "12.", ".0").
func zeroFraction(s string) (whole string, ok bool) {
	i := strings.IndexByte(s, '.')
	if i < 0 || i == len(s)-1 || !isInteger(s[:i]) {
		return "", false
	}
	for j := i + 1; j < len(s); j++ {
		if s[j] != '0' {
			return "", false
		}
	}
	return s[:i], true
}

// isInteger reports whether s is an optional sign and decimal digits.
func isInteger(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func rangeText(lo, hi int64) string {
	switch {
	case lo == 1 && hi == 1<<63-1:
		return "it must be 1 to 9223372036854775807"
	case lo == -1<<31 && hi == 1<<31-1:
		return "it must fit in 32 bits: -2147483648 to 2147483647"
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}
