package report

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
)

func testIdentity(t *testing.T, dir string) Identity {
	t.Helper()
	in := filepath.Join(dir, "in.csv")
	if _, err := os.Stat(in); err != nil {
		if err := os.WriteFile(in, []byte("user_id,seg_id\nu,1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	id, err := Identify([]string{in}, false)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// packed is a request as the packer would make it: one user with rows for
// the given segments, at lines from line on, in the identity's file.
func packed(t *testing.T, file, user string, ordered bool, line int64, segs ...int64) *chunker.Request {
	t.Helper()
	var rows []reader.Row
	for i, s := range segs {
		rows = append(rows, reader.Row{Pos: reader.Position{File: file, Line: line + int64(i)}, UserID: user, SegID: s})
	}
	req := chunker.Encode(0, []chunker.Entry{{User: reader.User{ID: user}, Rows: rows}})
	req.Ordered = ordered
	return req
}

func openJournal(t *testing.T, state string, id Identity) *Journal {
	t.Helper()
	j, err := OpenJournal(state, id, JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJournalKnowsBodies(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	in := filepath.Join(dir, "in.csv")
	state := filepath.Join(dir, "state")
	j := openJournal(t, state, id)
	a, b, c := packed(t, in, "a", false, 2, 1), packed(t, in, "b", false, 3, 1, 2), packed(t, in, "c", false, 5, 1)
	for _, req := range []*chunker.Request{a, b} {
		if err := j.Record(req); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	j = openJournal(t, state, id)
	defer j.Close()
	if !j.Resumed() || j.Len() != 2 {
		t.Errorf("reopened journal: Resumed()=%v Len()=%d, want true 2", j.Resumed(), j.Len())
	}
	// The same body packed at another place in the run is still known:
	// requests are known by content, not by their number.
	moved := chunker.Encode(41, b.Entries)
	for _, tc := range []struct {
		name string
		req  *chunker.Request
		want bool
	}{
		{"recorded a", a, true},
		{"recorded b, renumbered", moved, true},
		{"never sent", c, false},
		{"b without one of its rows", packed(t, in, "b", false, 3, 1), false},
	} {
		if got := j.Acknowledged(tc.req); got != tc.want {
			t.Errorf("Acknowledged(%s) = %v after reopening, want %v", tc.name, got, tc.want)
		}
	}
}

func TestJournalLaterValues(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	in := filepath.Join(dir, "in.csv")
	state := filepath.Join(dir, "state")
	j := openJournal(t, state, id)
	// User u came back at line 50 (an Ordered request) with segments 1
	// and 2; the request holding its rows from line 10 was never
	// acknowledged. A request not marked Ordered records no later values:
	// a run without --sorted sends only the last value of each user and
	// segment, and its journal cannot be resumed with --sorted.
	if err := j.Record(packed(t, in, "u", true, 50, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if err := j.Record(packed(t, in, "v", false, 60, 1)); err != nil {
		t.Fatal(err)
	}
	j.Close()

	j = openJournal(t, state, id)
	defer j.Close()
	row := func(user string, line, seg int64) *reader.Row {
		return &reader.Row{Pos: reader.Position{File: in, Line: line}, UserID: user, SegID: seg}
	}
	for _, tc := range []struct {
		name string
		row  *reader.Row
		want int64 // the later row's line, 0 for none
	}{
		{"u's earlier row for segment 1", row("u", 10, 1), 50},
		{"u's earlier row for segment 2", row("u", 11, 2), 51},
		{"u's earlier row for a segment not sent again", row("u", 12, 3), 0},
		{"the acknowledged row itself", row("u", 50, 1), 0},
		{"a row after it", row("u", 70, 1), 0},
		{"another user", row("w", 10, 1), 0},
		{"an earlier row of an unordered request's user", row("v", 10, 1), 0},
	} {
		pos, ok := j.Later(tc.row)
		if got := map[bool]int64{true: pos.Line}[ok]; got != tc.want || ok && pos.File != in {
			t.Errorf("Later(%s) = %v, %v; want line %d of %s", tc.name, pos, ok, tc.want, in)
		}
	}
}

func TestJournalTornRecord(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	in := filepath.Join(dir, "in.csv")
	state := filepath.Join(dir, "state")
	j := openJournal(t, state, id)
	seven, eight, nine := packed(t, in, "7", true, 7, 1), packed(t, in, "8", false, 8, 1), packed(t, in, "9", false, 9, 1)
	j.Record(seven)
	j.Close()
	// A kill -9 in the middle of writing the next record.
	f, err := os.OpenFile(filepath.Join(state, JournalFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("ack 0a1b2c")
	f.Close()

	j, err = OpenJournal(state, id, JournalOptions{})
	if err != nil {
		t.Fatalf("reopening a torn journal: %v", err)
	}
	if !j.Acknowledged(seven) || j.Acknowledged(eight) {
		t.Errorf("torn journal: Acknowledged(7)=%v Acknowledged(8)=%v, want true false", j.Acknowledged(seven), j.Acknowledged(eight))
	}
	// Appending after the torn tail keeps the journal readable.
	if err := j.Record(nine); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j = openJournal(t, state, id)
	defer j.Close()
	if got := j.Len(); got != 2 || !j.Acknowledged(nine) {
		t.Errorf("after appending past a torn record: %d acknowledged, Acknowledged(9)=%v; want 2, true", got, j.Acknowledged(nine))
	}
}

func TestJournalRefusesChangedInput(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	in := filepath.Join(dir, "in.csv")
	state := filepath.Join(dir, "state")
	req := packed(t, in, "u", false, 2, 1)
	j := openJournal(t, state, id)
	j.Record(req)
	j.Close()

	for _, tc := range []struct {
		name, want string
		change     func()
	}{
		{"content", "changed content", func() {
			info, _ := os.Stat(in)
			os.WriteFile(in, []byte("user_id,seg_id\nv,1\n"), 0o644)
			os.Chtimes(in, info.ModTime(), info.ModTime())
		}},
		{"size", "changed size", func() { os.WriteFile(in, []byte("user_id,seg_id\nu,12\n"), 0o644) }},
		{"mod time", "was modified", func() { os.Chtimes(in, time.Now(), time.Now().Add(time.Hour)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.change()
			now := testIdentity(t, dir)
			_, err := OpenJournal(state, now, JournalOptions{})
			var ce *ChangedError
			if !errors.As(err, &ce) || !strings.Contains(ce.What, tc.want) {
				t.Fatalf("OpenJournal after a change of %s: err = %v, want a ChangedError saying %q", tc.name, err, tc.want)
			}
			j, err := OpenJournal(state, now, JournalOptions{Restart: true})
			if err != nil {
				t.Fatalf("with restart: %v", err)
			}
			if j.Acknowledged(req) {
				t.Errorf("with restart, the old record is still there")
			}
			j.Record(req)
			j.Close()
		})
	}
}

func TestIdentifyRefusesStdin(t *testing.T) {
	if _, err := Identify([]string{reader.Stdin}, false); err == nil || !strings.Contains(err.Error(), "standard input cannot be resumed") {
		t.Errorf("Identify(stdin) = %v, want a refusal", err)
	}
}

func TestJournalLocked(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	j := openJournal(t, filepath.Join(dir, "state"), id)
	defer j.Close()
	if _, err := OpenJournal(filepath.Join(dir, "state"), id, JournalOptions{}); err == nil {
		t.Errorf("a second run could open a state directory in use")
	}
}

// Two requests with the same body are told apart by where their rows came
// from: a user that comes back in sorted input with the value it had
// before is sent again, not skipped as delivered. Requests recorded in
// this run are not taken for an earlier run's.
func TestJournalKnowsRowsNotOnlyBodies(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	in := filepath.Join(dir, "in.csv")
	state := filepath.Join(dir, "state")
	j := openJournal(t, state, id)
	first := packed(t, in, "u", false, 2, 1)
	if err := j.Record(first); err != nil {
		t.Fatal(err)
	}
	if j.Acknowledged(first) {
		t.Errorf("a request recorded in this run counts as an earlier run's")
	}
	j.Close()
	j = openJournal(t, state, id)
	defer j.Close()
	again := packed(t, in, "u", true, 9, 1)
	if string(again.Body) != string(first.Body) {
		t.Fatalf("the test wants equal bodies: %s and %s", first.Body, again.Body)
	}
	if !j.Acknowledged(first) || j.Acknowledged(again) {
		t.Errorf("Acknowledged: the recorded request %v, the same body from line 9 %v; want true, false", j.Acknowledged(first), j.Acknowledged(again))
	}
}

// A record whose newline a crash tore off does not count, even when the
// rest of it is whole: it is cut from the file.
func TestJournalTornNewline(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	in := filepath.Join(dir, "in.csv")
	state := filepath.Join(dir, "state")
	j := openJournal(t, state, id)
	kept, torn := packed(t, in, "a", false, 2, 1), packed(t, in, "b", false, 3, 1)
	j.Record(kept)
	j.Record(torn)
	j.Close()
	path := filepath.Join(state, JournalFile)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)-1], 0o644)
	for round := 1; round <= 2; round++ {
		j = openJournal(t, state, id)
		if !j.Acknowledged(kept) || j.Acknowledged(torn) {
			t.Errorf("reopening %d: Acknowledged(kept)=%v Acknowledged(torn)=%v, want true false", round, j.Acknowledged(kept), j.Acknowledged(torn))
		}
		j.Close()
	}
}

func TestJournalRefusesOtherFormatsAndSorting(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	state := filepath.Join(dir, "state")
	openJournal(t, state, id).Close()

	sorted := id
	sorted.Sorted = true
	_, err := OpenJournal(state, sorted, JournalOptions{})
	var ce *ChangedError
	if !errors.As(err, &ce) || ce.What != "--sorted changed (not given then, given now)" {
		t.Errorf("resuming with --sorted: %v, want a ChangedError saying --sorted changed", err)
	}

	path := filepath.Join(state, JournalFile)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(data), `"version":2`, `"version":1`, 1)), 0o644)
	_, err = OpenJournal(state, id, JournalOptions{})
	if !errors.As(err, &ce) || !strings.Contains(ce.What, "format changed (version 1 then, 2 now)") {
		t.Errorf("a journal of version 1: %v, want a ChangedError saying the format changed", err)
	}
	j, err := OpenJournal(state, id, JournalOptions{Restart: true})
	if err != nil {
		t.Fatalf("with restart: %v", err)
	}
	j.Close()
}

// Rows are ordered across inputs as the run reads them: every row of the
// first file comes before any row of the second.
func TestJournalLaterAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	os.WriteFile(a, []byte("user_id,seg_id\nu,1\n"), 0o644)
	os.WriteFile(b, []byte("user_id,seg_id\nv,1\n"), 0o644)
	id, err := Identify([]string{a, b}, true)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	j := openJournal(t, state, id)
	if err := j.Record(packed(t, b, "u", true, 3, 1)); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j = openJournal(t, state, id)
	defer j.Close()
	for _, tc := range []struct {
		file string
		line int64
		want bool
	}{{a, 10, true}, {b, 2, true}, {b, 3, false}, {b, 5, false}} {
		_, got := j.Later(&reader.Row{Pos: reader.Position{File: tc.file, Line: tc.line}, UserID: "u", SegID: 1})
		if got != tc.want {
			t.Errorf("Later(%s:%d) = %v, want %v (the later row is %s:3)", filepath.Base(tc.file), tc.line, got, tc.want, filepath.Base(b))
		}
	}
}

// A run started while another holds the state directory waits for it a
// while, saying so, and then is refused with the holder's process ID; one
// that is released during the wait goes on.
func TestOpenJournalWaitsForTheLock(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	id := Identity{}
	first, err := OpenJournal(state, id, JournalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	o := JournalOptions{LockWait: 300 * time.Millisecond, Waiting: func(pid string) { told = append(told, pid) }}
	_, err = OpenJournal(state, id, o)
	pid := strconv.Itoa(os.Getpid())
	want := "--state-dir " + state + ": another rtseg run (process " + pid + ") is using it"
	if err == nil || err.Error() != want {
		t.Errorf("OpenJournal while another run holds the directory = %v, want %q", err, want)
	}
	if !slices.Equal(told, []string{pid}) {
		t.Errorf("Waiting was told %q, want [%s]", told, pid)
	}

	time.AfterFunc(200*time.Millisecond, func() { first.Close() })
	o.LockWait = time.Minute
	second, err := OpenJournal(state, id, o)
	if err != nil {
		t.Fatalf("OpenJournal once the other run ended = %v", err)
	}
	second.Close()
}

// Paths in the journal have forward slashes on every platform, so one
// written on Windows reads anywhere: here it is understood, and refused as
// a run of other inputs, not as a damaged journal.
func TestJournalReadsOneWrittenOnWindows(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	if strings.Contains(id.Inputs[0].Path, `\`) {
		t.Fatalf("Identify gave the path %q, want forward slashes", id.Inputs[0].Path)
	}
	state := filepath.Join(dir, "state")
	windows := id
	windows.Inputs = slices.Clone(id.Inputs)
	windows.Inputs[0].Path = "C:/exports/in.csv"
	openJournal(t, state, windows).Close()

	_, err := OpenJournal(state, id, JournalOptions{})
	var ce *ChangedError
	if !errors.As(err, &ce) || !strings.HasPrefix(ce.What, "the inputs changed (C:/exports/in.csv then, ") {
		t.Errorf("resuming a journal written on Windows: %v, want a ChangedError naming C:/exports/in.csv", err)
	}
}
