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
	// ids, if set, holds every user's ID, idLen bytes each: made before
	// a benchmark's timer starts, so that it times the diff, not the
	// making of IDs (reader's benchmarks time reading them).
	ids string
}

const idLen = 8

func newSnapshot(users, segs int, day2 bool) *snapshotRows {
	b := make([]byte, 0, users*idLen)
	for u := range users {
		b = strconv.AppendInt(b, int64(10_000_000+u), 10)
	}
	return &snapshotRows{users: users, segs: segs, day2: day2, ids: string(b)}
}

func (s *snapshotRows) NextBatch(batch []reader.Row) ([]reader.Row, error) {
	for len(batch) < cap(batch) {
		if s.next == s.users {
			return batch, io.EOF
		}
		var u string
		if s.ids != "" {
			u = s.ids[s.next*idLen : (s.next+1)*idLen]
		} else {
			u = strconv.Itoa(10_000_000 + s.next)
		}
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
func (quietOutcomes) Unchanged([]reader.Row)                   {}

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

// BenchmarkSyncDiff times the diff stage of rtseg sync --sorted: a day-2
// snapshot sorted by user compared with a delivered state on disk of the
// same size. It times, from the first row taken to the last request
// packed: reading and checking the state file (arrow's Parquet reader),
// grouping the snapshot's rows by user, the merge, writing the plan to
// temporary files, recording every row's outcome with the real Recorder
// (as without --report-all), and reading back and packing what changed
// (2% of users) into request bodies, which are counted and dropped. It
// does not time parsing the snapshot (its rows are generated, their user
// IDs made before the timer: reader's benchmarks time parsing), sending,
// or writing the new state. RTSEG_BENCH_ROWS sets the number of
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
	if users > 89_999_999 {
		b.Fatalf("RTSEG_BENCH_ROWS %d: user IDs run out at %d users", rows, 89_999_999)
	}
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
		rec := NewRecorder(RecorderConfig{Command: "sync", Acked: NewAcked()})
		b.StopTimer()
		snapshot := newSnapshot(users, segs, true)
		b.StartTimer()
		plan, err := chunker.Sync(context.Background(), snapshot, cfg, rec, queue)
		close(queue)
		sentUsers = <-done
		if err != nil {
			b.Fatal(err)
		}
		sum, err := rec.Close()
		if err != nil {
			b.Fatal(err)
		}
		if sum.Unchanged != int64(rows-users/50) || sum.RowsRead != int64(rows) {
			b.Fatalf("recorded %d rows read, %d unchanged", sum.RowsRead, sum.Unchanged)
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

// BenchmarkWriteState writes a state of a million associations, four a
// user, as the first sync writes it at its end: every fifth segment named
// by code, every third association without a value, so that the nullable
// columns mix nulls and values. Bytes allocated per op are what the
// collector must keep up with then.
func BenchmarkWriteState(b *testing.B) {
	b.ReportAllocs()
	rows := make([]reader.Row, 1_000_000)
	for i := range rows {
		r := &rows[i]
		r.UserID, r.SegID = strconv.Itoa(10_000_000+i/4), int64(100+i%4)
		if i%5 == 4 {
			r.SegID, r.SegCode, r.MemberID = 0, "code-"+strconv.Itoa(i%4), 1234
		}
		if i%3 > 0 {
			r.Value, r.HasValue = int32(i%100), true
		}
		r.Expiration, r.HasExpiration = 43200, true
	}
	at := time.Now()
	for b.Loop() {
		f, err := createPending(filepath.Join(b.TempDir(), reader.StateFile))
		if err != nil {
			b.Fatal(err)
		}
		w, err := newStateWriter(f)
		if err != nil {
			b.Fatal(err)
		}
		for i := range rows {
			w.add(&rows[i], at)
			if err := w.flushIfFull(); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.close(); err != nil {
			b.Fatal(err)
		}
		if err := f.commit(); err != nil {
			b.Fatal(err)
		}
	}
}
