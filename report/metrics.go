package report

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// MetricsConfig says where a run's Prometheus metrics go.
type MetricsConfig struct {
	// File is --metrics-file: a file in the node_exporter textfile
	// collector's format, replaced whole at each write; "" for none.
	File string
	// Push is --metrics-push: the URL of a Pushgateway; "" for none.
	Push string
	// Job is --metrics-job, the grouping key's job; Labels are
	// --metrics-label: more of the grouping key for a push, and labels of
	// every metric in File.
	Job    string
	Labels map[string]string
	// Command is the run's command, upload or validate: it says which
	// outcomes rows can have.
	Command string
	// Log receives the warnings of writes and pushes that fail during the
	// run.
	Log *slog.Logger
}

// How often metrics are written during a run, and how long a push may take.
const (
	MetricsFileInterval = 10 * time.Second
	MetricsPushInterval = 30 * time.Second
	metricsPushTimeout  = 10 * time.Second
)

// MetricsJob is --metrics-job's default.
const MetricsJob = "rtseg"

// Check refuses a configuration whose metrics could not be pushed: a
// Pushgateway URL that is not http or https, an empty job, a label whose
// name Prometheus would refuse or that is the job's.
func (c MetricsConfig) Check() error {
	if c.Push != "" {
		u, err := url.Parse(c.Push)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--metrics-push %q: want the Pushgateway's URL, such as http://pushgateway:9091", redactURL(c.Push))
		}
	}
	if c.Job == "" {
		return errors.New("--metrics-job: give a job name")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Labels)) {
		switch {
		case !model.LegacyValidation.IsValidLabelName(name) || strings.HasPrefix(name, "__"):
			return fmt.Errorf("--metrics-label %s: a label name is letters, digits and underscores, not starting with a digit or two underscores", name)
		case name == "job":
			return errors.New("--metrics-label job: the job is --metrics-job")
		}
	}
	return nil
}

// redactURL is a URL as it may be shown: without a password.
func redactURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err == nil:
		return u.Redacted()
	case strings.Contains(s, "@"):
		// Not a URL, it may still hold a password before its host.
		return "..." + s[strings.LastIndex(s, "@"):]
	}
	return s
}

// Metrics writes a run's metrics for Prometheus: to a textfile every
// MetricsFileInterval, to a Pushgateway every MetricsPushInterval, and both
// at the end. Their values are the summary's. A write or push that fails
// does not fail the run: it is a warning.
//
// rtseg_last_success_timestamp_seconds is set to the end of a run that
// exits 0. A run that does not keeps the last success as it was: in the
// textfile, the value its previous run wrote, read at the start; at the
// Pushgateway, whose push of a failed run replaces only the metrics it
// holds, the value pushed by the last run that succeeded.
type Metrics struct {
	cfg         MetricsConfig
	lastSuccess float64 // of the textfile's previous run; 0 for none
	// pushURL is the Pushgateway's, without user or password, which
	// pushUser holds: no error the push returns then shows a password.
	pushURL    string
	pushUser   *url.Userinfo
	fileLabels prometheus.Labels

	stop     chan struct{}
	done     chan struct{}
	finished bool
	// warned keeps, by destination, that a failure was logged, so that
	// each is logged once a run.
	mu     sync.Mutex
	warned map[string]bool
}

