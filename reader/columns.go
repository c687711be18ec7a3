package reader

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MissingColumnError reports a file that lacks a column every row needs.
// It does not name the file: the *InputError that carries it does.
type MissingColumnError struct {
	// Field is the field the column would give.
	Field string
	// Missing are the column names any one of which would do.
	Missing []string
	// Mapped says that --columns named the missing column.
	Mapped bool
	// Found are the file's columns.
	Found []string
	// Delimiter, when not 0, is the delimiter the header seems to use
	// instead of the one the file was read with.
	Delimiter rune
	// Binary says that the header is not text: it holds control
	// characters or bytes that are not UTF-8.
	Binary bool
}

func (e *MissingColumnError) Error() string {
	quoted := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		quoted[i] = fmt.Sprintf("%q", m)
	}
	mapped := ""
	if e.Mapped {
		mapped = fmt.Sprintf(", which --columns maps to %s", e.Field)
	}
	return fmt.Sprintf("missing column %s%s (found: %s)", strings.Join(quoted, " or "), mapped, listColumns(e.Found))
}

// Hint tells how to fix the command.
func (e *MissingColumnError) Hint() string {
	switch {
	case e.Binary:
		return "the header is not text: check that the file is CSV or TSV, plain or compressed with gzip, zstd or bzip2"
	case e.Delimiter != 0:
		return fmt.Sprintf("the header reads as a single column: if its fields are separated by %s, use --delimiter %s", delimiterName(e.Delimiter), delimiterFlag(e.Delimiter))
	case e.Mapped:
		return "check the column name given to --columns (names match ignoring case)"
	}
	return fmt.Sprintf("map it with --columns %s=COLUMN", e.Field)
}

// listColumns lists a header for a message, shortening a very long one.
func listColumns(found []string) string {
	const most = 20
	if len(found) == 0 {
		return "no columns"
	}
	shown := make([]string, min(len(found), most))
	for i := range shown {
		shown[i] = printable(found[i])
	}
	if len(found) <= most {
		return strings.Join(shown, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(shown, ", "), len(found)-most)
}

// printable returns text from an input as a message shows it: as it is if
// it is text, quoted as Go quotes strings (%q) if it is empty or holds a
// control character or a byte that is not UTF-8, so that these neither
// vanish nor reach the terminal.
func printable(s string) string {
	if s == "" || !utf8.ValidString(s) || hasControl(s) {
		return strconv.Quote(s)
	}
	return s
}

// isText reports whether a header is text, tabs allowed: UTF-8 without
// other control characters.
func isText(s string) bool {
	return utf8.ValidString(s) && !hasControl(strings.ReplaceAll(s, "\t", ""))
}

func delimiterName(d rune) string {
	if d == '\t' {
		return "tabs"
	}
	return fmt.Sprintf("%q", string(d))
}

func delimiterFlag(d rune) string {
	if d == '\t' {
		return `'\t'`
	}
	return "'" + string(d) + "'"
}

// columnMap gives, for each field, the index of the file's column holding
// it, or -1.
type columnMap [numFields]int

// mapColumns matches a file's column names to fields: case and surrounding
// space are ignored, and --columns maps FIELD=COLUMN (a field so mapped is
// never taken from a column of its own name). Partition keys (the file's
// key=value folders) are matched the same way, and give their values to
// the fields the file has no column for or leaves empty: they come back as
// a record whose cells a validator fills empty fields with (the innermost
// folder winning). It fails when the file and its partitions cannot give
// every row a user and a segment, when a column --columns names is not
// there, or when two columns give one field. delim is the CSV delimiter the
// header was split with (0 for Parquet).
func mapColumns(found []string, parts []partition, opts *Options, delim rune) (columnMap, record, error) {
	var m columnMap
	var fill record
	for i := range m {
		m[i] = -1
	}
	byColumn := make(map[string]int, len(opts.Columns))
	for field, col := range opts.Columns {
		if f := fieldIndex(field); f >= 0 {
			byColumn[normalizeColumn(col)] = f
		}
	}
	fieldOf := func(name string) int {
		name = normalizeColumn(name)
		f, ok := byColumn[name]
		if !ok {
			f = fieldIndex(name)
			if f < 0 {
				return -1 // a column rtseg does not use
			}
			if _, remapped := opts.Columns[fieldNames[f]]; remapped {
				return -1 // --columns takes this field from another column
			}
		}
		return f
	}
	for i, name := range found {
		f := fieldOf(name)
		if f < 0 {
			continue
		}
		if m[f] >= 0 {
			return m, fill, fmt.Errorf("columns %q and %q both give %s; keep one of them", found[m[f]], found[i], fieldNames[f])
		}
		m[f] = i
	}
	// has says which fields a column or a partition gives.
	var has [numFields]bool
	for f := range m {
		has[f] = m[f] >= 0
	}
	for _, p := range parts {
		if f := fieldOf(p.key); f >= 0 {
			has[f], fill[f] = true, cell{text: p.value}
		}
	}

	missing := func(f int, alternatives ...int) error {
		e := &MissingColumnError{Field: fieldNames[f], Found: found}
		for _, a := range append([]int{f}, alternatives...) {
			name := fieldNames[a]
			if col, ok := opts.Columns[name]; ok {
				name, e.Mapped = col, true
			}
			e.Missing = append(e.Missing, name)
		}
		for _, col := range found {
			e.Binary = e.Binary || !isText(col)
		}
		if len(found) == 1 && delim != 0 && !e.Binary {
			e.Delimiter = guessDelimiter(found[0], delim)
		}
		return e
	}
	switch {
	case !has[fUserID]:
		return m, fill, missing(fUserID)
	case !has[fSegID] && !has[fSegCode]:
		return m, fill, missing(fSegID, fSegCode)
	case !has[fSegID] && !has[fMemberID] && strings.TrimSpace(opts.Defaults.MemberID) == "":
		return m, fill, missing(fMemberID)
	}
	for field, col := range opts.Columns {
		if f := fieldIndex(field); f >= 0 && !has[f] {
			return m, fill, &MissingColumnError{Field: field, Missing: []string{col}, Mapped: true, Found: found}
		}
	}
	return m, fill, nil
}

// fieldIndex returns the index of a field name, or -1.
func fieldIndex(name string) int {
	for i, f := range fieldNames {
		if f == name {
			return i
		}
	}
	return -1
}

func normalizeColumn(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// guessDelimiter returns a delimiter that a header read as one column
// seems to use, other than the one it was read with; 0 for none.
func guessDelimiter(header string, used rune) rune {
	for _, d := range []rune{',', ';', '\t', '|'} {
		if d != used && strings.ContainsRune(header, d) {
			return d
		}
	}
	return 0
}
