package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rtseg/rtseg/uploader"
)

// readProm parses a textfile as Prometheus does: a metric's first sample
// by name, and whether it is there.
func readProm(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" {
					key += "/" + l.GetValue()
				}
			}
			got[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return got
}

// TestMetricsDuringRun checks that the textfile is written every 10s with
// the counts so far and no exit status, then at the end with the run's
// values and its success.
func TestMetricsDuringRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rtseg.prom")
	synctest.Test(t, func(t *testing.T) {
		rec := NewRecorder(RecorderConfig{Command: "upload"})
		m, err := NewMetrics(MetricsConfig{File: path, Job: MetricsJob, Command: "upload"})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		m.Start(rec, start)
		rec.Read(4)
		req := requestOf(0, 2, 4)
		rec.Queued(req)
		rec.Sent(uploader.Result{Request: req, Attempts: 2, Retries: 1, Throttled: 1})
		time.Sleep(5 * time.Second)
		if _, err := os.Stat(path); err == nil {
			t.Errorf("metrics written before 10s")
		}
		time.Sleep(6 * time.Second)
		synctest.Wait()
		got := readProm(t, path)
		for name, want := range map[string]float64{"rtseg_rows_read_total": 4, "rtseg_rows_total/accepted": 4,
			"rtseg_rows_total/invalid": 0, "rtseg_users_total": 4, "rtseg_requests_total": 1, "rtseg_retries_total": 1,
			"rtseg_throttled_total": 1, "rtseg_sent_bytes_total": 4, "rtseg_duration_seconds": 10} {
			if got[name] != want {
				t.Errorf("after 10s, %s = %v, want %v", name, got[name], want)
			}
		}
		for _, name := range []string{"rtseg_exit_status", lastSuccessName} {
			if _, ok := got[name]; ok {
				t.Errorf("%s written while the run goes on", name)
			}
		}

		sum, _ := rec.Close()
		if _, err := sum.Finish(Ending{Start: start, Out: &strings.Builder{}, Metrics: m}, nil); err != nil {
			t.Fatal(err)
		}
		got = readProm(t, path)
		if got["rtseg_exit_status"] != 0 || got[lastSuccessName] != float64(time.Now().Unix()) || got["rtseg_duration_seconds"] != 11 {
			t.Errorf("at the end: exit status %v, last success %v, duration %v; want 0, now (%d), 11",
				got["rtseg_exit_status"], got[lastSuccessName], got["rtseg_duration_seconds"], time.Now().Unix())
		}
	})
}

// TestMetricsKeepLastSuccess checks that a run that does not exit 0 keeps
// the last success its textfile held for its labels, and only for them.
func TestMetricsKeepLastSuccess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rtseg.prom")
	run := func(labels map[string]string, status int) map[string]float64 {
		m, err := NewMetrics(MetricsConfig{File: path, Job: MetricsJob, Labels: labels, Command: "upload"})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Finish(&Summary{Command: "upload", ExitStatus: status, FinishedAt: time.Unix(1_800_000_000, 0)}); err != nil {
			t.Fatal(err)
		}
		return readProm(t, path)
	}
	team := map[string]string{"team": "a"}
	if got := run(team, StatusRejected); got[lastSuccessName] != 0 {
		t.Errorf("first run exiting 2: last success %v, want none", got[lastSuccessName])
	}
	if got := run(team, StatusOK); got[lastSuccessName] != 1_800_000_000 {
		t.Errorf("run exiting 0: last success %v, want its end", got[lastSuccessName])
	}
	if got := run(team, StatusFailure); got[lastSuccessName] != 1_800_000_000 || got["rtseg_exit_status"] != 1 {
		t.Errorf("run exiting 1 after a success: last success %v, exit status %v; want the earlier success, 1", got[lastSuccessName], got["rtseg_exit_status"])
	}
	if got := run(map[string]string{"team": "b"}, StatusRejected); got[lastSuccessName] != 0 {
		t.Errorf("run of other labels: last success %v, want none", got[lastSuccessName])
	}
}

func TestMetricsConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  MetricsConfig
		want string // "" for no error
	}{
		{"file", MetricsConfig{File: "m.prom", Job: "rtseg"}, ""},
		{"push", MetricsConfig{Push: "https://user:pw@gateway:9091/prefix", Job: "nightly", Labels: map[string]string{"team": "x", "_a1": ""}}, ""},
		{"no scheme", MetricsConfig{Push: "gateway:9091", Job: "rtseg"}, `--metrics-push "gateway:9091": want the Pushgateway's URL`},
		{"password hidden", MetricsConfig{Push: "ftp://user:pw@gateway", Job: "rtseg"}, `--metrics-push "ftp://user:xxxxx@gateway"`},
		{"no job", MetricsConfig{File: "m.prom"}, "--metrics-job: give a job name"},
		{"bad label", MetricsConfig{File: "m.prom", Job: "rtseg", Labels: map[string]string{"a-b": "x"}}, "--metrics-label a-b: a label name is"},
		{"reserved label", MetricsConfig{File: "m.prom", Job: "rtseg", Labels: map[string]string{"__name__": "x"}}, "--metrics-label __name__: a label name is"},
		{"job label", MetricsConfig{File: "m.prom", Job: "rtseg", Labels: map[string]string{"job": "x"}}, "--metrics-label job: the job is --metrics-job"},
	} {
		err := tc.cfg.Check()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Check() = %v, want %q", tc.name, err, tc.want)
		}
	}
}
