package chunker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtseg/rtseg/reader"
)

// stateOf hands out delivered associations in order, then io.EOF.
type stateOf struct {
	rows []reader.Delivered
	err  error // instead of io.EOF
}

func (s *stateOf) Next() (*reader.Delivered, error) {
	if len(s.rows) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		return nil, io.EOF
	}
	d := s.rows[0]
	s.rows = s.rows[1:]
	return &d, nil
}

// syncOutcomes adds the unchanged rows to outcomes.
type syncOutcomes struct {
	outcomes
	unchanged []reader.Row
}

func (o *syncOutcomes) Unchanged(rows []reader.Row) {
	o.mu.Lock()
	o.unchanged = append(o.unchanged, rows...)
	o.mu.Unlock()
}

var diffNow = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// snap makes a snapshot row: "user seg value expiration", "-" for an
// absent number, an idfa user when user starts with "i".
func snap(line int64, s string) reader.Row {
	f := strings.Fields(s)
	r := reader.Row{Pos: reader.Position{File: "snap.csv", Line: line}, UserID: f[0]}
	if strings.HasPrefix(f[0], "i") {
		r.Domain = "idfa"
	}
	fmt.Sscan(f[1], &r.SegID)
	if f[2] != "-" {
		fmt.Sscan(f[2], &r.Value)
		r.HasValue = true
	}
	if f[3] != "-" {
		fmt.Sscan(f[3], &r.Expiration)
		r.HasExpiration = true
	}
	return r
}

// delivered makes a state row as snap does, delivered ago before diffNow.
func delivered(line int64, s string, ago time.Duration) reader.Delivered {
	r := snap(line, s)
	r.Pos.File = "state.parquet"
	return reader.Delivered{Row: r, At: diffNow.Add(-ago)}
}

// runSync runs Sync, sending nothing, and returns each association's
// action as "user/seg:action", the requests queued and the outcomes.
func runSync(t *testing.T, cfg SyncConfig, rows []reader.Row, state []reader.Delivered) ([]string, []*Request, *syncOutcomes, error) {
	t.Helper()
	cfg.Intake.Limits = DefaultLimits
	cfg.Intake.TmpDir = t.TempDir()
	cfg.Diff.Now = diffNow
	cfg.StateFile = "state.parquet"
	if state != nil {
		cfg.State, cfg.Delivered = &stateOf{rows: state}, int64(len(state))
	}
	out := &syncOutcomes{}
	queue := make(chan *Request, 100)
	plan, err := Sync(context.Background(), &rowsOf{rows: rows}, cfg, out, queue)
	close(queue)
	var reqs []*Request
	for r := range queue {
		reqs = append(reqs, r)
	}
	var got []string
	if plan != nil {
		defer plan.Close()
		if perr := plan.Each(func(e *PlanEntry) error {
			r := e.New
			if !e.HasNew {
				r = e.Old
			}
			got = append(got, fmt.Sprintf("%s/%d:%s", r.UserID, r.SegID, e.Action))
			return nil
		}); perr != nil {
			t.Fatal(perr)
		}
	}
	return got, reqs, out, err
}

