package chunker

import (
	"strconv"
	"unicode/utf8"

	"github.com/rtseg/rtseg/reader"
)

const (
	bodyOpen  = `{"rt_segment":[`
	bodyClose = `]}`
)

// appendEntryOpen writes an rt_segment entry up to the opening of its
// seg_block array. Absent fields are omitted rather than sent as null.
func appendEntryOpen(b []byte, u reader.User) []byte {
	b = append(b, `{"user_id":`...)
	b = appendString(b, u.ID)
	if u.Domain != "" {
		b = append(b, `,"domain":`...)
		b = appendString(b, u.Domain)
	}
	return append(b, `,"seg_block":[`...)
}

const entryClose = `]}`

// appendBlock writes one seg_block for a row.
func appendBlock(b []byte, r *reader.Row) []byte {
	if r.SegID != 0 {
		b = append(b, `{"seg_id":`...)
		b = strconv.AppendInt(b, r.SegID, 10)
	} else {
		b = append(b, `{"seg_code":`...)
		b = appendString(b, r.SegCode)
		b = append(b, `,"member_id":`...)
		b = strconv.AppendInt(b, r.MemberID, 10)
	}
	if r.HasValue {
		b = append(b, `,"value":`...)
		b = strconv.AppendInt(b, int64(r.Value), 10)
	}
	if r.HasExpiration {
		b = append(b, `,"expiration":`...)
		b = strconv.AppendInt(b, int64(r.Expiration), 10)
	}
	return append(b, '}')
}

const hex = "0123456789abcdef"

// appendString writes s as a JSON string. Validation has already refused
// invalid UTF-8 in user IDs and codes; any that remains is replaced.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
