package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rtseg/rtseg/chunker"
)

// FinishSync writes the new state of a run that compared the whole
// snapshot, and then drops the journal, whose work the state now records.
// A run that could not compare it all (or was refused) sent nothing: it
// drops the journal if that holds nothing an earlier run delivered.
func FinishSync(j *Journal, plan *chunker.Plan, statePath string, acked *Acked, start time.Time, s *Sync) error {
	if plan == nil || !plan.Complete() {
		if j.Len() == 0 {
			return j.Remove()
		}
		return nil
	}
	// Rows acknowledged count as delivered when the run that sent them
	// started: their lifetime is not taken for longer than it is.
	at := start
	if t := j.Started(); !t.IsZero() && t.Before(at) {
		at = t
	}
	n, err := WriteState(statePath, plan, acked, at)
	if err != nil {
		return err
	}
	s.StateAfter, s.StateWritten = n, true
	return j.Remove()
}

// StateBase fingerprints the delivered state a sync starts from, for its
// journal: a journal of a run from another state is not resumed. "none"
// stands for no state yet.
func StateBase(statePath string) (string, error) {
	in, err := Fingerprint(statePath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "none", nil
	case err != nil:
		return "", fmt.Errorf("--state-dir: %w", err)
	}
	return in.Sample + "/" + strconv.FormatInt(in.Size, 10) + "/" + in.ModTime.Format(time.RFC3339Nano), nil
}

// NotReadingState refuses inputs that include the state file itself (an
// INPUT directory holding --state-dir).
func NotReadingState(files []string, statePath string) error {
	want, err := filepath.Abs(statePath)
	if err != nil {
		return nil
	}
	for _, f := range files {
		if abs, err := filepath.Abs(f); err == nil && abs == want {
			return fmt.Errorf("the INPUT %s is the delivered state of --state-dir: keep --state-dir out of the input directories", f)
		}
	}
	return nil
}
