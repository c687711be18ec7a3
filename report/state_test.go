package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader"
)

type rowsOf struct{ rows []reader.Row }

func (r *rowsOf) NextBatch(batch []reader.Row) ([]reader.Row, error) {
	batch = append(batch, r.rows...)
	r.rows = nil
	return batch, io.EOF
}

type stateOf struct{ rows []reader.Delivered }

func (s *stateOf) Next() (*reader.Delivered, error) {
	if len(s.rows) == 0 {
		return nil, io.EOF
	}
	d := s.rows[0]
	s.rows = s.rows[1:]
	return &d, nil
}

func assoc(file string, line int64, user string, seg, value int64) reader.Row {
	return reader.Row{Pos: reader.Position{File: file, Line: line}, UserID: user, SegID: seg,
		Value: int32(value), HasValue: true, Expiration: 43200, HasExpiration: true}
}

// TestWriteStateFromAcknowledged syncs a snapshot against a state, has
// the service accept some rows and warn about others, and reads the state
// written back: it changes only by what was accepted.
func TestWriteStateFromAcknowledged(t *testing.T) {
	then := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	now := then.Add(72 * time.Hour)
	const statePath = "state.parquet"
	old := func(line int64, user string, seg, value int64) reader.Delivered {
		return reader.Delivered{Row: assoc(statePath, line, user, seg, value), At: then}
	}
	state := []reader.Delivered{
		old(1, "1000001", 1, 5), // unchanged
		old(2, "1000001", 2, 5), // changed, accepted
		old(3, "1000001", 3, 5), // changed, warned: keeps 5
		old(4, "1000002", 1, 5), // removed, accepted: leaves
		old(5, "1000003", 1, 5), // removed, warned: stays
	}
	snapshot := []reader.Row{
		assoc("snap.csv", 2, "1000001", 1, 5),
		assoc("snap.csv", 3, "1000001", 2, 6),
		assoc("snap.csv", 4, "1000001", 3, 7),
		assoc("snap.csv", 5, "1000004", 1, 1), // added, accepted
		assoc("snap.csv", 6, "1000005", 1, 1), // added, warned: absent
	}
	warned := map[string]bool{"1000001/3": true, "1000003/1": true, "1000005/1": true}

	acked := NewAcked()
	rec := NewRecorder(RecorderConfig{Command: "sync", Acked: acked})
	queue := make(chan *chunker.Request, 10)
	cfg := chunker.SyncConfig{
		Intake:    chunker.IntakeConfig{Limits: chunker.DefaultLimits, TmpDir: t.TempDir()},
		Diff:      chunker.DiffConfig{Now: now},
		State:     &stateOf{rows: state},
		StateFile: statePath,
		Delivered: int64(len(state)),
	}
	plan, err := chunker.Sync(context.Background(), &rowsOf{rows: snapshot}, cfg, rec, queue)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	close(queue)
	for req := range queue {
		res := uploader.Result{Request: req, Packed: req, Attempts: 1, Warned: map[uploader.RowRef]string{}}
		for i, e := range req.Entries {
			for j, r := range e.Rows {
				if warned[fmt.Sprintf("%s/%d", r.UserID, r.SegID)] {
					res.Warned[uploader.RowRef{Entry: i, Block: j}] = "warned for the test"
				}
			}
		}
		rec.Sent(res)
	}
	sum, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Accepted != 3 || sum.Warned != 3 || sum.Unchanged != 1 || !sum.Reconciles() {
		t.Errorf("summary: %d accepted, %d warned, %d unchanged, reconciles %v; want 3, 3, 1, true", sum.Accepted, sum.Warned, sum.Unchanged, sum.Reconciles())
	}

	path := filepath.Join(t.TempDir(), reader.StateFile)
	n, err := WriteState(path, plan, acked, now)
	if err != nil {
		t.Fatal(err)
	}
	got := readState(t, path)
	want := []string{
		"1000001/1=5@" + then.Format(time.RFC3339),
		"1000001/2=6@" + now.Format(time.RFC3339),
		"1000001/3=5@" + then.Format(time.RFC3339),
		"1000003/1=5@" + then.Format(time.RFC3339),
		"1000004/1=1@" + now.Format(time.RFC3339),
	}
	if !slices.Equal(got, want) || n != int64(len(want)) {
		t.Errorf("WriteState wrote %d:\n%s\nwant\n%s", n, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func readState(t *testing.T, path string) []string {
	t.Helper()
	s, err := reader.OpenState(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for {
		d, err := s.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s/%d=%d@%s", d.Row.UserID, d.Row.SegID, d.Row.Value, d.At.Format(time.RFC3339)))
	}
}

// TestWriteStateRefusesAnIncompletePlan: a plan that did not compare the
// whole snapshot (here, refused by --max-removals) never replaces a state.
func TestWriteStateRefusesAnIncompletePlan(t *testing.T) {
	limit, _ := chunker.ParseRemovalLimit("0")
	rec := NewRecorder(RecorderConfig{Command: "sync"})
	queue := make(chan *chunker.Request, 10)
	cfg := chunker.SyncConfig{
		Intake:    chunker.IntakeConfig{Limits: chunker.DefaultLimits, TmpDir: t.TempDir()},
		State:     &stateOf{rows: []reader.Delivered{{Row: assoc("s", 1, "1000001", 1, 1), At: time.Now()}}},
		Delivered: 1, MaxRemovals: &limit,
	}
	plan, err := chunker.Sync(context.Background(), &rowsOf{}, cfg, rec, queue)
	close(queue)
	rec.Close()
	defer plan.Close()
	if !errors.As(err, new(*chunker.RemovalsError)) {
		t.Fatalf("Sync = %v, want a RemovalsError", err)
	}
	if _, err := WriteState(filepath.Join(t.TempDir(), "state.parquet"), plan, NewAcked(), time.Now()); err == nil {
		t.Error("WriteState wrote the state of a refused run")
	}
}
