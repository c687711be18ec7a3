package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rtseg/rtseg/chunker"
)

// Exit statuses of a run (SPEC §2).
const (
	StatusOK          = 0
	StatusFailure     = 1   // the run could not be done
	StatusRejected    = 2   // more rows than tolerated were invalid, warned or failed
	StatusInterrupted = 128 // plus the signal's number: 130 for SIGINT, 143 for SIGTERM
)

// ErrUnaccounted is a run whose outcomes do not add up to the rows it read.
var ErrUnaccounted = errors.New("the outcomes do not add up to the rows read")

// Tolerance is --max-rejected: how many rejected rows a run may have and
// still succeed, as a count or a percentage of the rows read.
type Tolerance struct {
	text    string
	count   int64
	percent float64
	isPct   bool
}

// ParseTolerance reads --max-rejected: "N" or "P%".
func ParseTolerance(s string) (Tolerance, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		// NaN compares false with everything: it would pass the range
		// check, and then fail every run, as no count is <= NaN.
		if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
			return Tolerance{}, fmt.Errorf("--max-rejected %q: want a count or a percentage from 0%% to 100%%", s)
		}
		return Tolerance{text: s, percent: v, isPct: true}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return Tolerance{}, fmt.Errorf("--max-rejected %q: want a count or a percentage such as 1%%", s)
	}
	return Tolerance{text: s, count: n}, nil
}

// Allows reports whether rejected rows out of read are tolerated.
func (t Tolerance) Allows(rejected, read int64) bool {
	if t.isPct {
		return float64(rejected) <= t.percent/100*float64(read)
	}
	return rejected <= t.count
}

// String gives the tolerance as it was written.
func (t Tolerance) String() string {
	if t.text == "" {
		return "0"
	}
	return t.text
}

// Status decides the run's exit status and sets ExitStatus: a failure if
// the run ended with runErr or its outcomes do not add up (the error is
// returned), else rejected if more rows were rejected than tol allows,
// else OK; a run stopped by a signal (its number, 0 for none) that did not
// fail exits 128 plus the number.
func (s *Summary) Status(tol Tolerance, runErr error, signal int) (int, error) {
	status := StatusOK
	switch {
	case runErr != nil:
		status = StatusFailure
	case !s.Reconciles():
		status, runErr = StatusFailure, ErrUnaccounted
	case !tol.Allows(s.Rejected(), s.RowsRead):
		status = StatusRejected
	}
	if signal != 0 && status != StatusFailure {
		status = StatusInterrupted + signal
	}
	s.ExitStatus = status
	return status, runErr
}

// Ending is how a run ends: what the summary records of it, and where it
// goes.
type Ending struct {
	Start    time.Time
	Endpoint string // where requests went, without credentials; "" for validate
	Member   int64  // --member-id, 0 if not given
	// Tolerance is --max-rejected; Signal the number of the signal that
	// stopped the run, 0 for none.
	Tolerance Tolerance
	Signal    int
	// SummaryPath is --summary, "" for none; ReportPath and ReportAll are
	// --report and --report-all, for saying where the report is.
	SummaryPath, ReportPath string
	ReportAll               bool
	// HTMLPath is --html, "" for none: the run page, written after the
	// summary.
	HTMLPath string
	// Out receives the lines for people.
	Out io.Writer
	// Metrics, if set, receive the finished run's values.
	Metrics *Metrics
}

// Finish completes the summary of a run that ended with runErr (nil if it
// ran to its end or was stopped by a signal), writes it to SummaryPath and
// a few lines for people to Out, and returns the exit status and the error
// that made it a failure, if any.
func (s *Summary) Finish(end Ending, runErr error) (int, error) {
	now := time.Now()
	s.ElapsedSeconds = now.Sub(end.Start).Seconds()
	s.Describe(end.Start, now, end.Endpoint, end.Member)
	status, err := s.Status(end.Tolerance, runErr, end.Signal)
	s.MaxRejected = end.Tolerance.String()
	if err != nil {
		s.Error = err.Error()
	}
	var re *chunker.ReadError
	if errors.As(err, &re) && re.Sorted && re.Rows > 0 {
		s.TrustedUpTo = re.TrustedUpTo()
	}
	if end.SummaryPath != "" {
		if werr := s.WriteFile(end.SummaryPath); werr != nil && err == nil {
			status, err = StatusFailure, fmt.Errorf("--summary: %w", werr)
			s.ExitStatus, s.Error = status, err.Error()
		}
	}
	pageWritten := false
	if end.HTMLPath != "" {
		werr := (&Page{Summary: s}).WriteFile(end.HTMLPath)
		pageWritten = werr == nil
		if werr != nil && err == nil {
			status, err = StatusFailure, fmt.Errorf("--html: %w", werr)
		}
	}
	if err == nil || s.RowsRead > 0 {
		s.WriteHuman(end.Out)
	}
	s.WriteEnd(end.Out, end.Tolerance, end.ReportPath, end.ReportAll)
	if s.TrustedUpTo != "" {
		fmt.Fprintf(end.Out, "rtseg: the input failed part-way: %s\n", s.TrustedUpTo)
	}
	WriteWarning(end.Out, end.Metrics.Finish(s))
	if pageWritten {
		fmt.Fprintf(end.Out, "rtseg: page: %s\n", shownPath(end.HTMLPath))
	}
	return status, err
}

// WriteWarning writes each line of err, if not nil, as a warning.
func WriteWarning(w io.Writer, err error) {
	if err == nil {
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(w, "rtseg: warning: %s\n", line)
	}
}

// WriteEnd writes, after the human summary, where the report is when it
// lists any row (reportPath "" for none), and why the run exits rejected.
func (s *Summary) WriteEnd(w io.Writer, tol Tolerance, reportPath string, reportAll bool) {
	if reportPath != "" && (s.RowsRead > s.Accepted+s.Valid+s.Unchanged || reportAll) {
		fmt.Fprintf(w, "rtseg: report: %s\n", shownPath(reportPath))
	}
	if s.ExitStatus == StatusRejected {
		fmt.Fprintf(w, "rtseg: %s rejected (invalid, warned or failed), more than --max-rejected %s allows\n", count(s.Rejected(), "row"), tol)
	}
}

// Describe records what rtseg reconcile needs: when the run started and
// ended (now), where it sent (endpoint, without credentials or query; ""
// for validate), and its member: member if known, else the one member its
// segments name, if there is one.
func (s *Summary) Describe(start, now time.Time, endpoint string, member int64) {
	s.StartedAt, s.FinishedAt = start.UTC(), now.UTC()
	s.Endpoint = endpoint
	if member <= 0 {
		member = s.onlyMember()
	}
	s.MemberID = member
}

// onlyMember is the one member the summary's segments name, or 0 when they
// name none or several.
func (s *Summary) onlyMember() int64 {
	var member int64
	for _, seg := range s.Segments {
		switch {
		case seg.MemberID == 0 || seg.MemberID == member:
		case member == 0:
			member = seg.MemberID
		default:
			return 0
		}
	}
	return member
}
