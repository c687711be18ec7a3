package chunker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rtseg/rtseg/reader"
)

// rowsOf hands out rows a few at a time, as a reader does, then io.EOF
// (or err) with no rows.
type rowsOf struct {
	rows []reader.Row
	err  error // after the rows, instead of io.EOF
}

func (r *rowsOf) NextBatch(batch []reader.Row) ([]reader.Row, error) {
	if len(r.rows) == 0 {
		if r.err != nil {
			return batch, r.err
		}
		return batch, io.EOF
	}
	n := min(len(r.rows), 3)
	batch = append(batch, r.rows[:n]...)
	r.rows = r.rows[n:]
	return batch, nil
}

// outcomes keeps what intake decided, as the recorder would count it.
type outcomes struct {
	mu                                sync.Mutex
	read, invalid, superseded, unsent int
	skipped, queued                   []*Request
}

func (o *outcomes) Read(n int) { o.mu.Lock(); o.read += n; o.mu.Unlock() }
func (o *outcomes) Invalid(reader.Row) {
	o.mu.Lock()
	o.invalid++
	o.mu.Unlock()
}
func (o *outcomes) Superseded(reader.Row, reader.Position) {
	o.mu.Lock()
	o.superseded++
	o.mu.Unlock()
}
func (o *outcomes) Skipped(r *Request) { o.mu.Lock(); o.skipped = append(o.skipped, r); o.mu.Unlock() }
func (o *outcomes) Queued(r *Request)  { o.mu.Lock(); o.queued = append(o.queued, r); o.mu.Unlock() }
func (o *outcomes) Unsent(context.Context, *Request) {
	o.mu.Lock()
	o.unsent++
	o.mu.Unlock()
}

// journalOf knows the bodies of an earlier run and where later values of
// users' segments were delivered.
type journalOf struct {
	bodies map[string]bool
	later  map[association]reader.Position
}

type association struct {
	user reader.User
	seg  reader.Segment
}

func (j journalOf) Acknowledged(r *Request) bool { return j.bodies[string(r.Body)] }
func (j journalOf) Later(row *reader.Row) (reader.Position, bool) {
	p, ok := j.later[association{row.User(), row.Segment()}]
	return p, ok && row.Pos.Line < p.Line
}

func intakeRows() []reader.Row {
	at := func(line int64, user string, seg int64) reader.Row {
		return reader.Row{Pos: reader.Position{File: "in.csv", Line: line}, UserID: user, SegID: seg}
	}
	bad := at(4, "x", 0)
	bad.Err = &reader.FieldError{Field: "seg_id", Value: "x", Err: reader.ErrNotWhole}
	return []reader.Row{at(2, "u1", 1), at(3, "u2", 1), bad, at(5, "u1", 2), at(6, "u1", 1), at(7, "u3", 1)}
}

func drain(queue <-chan *Request) (n int) {
	for range queue {
		n++
	}
	return n
}

func TestIntake(t *testing.T) {
	for _, sorted := range []bool{false, true} {
		out := &outcomes{}
		queue := make(chan *Request, 10)
		dir := filepath.Join(t.TempDir(), "requests")
		cfg := IntakeConfig{Limits: Limits{MaxUsers: 1, MaxSegments: 100, MaxBytes: 10000}, Sorted: sorted, RequestsDir: dir}
		var grew []int64
		cfg.OnMemory = func(size int64) { grew = append(grew, size) }
		err := Intake(t.Context(), &rowsOf{rows: intakeRows()}, cfg, out, queue)
		close(queue)
		sent := drain(queue)
		if err != nil {
			t.Fatalf("sorted=%v: Intake = %v", sorted, err)
		}
		// Unsorted, u1 is one user: 3 requests. Sorted, u1 comes back
		// after u2 and the invalid row: 4 requests.
		wantSent := map[bool]int{false: 3, true: 4}[sorted]
		wantSuperseded := map[bool]int{false: 1, true: 0}[sorted]
		if out.read != 6 || out.invalid != 1 || out.superseded != wantSuperseded || sent != wantSent || len(out.queued) != sent {
			t.Errorf("sorted=%v: read %d, invalid %d, superseded %d, queued %d, sent %d; want 6, 1, %d, %d, %d",
				sorted, out.read, out.invalid, out.superseded, len(out.queued), sent, wantSuperseded, wantSent, wantSent)
		}
		if files, _ := os.ReadDir(dir); len(files) != wantSent {
			t.Errorf("sorted=%v: --requests-dir holds %d files, want %d", sorted, len(files), wantSent)
		}
		if len(grew) == 0 {
			t.Errorf("sorted=%v: OnMemory was never told what grouping holds", sorted)
		}
	}
}

