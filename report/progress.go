package report

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

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
	// BytesRead is what the reader has read; nil if unknown.
	BytesRead func() int64
	// UsersPerSecond is the configured limit, for the time left; 0 when
	// nothing is sent (rtseg validate).
	UsersPerSecond int
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

// Progress shows a run's progress until stopped.
type Progress struct {
	cfg   ProgressConfig
	rec   *Recorder
	bar   *progressbar.ProgressBar
	start time.Time
	stop  chan struct{}
	done  chan struct{}
}

// barRefresh is how often the bar is redrawn.
const barRefresh = 250 * time.Millisecond

// StartProgress starts showing the recorder's counts.
func StartProgress(cfg ProgressConfig, rec *Recorder) *Progress {
	p := &Progress{cfg: cfg, rec: rec, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	interval := cfg.Interval
	if cfg.Bar {
		interval = barRefresh
		p.bar = progressbar.NewOptions64(cfg.TotalBytes,
			progressbar.OptionSetWriter(cfg.Out),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(20),
			progressbar.OptionThrottle(barRefresh),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(true),
		)
	}
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
	bytes      int64
	rowsPerSec float64
	left       time.Duration // -1 when unknown
}

func (p *Progress) measure() state {
	s := state{Live: p.rec.Live(), left: -1}
	if p.cfg.BytesRead != nil {
		s.bytes = p.cfg.BytesRead()
	}
	elapsed := time.Since(p.start).Seconds()
	if elapsed > 0 {
		s.rowsPerSec = float64(s.RowsRead) / elapsed
	}
	s.left = p.timeLeft(s, elapsed)
	return s
}

// timeLeft estimates the rest of the run: the input still to read at the
// pace so far, or the users still to send at the configured rate, whichever
// is longer.
func (p *Progress) timeLeft(s state, elapsed float64) time.Duration {
	total := p.cfg.TotalBytes
	if total <= 0 || s.bytes <= 0 {
		return -1
	}
	frac := float64(s.bytes) / float64(total)
	readLeft := elapsed * (1 - frac) / frac
	sendLeft := 0.0
	if p.cfg.UsersPerSecond > 0 {
		rowsTotal := float64(s.RowsRead) / frac
		usersPerRow := 1.0
		if s.RowsDone > 0 && s.Users > 0 {
			usersPerRow = float64(s.Users) / float64(s.RowsDone)
		}
		sendLeft = max(rowsTotal-float64(s.RowsDone), 0) * usersPerRow / float64(p.cfg.UsersPerSecond)
	}
	return time.Duration(max(readLeft, sendLeft) * float64(time.Second)).Round(time.Second)
}

func (p *Progress) show(final bool) {
	s := p.measure()
	if p.bar != nil {
		desc := fmt.Sprintf("%d rows (%.0f/s), %d users sent, %d in flight", s.RowsRead, s.rowsPerSec, s.Users, s.InFlight)
		if s.left >= 0 && !final {
			desc += fmt.Sprintf(", ~%s left", s.left)
		}
		p.bar.Describe(desc)
		p.bar.Set64(s.bytes)
		if final {
			p.bar.Finish()
			fmt.Fprintln(p.cfg.Out)
		}
		return
	}
	if p.cfg.Log == nil {
		return
	}
	attrs := []any{
		slog.Int64("rows_read", s.RowsRead), slog.Float64("rows_per_second", float64(int64(s.rowsPerSec))),
		slog.Int64("users_sent", s.Users), slog.Int64("requests", s.Requests), slog.Int64("in_flight", s.InFlight),
		slog.Int64("rejected", s.Rejected), slog.Int64("bytes_read", s.bytes),
	}
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
