//go:build linux && !race

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// TestPeakMemory builds the rtseg program as users get it (the test binary
// links the stores' fakes and test code besides) and checks the peak
// resident memory of its runs, as the kernel counts it, the pages of the
// program's own file included, against the bound the issue sets: no more
// than --group-memory plus 64 MiB. The runs read 600,000 rows, which take
// several times --group-memory 16MiB: validating unsorted rows, a first
// sync of them (grouped, everything sent, the state written) and a later
// sync of a changed snapshot, sorted (the state read and merged, what
// changed sent, the state written again). What a run adds to the program's
// idle footprint (serve-mock listening: mostly the pages of its file that
// package initialisation touches) stays within the soft memory limit,
// chunker.HeapBase plus --group-memory, too. The race detector's shadow
// memory would swamp the count, so this file builds without it and .ci/run
// runs it on its own.
func TestPeakMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds rtseg and reads 600000 rows three times")
	}
	dir := t.TempDir()
	built := filepath.Join(dir, "rtseg-built")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", built, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Run a copy, written and synced as an installed program is: the
	// system maps more of a file just linked at each page fault (some
	// 10 MB more resident at rest), until its pages leave the cache.
	rtseg := filepath.Join(dir, "rtseg")
	install(t, built, rtseg)
	idle := idleRSS(t, rtseg)
	const group = 16 << 20
	bound := int64(group + 64<<20)
	check := func(what string, cmd *exec.Cmd) {
		t.Helper()
		// The collector's settings are rtseg's own, as in a user's shell.
		cmd.Env = append(os.Environ(), "GOGC=", "GOMEMLIMIT=", "XANDR_TOKEN=t0k3n")
		peak := maxRSS(t, cmd)
		t.Logf("%s: peak resident memory %d MiB with --group-memory 16MiB, %d MiB idle", what, peak>>20, idle>>20)
		if peak > bound {
			t.Errorf("%s: peak resident memory %.1f MiB, more than --group-memory 16MiB plus 64 MiB", what, float64(peak)/(1<<20))
		}
		if peak-idle > group+chunker.HeapBase {
			t.Errorf("%s: peak resident memory %d MiB, %d MiB idle: more than --group-memory 16MiB plus %d MiB added",
				what, peak>>20, idle>>20, chunker.HeapBase>>20)
		}
	}

	day1, day2, changed := snapshots(600_000)
	in := filepath.Join(dir, "day1.csv")
	writeSnapshot(t, in, day1)
	check("validate", exec.Command(rtseg, "validate", "--progress", "none", "--group-memory", "16MiB",
		"--tmp-dir", dir, "--report", filepath.Join(dir, "r.csv"), in))

	srv := xandrtest.NewServer(xandrtest.WithToken("t0k3n"), xandrtest.WithRateLimits(1_000_000, 1_000_000_000))
	defer srv.Close()
	sync := func(args ...string) *exec.Cmd {
		return exec.Command(rtseg, append([]string{"sync", "--endpoint", srv.URL + "/rt-segment",
			"--allow-above-service-limits", "--rps", "1000000", "--users-per-second", "1000000000",
			"--progress", "none", "--group-memory", "16MiB", "--tmp-dir", dir, "--state-dir", filepath.Join(dir, "state"),
			"--summary", filepath.Join(dir, "s.json")}, args...)...)
	}
	check("first sync", sync(in))
	assertSummary(t, filepath.Join(dir, "s.json"), `"added": 600000,`, `"state_written": true`)

	slices.SortStableFunc(day2, func(a, b snapshotRow) int { return strings.Compare(a.user, b.user) })
	in2 := filepath.Join(dir, "day2.csv")
	writeSnapshot(t, in2, day2)
	check("later sync, sorted", sync("--sorted", in2))
	assertSummary(t, filepath.Join(dir, "s.json"), fmt.Sprintf(`"changed": %d,`, changed), `"state_written": true`)
}

// install copies the program at src to dst, synced to disk.
func install(t *testing.T, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(out.Sync(), out.Close()); err != nil {
		t.Fatal(err)
	}
}

// maxRSS runs cmd and returns its peak resident memory in bytes: the
// highest VmHWM read from /proc every 5ms while it runs. (Not the rusage of
// wait: the kernel carries into it the peak of the process it was forked
// from, this test's, emulator and rows included.) What grows in its last
// 5ms goes uncounted.
func maxRSS(t *testing.T, cmd *exec.Cmd) int64 {
	t.Helper()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v\n%s", cmd, err, out.String())
			}
			if peak == 0 {
				t.Fatalf("%s: no VmHWM read from /proc", cmd)
			}
			return peak
		case <-time.After(5 * time.Millisecond):
			peak = max(peak, vmHWM(cmd.Process.Pid))
		}
	}
}

// vmHWM is a process's peak resident memory in bytes, 0 if unknown.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return 0
}

// idleRSS is the program's resident memory at rest: serve-mock's once it
// listens, which is rtseg initialised and a listener.
func idleRSS(t *testing.T, rtseg string) int64 {
	cmd := exec.Command(rtseg, "serve-mock", "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	return vmHWM(cmd.Process.Pid)
}

// assertSummary checks that a summary file holds each of the texts.
func assertSummary(t *testing.T, path string, texts ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range texts {
		if !strings.Contains(string(b), s) {
			t.Errorf("%s lacks %s:\n%s", path, s, b)
		}
	}
}

type snapshotRow struct {
	user, seg, code string
	value           int
}

// snapshots makes n rows of Xandr users (19 digits, all the same length,
// so that byte order is number order) with one to five segments each, in
// random order; every fifth segment of a user is named by code and every
// third row has no value, so that the state's nullable columns mix nulls
// and values. The second day's snapshot changes the value of about 2% of
// the rows: changed of them.
func snapshots(n int) (day1, day2 []snapshotRow, changed int) {
	rng := rand.New(rand.NewPCG(7, 8))
	for user := int64(1_000_000_000_000_000_000); len(day1) < n; user += 1 + rng.Int64N(1000) {
		for j := range 1 + rng.IntN(5) {
			r := snapshotRow{user: fmt.Sprint(user), seg: fmt.Sprint(10 + j*7 + rng.IntN(7)), value: -1}
			if j == 4 {
				r.seg, r.code = "", fmt.Sprintf("code-%d", rng.IntN(50))
			}
			if rng.IntN(3) > 0 {
				r.value = rng.IntN(100)
			}
			day1 = append(day1, r)
		}
	}
	day1 = day1[:n]
	rng.Shuffle(len(day1), func(i, j int) { day1[i], day1[j] = day1[j], day1[i] })
	day2 = slices.Clone(day1)
	for i := range day2 {
		if rng.IntN(50) == 0 {
			day2[i].value = 100 + rng.IntN(100)
			changed++
		}
	}
	return day1, day2, changed
}

// writeSnapshot writes rows as a CSV file.
func writeSnapshot(t *testing.T, name string, rows []snapshotRow) {
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "user_id,seg_id,seg_code,member_id,value,expiration")
	for _, r := range rows {
		member, value := "", ""
		if r.code != "" {
			member = "1234"
		}
		if r.value >= 0 {
			value = fmt.Sprint(r.value)
		}
		fmt.Fprintf(w, "%s,%s,%s,%s,%s,0\n", r.user, r.seg, r.code, member, value)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
