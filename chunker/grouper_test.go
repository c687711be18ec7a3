package chunker

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/rtseg/rtseg/reader"
)

// withDuplicates appends, for every tenth row, a later row for the same
// user and segment with another value, so that later-wins has work to do.
func withDuplicates(rng *rand.Rand, rows []reader.Row) []reader.Row {
	n := len(rows)
	for i := 0; i < n; i += 10 {
		r := rows[i]
		r.Value = 2
		rows = append(rows, r)
	}
	rng.Shuffle(len(rows)-n, func(i, j int) { rows[n+i], rows[n+j] = rows[n+j], rows[n+i] })
	numberLines(rows)
	return rows
}

func TestGrouperSpillingChangesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := withDuplicates(rng, realistic(rng, 20_000, 30))
	want := packGrouped(t, rows, DefaultLimits, GroupConfig{Memory: 1 << 30, TmpDir: t.TempDir()})
	if want.spills != 0 {
		t.Fatalf("1GiB for %d rows: %d spills, want none", len(rows), want.spills)
	}
	for _, tc := range []struct {
		name      string
		memory    int64
		minSpills int
	}{
		{"one spill", 1 << 20, 1},
		{"many runs", 64 << 10, 10},
		{"merged runs", 4 << 10, fanIn + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := packGrouped(t, rows, DefaultLimits, GroupConfig{Memory: tc.memory, TmpDir: t.TempDir()})
			if got.spills < tc.minSpills {
				t.Errorf("Grouper(%d bytes) wrote %d runs for %d rows, want at least %d", tc.memory, got.spills, len(rows), tc.minSpills)
			}
			if !slices.Equal(got.bodies(), want.bodies()) {
				t.Errorf("Grouper(%d bytes): %d requests differ from the %d packed in memory", tc.memory, len(got.reqs), len(want.reqs))
			}
			if !slices.Equal(got.superseded, want.superseded) {
				t.Errorf("Grouper(%d bytes): %d superseded rows, want the same %d as in memory", tc.memory, len(got.superseded), len(want.superseded))
			}
		})
	}
}

// The same rows shuffled, grouped with spills, give the same requests as
// the rows sorted by user and streamed with --sorted.
func TestGrouperMatchesSortedInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shuffled := realistic(rng, 30_000, 250)
	sorted := sortedByUser(shuffled)
	grouped := packGrouped(t, shuffled, DefaultLimits, GroupConfig{Memory: 256 << 10, TmpDir: t.TempDir()})
	if grouped.spills == 0 {
		t.Fatal("no spill: the test needs rows over the memory budget")
	}
	streamed := packAdjacent(t, sorted, DefaultLimits)
	if got, want := grouped.bodies(), streamed.bodies(); !slices.Equal(got, want) {
		t.Fatalf("shuffled and grouped: %d requests; sorted and streamed: %d; the bodies differ", len(got), len(want))
	}
	// Sorted input through the grouper gives the same again.
	if got := packGrouped(t, sorted, DefaultLimits, GroupConfig{Memory: 1 << 20, TmpDir: t.TempDir()}); !slices.Equal(got.bodies(), streamed.bodies()) {
		t.Fatal("sorted input: the grouper's bodies differ from Adjacent's")
	}
}