// NewMetrics prepares the metrics of a run; nil if cfg names no destination.
// It reads the last success from the textfile a previous run left.
func NewMetrics(cfg MetricsConfig) (*Metrics, error) {
	if cfg.File == "" && cfg.Push == "" {
		return nil, nil
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	m := &Metrics{cfg: cfg, fileLabels: prometheus.Labels(cfg.Labels), warned: map[string]bool{}}
	if cfg.File != "" {
		m.lastSuccess = previousSuccess(cfg.File, m.fileLabels)
	}
	if cfg.Push != "" {
		u, err := url.Parse(cfg.Push)
		if err != nil {
			return nil, err
		}
		m.pushUser, u.User = u.User, nil
		m.pushURL = u.String()
	}
	return m, nil
}

// previousSuccess is the last success that the textfile at path holds for
// these labels, or 0.
func previousSuccess(path string, labels prometheus.Labels) float64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(f)
	if err != nil {
		return 0
	}
	mf := families[lastSuccessName]
	if mf == nil {
		return 0
	}
	for _, m := range mf.GetMetric() {
		got := prometheus.Labels{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if maps.Equal(got, labels) && m.GetGauge() != nil {
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// Start writes the metrics of rec's counts so far as the run goes, from a
// run that began at start, until Finish.
func (m *Metrics) Start(rec *Recorder, start time.Time) {
	if m == nil {
		return
	}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		file := time.NewTicker(MetricsFileInterval)
		defer file.Stop()
		pushed := time.NewTicker(MetricsPushInterval)
		defer pushed.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-file.C:
				if m.cfg.File != "" {
					m.warn("--metrics-file", m.writeFile(m.liveValues(rec, start)))
				}
			case <-pushed.C:
				if m.pushURL != "" {
					m.warn("--metrics-push", m.push(m.liveValues(rec, start), false))
				}
			}
		}
	}()
}

func (m *Metrics) liveValues(rec *Recorder, start time.Time) *values {
	l := rec.Live()
	return &values{command: m.cfg.Command, rowsRead: l.RowsRead, outcomes: l.Outcomes,
		users: l.Users, requests: l.Requests, retries: l.Retries, throttled: l.Throttled, bytesSent: l.BytesSent,
		duration: time.Since(start).Seconds(), exitStatus: -1, lastSuccess: m.lastSuccess}
}

// warn logs the first failure of each destination.
func (m *Metrics) warn(flag string, err error) {
	if err == nil {
		return
	}
	m.mu.Lock()
	first := !m.warned[flag]
	m.warned[flag] = true
	m.mu.Unlock()
	if first && m.cfg.Log != nil {
		m.cfg.Log.Warn(fmt.Sprintf("%s: %v (the run goes on; trying again later)", flag, err))
	}
}

// Finish stops the writes during the run and writes the metrics of the
// finished run s, whose ExitStatus is set. Its error joins the writes and
// pushes that failed, for a warning: the run's status does not change.
// Only its first call writes.
func (m *Metrics) Finish(s *Summary) error {
	if m == nil || m.finished {
		return nil
	}
	m.finished = true
	if m.stop != nil {
		close(m.stop)
		<-m.done
	}
	v := &values{command: s.Command, rowsRead: s.RowsRead,
		users: s.Users, requests: s.Requests, retries: s.Retries, throttled: s.Throttled, bytesSent: s.BytesSent,
		duration: s.ElapsedSeconds, exitStatus: s.ExitStatus, lastSuccess: m.lastSuccess}
	for o, n := range map[Outcome]int64{Accepted: s.Accepted, Invalid: s.Invalid, Superseded: s.Superseded,
		Warned: s.Warned, Failed: s.Failed, Skipped: s.Skipped, Valid: s.Valid, Unchanged: s.Unchanged} {
		v.outcomes[o] = n
	}
	if s.Sync != nil {
		v.sync = map[string]int64{"added": s.Sync.Added, "changed": s.Sync.Changed, "refreshed": s.Sync.Refreshed,
			"removed": s.Sync.Removed, "unchanged": s.Unchanged}
	}
	if s.ExitStatus == StatusOK {
		end := s.FinishedAt
		if end.IsZero() {
			end = time.Now()
		}
		v.lastSuccess = float64(end.UnixNano()) / 1e9
	}
	var errs []error
	if m.cfg.File != "" {
		if err := m.writeFile(v); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-file: %w", err))
		}
	}
	if m.pushURL != "" {
		if err := m.push(v, true); err != nil {
			errs = append(errs, fmt.Errorf("--metrics-push: %w", err))
		}
	}
	return errors.Join(errs...)
}

// writeFile replaces the textfile with the metrics of v.
func (m *Metrics) writeFile(v *values) error {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(&collector{v: v, labels: m.fileLabels}); err != nil {
		return err
	}
	families, err := reg.Gather()
	if err != nil {
		return err
	}
	f, err := createPending(m.cfg.File)
	if err != nil {
		return err
	}
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(f, mf); err != nil {
			f.abort()
			return err
		}
	}
	return f.commit()
}

// push sends the metrics of v to the Pushgateway. The last push of a run
// that succeeded replaces every metric of its group (HTTP PUT), those of
// earlier runs included; any other push replaces only the metrics it holds
// (POST), so that the group keeps the last success of an earlier run.
func (m *Metrics) push(v *values, final bool) error {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(&collector{v: v}); err != nil {
		return err
	}
	p := push.New(m.pushURL, m.cfg.Job).Gatherer(reg).Client(&http.Client{Timeout: metricsPushTimeout})
	if m.pushUser != nil {
		pass, _ := m.pushUser.Password()
		p.BasicAuth(m.pushUser.Username(), pass)
	}
	for _, name := range slices.Sorted(maps.Keys(m.cfg.Labels)) {
		p.Grouping(name, m.cfg.Labels[name])
	}
	ctx, cancel := context.WithTimeout(context.Background(), metricsPushTimeout)
	defer cancel()
	if final && v.exitStatus == StatusOK {
		return p.PushContext(ctx)
	}
	return p.AddContext(ctx)
}

