package reader

import (
	"fmt"
	"strings"
)

// The shapes of user IDs, by domain. A Xandr user ID (no domain) is a
// positive 64-bit unsigned integer in decimal, as the service's examples
// show (12345678900987654321 is past int64 but within uint64); idfa and
// aaid are UUIDs; md5udid is an MD5 digest in hex (32 digits); sha1udid
// and openudid are 40 hex digits (a SHA-1 digest).
type idShape int

const (
	shapeOther idShape = iota
	shapeXandr
	shapeUUID
	shapeHex32
	shapeHex40
)

// maxXandrID is the largest Xandr user ID: the largest uint64.
const maxXandrID = "18446744073709551615"

// shapeOf tells which shape an ID has.
func shapeOf(id string) idShape {
	for _, s := range [...]idShape{shapeXandr, shapeUUID, shapeHex32, shapeHex40} {
		if hasShape(id, s) {
			return s
		}
	}
	return shapeOther
}

// hasShape reports whether id has shape s.
func hasShape(id string, s idShape) bool {
	switch s {
	case shapeXandr:
		return isXandrID(id)
	case shapeUUID:
		return len(id) == 36 && isUUID(id)
	case shapeHex32:
		return len(id) == 32 && isHex(id)
	case shapeHex40:
		return len(id) == 40 && isHex(id)
	}
	return false
}

// isXandrID reports whether id is a number from 1 to maxXandrID in
// decimal digits, without sign or leading zeros.
func isXandrID(id string) bool {
	if id == "" || len(id) > len(maxXandrID) || id[0] == '0' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return len(id) < len(maxXandrID) || id <= maxXandrID
}

// isUUID reports whether a 36-byte id is 8-4-4-4-12 hex digits, in either
// case.
func isUUID(id string) bool {
	for i := 0; i < len(id); i++ {
		switch i {
		case 8, 13, 18, 23:
			if id[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(id[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool { return hexDigits[c] }

// hexDigits tells the bytes that are hex digits, in either case.
var hexDigits = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

// domainShape is the shape of a domain's IDs, the domain as sent.
func domainShape(domain string) idShape {
	switch domain {
	case "":
		return shapeXandr
	case domainIDFA, domainAAID:
		return shapeUUID
	case domainMD5UDID:
		return shapeHex32
	case domainSHA1UDID, domainOpenUDID:
		return shapeHex40
	}
	return shapeOther
}

// shapeText says what an ID of a shape is, for a message.
var shapeText = [...]string{
	shapeXandr: "a number from 1 to " + maxXandrID + " in digits, without leading zeros",
	shapeUUID:  "a UUID: 8-4-4-4-12 hex digits",
	shapeHex32: "32 hex digits",
	shapeHex40: "40 hex digits",
}

// shapeDomains names the domains whose IDs have a shape, for a message.
var shapeDomains = [...]string{
	shapeXandr: "a Xandr user ID",
	shapeUUID:  "an idfa or aaid",
	shapeHex32: "an md5udid",
	shapeHex40: "a sha1udid or openudid",
}

// UserIDError is a user ID that does not have the shape of its domain's
// IDs. It wraps ErrUserIDShape.
type UserIDError struct {
	// Domain is the row's domain as sent: "" for a Xandr user ID.
	Domain string
	// ID is the user ID.
	ID string
	// LooksLike names the domains whose IDs have the shape this one has
	// ("a Xandr user ID", "an idfa or aaid", ...), a sign of a swapped
	// column; "" when it has none of theirs.
	LooksLike string
}

// Error says what the ID should look like and, if it looks like another
// domain's, that a column may be swapped.
func (e *UserIDError) Error() string {
	want := shapeDomains[shapeXandr]
	if e.Domain != "" {
		want = "an " + e.Domain
		if e.Domain == domainSHA1UDID {
			want = "a " + e.Domain
		}
	}
	s := fmt.Sprintf("user_id %q is not %s (%s)", e.ID, want, shapeText[domainShape(e.Domain)])
	if e.LooksLike != "" {
		return s + ": it looks like " + e.LooksLike + "; are columns swapped?"
	}
	return s
}

// Unwrap returns ErrUserIDShape.
func (e *UserIDError) Unwrap() error { return ErrUserIDShape }

// CheckUserID checks that a user ID has the shape of its domain's IDs: a
// Xandr user ID (domain "") is a number from 1 to 18446744073709551615 in
// decimal digits, without sign or leading zeros; idfa and aaid are UUIDs
// (8-4-4-4-12 hex digits, either case); md5udid is 32 hex digits;
// sha1udid (or sh1udid) and openudid are 40. The domain is matched
// ignoring case; an unknown one has no shape to check. It returns nil or a
// *UserIDError. The service itself accepts any ID and counts one it does
// not know among the invalid users of its usage statistics.
func CheckUserID(domain, id string) error {
	d, ok := canonicalDomain(strings.TrimSpace(domain))
	if !ok {
		return nil
	}
	return checkUserID(d, id)
}

// checkUserID is CheckUserID for a domain as sent (canonicalDomain's).
func checkUserID(domain, id string) error {
	want := domainShape(domain)
	if want == shapeOther || hasShape(id, want) {
		return nil
	}
	e := &UserIDError{Domain: domain, ID: id}
	if got := shapeOf(id); got != shapeOther {
		e.LooksLike = shapeDomains[got]
	}
	return e
}
