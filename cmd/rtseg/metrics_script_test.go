package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rogpeppe/go-internal/testscript"
)

// cmdProm prints the metrics of a textfile, parsed as Prometheus parses
// it, one sample a line ("name{label="value",...} value"), sorted; with
// NAMEs, only those metrics: prom FILE [NAME...].
func cmdProm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: prom FILE [NAME...]")
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(ts.ReadFile(args[0])))
	ts.Check(err)
	fmt.Fprint(ts.Stdout(), sampleLines(families, args[1:]))
}

// cmdPromSummary checks that the metrics of a textfile have the values of
// a summary: promsummary FILE SUMMARY.json.
func cmdPromSummary(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: promsummary FILE SUMMARY.json")
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(ts.ReadFile(args[0])))
	ts.Check(err)
	if wrong := compareSummary(families, ts.ReadFile(args[1])); len(wrong) > 0 {
		ts.Fatalf("metrics differ from the summary:\n%s", strings.Join(wrong, "\n"))
	}
}

// sampleLines lists the samples of families, those named if names are given.
func sampleLines(families map[string]*dto.MetricFamily, names []string) string {
	var lines []string
	for name, mf := range families {
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			slices.Sort(labels)
			lines = append(lines, fmt.Sprintf("%s{%s} %s", name, strings.Join(labels, ","), strconv.FormatFloat(value(m), 'f', -1, 64)))
		}
	}
	slices.Sort(lines)
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// compareSummary says how the metrics differ from the summary (JSON): each
// count of the summary is a counter of that value, the outcomes of rows add
// up to the rows read, the duration and exit status are the summary's.
func compareSummary(families map[string]*dto.MetricFamily, summaryJSON string) []string {
	var s map[string]any
	if err := json.Unmarshal([]byte(summaryJSON), &s); err != nil {
		return []string{err.Error()}
	}
	var wrong []string
	one := func(name, label string, want float64, kind dto.MetricType) {
		mf := families[name]
		if mf == nil {
			wrong = append(wrong, fmt.Sprintf("no %s, want %v", name, want))
			return
		}
		if mf.GetType() != kind {
			wrong = append(wrong, fmt.Sprintf("%s is a %v, want a %v", name, mf.GetType(), kind))
		}
		for _, m := range mf.GetMetric() {
			matches := label == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == label {
					matches = true
				}
			}
			if matches {
				if got := value(m); got != want {
					wrong = append(wrong, fmt.Sprintf("%s{%s} = %v, want %v", name, label, got, want))
				}
				return
			}
		}
		wrong = append(wrong, fmt.Sprintf("no %s{outcome=%q}, want %v", name, label, want))
	}
	num := func(k string) float64 { f, _ := s[k].(float64); return f }
	counter, gauge := dto.MetricType_COUNTER, dto.MetricType_GAUGE
	one("rtseg_rows_read_total", "", num("rows_read"), counter)
	outcomes := []string{"accepted", "invalid", "superseded", "warned", "failed", "skipped"}
	if s["command"] == "validate" {
		outcomes = []string{"valid", "invalid", "superseded"}
	}
	sum := 0.0
	for _, o := range outcomes {
		one("rtseg_rows_total", o, num(o), counter)
		sum += num(o)
	}
	if sum != num("rows_read") {
		wrong = append(wrong, fmt.Sprintf("the summary's outcomes add up to %v, not its rows_read %v", sum, num("rows_read")))
	}
	if n := len(families["rtseg_rows_total"].GetMetric()); n != len(outcomes) {
		wrong = append(wrong, fmt.Sprintf("rtseg_rows_total has %d outcomes, want %d", n, len(outcomes)))
	}
	for metric, key := range map[string]string{"rtseg_users_total": "users", "rtseg_requests_total": "requests",
		"rtseg_retries_total": "retries", "rtseg_throttled_total": "throttled", "rtseg_sent_bytes_total": "bytes_sent"} {
		one(metric, "", num(key), counter)
	}
	one("rtseg_duration_seconds", "", num("elapsed_seconds"), gauge)
	one("rtseg_exit_status", "", num("exit_status"), gauge)
	slices.Sort(wrong)
	return wrong
}

