package reader

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

// ParseColumns reads a mapping of fields to the file's columns, as
// --columns gives it: FIELD=COLUMN pairs separated by commas, fields named
// case-insensitively, in one spec or several (a repeated flag); "" maps
// nothing. It refuses a field mapped to two different columns and the
// conflicts CheckColumns refuses.
func ParseColumns(specs ...string) (map[string]string, error) {
	names := FieldNames()
	var columns map[string]string
	for _, s := range specs {
		if s == "" {
			continue
		}
		for _, pair := range strings.Split(s, ",") {
			field, col, ok := strings.Cut(pair, "=")
			field, col = strings.ToLower(strings.TrimSpace(field)), strings.TrimSpace(col)
			if !ok || field == "" || col == "" {
				return nil, fmt.Errorf("--columns %q: want FIELD=COLUMN pairs separated by commas", s)
			}
			if !slices.Contains(names[:], field) {
				return nil, fmt.Errorf("--columns: unknown field %q (fields: %s)", field, strings.Join(names[:], ", "))
			}
			if before, ok := columns[field]; ok && normalizeColumn(before) != normalizeColumn(col) {
				return nil, fmt.Errorf("--columns: %s is mapped twice, to %q and to %q; map each field to one column", field, before, col)
			}
			if columns == nil {
				columns = map[string]string{}
			}
			columns[field] = col
		}
	}
	return columns, CheckColumns(columns)
}

// CheckColumns checks a mapping of fields to columns (Options.Columns), as
// --columns gives it: the fields must be known, in lower case, and no
// column may give two fields, whether two fields are mapped to it or one
// is mapped to the column another field takes by its own name (value=seg_id
// while seg_id is not mapped elsewhere).
func CheckColumns(columns map[string]string) error {
	names := FieldNames()
	for _, field := range slices.Sorted(maps.Keys(columns)) {
		if !slices.Contains(names[:], field) {
			return fmt.Errorf("--columns: unknown field %q (fields: %s)", field, strings.Join(names[:], ", "))
		}
	}
	byColumn := map[string]string{}
	for _, field := range names {
		col, ok := columns[field]
		if !ok {
			continue
		}
		if other, ok := byColumn[normalizeColumn(col)]; ok {
			return fmt.Errorf("--columns: %s and %s are both mapped to column %q; a column gives one field", other, field, col)
		}
		byColumn[normalizeColumn(col)] = field
	}
	for _, field := range names {
		col, ok := columns[field]
		if !ok {
			continue
		}
		owner := fieldIndex(normalizeColumn(col))
		if owner < 0 || fieldNames[owner] == field {
			continue
		}
		if _, moved := columns[fieldNames[owner]]; !moved {
			return fmt.Errorf("--columns: %s is mapped to column %q, which gives %s by its name; map %s to another column too (%s=COLUMN), or %s to another column",
				field, col, fieldNames[owner], fieldNames[owner], fieldNames[owner], field)
		}
	}
	return nil
}

// ParseDelimiter reads a CSV delimiter as --delimiter gives it: one
// character, or "\t" or "tab" for a tab; "" is a comma (0).
func ParseDelimiter(s string) (rune, error) {
	switch s {
	case ",", "":
		return 0, nil
	case `\t`, "\t", "tab":
		return '\t', nil
	}
	runes := []rune(s)
	if len(runes) != 1 {
		return 0, fmt.Errorf("--delimiter %q: want a single character", s)
	}
	return runes[0], nil
}

// Check validates the defaults once, as a row would use them, so that a
// bad default is one error rather than every row invalid. Remove with an
// Expiration is refused: Remove sets every row's expiration.
func (d Defaults) Check() error {
	if d.Remove && strings.TrimSpace(d.Expiration) != "" {
		return fmt.Errorf("--remove and --expiration cannot be used together: --remove gives every row the expiration -1")
	}
	probe := Fields{UserID: "probe", SegID: "1"}
	d.LenientIDs = true // the probe's ID has no domain's shape
	if row := Validate(Position{}, probe, d); !row.Valid() {
		return fmt.Errorf("default from flags: %w", row.Err)
	}
	return nil
}

// KeepStdin copies standard input, when inputs read it, to a temporary file
// in dir ("" for the system's), so that the inputs can be opened more than
// once, as a check before a run does: each Open reads it from the start.
// The returned function removes the copy.
func (o *Options) KeepStdin(inputs []string, dir string) (func(), error) {
	if !slices.Contains(inputs, Stdin) {
		return func() {}, nil
	}
	f, err := os.CreateTemp(dir, "rtseg-stdin-*.csv")
	if err != nil {
		return nil, fmt.Errorf("keep standard input for a second reading: %w", err)
	}
	release := func() { f.Close(); os.Remove(f.Name()) }
	src := o.Stdin
	if src == nil {
		src = os.Stdin
	}
	if _, err := io.Copy(f, src); err != nil {
		release()
		return nil, fmt.Errorf("read standard input: %w", err)
	}
	o.Stdin = keptStdin{f}
	return release, nil
}

// keptStdin is standard input kept in a file, read from the start by each
// Open.
type keptStdin struct{ *os.File }