func TestSyncDecides(t *testing.T) {
	day := 24 * time.Hour
	state := []reader.Delivered{
		delivered(1, "1000001 1 5 0", 10*day),            // kept as is: never expires
		delivered(2, "1000001 2 5 43200", day),           // value changes
		delivered(3, "1000001 3 5 43200", 29*day),        // ends in a day: refreshed
		delivered(4, "1000001 4 5 43200", day),           // absent: removed (mirror)
		delivered(5, "1000002 1 - 1440", 2*day),          // absent and over: expired
		delivered(6, "1000003 1 - -", 400*day),           // no expiration: the member's default
		delivered(7, "1000004 1 1 43200", day),           // removed by the snapshot
		delivered(8, "i-aaaa 1 1 43200", day),            // expiration changes
		delivered(9, "i-bbbb 1 1 43200", day),            // a whole user absent
		delivered(10, "i-bbbb 2 1 0", day),               // ...
		delivered(11, "i-cccc 7 1 43200", 100*time.Hour), // ends in 620h: unchanged
	}
	rows := []reader.Row{
		snap(2, "1000001 1 5 0"),
		snap(3, "1000001 2 6 43200"),
		snap(4, "1000001 3 5 43200"),
		snap(5, "1000001 9 5 43200"), // new
		snap(6, "1000003 1 - -"),
		snap(7, "1000004 1 - -1"),
		snap(8, "1000005 1 - -1"), // removes what was never delivered
		snap(9, "i-aaaa 1 1 1440"),
		snap(10, "i-cccc 7 1 43200"),
		snap(11, "i-dddd 1 1 43200"), // a new user
	}
	mirror := []string{
		"1000001/1:unchanged", "1000001/2:changed", "1000001/3:refreshed", "1000001/4:removed", "1000001/9:added",
		"1000002/1:expired", "1000003/1:unchanged", "1000004/1:removed", "1000005/1:unchanged",
		"i-aaaa/1:changed", "i-bbbb/1:removed", "i-bbbb/2:removed", "i-cccc/7:unchanged", "i-dddd/1:added",
	}
	for _, tc := range []struct {
		name string
		cfg  SyncConfig
		want []string
	}{
		{"mirror", SyncConfig{Diff: DiffConfig{RefreshBefore: 48 * time.Hour}}, mirror},
		{"upsert", SyncConfig{Diff: DiffConfig{Mode: Upsert, RefreshBefore: 48 * time.Hour}},
			replace(mirror, "1000001/4:removed", "1000001/4:kept", "i-bbbb/1:removed", "i-bbbb/1:kept", "i-bbbb/2:removed", "i-bbbb/2:kept")},
		{"default lifetime", SyncConfig{Diff: DiffConfig{RefreshBefore: 48 * time.Hour, DefaultLifetime: 365 * day}},
			replace(mirror, "1000003/1:unchanged", "1000003/1:refreshed")},
		{"no refresh", SyncConfig{Diff: DiffConfig{}}, replace(mirror, "1000001/3:refreshed", "1000001/3:unchanged")},
		{"long refresh", SyncConfig{Diff: DiffConfig{RefreshBefore: 700 * time.Hour}},
			replace(mirror, "i-cccc/7:unchanged", "i-cccc/7:refreshed")},
		{"full", SyncConfig{Diff: DiffConfig{Full: true, RefreshBefore: 48 * time.Hour}},
			replace(mirror, "1000001/1:unchanged", "1000001/1:refreshed", "1000003/1:unchanged", "1000003/1:refreshed", "i-cccc/7:unchanged", "i-cccc/7:refreshed")},
	} {
		for _, sorted := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/sorted=%v", tc.name, sorted), func(t *testing.T) {
				tc.cfg.Intake.Sorted = sorted
				in := slices.Clone(rows)
				if !sorted {
					slices.Reverse(in)
				}
				got, reqs, out, err := runSync(t, tc.cfg, in, slices.Clone(state))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("Sync decided\n%s\nwant\n%s", strings.Join(got, " "), strings.Join(tc.want, " "))
				}
				// Every row read is queued or unchanged, removals included.
				sent := 0
				for _, r := range reqs {
					sent += r.Rows()
				}
				if out.read != sent+len(out.unchanged) {
					t.Errorf("%d rows read, %d sent and %d unchanged", out.read, sent, len(out.unchanged))
				}
			})
		}
	}
}

func replace(list []string, pairs ...string) []string {
	out := slices.Clone(list)
	for i := 0; i < len(pairs); i += 2 {
		j := slices.Index(out, pairs[i])
		if j < 0 {
			panic(pairs[i])
		}
		out[j] = pairs[i+1]
	}
	return out
}

// TestSyncRefusesBeforeSending: a guard that trips, input out of order and
// a damaged state each queue nothing, and every row read is accounted for
// as unsent or unchanged.
func TestSyncRefusesBeforeSending(t *testing.T) {
	state := []reader.Delivered{
		delivered(1, "1000001 1 5 0", time.Hour), delivered(2, "1000002 1 5 0", time.Hour),
		delivered(3, "1000003 1 5 0", time.Hour), delivered(4, "1000004 1 5 0", time.Hour),
	}
	half := []reader.Row{snap(2, "1000001 1 5 0"), snap(3, "1000002 1 5 0"), snap(4, "1000009 1 5 0")}
	limit, _ := ParseRemovalLimit("10%")
	one, _ := ParseRemovalLimit("2")
	for _, tc := range []struct {
		name   string
		cfg    SyncConfig
		rows   []reader.Row
		state  []reader.Delivered
		broken error
		want   any
	}{
		{"half removed", SyncConfig{MaxRemovals: &limit}, half, state, nil, new(*RemovalsError)},
		{"empty snapshot", SyncConfig{MaxRemovals: &limit}, nil, state, nil, new(*RemovalsError)},
		{"out of order", SyncConfig{Intake: IntakeConfig{Sorted: true}}, []reader.Row{snap(2, "1000002 1 5 0"), snap(3, "1000001 1 5 0")}, state, nil, new(*OrderError)},
		{"damaged state", SyncConfig{}, half, state[:2], errors.New("bad page"), new(error)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := slices.Clone(tc.state)
			cfg := tc.cfg
			var got []string
			var reqs []*Request
			var out *syncOutcomes
			var err error
			if tc.broken != nil {
				cfg.Intake.Limits = DefaultLimits
				cfg.Intake.TmpDir = t.TempDir()
				cfg.State = &stateOf{rows: st, err: tc.broken}
				out = &syncOutcomes{}
				queue := make(chan *Request, 100)
				var plan *Plan
				plan, err = Sync(context.Background(), &rowsOf{rows: tc.rows}, cfg, out, queue)
				close(queue)
				for r := range queue {
					reqs = append(reqs, r)
				}
				if plan.Complete() {
					t.Error("the plan of a run whose state broke is complete")
				}
				plan.Close()
				if !errors.Is(err, tc.broken) {
					t.Fatalf("Sync = %v, want %v", err, tc.broken)
				}
			} else {
				got, reqs, out, err = runSync(t, cfg, tc.rows, st)
				if target := tc.want; !errors.As(err, target) {
					t.Fatalf("Sync = %v, want a %T", err, target)
				}
			}
			if len(reqs) > 0 {
				t.Errorf("%d requests queued, want none", len(reqs))
			}
			unsent := 0
			for _, r := range out.queued {
				unsent += r.Rows()
			}
			if out.read != unsent+len(out.unchanged) || out.unsent != len(out.queued) {
				t.Errorf("%d rows read, %d unsent (in %d of %d requests) and %d unchanged; decided %v", out.read, unsent, out.unsent, len(out.queued), len(out.unchanged), got)
			}
		})
	}
	// Within a count the removals go ahead.
	_, reqs, _, err := runSync(t, SyncConfig{MaxRemovals: &one}, half, slices.Clone(state))
	if err != nil || len(reqs) != 1 || reqs[0].Rows() != 3 {
		t.Errorf("Sync within --max-removals 2 = %v, %d requests, want 1 of 3 rows (an add, two removals)", err, len(reqs))
	}
}