type gatewayKey struct{}

// gatewaySlot holds a script's Pushgateway, once 'pushgateway' started it.
type gatewaySlot struct{ g *gateway }

// gateway is a Pushgateway's stand-in: it records what is pushed to it and
// answers with its status.
type gateway struct {
	srv    *httptest.Server
	status int
	mu     sync.Mutex
	pushes []pushed
}

type pushed struct {
	method, path, auth string
	families           map[string]*dto.MetricFamily
	err                error
}

// cmdPushgateway starts a Pushgateway's stand-in on loopback, answering
// 200 or STATUS, and sets $PUSHGATEWAY to its URL and $PUSHGATEWAY_HOST to
// its host and port: pushgateway [STATUS].
func cmdPushgateway(ts *testscript.TestScript, neg bool, args []string) {
	g := &gateway{status: http.StatusOK}
	if len(args) == 1 {
		var err error
		g.status, err = strconv.Atoi(args[0])
		ts.Check(err)
	}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := pushed{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization"), families: map[string]*dto.MetricFamily{}}
		body, err := io.ReadAll(r.Body)
		if err == nil {
			dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(r.Header))
			for {
				mf := &dto.MetricFamily{}
				if err = dec.Decode(mf); err != nil {
					break
				}
				p.families[mf.GetName()] = mf
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		p.err = err
		g.mu.Lock()
		g.pushes = append(g.pushes, p)
		g.mu.Unlock()
		w.WriteHeader(g.status)
	}))
	ts.Defer(g.srv.Close)
	ts.Value(gatewayKey{}).(*gatewaySlot).g = g
	ts.Setenv("PUSHGATEWAY", g.srv.URL)
	ts.Setenv("PUSHGATEWAY_HOST", strings.TrimPrefix(g.srv.URL, "http://"))
}

func gatewayOf(ts *testscript.TestScript) *gateway {
	g := ts.Value(gatewayKey{}).(*gatewaySlot).g
	if g == nil {
		ts.Fatalf("no Pushgateway: run 'pushgateway' first")
	}
	return g
}

// cmdPushes prints each push the stand-in received since the last
// 'pushes', one a line: its method, its grouping key (label=value, sorted),
// the Authorization header if any, and which of exit status and last
// success it holds, then forgets them.
func cmdPushes(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("usage: pushes")
	}
	g := gatewayOf(ts)
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.pushes {
		ts.Check(p.err)
		parts := strings.Split(strings.TrimPrefix(p.path, "/metrics/"), "/")
		var key []string
		for i := 0; i+1 < len(parts); i += 2 {
			key = append(key, parts[i]+"="+parts[i+1])
		}
		slices.Sort(key)
		line := p.method + " " + strings.Join(key, " ")
		if p.auth != "" {
			line += " auth=" + p.auth
		}
		for _, name := range []string{"rtseg_exit_status", "rtseg_last_success_timestamp_seconds"} {
			if mf := p.families[name]; mf != nil {
				line += fmt.Sprintf(" %s=%s", strings.TrimPrefix(name, "rtseg_"), strconv.FormatFloat(value(mf.GetMetric()[0]), 'f', -1, 64))
			}
		}
		fmt.Fprintln(ts.Stdout(), line)
	}
	g.pushes = nil
}

// cmdPushedSummary checks that the last push holds the values of a
// summary, with no label but the outcome's: pushedsummary SUMMARY.json.
func cmdPushedSummary(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pushedsummary SUMMARY.json")
	}
	g := gatewayOf(ts)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pushes) == 0 {
		ts.Fatalf("nothing pushed")
	}
	last := g.pushes[len(g.pushes)-1]
	if wrong := compareSummary(last.families, ts.ReadFile(args[0])); len(wrong) > 0 {
		ts.Fatalf("metrics pushed differ from the summary:\n%s", strings.Join(wrong, "\n"))
	}
	for name, mf := range last.families {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "outcome" {
					ts.Fatalf("%s pushed with the label %s: the grouping key holds the labels", name, l.GetName())
				}
			}
		}
	}
}