// The buffers' capacity stays within the budget while rows come in.
func TestGrouperHoldsItsBudget(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	rows := realistic(rng, 50_000, 10)
	for _, budget := range []int64{4 << 10, 100 << 10, 1 << 20} {
		p, _ := NewPacker(DefaultLimits, &collect{})
		g := NewGrouper(p, GroupConfig{Memory: budget, TmpDir: t.TempDir()})
		peak := int64(0)
		for _, r := range rows {
			if err := g.Add(r); err != nil {
				t.Fatal(err)
			}
			peak = max(peak, int64(cap(g.recs))*recSize+int64(cap(g.arena)))
		}
		if peak > budget {
			t.Errorf("Grouper(%d bytes) held buffers of %d bytes", budget, peak)
		}
		if peak < budget/2 {
			t.Errorf("Grouper(%d bytes) used only %d bytes before spilling", budget, peak)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Temporary files are gone after Close, whether it succeeds or the output
// fails, and whether or not the system lets an open file be removed.
func TestGrouperRemovesTemporaryFiles(t *testing.T) {
	rows := realistic(rand.New(rand.NewPCG(7, 8)), 5000, 20)
	for _, tc := range []struct {
		name      string
		keepNames bool
		stopAfter int
	}{
		{"unlinked at once", false, 0},
		{"removed at close", true, 0},
		{"unlinked, output fails", false, 1},
		{"removed at close, output fails", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := &collect{stopAfter: tc.stopAfter}
			p, _ := NewPacker(Limits{MaxUsers: 10, MaxSegments: 100, MaxBytes: 100_000}, out)
			g := NewGrouper(p, GroupConfig{Memory: 16 << 10, TmpDir: dir})
			g.keepNames = tc.keepNames
			for _, r := range rows {
				if err := g.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			if g.open == 0 {
				t.Fatal("no temporary file: the test needs spills")
			}
			if names := entries(t, dir); tc.keepNames != (len(names) > 0) {
				t.Fatalf("before Close, with keepNames=%v: files %v", tc.keepNames, names)
			}
			err := g.Close()
			if tc.stopAfter > 0 && !errors.Is(err, errStopped) {
				t.Fatalf("Close with a failing output = %v, want %v", err, errStopped)
			}
			if tc.stopAfter == 0 && err != nil {
				t.Fatal(err)
			}
			if g.open != 0 {
				t.Errorf("%d temporary files still open after Close", g.open)
			}
			if names := entries(t, dir); len(names) > 0 {
				t.Errorf("after Close: %v left in %s", names, dir)
			}
		})
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// A spill that fails is an error, and the row it came with is not taken,
// but no row taken is lost: Close packs every row Add took.
func TestGrouperSpillFailureLosesNoRow(t *testing.T) {
	rows := realistic(rand.New(rand.NewPCG(9, 10)), 3000, 5)
	dir := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := &collect{}
	p, _ := NewPacker(DefaultLimits, out)
	g := NewGrouper(p, GroupConfig{Memory: 32 << 10, TmpDir: dir})
	added := 0
	var spillErr error
	for i, r := range rows {
		if i == len(rows)/2 {
			os.Remove(dir) // the disk goes away mid-run
		}
		if spillErr = g.Add(r); spillErr != nil {
			break
		}
		added++
	}
	var se *SpillError
	if !errors.As(spillErr, &se) || se.Dir != dir {
		t.Fatalf("Add after the directory went away = %v, want a SpillError naming %s", spillErr, dir)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if got := countRows(out); got != added {
		t.Errorf("%d rows added, %d sent or superseded", added, got)
	}
	if g.open != 0 {
		t.Errorf("%d temporary files still open", g.open)
	}
}

func countRows(out *collect) int {
	n := len(out.superseded)
	for _, r := range out.reqs {
		n += r.Rows()
	}
	return n
}

func TestGrouperAfterClose(t *testing.T) {
	p, _ := NewPacker(DefaultLimits, &collect{})
	g := NewGrouper(p, GroupConfig{Memory: 1 << 20})
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(reader.Row{UserID: "u", SegID: 1}); err == nil {
		t.Fatal("Add after Close: no error")
	}
}

// heapWatch is an Output that samples the live heap as superseded rows come.
type heapWatch struct {
	collect
	calls int
	peak  uint64
}

func (h *heapWatch) Superseded(row reader.Row, by reader.Position) error {
	if h.calls++; h.calls%20_000 == 0 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		h.peak = max(h.peak, m.HeapAlloc)
	}
	return nil
}

// A user with a million rows (a zeroed device ID, say) over a few segments
// holds memory for its segments, not its rows.
func TestGrouperManyRowsOneUser(t *testing.T) {
	const n = 1_000_000
	for _, tc := range []struct {
		name  string
		group func(*Packer) interface {
			Add(reader.Row) error
			Close() error
		}
	}{
		{"grouper", func(p *Packer) interface {
			Add(reader.Row) error
			Close() error
		} {
			return NewGrouper(p, GroupConfig{Memory: 4 << 20, TmpDir: t.TempDir()})
		}},
		{"adjacent", func(p *Packer) interface {
			Add(reader.Row) error
			Close() error
		} {
			return NewAdjacent(p, 0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &heapWatch{}
			p, _ := NewPacker(DefaultLimits, out)
			g := tc.group(p)
			for i := range n {
				r := reader.Row{Pos: reader.Position{File: "in.csv", Line: int64(i + 2)}, Domain: "idfa",
					UserID: "00000000-0000-0000-0000-000000000000", SegID: int64(1 + i%150)}
				if err := g.Add(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if got := countRows(&out.collect) + out.calls; got != n || out.users() != 2 {
				t.Fatalf("%d rows: %d sent or superseded in %d entries, want %d in 2", n, got, out.users(), n)
			}
			// Held as rows, they would take 230MB.
			if out.peak > 64<<20 {
				t.Errorf("heap reached %dMB for one user with 150 segments", out.peak>>20)
			}
		})
	}
}
