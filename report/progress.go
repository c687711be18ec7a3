package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/rtseg/rtseg/chunker"
	"github.com/schollz/progressbar/v3"
)

// ProgressConfig says how to show a run's progress.
type ProgressConfig struct {
	// Bar draws a progress bar on Out (a terminal); otherwise a line goes to
	// Log every Interval.
	Bar      bool
	Out      io.Writer
	Log      *slog.Logger
	Interval time.Duration
	// TotalBytes is the input's size, or -1 when unknown (standard input).
	TotalBytes int64
	// BytesRead is what the reader has read; nil if unknown. With
	// TotalBytes it estimates how many rows the input holds until every
	// row is read.
	BytesRead func() int64
	// Sends says the run sends requests (rtseg upload); otherwise it only
	// packs them (rtseg validate).
	Sends bool
}

// ProgressInterval is how often a log line reports progress when the
// output is not a terminal.
const ProgressInterval = 10 * time.Second

// NewProgressConfig decides from --progress how to show progress on out,
// which is a terminal or not: a bar on a terminal and log lines otherwise
// ("auto"), either one ("bar", "log"), or nil for none ("none").
func NewProgressConfig(mode string, out io.Writer, terminal bool, log *slog.Logger) (*ProgressConfig, error) {
	cfg := &ProgressConfig{Out: out, Log: log, Interval: ProgressInterval}
	switch mode {
	case "", "auto":
		cfg.Bar = terminal
	case "bar":
		cfg.Bar = true
	case "log":
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("--progress %q: want auto, bar, log or none", mode)
	}
	return cfg, nil
}

// NewLogger returns the logger for --log-format ("text" or "json") on w.
func NewLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// Progress shows a run's progress until stopped: the share of its rows
// accounted for (answered by the service, or invalid, superseded, skipped:
// every row with an outcome), not the share of the input read, with the
// phase the run is in and the time left at the pace rows are accounted for.
type Progress struct {
	cfg   ProgressConfig
	rec   *Recorder
	bar   *progressbar.ProgressBar
	known bool // the bar has a length
	rate  rate
	stop  chan struct{}
	done  chan struct{}
}

// barRefresh is how often the bar is redrawn.
const barRefresh = 250 * time.Millisecond

// StartProgress starts showing the recorder's counts.
func StartProgress(cfg ProgressConfig, rec *Recorder) *Progress {
	p := &Progress{cfg: cfg, rec: rec, stop: make(chan struct{}), done: make(chan struct{})}
	interval := cfg.Interval
	if cfg.Bar {
		interval = barRefresh
	}
	p.rate.window = rateWindow
	go p.loop(interval)
	return p
}

func (p *Progress) loop(interval time.Duration) {
	defer close(p.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.show(true)
			return
		case <-t.C:
			p.show(false)
		}
	}
}

// Stop shows the final state and stops.
func (p *Progress) Stop() {
	close(p.stop)
	<-p.done
}

// state is what one update shows.
type state struct {
	Live
	bytes int64
	// total is the rows the input holds: known once every row is read
	// (Phase.Read), else estimated from the bytes read, else 0.
	total     int64
	estimated bool
	perSecond float64       // rows accounted for a second, lately; 0 when unknown
	left      time.Duration // -1 when unknown
}

func (p *Progress) measure(now time.Time) state {
	s := state{Live: p.rec.Live(), left: -1}
	if p.cfg.BytesRead != nil {
		s.bytes = p.cfg.BytesRead()
	}
	switch {
	case s.Phase.Read():
		s.total = s.RowsRead
	case p.cfg.TotalBytes > 0 && s.bytes > 0 && s.RowsRead > 0:
		// The reader reads ahead of the rows handed on: the estimate
		// is low rather than high, and never below the rows read.
		s.total = max(int64(float64(s.RowsRead)*float64(p.cfg.TotalBytes)/float64(s.bytes)), s.RowsRead)
		s.estimated = true
	}
	// Rows are accounted for at the pace of delivery only once requests
	// go out: before, only invalid rows are. The pace restarts with each
	// phase, packing and packed being one.
	ph := s.Phase
	if ph.Read() {
		ph = chunker.Packing
	}
	p.rate.add(now, ph, s.RowsDone)
	if s.Phase == chunker.Reading || s.Phase.Read() {
		s.perSecond = p.rate.perSecond()
	}
	if s.perSecond > 0 && s.total > 0 {
		s.left = time.Duration(float64(max(s.total-s.RowsDone, 0)) / s.perSecond * float64(time.Second)).Round(time.Second)
	}
	return s
}

