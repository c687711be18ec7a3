package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dustin/go-humanize/english"
)

// Summary is the run's account, written as JSON with --summary.
type Summary struct {
	Command    string `json:"command"`
	RowsRead   int64  `json:"rows_read"`
	Accepted   int64  `json:"accepted"`
	Invalid    int64  `json:"invalid"`
	Superseded int64  `json:"superseded"`
	Warned     int64  `json:"warned"`
	Failed     int64  `json:"failed"`
	Skipped    int64  `json:"skipped"`
	// Valid counts, for rtseg validate, the rows that would be sent.
	Valid int64 `json:"valid,omitempty"`
	// Unchanged counts, for rtseg sync, the rows the service holds
	// already, as delivered: not sent.
	Unchanged int64 `json:"unchanged"`
	// Sync says, for rtseg sync, what the comparison with the delivered
	// state decided; its fields appear beside the others.
	*Sync
	Users          int64   `json:"users"`
	Requests       int64   `json:"requests"`
	Retries        int64   `json:"retries"`
	Throttled      int64   `json:"throttled"`
	BytesSent      int64   `json:"bytes_sent"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	ExitStatus     int     `json:"exit_status"`
	// Segments lists the segments with rows accepted, warned, invalid
	// or failed, sorted by ID, then by member and code.
	Segments []SegmentSummary `json:"segments"`
	// StartedAt and FinishedAt bound the run in UTC; with Endpoint (where
	// requests went, without any query) and MemberID (when known) they tell
	// rtseg reconcile which usage statistics to compare.
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Endpoint   string    `json:"endpoint,omitempty"`
	MemberID   int64     `json:"member_id,omitempty"`
	// Error is what ended the run, if anything did. TrustedUpTo says, when
	// a --sorted input failed part-way and the rows before were sent, up
	// to where they can be trusted.
	Error       string `json:"error,omitempty"`
	TrustedUpTo string `json:"trusted_up_to,omitempty"`
	// MaxRejected is --max-rejected as given, for the run page's verdict.
	MaxRejected string `json:"max_rejected,omitempty"`
	// Groups are the rows not accepted, grouped by why.
	Groups
	// Throughput is the run over time.
	Throughput *Throughput `json:"throughput,omitempty"`
}

// Sync is what rtseg sync decided for each association, comparing the
// snapshot with the delivered state: the rows it sent (whatever became of
// them) by why, and what the state held before and holds after.
type Sync struct {
	Added     int64 `json:"added"`
	Changed   int64 `json:"changed"`
	Refreshed int64 `json:"refreshed"`
	Removed   int64 `json:"removed"`
	// Kept counts associations absent from the snapshot and left to
	// expire (--mode upsert, or whose user has an invalid row in the
	// snapshot); Expired those whose lifetime at the service is over,
	// dropped from the state without a call.
	Kept    int64 `json:"kept"`
	Expired int64 `json:"expired"`
	// DryRun is set for --dry-run, which sends and changes nothing.
	DryRun bool `json:"dry_run"`
	// State is the state file; StateBefore its associations before the
	// run, and StateAfter after it, when StateWritten.
	State        string `json:"state"`
	StateBefore  int64  `json:"state_before"`
	StateAfter   int64  `json:"state_after"`
	StateWritten bool   `json:"state_written"`
}

// SegmentSummary counts one segment's rows.
type SegmentSummary struct {
	Segment  string `json:"segment"`
	SegID    int64  `json:"seg_id,omitempty"`
	MemberID int64  `json:"member_id,omitempty"`
	SegCode  string `json:"seg_code,omitempty"`
	SegmentCounts
}

// SegmentCounts are the rows of a segment by outcome (added and removed
// split the accepted ones).
type SegmentCounts struct {
	Added    int64 `json:"added"`
	Removed  int64 `json:"removed"`
	Accepted int64 `json:"accepted"`
	Warned   int64 `json:"warned"`
	Invalid  int64 `json:"invalid"`
	Failed   int64 `json:"failed"`
	// Unchanged counts, for rtseg sync, the rows not sent.
	Unchanged int64 `json:"unchanged,omitempty"`
}

// Reconciles reports whether every row read has exactly one outcome.
func (s *Summary) Reconciles() bool {
	return s.RowsRead == s.Accepted+s.Invalid+s.Superseded+s.Warned+s.Failed+s.Skipped+s.Valid+s.Unchanged
}

// Rejected is the number of rows that count against --max-rejected.
func (s *Summary) Rejected() int64 { return s.Invalid + s.Warned + s.Failed }

// WriteFile writes the summary as indented JSON.
func (s *Summary) WriteFile(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// WriteHuman writes a few lines for a person at the end of a run.
func (s *Summary) WriteHuman(w io.Writer) {
	var parts []string
	sends := s.Command != "validate" && (s.Sync == nil || !s.Sync.DryRun)
	add := func(n int64, name string) {
		if n > 0 || name == "accepted" && sends {
			parts = append(parts, fmt.Sprintf("%d %s", n, name))
		}
	}
	add(s.Valid, "valid")
	add(s.Accepted, "accepted")
	add(s.Invalid, "invalid")
	add(s.Superseded, "superseded")
	add(s.Warned, "warned")
	add(s.Failed, "failed")
	add(s.Skipped, "skipped")
	add(s.Unchanged, "unchanged")
	if len(parts) == 0 {
		fmt.Fprintf(w, "rtseg: %s read: nothing to do\n", count(s.RowsRead, "row"))
	} else {
		fmt.Fprintf(w, "rtseg: %s read: %s\n", count(s.RowsRead, "row"), strings.Join(parts, ", "))
	}
	// Users counts entries: a user split over several requests (more
	// segments than --max-segments, or --sorted input that comes back to
	// it) is one entry in each.
	switch {
	case s.RowsRead == 0:
	case sends:
		fmt.Fprintf(w, "rtseg: %s in %s (%s, %d throttled), %s sent in %.1fs\n",
			count(s.Users, "user entry"), count(s.Requests, "request"), count(s.Retries, "retry"), s.Throttled,
			count(s.BytesSent, "byte"), s.ElapsedSeconds)
	default:
		fmt.Fprintf(w, "rtseg: would send %s in %s (%s)\n", count(s.Users, "user entry"), count(s.Requests, "request"), count(s.BytesSent, "byte"))
	}
	if y := s.Sync; y != nil {
		verb := ""
		if y.DryRun {
			verb = "would send "
		}
		fmt.Fprintf(w, "rtseg: sync: %s%d added, %d changed, %d refreshed, %d removed; %d unchanged\n",
			verb, y.Added, y.Changed, y.Refreshed, y.Removed, s.Unchanged)
		switch {
		case y.DryRun:
			fmt.Fprintf(w, "rtseg: dry run: nothing was sent and the state %s is unchanged (%s)\n", y.State, count(y.StateBefore, "association"))
		case y.StateWritten:
			fmt.Fprintf(w, "rtseg: state: %s holds %s (%s before)\n", y.State, count(y.StateAfter, "association"), count(y.StateBefore, "association"))
		default:
			fmt.Fprintf(w, "rtseg: state: %s left as it was (%s)\n", y.State, count(y.StateBefore, "association"))
		}
	}
	if !s.Reconciles() {
		fmt.Fprintf(w, "rtseg: error: the outcomes do not add up to the rows read; please report this\n")
	}
}

// count is n with its noun, in the plural unless n is 1: "1 row", "2 rows".
func count[N int | int64](n N, noun string) string {
	return fmt.Sprintf("%d %s", n, english.PluralWord(int(n), noun, ""))
}
