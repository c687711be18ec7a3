//go:build linux && !race

package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rtseg/rtseg/chunker"
)

// TestPeakMemory runs the real rtseg binary on unsorted rows that take
// several times --group-memory and checks the child's peak resident memory,
// as the kernel counts it, against what the run may add to the program's
// idle footprint (measured with "rtseg version": mostly the pages of its own
// file that package initialisation touches, which grow with the libraries
// linked in): no more than the soft memory limit, chunker.HeapBase plus
// --group-memory, which the Go runtime's memory keeps within. Before the
// grouper counted the buffer it grows from, and with the older limit, a run
// added 54 MiB; now about 38 MiB. The race detector's shadow memory would
// swamp the count, so this file builds without it and .ci/run runs it on
// its own.
func TestPeakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 600000 rows")
	}
	rtseg, err := exec.LookPath("rtseg")
	if err != nil {
		t.Fatal(err)
	}
	idle := maxRSS(t, exec.Command(rtseg, "version"))
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	writeShuffled(t, in, 600_000)
	const group = 16 << 20
	cmd := exec.Command(rtseg, "validate", "--progress", "none", "--group-memory", "16MiB",
		"--tmp-dir", dir, "--report", filepath.Join(dir, "r.csv"), in)
	// The collector's settings are rtseg's own, as in a user's shell.
	cmd.Env = append(os.Environ(), "GOGC=", "GOMEMLIMIT=")
	peak := maxRSS(t, cmd)
	t.Logf("peak resident memory %d MiB with --group-memory 16MiB, %d MiB idle", peak>>20, idle>>20)
	if peak-idle > group+chunker.HeapBase {
		t.Errorf("peak resident memory %d MiB, %d MiB idle: more than --group-memory 16MiB plus %d MiB added", peak>>20, idle>>20, chunker.HeapBase>>20)
	}
}

// maxRSS runs cmd and returns its peak resident memory in bytes.
func maxRSS(t *testing.T, cmd *exec.Cmd) int64 {
	t.Helper()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
}

// writeShuffled writes n rows of users with one to five segments each, in
// random order, as a CSV file.
func writeShuffled(t *testing.T, name string, n int) {
	rng := rand.New(rand.NewPCG(7, 8))
	type row struct{ user, seg int64 }
	rows := make([]row, 0, n)
	for user := int64(10_000_000_000_000_000); len(rows) < n; user += 1 + rng.Int64N(1000) {
		for j := range 1 + rng.IntN(5) {
			rows = append(rows, row{user, 1 + int64(j)*7 + rng.Int64N(50_000)})
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "user_id,seg_id,value,expiration")
	for _, r := range rows[:n] {
		fmt.Fprintf(w, "%d,%d,%d,1440\n", r.user, r.seg, r.seg%100)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
