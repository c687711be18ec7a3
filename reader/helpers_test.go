package reader

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// writeFile writes content to a file of that name in a new temporary
// directory and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readRows opens the inputs and reads every row, up to the first error.
func readRows(t testing.TB, inputs []string, opts Options) ([]Row, error) {
	t.Helper()
	r, err := Open(inputs, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var rows []Row
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		rows = append(rows, row)
	}
}

// mustRead reads every row of the inputs and fails the test on an error.
func mustRead(t testing.TB, inputs []string, opts Options) []Row {
	t.Helper()
	rows, err := readRows(t, inputs, opts)
	if err != nil {
		t.Fatalf("read %v: %v", inputs, err)
	}
	return rows
}

// brief is what a test compares of a row: where it is, who and which
// segment, or why it is invalid.
type brief struct {
	Line   int64
	UserID string
	SegID  int64
	Reason string // the invalid row's Err, as the report shows it
}

func briefs(rows []Row) []brief {
	out := make([]brief, len(rows))
	for i, r := range rows {
		out[i] = brief{Line: r.Pos.Line, UserID: r.UserID, SegID: r.SegID}
		if r.Err != nil {
			out[i].Reason = r.Err.Error()
		}
	}
	return out
}