// finished reports whether every row of the input is accounted for.
func (s *state) finished() bool { return s.Phase.Read() && s.RowsDone >= s.total && s.InFlight == 0 }

// percent is the share of rows accounted for, below 100 until every row is.
func (s *state) percent() int {
	if s.finished() {
		return 100
	}
	if s.total <= 0 {
		return 0
	}
	return min(int(100*s.RowsDone/s.total), 99)
}

// phase names what the run is doing.
func (p *Progress) phase(s *state, final bool) string {
	switch {
	case final && s.finished():
		return "done"
	case final:
		return "stopped"
	case s.Phase == chunker.Reading && p.cfg.Sends:
		return "reading and sending"
	case s.Phase.Read() && p.cfg.Sends:
		return "sending"
	case s.Phase == 0:
		return "starting"
	}
	return s.Phase.String()
}

// rows says how many rows are accounted for, out of how many.
func (s *state) rows() string {
	switch {
	case s.total > 0 && s.estimated:
		return fmt.Sprintf("%d of ~%d rows done (%d read)", s.RowsDone, s.total, s.RowsRead)
	case s.Phase.Read():
		return fmt.Sprintf("%d of %d rows done", s.RowsDone, s.total)
	}
	return fmt.Sprintf("%d rows read, %d done", s.RowsRead, s.RowsDone)
}

func (p *Progress) show(final bool) {
	s := p.measure(time.Now())
	if p.cfg.Bar {
		p.draw(&s, final)
		return
	}
	if p.cfg.Log == nil {
		return
	}
	attrs := []any{
		slog.String("phase", p.phase(&s, final)),
		slog.Int64("rows_read", s.RowsRead), slog.Int64("rows_done", s.RowsDone),
	}
	if s.total > 0 {
		name := "rows_total"
		if s.estimated {
			name = "rows_total_estimate"
		}
		attrs = append(attrs, slog.Int64(name, s.total), slog.Int("percent", s.percent()))
	}
	attrs = append(attrs, slog.Float64("rows_per_second", float64(int64(s.perSecond))),
		slog.Int64("users_sent", s.Users), slog.Int64("requests", s.Requests), slog.Int64("in_flight", s.InFlight),
		slog.Int64("rejected", s.Rejected), slog.Int64("bytes_read", s.bytes))
	if p.cfg.TotalBytes > 0 {
		attrs = append(attrs, slog.Int64("total_bytes", p.cfg.TotalBytes))
	}
	if s.left >= 0 && !final {
		attrs = append(attrs, slog.String("time_left", s.left.String()))
	}
	msg := "progress"
	if final {
		msg = "progress: finished"
	}
	p.cfg.Log.Info(msg, attrs...)
}

