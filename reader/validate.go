package reader

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a row's fields, from the service's documentation.
const (
	MaxUserIDBytes     = 256
	MaxSegCodeChars    = 50
	MaxExpiration      = 259200 // 180 days in minutes
	ExpirationNever    = 0
	ExpirationRemove   = -1
	deprecatedDomain   = "sha1mac"
	canonicalSHA1UDID  = "sha1udid"
	documentedSHA1UDID = "sh1udid"
)

// domains are the accepted device-ID domains; the empty domain is a Xandr ID.
var domains = map[string]bool{
	"idfa": true, canonicalSHA1UDID: true, "md5udid": true, "openudid": true, "aaid": true,
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
// the row, valid or carrying the reason it is not.
func Validate(pos Position, raw Fields, d Defaults) Row {
	row := Row{Pos: pos}
	if reason := fill(&row, raw, d); reason != "" {
		return Row{Pos: pos, Reason: reason, Raw: raw}
	}
	return row
}

func fill(row *Row, raw Fields, d Defaults) string {
	uid := strings.TrimSpace(raw.UserID)
	switch {
	case uid == "":
		return "user_id is empty"
	case len(uid) > MaxUserIDBytes:
		return fmt.Sprintf("user_id is %d bytes long, more than the %d allowed", len(uid), MaxUserIDBytes)
	case !utf8.ValidString(uid):
		return "user_id is not valid UTF-8"
	case strings.IndexFunc(uid, unicode.IsControl) >= 0:
		return "user_id contains a control character"
	}
	row.UserID = uid

	domain := strings.ToLower(strings.TrimSpace(orDefault(raw.Domain, d.Domain)))
	if domain == documentedSHA1UDID {
		domain = canonicalSHA1UDID
	}
	switch {
	case domain == deprecatedDomain:
		return `domain "sha1mac" is deprecated (since 2019) and no longer accepted`
	case domain != "" && !domains[domain]:
		return fmt.Sprintf("domain %q is not one of idfa, sha1udid, md5udid, openudid, aaid (or empty for a Xandr user ID)", domain)
	}
	row.Domain = domain

	segID, segCode := strings.TrimSpace(raw.SegID), strings.TrimSpace(raw.SegCode)
	switch {
	case segID != "" && segCode != "":
		return "seg_id and seg_code are both given; give one of them"
	case segID != "":
		id, reason := parseInt(segID, "seg_id", 1, 1<<63-1)
		if reason != "" {
			return reason
		}
		row.SegID = id
	case segCode != "":
		if n := utf8.RuneCountInString(segCode); n > MaxSegCodeChars {
			return fmt.Sprintf("seg_code is %d characters long, more than the %d allowed", n, MaxSegCodeChars)
		}
		if !utf8.ValidString(segCode) || strings.IndexFunc(segCode, unicode.IsControl) >= 0 {
			return "seg_code contains a control character or invalid UTF-8"
		}
		row.SegCode = segCode
	default:
		return "no segment: give seg_id, or seg_code with member_id"
	}

	if member := strings.TrimSpace(orDefault(raw.MemberID, d.MemberID)); member != "" {
		id, reason := parseInt(member, "member_id", 1, 1<<63-1)
		if reason != "" {
			return reason
		}
		row.MemberID = id
	} else if row.SegCode != "" {
		return "seg_code needs a member_id (a column or --member-id)"
	}

	if v := strings.TrimSpace(orDefault(raw.Value, d.Value)); v != "" {
		n, reason := parseInt(v, "value", -1<<31, 1<<31-1)
		if reason != "" {
			return reason
		}
		row.Value, row.HasValue = int32(n), true
	}

	if d.Remove {
		row.Expiration, row.HasExpiration = ExpirationRemove, true
		return ""
	}
	if e := strings.TrimSpace(orDefault(raw.Expiration, d.Expiration)); e != "" {
		n, reason := parseInt(e, "expiration", ExpirationRemove, MaxExpiration)
		if reason != "" {
			return fmt.Sprintf("expiration %q is not -1 (remove), 0 (never expires) or 1 to %d minutes (180 days)", e, MaxExpiration)
		}
		row.Expiration, row.HasExpiration = int32(n), true
	}
	return ""
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}

// parseInt parses a base-10 integer strictly: no other base, no fraction, no
// silent wrap-around.
func parseInt(s, field string, lo, hi int64) (int64, string) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Sprintf("%s %q is out of range (%d to %d)", field, s, lo, hi)
		}
		return 0, fmt.Sprintf("%s %q is not a whole number", field, s)
	}
	if n < lo || n > hi {
		return 0, fmt.Sprintf("%s %s is out of range (%d to %d)", field, s, lo, hi)
	}
	return n, ""
}
