package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/rtseg/rtseg/chunker"
)

// keepRuntime restores the collector's settings after a test that changes
// them.
func keepRuntime(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(percent)
	t.Cleanup(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

// fakeCgroup is a memlimit.Provider reading a cgroup v2 memory.max file at
// path, as the kernel writes it: a number of bytes, or "max" for none.
func fakeCgroup(path string) memlimit.Provider {
	return func() (uint64, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, memlimit.ErrNoLimit
		}
		return strconv.ParseUint(s, 10, 64)
	}
}

// TestMemoryInContainer runs rtseg inside a fake container (a temporary
// memory.max, handed to it as automemlimit's provider): in 128 MiB,
// --group-memory's default shrinks to fit beside the rest of a run under
// 80% of the limit, --help says so, and a run's soft memory limit stays
// below the container's; a --group-memory that cannot fit is warned of.
// Without a limit ("max", or no cgroup file), the defaults stand.
func TestMemoryInContainer(t *testing.T) {
	keepRuntime(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("user_id,seg_id\n1001,10\n1002,11\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const container = 128 << 20
	share := func(n int64) int64 { return int64(float64(n) * 0.8) }
	ceiling := share(container)
	for _, tc := range []struct {
		name, memoryMax string // "" for no file
		args            []string
		wantDefault     string
		wantLimit       int64
		wantWarning     bool // that the run may be killed for want of memory
	}{
		{"128 MiB", strconv.Itoa(container), nil, "54MiB", chunker.HeapBase + 54<<20, false},
		{"128 MiB, more grouping than fits", strconv.Itoa(container), []string{"--group-memory", "512MiB"}, "54MiB", ceiling, true},
		{"128 MiB, less grouping", strconv.Itoa(container), []string{"--group-memory", "8MiB"}, "54MiB", chunker.HeapBase + 8<<20, false},
		{"48 MiB", strconv.Itoa(48 << 20), nil, "4MiB", min(chunker.HeapBase+4<<20, share(48<<20)), true},
		{"4 GiB", strconv.Itoa(4 << 30), nil, "256MiB", chunker.HeapBase + 256<<20, false},
		{"no limit", "max\n", nil, "256MiB", chunker.HeapBase + 256<<20, false},
		{"no cgroup", "", nil, "256MiB", chunker.HeapBase + 256<<20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "memory.max")
			if tc.memoryMax != "" {
				if err := os.WriteFile(path, []byte(tc.memoryMax), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rtseg := func(args ...string) (string, int) {
				var stdout, stderr bytes.Buffer
				e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, signal: func() int { return 0 },
					getenv: func(string) string { return "" }, tuneMemory: true, containerMemory: fakeCgroup(path)}
				code := e.execute(context.Background(), args)
				return stdout.String() + stderr.String(), code
			}
			help, _ := rtseg("validate", "--help")
			if want := `(default "` + tc.wantDefault + `")`; !strings.Contains(help, want) {
				t.Errorf("validate --help lacks --group-memory's %s:\n%s", want, help)
			}
			debug.SetMemoryLimit(1 << 40)
			args := append([]string{"validate", "--progress", "none", "--report", filepath.Join(dir, "r.csv")}, tc.args...)
			out, code := rtseg(append(args, in)...)
			if code != exitOK {
				t.Fatalf("rtseg %s exited %d:\n%s", strings.Join(args, " "), code, out)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
				t.Errorf("soft memory limit %d MiB, want %d MiB", got>>20, tc.wantLimit>>20)
			}
			if warned := strings.Contains(out, "it may be killed for want of memory"); warned != tc.wantWarning {
				t.Errorf("warned of --group-memory: %v, want %v:\n%s", warned, tc.wantWarning, out)
			}
		})
	}
}
