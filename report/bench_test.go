package report

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
)

// snapshotRows makes a snapshot sorted by user, as Batches: users of segs
// segments each, Xandr user IDs of one length; of every 50 users, one has
// its first segment's value changed from the state benchState writes.
type snapshotRows struct {
	users, segs, next int
	day2              bool
}

func (s *snapshotRows) NextBatch(batch []reader.Row) ([]reader.Row, error) {
	for len(batch) < cap(batch) {
		if s.next == s.users {
			return batch, io.EOF
		}
		u := strconv.Itoa(10_000_000 + s.next)
		for seg := range s.segs {
			r := reader.Row{Pos: reader.Position{File: "snapshot.csv", Line: int64(2 + s.next*s.segs + seg)}, UserID: u,
				SegID: int64(100 + seg), Value: int32(s.next % 100), HasValue: true, Expiration: 43200, HasExpiration: true}
			if s.day2 && s.next%50 == 0 && seg == 0 {
				r.Value++
			}
			batch = append(batch, r)
		}
		s.next++
	}
	return batch, nil
}

// quietOutcomes counts nothing: the benchmark measures the diff alone.
type quietOutcomes struct{}

func (quietOutcomes) Read(int)                                 {}
func (quietOutcomes) Invalid(reader.Row)                       {}
func (quietOutcomes) Superseded(reader.Row, reader.Position)   {}
func (quietOutcomes) Skipped(*chunker.Request)                 {}
func (quietOutcomes) Queued(*chunker.Request)                  {}
func (quietOutcomes) Unsent(context.Context, *chunker.Request) {}
func (quietOutcomes) Unchanged(reader.Row)                     {}

// benchState writes the delivered state of day 1 of snapshotRows, with
// rtseg's writer.
func benchState(b *testing.B, users, segs int) string {
	path := filepath.Join(b.TempDir(), reader.StateFile)
	f, err := createPending(path)
	if err != nil {
		b.Fatal(err)
	}
	w, err := newStateWriter(f)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	src := &snapshotRows{users: users, segs: segs}
	batch := make([]reader.Row, 0, 1024)
	for {
		var err error
		batch, err = src.NextBatch(batch[:0])
		for i := range batch {
			w.add(&batch[i], at)
			if err := w.flushIfFull(); err != nil {
				b.Fatal(err)
			}
		}
		if err == io.EOF {
			break
		}
	}
	if err := w.close(); err != nil {
		b.Fatal(err)
	}
	if err := f.commit(); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkSyncDiff compares a day-2 snapshot sorted by user (generated,
// not parsed) with a delivered state on disk of the same size, as rtseg
// sync --sorted does: reading the state, merging, writing the plan and
// packing what changed (2% of users). RTSEG_BENCH_ROWS sets the number of
// associations (default 1,000,000; the figure in the README is for
// 10,000,000).
func BenchmarkSyncDiff(b *testing.B) {
	rows := 1_000_000
	if v := os.Getenv("RTSEG_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	const segs = 4
	users := rows / segs
	path := benchState(b, users, segs)
	b.ResetTimer()
	var sentUsers int
	for b.Loop() {
		state, err := reader.OpenState(path)
		if err != nil {
			b.Fatal(err)
		}
		cfg := chunker.SyncConfig{
			Intake: chunker.IntakeConfig{Limits: chunker.DefaultLimits, Sorted: true, TmpDir: b.TempDir()},
			Diff:   chunker.DiffConfig{Now: time.Now(), RefreshBefore: 48 * time.Hour},
			State:  state, StateFile: path, Delivered: state.Len(),
		}
		queue := make(chan *chunker.Request, 8)
		done := make(chan int)
		go func() {
			n := 0
			for r := range queue {
				n += r.Users()
			}
			done <- n
		}()
		plan, err := chunker.Sync(context.Background(), &snapshotRows{users: users, segs: segs, day2: true}, cfg, quietOutcomes{}, queue)
		close(queue)
		sentUsers = <-done
		if err != nil {
			b.Fatal(err)
		}
		if c := plan.Counts(); c.Changed != int64(users/50) || c.Unchanged != int64(rows-users/50) {
			b.Fatalf("plan counts %+v, want %d changed", c, users/50)
		}
		plan.Close()
		state.Close()
	}
	if sentUsers != users/50 {
		b.Fatalf("%d user entries sent, want the %d users with a change", sentUsers, users/50)
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(sentUsers)/float64(users/50), "sent/changed-users")
}