func TestIntakeSkipsWhatAnEarlierRunDelivered(t *testing.T) {
	// An earlier run delivered u2's request, and u1's later row for
	// segment 1 (line 6): its row at line 2 must not be sent.
	earlier := &outcomes{}
	queue := make(chan *Request, 10)
	limits := Limits{MaxUsers: 1, MaxSegments: 100, MaxBytes: 10000}
	if err := Intake(t.Context(), &rowsOf{rows: intakeRows()}, IntakeConfig{Limits: limits}, earlier, queue); err != nil {
		t.Fatal(err)
	}
	close(queue)
	j := journalOf{bodies: map[string]bool{}, later: map[association]reader.Position{
		{reader.User{ID: "u1"}, reader.Segment{ID: 1}}: {File: "in.csv", Line: 6},
	}}
	for req := range queue {
		if req.Entries[0].User.ID == "u2" {
			j.bodies[string(req.Body)] = true
		}
	}
	out := &outcomes{}
	queue = make(chan *Request, 10)
	err := Intake(t.Context(), &rowsOf{rows: intakeRows()}, IntakeConfig{Limits: limits, Journal: j}, out, queue)
	close(queue)
	sent := drain(queue)
	if err != nil || len(out.skipped) != 1 || out.superseded != 1 || sent != 2 {
		t.Errorf("resumed: err %v, skipped %d, superseded %d, sent %d; want nil, 1 (u2), 1 (u1's line 2, by line 6), 2 (u1, u3)",
			err, len(out.skipped), out.superseded, sent)
	}
}

func TestIntakeStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	out := &outcomes{}
	queue := make(chan *Request) // nobody takes from it
	err := Intake(ctx, &rowsOf{rows: intakeRows()}, IntakeConfig{Limits: Limits{MaxUsers: 1, MaxSegments: 100, MaxBytes: 10000}}, out, queue)
	if err != nil || out.read != 0 || out.unsent != 0 {
		t.Errorf("cancelled before the first row: err %v, read %d, unsent %d; want nil, 0, 0", err, out.read, out.unsent)
	}

	// Stopped after the input was read: what grouping holds is packed
	// and goes to out as unsent.
	ctx, cancel = context.WithCancel(t.Context())
	out = &outcomes{}
	rows := &rowsOf{rows: intakeRows()}
	stopAtEnd := batchesThen{rows, cancel}
	err = Intake(ctx, stopAtEnd, IntakeConfig{Limits: Limits{MaxUsers: 1, MaxSegments: 100, MaxBytes: 10000}}, out, queue)
	if err != nil || out.read != 6 || out.unsent != 3 || len(out.queued) != 3 {
		t.Errorf("cancelled at the end of the input: err %v, read %d, queued %d, unsent %d; want nil, 6, 3, 3", err, out.read, len(out.queued), out.unsent)
	}
}

// batchesThen calls stop once the input is read.
type batchesThen struct {
	rows *rowsOf
	stop func()
}

func (b batchesThen) NextBatch(batch []reader.Row) ([]reader.Row, error) {
	batch, err := b.rows.NextBatch(batch)
	if err != nil {
		b.stop()
	}
	return batch, err
}

