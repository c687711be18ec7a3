package reader

import (
	"fmt"
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
}

// Validate checks one record's fields against the rules of SPEC §3 and returns
// the row, valid or carrying the reason it is not. Fields are trimmed of
// surrounding space; an empty field is absent and takes its default.
func Validate(pos Position, raw Fields, d Defaults) Row {
	v := newValidator(d)
	rec := record{
		{text: raw.UserID}, {text: raw.Domain}, {text: raw.SegID}, {text: raw.SegCode},
		{text: raw.MemberID}, {text: raw.Value}, {text: raw.Expiration},
	}
	return v.row(pos, &rec)
}

// The fields of a record, in report order.
const (
	fUserID = iota
	fDomain
	fSegID
	fSegCode
	fMemberID
	fValue
	fExpiration
	numFields
)

// fieldNames are the names of the fields, in report order.
var fieldNames = [numFields]string{"user_id", "domain", "seg_id", "seg_code", "member_id", "value", "expiration"}

// cell is one field of a record as read: text (CSV, Parquet strings) or an
// integer (Parquet integer columns). The zero cell is absent (an empty CSV
// field, a null).
type cell struct {
	text  string
	num   int64
	isNum bool
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
	text := func(f int) string { return strings.Clone(r[f].String()) }
	return Fields{
		UserID: text(fUserID), Domain: text(fDomain), SegID: text(fSegID), SegCode: text(fSegCode),
		MemberID: text(fMemberID), Value: text(fValue), Expiration: text(fExpiration),
	}
}

// validator turns records into rows. Strings a valid row keeps are copied,
// so that a row never pins a reader's buffer (a CSV line, an Arrow batch);
// consecutive rows of one user share one copy of the user ID.
type validator struct {
	defaults Defaults
	// def holds the defaults as trimmed cells, by field.
	def     record
	lastUID string
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
	var t record
	for f, c := range rec {
		t[f] = c.trimmed()
		if !t[f].present() {
			t[f] = v.def[f]
		}
	}
	row := Row{Pos: pos}
	if reason := v.fill(&row, &t); reason != "" {
		raw := rec.fields()
		return Row{Pos: pos, Reason: reason, Raw: &raw}
	}
	return row
}

// fill sets the row's fields from a trimmed record with its defaults
// applied, or returns why it cannot.
func (v *validator) fill(row *Row, t *record) string {
	uid := t[fUserID].String()
	switch {
	case uid == "":
		return "user_id is empty"
	case len(uid) > MaxUserIDBytes:
		return fmt.Sprintf("user_id is %d bytes long, more than the %d allowed", len(uid), MaxUserIDBytes)
	case !utf8.ValidString(uid):
		return "user_id is not valid UTF-8"
	case hasControl(uid):
		return "user_id contains a control character"
	}

	domainText := t[fDomain].String()
	domain, ok := canonicalDomain(domainText)
	switch {
	case strings.EqualFold(domainText, domainDeprecated):
		return `domain "sha1mac" is deprecated (since 2019) and no longer accepted`
	case !ok:
		return fmt.Sprintf("domain %q is not one of idfa, sha1udid, md5udid, openudid, aaid (or empty for a Xandr user ID)", domainText)
	}
	row.Domain = domain

	segID, segCode := t[fSegID], t[fSegCode]
	switch {
	case segID.present() && segCode.present():
		return "seg_id and seg_code are both given; give one of them"
	case segID.present():
		id, reason := parseInt(segID, "seg_id", 1, 1<<63-1)
		if reason != "" {
			return reason
		}
		row.SegID = id
	case segCode.present():
		code := segCode.String()
		if !utf8.ValidString(code) {
			return "seg_code is not valid UTF-8"
		}
		if n := utf8.RuneCountInString(code); n > MaxSegCodeChars {
			return fmt.Sprintf("seg_code is %d characters long, more than the %d allowed", n, MaxSegCodeChars)
		}
		if hasControl(code) {
			return "seg_code contains a control character"
		}
		row.SegCode = strings.Clone(code)
	default:
		return "no segment: give seg_id, or seg_code with member_id"
	}

	if member := t[fMemberID]; member.present() {
		id, reason := parseInt(member, "member_id", 1, 1<<63-1)
		if reason != "" {
			return reason
		}
		row.MemberID = id
	} else if row.SegCode != "" {
		return "seg_code needs a member_id (a column or --member-id)"
	}

	if value := t[fValue]; value.present() {
		n, reason := parseInt(value, "value", -1<<31, 1<<31-1)
		if reason != "" {
			return reason
		}
		row.Value, row.HasValue = int32(n), true
	}

	if v.defaults.Remove {
		row.Expiration, row.HasExpiration = ExpirationRemove, true
	} else if exp := t[fExpiration]; exp.present() {
		n, reason := parseInt(exp, "expiration", ExpirationRemove, MaxExpiration)
		if reason != "" {
			if strings.HasSuffix(reason, "whole number") {
				return reason
			}
			return fmt.Sprintf("expiration %q is not -1 (remove), 0 (never expires) or 1 to %d minutes (180 days)", exp.String(), MaxExpiration)
		}
		row.Expiration, row.HasExpiration = int32(n), true
	}

	if uid != v.lastUID {
		v.lastUID = strings.Clone(uid)
	}
	row.UserID = v.lastUID
	return ""
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

// parseInt reads an integer cell strictly: base 10 only, no fraction, no
// silent wrap-around, within lo..hi.
func parseInt(c cell, field string, lo, hi int64) (int64, string) {
	n := c.num
	if !c.isNum {
		s := c.text
		var err error
		n, err = strconv.ParseInt(s, 10, 64)
		if err != nil {
			if !isInteger(s) {
				return 0, fmt.Sprintf("%s %q is not a whole number", field, s)
			}
			return 0, fmt.Sprintf("%s %s is out of range (%s)", field, s, rangeText(lo, hi))
		}
	}
	if n < lo || n > hi {
		return 0, fmt.Sprintf("%s %d is out of range (%s)", field, n, rangeText(lo, hi))
	}
	return n, ""
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
		return "it must be 1 or more"
	case lo == -1<<31 && hi == 1<<31-1:
		return "it must fit in 32 bits: -2147483648 to 2147483647"
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}