// TestSyncKeepsInvalidUsers: in mirror mode, the delivered associations of
// a user with an invalid row in the snapshot are kept, not removed, whether
// the snapshot streams sorted or is grouped and spilled; an invalid row
// that names no user keeps nothing; and a held user out of order is
// refused as a valid one would be.
func TestSyncKeepsInvalidUsers(t *testing.T) {
	state := []reader.Delivered{
		delivered(1, "1000001 1 5 0", time.Hour), delivered(2, "1000001 2 5 0", time.Hour),
		delivered(3, "1000002 1 5 0", time.Hour), delivered(4, "1000003 1 5 0", time.Hour),
		delivered(5, "i-aaaa 1 5 0", time.Hour), delivered(6, "i-aaaa 2 5 0", time.Hour),
	}
	invalid := func(r reader.Row) reader.Row {
		r.Err = &reader.FieldError{Field: "value", Value: "x", Err: reader.ErrNotWhole}
		return r
	}
	noUser := invalid(snap(5, "1000003 1 5 0"))
	noUser.UserID = ""
	rows := []reader.Row{
		snap(2, "1000001 1 5 0"),
		invalid(snap(3, "1000001 2 6 0")), // segment 2 kept
		invalid(snap(4, "1000002 1 6 0")), // the user's only row: kept
		noUser,                            // 1000003 is removed
		snap(6, "1000004 1 5 0"),
		invalid(snap(7, "i-aaaa 3 5 0")), // i-aaaa's segments 1 and 2 kept
	}
	want := []string{"1000001/1:unchanged", "1000001/2:kept", "1000002/1:kept", "1000003/1:removed",
		"1000004/1:added", "i-aaaa/1:kept", "i-aaaa/2:kept"}
	for _, tc := range []struct {
		name   string
		intake IntakeConfig
	}{
		{"sorted", IntakeConfig{Sorted: true}},
		{"grouped", IntakeConfig{}},
		{"spilled", IntakeConfig{Memory: 200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(rows)
			if !tc.intake.Sorted {
				slices.Reverse(in)
			}
			got, reqs, out, err := runSync(t, SyncConfig{Intake: tc.intake}, in, slices.Clone(state))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Sync decided\n%s\nwant\n%s", strings.Join(got, " "), strings.Join(want, " "))
			}
			sent := 0
			for _, r := range reqs {
				sent += r.Rows()
			}
			if sent != 2 || out.invalid != 4 || out.read != sent+out.invalid+len(out.unchanged) {
				t.Errorf("%d rows read: %d sent, %d invalid, %d unchanged; want 2 sent and 4 invalid", out.read, sent, out.invalid, len(out.unchanged))
			}
		})
	}
	// Sorted input whose invalid row's user comes out of order.
	late := []reader.Row{snap(2, "1000002 1 5 0"), invalid(snap(3, "1000001 2 6 0"))}
	if _, reqs, _, err := runSync(t, SyncConfig{Intake: IntakeConfig{Sorted: true}}, late, slices.Clone(state)); !errors.As(err, new(*OrderError)) || len(reqs) > 0 {
		t.Errorf("Sync of a held user out of order = %v, %d requests; want an OrderError and none", err, len(reqs))
	}
}