// An input that breaks part-way: unsorted, nothing read is sent, since it
// may be garbage; sorted, what was read before the error streams on.
func TestIntakeInputError(t *testing.T) {
	broken := errors.New("in.csv.gz: gzip: invalid checksum")
	for _, sorted := range []bool{false, true} {
		out := &outcomes{}
		queue := make(chan *Request, 10)
		cfg := IntakeConfig{Limits: Limits{MaxUsers: 1, MaxSegments: 100, MaxBytes: 10000}, Sorted: sorted}
		err := Intake(t.Context(), &rowsOf{rows: intakeRows()[:2], err: broken}, cfg, out, queue)
		close(queue)
		sent := drain(queue)
		var re *ReadError
		if !errors.Is(err, broken) || !errors.As(err, &re) || re.Sorted != sorted || out.read != 2 {
			t.Errorf("sorted=%v: Intake over a broken input = %v after %d rows, want a *ReadError wrapping %v after 2", sorted, err, out.read, broken)
		}
		wantSent, wantUnsent := 0, 2
		if sorted {
			wantSent, wantUnsent = 2, 0
		}
		if sent != wantSent || out.unsent != wantUnsent {
			t.Errorf("sorted=%v: %d requests sent, %d unsent; want %d, %d", sorted, sent, out.unsent, wantSent, wantUnsent)
		}
	}
}

func TestIntakeConfigCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		name string
		cfg  IntakeConfig
		err  string
	}{
		{"defaults", IntakeConfig{Limits: DefaultLimits}, ""},
		{"a temporary directory", IntakeConfig{Limits: DefaultLimits, TmpDir: dir}, ""},
		{"no users", IntakeConfig{Limits: Limits{MaxUsers: 0, MaxSegments: 100, MaxBytes: 1_000_000}}, "--max-users must be at least 1, not 0"},
		{"no segments", IntakeConfig{Limits: Limits{MaxUsers: 1, MaxSegments: -1, MaxBytes: 1_000_000}}, "--max-segments must be at least 1, not -1"},
		{"too few bytes", IntakeConfig{Limits: Limits{MaxUsers: 1, MaxSegments: 1, MaxBytes: 100}}, "--max-bytes must be at least 2048 to hold any one row, not 100"},
		{"more users than the service takes", IntakeConfig{Limits: Limits{MaxUsers: 1001, MaxSegments: 100, MaxBytes: 1_000_000}},
			"--max-users 1001 is above the service's limit of 1000 users per request; give --allow-above-service-limits if Xandr raised the member's limits"},
		{"more segments than the service takes", IntakeConfig{Limits: Limits{MaxUsers: 1000, MaxSegments: 1000, MaxBytes: 1_000_000}},
			"--max-segments 1000 is above the service's limit of 100 segments per user per request"},
		{"a larger body than the service takes", IntakeConfig{Limits: Limits{MaxUsers: 1000, MaxSegments: 100, MaxBytes: 1_000_001}},
			"--max-bytes 1000001 is above the service's limit of 1000000 bytes per request body"},
		{"limits raised for the member", IntakeConfig{Limits: Limits{MaxUsers: 5000, MaxSegments: 1000, MaxBytes: 4_000_000, AllowAboveService: true}}, ""},
		{"a missing --tmp-dir", IntakeConfig{Limits: DefaultLimits, TmpDir: filepath.Join(dir, "none")}, "--tmp-dir: stat "},
		{"a file as --tmp-dir", IntakeConfig{Limits: DefaultLimits, TmpDir: file}, "not a directory"},
	} {
		err := tc.cfg.Check()
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: Check() = %v, want %q", tc.name, err, tc.err)
		}
	}
}

