package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable shows s with what a person could not see written out: control
// characters (a line break inside a user ID, an escape sequence) and the
// marks that reorder or hide text (bidirectional overrides, zero-width
// characters) as \x1b or \u202e, and bytes that are not UTF-8 as \xff.
// Text from the input or the service goes through it before it is shown.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || hidden(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case hidden(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case hidden(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// hidden reports whether r would be invisible or change how the text
// around it shows.
func hidden(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}
