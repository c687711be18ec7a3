package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testIdentity(t *testing.T, dir string) Identity {
	t.Helper()
	in := filepath.Join(dir, "in.csv")
	if _, err := os.Stat(in); err != nil {
		if err := os.WriteFile(in, []byte("user_id,seg_id\nu,1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fp, err := Fingerprint(in)
	if err != nil {
		t.Fatal(err)
	}
	return Identity{Inputs: []Input{fp}, Settings: "max-users=1000"}
}

func TestJournalResumes(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	j, err := OpenJournal(filepath.Join(dir, "state"), id, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []int{0, 2, 5} {
		if err := j.Record(seq); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	j, err = OpenJournal(filepath.Join(dir, "state"), id, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for seq, want := range map[int]bool{0: true, 1: false, 2: true, 5: true, 6: false} {
		if got := j.Done(seq); got != want {
			t.Errorf("Done(%d) = %v after reopening, want %v", seq, got, want)
		}
	}
}

func TestJournalTornRecord(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	state := filepath.Join(dir, "state")
	j, err := OpenJournal(state, id, false)
	if err != nil {
		t.Fatal(err)
	}
	j.Record(7)
	j.Close()
	// A kill -9 in the middle of writing the next record.
	f, err := os.OpenFile(filepath.Join(state, JournalFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("done 8 1a2")
	f.Close()

	j, err = OpenJournal(state, id, false)
	if err != nil {
		t.Fatalf("reopening a torn journal: %v", err)
	}
	if !j.Done(7) || j.Done(8) {
		t.Errorf("torn journal: Done(7)=%v Done(8)=%v, want true false", j.Done(7), j.Done(8))
	}
	// Appending after the torn tail keeps the journal readable.
	if err := j.Record(9); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j, err = OpenJournal(state, id, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if got := j.Acknowledged(); got != 2 || !j.Done(9) {
		t.Errorf("after appending past a torn record: %d acknowledged, Done(9)=%v; want 2, true", got, j.Done(9))
	}
}

func TestJournalRefusesChangedInput(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	state := filepath.Join(dir, "state")
	j, err := OpenJournal(state, id, false)
	if err != nil {
		t.Fatal(err)
	}
	j.Record(0)
	j.Close()

	in := filepath.Join(dir, "in.csv")
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
			_, err := OpenJournal(state, now, false)
			var ce *ChangedError
			if !errors.As(err, &ce) || !strings.Contains(ce.What, tc.want) {
				t.Fatalf("OpenJournal after a change of %s: err = %v, want a ChangedError saying %q", tc.name, err, tc.want)
			}
			j, err := OpenJournal(state, now, true)
			if err != nil {
				t.Fatalf("with restart: %v", err)
			}
			if j.Done(0) {
				t.Errorf("with restart, the old record is still there")
			}
			j.Record(0)
			j.Close()
			id = now
		})
	}
	if _, err := OpenJournal(state, Identity{Inputs: id.Inputs, Settings: "max-users=10"}, false); err == nil {
		t.Errorf("a change of settings was not refused")
	}
}

func TestJournalLocked(t *testing.T) {
	dir := t.TempDir()
	id := testIdentity(t, dir)
	j, err := OpenJournal(filepath.Join(dir, "state"), id, false)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := OpenJournal(filepath.Join(dir, "state"), id, false); err == nil {
		t.Errorf("a second run could open a state directory in use")
	}
}