// draw updates the bar: its length is the rows of the input (a spinner
// while that is unknown), and it is filled to the rows accounted for,
// never whole before every row is.
func (p *Progress) draw(s *state, final bool) {
	desc := p.phase(s, final) + ": " + s.rows()
	if p.cfg.Sends {
		desc += fmt.Sprintf(", %d users sent, %d in flight", s.Users, s.InFlight)
	}
	if s.perSecond > 0 && !final {
		desc += fmt.Sprintf(" (%.0f rows/s)", s.perSecond)
	}
	if s.left >= 0 && !final {
		desc += fmt.Sprintf(", ~%s left", s.left)
	}
	length := int64(-1)
	if s.total > 0 {
		length = max(s.total, 1)
	}
	if p.bar == nil || (length > 0) != p.known {
		if p.bar != nil {
			p.bar.Clear()
		}
		p.bar = progressbar.NewOptions64(length,
			progressbar.OptionSetWriter(p.cfg.Out),
			progressbar.OptionSetWidth(20),
			// Progress redraws it every barRefresh: a throttle
			// would only drop the frame with the new description.
			progressbar.OptionThrottle(0),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(true),
			// No goroutine of its own redrawing the spinner: it turns
			// once a redraw.
			progressbar.OptionSetSpinnerChangeInterval(0),
		)
		p.known = length > 0
	}
	if p.known {
		// The bar is whole, and stops redrawing, once filled to its
		// length: keep it short of that until the last frame, drawn
		// once every row is accounted for (a sync still writes its
		// state after), and fill it before changing its length.
		filled := length
		if !final || !s.finished() {
			filled = min(s.RowsDone, length-1)
		}
		if length < p.bar.GetMax64() {
			p.bar.Set64(min(filled, length-1))
		}
		if length != p.bar.GetMax64() {
			p.bar.ChangeMax64(length)
		}
		if final {
			// Filling the bar draws its last frame: with the last
			// description, not the one of the phase before.
			p.bar.Describe(desc)
		}
		p.bar.Set64(filled)
	} else {
		p.bar.Set64(s.RowsRead)
	}
	// Last, so that the last frame drawn has both the new count and the
	// new description.
	p.bar.Describe(desc)
	if final {
		fmt.Fprintln(p.cfg.Out)
	}
}

// rateWindow is how far back the pace of rows accounted for is measured.
const rateWindow = 30 * time.Second

// rate measures how fast a count grows, over the last window of a phase.
type rate struct {
	window  time.Duration
	phase   chunker.Phase
	samples []sample
}

type sample struct {
	at time.Time
	n  int64
}

func (r *rate) add(at time.Time, phase chunker.Phase, n int64) {
	if phase != r.phase {
		r.phase, r.samples = phase, r.samples[:0]
	}
	r.samples = append(r.samples, sample{at, n})
	i := 0
	for i < len(r.samples)-2 && at.Sub(r.samples[i+1].at) >= r.window {
		i++
	}
	r.samples = append(r.samples[:0], r.samples[i:]...)
}

// perSecond is the count's growth a second over the samples kept: 0 until
// they span a second.
func (r *rate) perSecond() float64 {
	if len(r.samples) < 2 {
		return 0
	}
	first, last := r.samples[0], r.samples[len(r.samples)-1]
	d := last.at.Sub(first.at).Seconds()
	if d < 1 {
		return 0
	}
	return float64(last.n-first.n) / d
}

// FinalLines returns where the lines for people at the end of a run go,
// given --log-format: w itself for text; for json, a writer that turns each
// line ("rtseg: error: ...", "rtseg: 17 rows read: ...") into a JSON log
// record, so that a log collector reading stderr gets only JSON.
func FinalLines(format string, w io.Writer) io.Writer {
	if format != "json" {
		return w
	}
	return &jsonLines{log: slog.New(slog.NewJSONHandler(w, nil))}
}

// jsonLines logs each line written to it, its level from its prefix.
type jsonLines struct {
	log     *slog.Logger
	partial []byte
}

func (j *jsonLines) Write(p []byte) (int, error) {
	j.partial = append(j.partial, p...)
	for {
		line, rest, ok := bytes.Cut(j.partial, []byte("\n"))
		if !ok {
			return len(p), nil
		}
		j.logLine(string(line))
		j.partial = rest
	}
}

func (j *jsonLines) logLine(line string) {
	line = strings.TrimPrefix(line, "rtseg: ")
	ctx := context.Background()
	if msg, ok := strings.CutPrefix(line, "error: "); ok {
		j.log.ErrorContext(ctx, msg)
	} else if msg, ok := strings.CutPrefix(line, "hint: "); ok {
		j.log.InfoContext(ctx, msg, "hint", true)
	} else if msg, ok := strings.CutPrefix(line, "warning: "); ok {
		j.log.WarnContext(ctx, msg)
	} else {
		j.log.InfoContext(ctx, line)
	}
}
