package reader

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// ParseColumns reads a mapping of fields to the file's columns, as
// --columns gives it: FIELD=COLUMN pairs separated by commas, fields named
// case-insensitively. "" maps nothing.
func ParseColumns(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	names := FieldNames()
	columns := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		field, col, ok := strings.Cut(pair, "=")
		field = strings.ToLower(strings.TrimSpace(field))
		if !ok || field == "" || strings.TrimSpace(col) == "" {
			return nil, fmt.Errorf("--columns %q: want FIELD=COLUMN pairs separated by commas", s)
		}
		if !slices.Contains(names[:], field) {
			return nil, fmt.Errorf("--columns: unknown field %q (fields: %s)", field, strings.Join(names[:], ", "))
		}
		columns[field] = strings.TrimSpace(col)
	}
	return columns, nil
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
