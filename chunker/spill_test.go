package chunker

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// A SpillError carries its own hint, found with errors.As however the error
// is wrapped on its way up, and naming the flags that give the grouper room.
func TestSpillErrorHint(t *testing.T) {
	spill := &SpillError{Dir: "/full", Err: fs.ErrPermission}
	missing := filepath.Join(t.TempDir(), "gone")
	p, _ := NewPacker(DefaultLimits, &collect{})
	g := NewGrouper(p, GroupConfig{Memory: 1, TmpDir: missing})
	g.Add(row(2, "a", 1, 1))
	fromAdd := g.Add(row(3, "b", 1, 1))
	g.Close()
	tests := []struct {
		name string
		err  error
	}{
		{"the error itself", spill},
		{"wrapped", fmt.Errorf("group rows: %w", spill)},
		{"joined after another error", errors.Join(errors.New("read users.csv: bad"), spill)},
		{"from a grouper whose directory is missing", fromAdd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h interface{ Hint() string }
			if !errors.As(tc.err, &h) {
				t.Fatalf("errors.As(%v, hinted) = false, want the SpillError's hint", tc.err)
			}
			for _, flag := range []string{"--tmp-dir", "--group-memory", "--sorted"} {
				if !strings.Contains(h.Hint(), flag) {
					t.Errorf("Hint() = %q, want it to name %s", h.Hint(), flag)
				}
			}
			if !strings.Contains(tc.err.Error(), "spill rows to ") {
				t.Errorf("Error() = %q, want it to say rows could not be spilled", tc.err)
			}
		})
	}
}