// When the run ends on an error, every row counted as read still has an
// outcome: rows read = invalid + superseded + rows of requests queued.
func TestIntakeAccountsOnErrors(t *testing.T) {
	rowsIn := func(reqs []*Request) (n int) {
		for _, r := range reqs {
			n += r.Rows()
		}
		return n
	}
	many := make([]reader.Row, 0, 3000)
	for i := range 3000 {
		many = append(many, reader.Row{Pos: reader.Position{File: "in.csv", Line: int64(i + 2)},
			UserID: fmt.Sprintf("user-%05d", i%700), SegID: int64(i%9 + 1)})
	}
	gone := filepath.Join(t.TempDir(), "gone")
	blocked := filepath.Join(t.TempDir(), "requests")
	os.MkdirAll(filepath.Join(blocked, "request-000002.json"), 0o755) // a body cannot be written there
	for _, tc := range []struct {
		name string
		cfg  IntakeConfig
		want string
	}{
		{"a spill that fails", IntakeConfig{Limits: DefaultLimits, Memory: 32 << 10, TmpDir: gone}, "spill"},
		{"a body that cannot be written", IntakeConfig{Limits: Limits{MaxUsers: 10, MaxSegments: 100, MaxBytes: 10000}, RequestsDir: blocked}, "--requests-dir"},
		{"the same, sorted", IntakeConfig{Limits: Limits{MaxUsers: 10, MaxSegments: 100, MaxBytes: 10000}, RequestsDir: blocked, Sorted: true}, "--requests-dir"},
	} {
		out := &outcomes{}
		queue := make(chan *Request, 1000)
		err := Intake(t.Context(), &rowsOf{rows: slices.Clone(many)}, tc.cfg, out, queue)
		close(queue)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Intake = %v, want an error about %s", tc.name, err, tc.want)
		}
		if got := out.invalid + out.superseded + rowsIn(out.queued); got != out.read || out.read == 0 {
			t.Errorf("%s: %d rows read, but %d invalid + %d superseded + %d in requests queued", tc.name, out.read, out.invalid, out.superseded, rowsIn(out.queued))
		}
		if drained := drain(queue) + out.unsent; drained != len(out.queued) {
			t.Errorf("%s: %d requests queued, %d sent on or unsent", tc.name, len(out.queued), drained)
		}
	}
}

// TestIntakePhases checks the phases intake names, in order: sorted input
// is read and packed as it comes; unsorted input is grouped, spilled past
// its budget, then packed; every run ends packed, with the rows read by the
// time it is packing.
func TestIntakePhases(t *testing.T) {
	many := func() []reader.Row {
		var rows []reader.Row
		for i := range 2000 {
			rows = append(rows, reader.Row{Pos: reader.Position{File: "in.csv", Line: int64(i + 2)},
				UserID: fmt.Sprintf("user-%04d", (i*7919)%1000), SegID: int64(1 + i%3)})
		}
		return rows
	}
	for _, tc := range []struct {
		name   string
		sorted bool
		memory int64
		rows   []reader.Row
		want   []Phase
	}{
		{"sorted", true, 0, intakeRows(), []Phase{Reading, Packing, Packed}},
		{"unsorted in memory", false, 0, intakeRows(), []Phase{Grouping, Packing, Packed}},
		{"unsorted past its budget", false, 16 << 10, many(), []Phase{Grouping, Spilling, Packing, Packed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &outcomes{}
			queue := make(chan *Request, 10000)
			var got []Phase
			read := -1
			cfg := IntakeConfig{Limits: DefaultLimits, Sorted: tc.sorted, Memory: tc.memory, TmpDir: t.TempDir(),
				OnPhase: func(p Phase) {
					if len(got) == 0 || got[len(got)-1] != p {
						got = append(got, p)
					}
					if p == Packing {
						out.mu.Lock()
						read = out.read
						out.mu.Unlock()
					}
				}}
			if err := Intake(t.Context(), &rowsOf{rows: tc.rows}, cfg, out, queue); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("phases %v, want %v", got, tc.want)
			}
			if read != len(tc.rows) || !Packing.Read() || Spilling.Read() {
				t.Errorf("rows read when packing began: %d, want all %d", read, len(tc.rows))
			}
		})
	}
}