// values are what the metrics say of a run.
type values struct {
	command                                        string
	rowsRead                                       int64
	outcomes                                       [numOutcomes]int64
	users, requests, retries, throttled, bytesSent int64
	duration                                       float64
	exitStatus                                     int     // -1 while the run goes on
	lastSuccess                                    float64 // 0 for none
	// sync counts, for rtseg sync, the associations by what the run did
	// with them; nil for the other commands.
	sync map[string]int64
}

// The metrics' names, as Prometheus's conventions have them: a counter's
// ends in _total, a unit's name (seconds, bytes) comes before it.
const (
	lastSuccessName = "rtseg_last_success_timestamp_seconds"
	syncName        = "rtseg_sync_associations_total"
)

// collector gives the metrics of one set of values.
type collector struct {
	v      *values
	labels prometheus.Labels // constant labels of every metric
}

type metricDef struct {
	name, help string
	kind       prometheus.ValueType
	value      func(v *values) float64
	labels     []string
}

var metricDefs = []metricDef{
	{"rtseg_rows_read_total", "Rows read from the input, whatever became of them.", prometheus.CounterValue,
		func(v *values) float64 { return float64(v.rowsRead) }, nil},
	{"rtseg_rows_total", "Rows by outcome; their sum is rtseg_rows_read_total.", prometheus.CounterValue, nil, []string{"outcome"}},
	{"rtseg_users_total", "User entries (rt_segment entries) sent, or for validate that would be.", prometheus.CounterValue,
		func(v *values) float64 { return float64(v.users) }, nil},
	{"rtseg_requests_total", "Requests sent, or for validate that would be.", prometheus.CounterValue,
		func(v *values) float64 { return float64(v.requests) }, nil},
	{"rtseg_retries_total", "Attempts after a request's first.", prometheus.CounterValue,
		func(v *values) float64 { return float64(v.retries) }, nil},
	{"rtseg_throttled_total", "Answers that were HTTP 429 (too many requests).", prometheus.CounterValue,
		func(v *values) float64 { return float64(v.throttled) }, nil},
	{"rtseg_sent_bytes_total", "Bytes of request bodies sent, retries included.", prometheus.CounterValue,
		func(v *values) float64 { return float64(v.bytesSent) }, nil},
	{"rtseg_duration_seconds", "How long the run took, or has taken so far.", prometheus.GaugeValue,
		func(v *values) float64 { return v.duration }, nil},
	{"rtseg_exit_status", "The run's exit status: 0 success, 1 failure, 2 too many rows rejected, 130 or 143 interrupted. Written at the end.", prometheus.GaugeValue,
		func(v *values) float64 { return float64(v.exitStatus) }, nil},
	{syncName, "rtseg sync: associations of the snapshot and the delivered state by change (added, changed, refreshed, removed, unchanged).", prometheus.CounterValue, nil, []string{"change"}},
	{lastSuccessName, "When the last run that exited 0 ended, in seconds since the Unix epoch.", prometheus.GaugeValue,
		func(v *values) float64 { return v.lastSuccess }, nil},
}

// outcomesOf are the outcomes a row of command can have, in the report's
// words.
func outcomesOf(command string) []Outcome {
	switch command {
	case "validate":
		return []Outcome{Valid, Invalid, Superseded}
	case "sync":
		return []Outcome{Accepted, Invalid, Superseded, Warned, Failed, Skipped, Unchanged}
	}
	return []Outcome{Accepted, Invalid, Superseded, Warned, Failed, Skipped}
}

func (c *collector) desc(d *metricDef) *prometheus.Desc {
	return prometheus.NewDesc(d.name, d.help, d.labels, c.labels)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for i := range metricDefs {
		ch <- c.desc(&metricDefs[i])
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for i := range metricDefs {
		d := &metricDefs[i]
		desc := c.desc(d)
		switch {
		case d.name == syncName:
			for _, change := range slices.Sorted(maps.Keys(c.v.sync)) {
				ch <- prometheus.MustNewConstMetric(desc, d.kind, float64(c.v.sync[change]), change)
			}
		case d.value == nil:
			for _, o := range outcomesOf(c.v.command) {
				ch <- prometheus.MustNewConstMetric(desc, d.kind, float64(c.v.outcomes[o]), o.String())
			}
		case d.name == "rtseg_exit_status" && c.v.exitStatus < 0,
			d.name == lastSuccessName && c.v.lastSuccess == 0:
			// Not known yet, or never.
		default:
			ch <- prometheus.MustNewConstMetric(desc, d.kind, d.value(c.v))
		}
	}
}
