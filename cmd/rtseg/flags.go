package main

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// options are the flags of upload and validate (and of the commands that
// share some of them).
type options struct {
	endpoint, api, tokenFile                           string // where to send, and as whom
	format, delimiter                                  string // how to read
	columns                                            repeated
	domain, memberID, value, expiration                string // defaults for rows
	remove, sorted, lenientIDs                         bool
	groupMemory, tmpDir                                string // grouping
	report, reportFormat, summary, failed, requestsDir string // outputs
	html                                               string
	reportAll, force                                   bool
	workers, rps, usersPerSecond, maxRetries           int // sending
	maxUsers, maxSegments, maxBytes                    int // packing
	aboveServiceLimits                                 bool
	timeout                                            time.Duration
	maxRejected, progress, logFormat                   string
	preflight                                          bool // upload: check the input's segments first (segments.go)
	stateDir                                           string
	restart                                            bool
	limiter, limiterKey                                string // a limiter shared through Redis
	limiterWait                                        time.Duration
	// sync (sync.go)
	mode, maxRemovals                    string
	refreshBefore, defaultLifetime       time.Duration
	dryRun, full                         bool
	metricsFile, metricsPush, metricsJob string // Prometheus metrics
	metricsLabels                        map[string]string
}

func (e *env) addCommonFlags(cmd *cobra.Command, o *options, sends bool) {
	f := cmd.Flags()
	f.SortFlags = false
	if sends {
		f.StringVar(&o.endpoint, "endpoint", e.envOr("RTSEG_ENDPOINT", uploader.DefaultEndpoint), "where requests go [RTSEG_ENDPOINT]")
		f.StringVar(&o.api, "api", e.envOr("RTSEG_API", uploader.DefaultAPI), "authentication and Segment Service base URL [RTSEG_API]")
		f.StringVar(&o.tokenFile, "token-file", "", "read the API token from this file (else XANDR_TOKEN, or log in with XANDR_USERNAME and XANDR_PASSWORD)")
	}
	f.StringVar(&o.memberID, "member-id", "", "member_id for rows without one")
	addInputFlags(f, o)
	f.BoolVar(&o.sorted, "sorted", false, "input is grouped by user: stream it in constant memory (a user that comes back is sent again, in order)")
	f.StringVar(&o.groupMemory, "group-memory", chunker.GroupMemoryDefault(e.container()), "memory for grouping unsorted input before spilling to disk: SIZE such as 64MiB or 1GB\n(with --sorted: the most the filter of users already sent may take); a run takes about 64MiB\nmore. Inside a container with a memory limit the default shrinks to fit in it")
	f.StringVar(&o.tmpDir, "tmp-dir", "", "where spilled rows go, in files removed as soon as they are opened (default: $TMPDIR or /tmp)")
	f.StringVar(&o.report, "report", "rtseg-report.csv", "the per-row report (by default named after --report-format: rtseg-report.jsonl, rtseg-report.parquet)")
	f.StringVar(&o.reportFormat, "report-format", "csv", "report format: csv, jsonl, or parquet (typed columns, to load into a warehouse)")
	f.BoolVar(&o.reportAll, "report-all", false, "also list accepted (or, for validate, valid) rows")
	f.StringVar(&o.summary, "summary", "", "write the JSON summary here")
	f.StringVar(&o.html, "html", "", "write the run page here: one HTML file to open in a browser or attach to a\nticket or CI job (verdict, rows by outcome, segments, reasons, throughput)")
	f.StringVar(&o.requestsDir, "requests-dir", "", "also write every request body as JSON into this directory, which must be new or empty")
	f.BoolVar(&o.force, "force", false, "with --requests-dir: remove the request files an earlier run left there")
	f.IntVar(&o.maxUsers, "max-users", chunker.DefaultLimits.MaxUsers, "users per request")
	f.IntVar(&o.maxSegments, "max-segments", chunker.DefaultLimits.MaxSegments, "segments per user per request")
	f.IntVar(&o.maxBytes, "max-bytes", chunker.DefaultLimits.MaxBytes, "request body size in bytes")
	if sends {
		f.StringVar(&o.failed, "failed", "", "write rows to retry later here, as CSV that rtseg upload accepts")
		f.IntVar(&o.workers, "workers", 8, "concurrent requests in flight")
		f.IntVar(&o.rps, "rps", uploader.ServicePostsPerSecond, "POST calls per second, never exceeded")
		f.IntVar(&o.usersPerSecond, "users-per-second", uploader.ServiceUsersPerSecond, "users (rt_segment entries) per second, never exceeded")
		f.StringVar(&o.limiter, "limiter", "", "hold --rps and --users-per-second together with every rtseg that names the same\nRedis and --limiter-key: redis://[:PASSWORD@]HOST:PORT/DB or rediss:// (TLS)\n[RTSEG_LIMITER, which keeps the password out of the process list]")
		f.StringVar(&o.limiterKey, "limiter-key", "rtseg", "with --limiter: the key the processes sharing the limits use in Redis (one per member)")
		f.DurationVar(&o.limiterWait, "limiter-wait", 5*time.Minute, "with --limiter: how long to wait for Redis when it is lost; then the rows still to\nsend fail, and go to --failed")
		f.IntVar(&o.maxRetries, "max-retries", 8, "attempts after the first for one request")
		f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit of one HTTP attempt")
		f.BoolVar(&o.aboveServiceLimits, "allow-above-service-limits", false, "accept limits above the service's documented ones, for a member whose limits Xandr\nraised: --max-users 1000, --max-segments 100, --max-bytes 1000000, --rps 100,\n--users-per-second 1000")
	} else {
		f.BoolVar(&o.aboveServiceLimits, "allow-above-service-limits", false, "accept limits above the service's documented ones, for a member whose limits Xandr\nraised: --max-users 1000, --max-segments 100, --max-bytes 1000000")
	}
	f.StringVar(&o.maxRejected, "max-rejected", "0", "rejected (invalid, warned or failed) rows tolerated before exit status 2: N or P%")
	f.StringVar(&o.progress, "progress", "auto", "progress, as the share of rows accounted for: auto (a bar on a terminal, else a log line\nevery 10s), bar, log or none")
	f.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	f.StringVar(&o.metricsFile, "metrics-file", "", "write the run's Prometheus metrics to this file (node_exporter's textfile collector\nformat, name it *.prom), replaced whole every 10s and at the end")
	f.StringVar(&o.metricsPush, "metrics-push", "", "push the run's Prometheus metrics to this Pushgateway (http://host:9091) at the end\nand every 30s; a Pushgateway that cannot be reached is only a warning")
	f.StringVar(&o.metricsJob, "metrics-job", report.MetricsJob, "the job label of the metrics pushed: one per scheduled job")
	f.StringToStringVar(&o.metricsLabels, "metrics-label", nil, "more labels KEY=VALUE of the metrics: in the Pushgateway's grouping key, and on every\nmetric of --metrics-file (repeatable); never a value that changes from run to run")
}

// addInputFlags adds the flags that say how to read the inputs, which
// every command reading them shares (--member-id is each command's own).
func addInputFlags(f *pflag.FlagSet, o *options) {
	f.StringVar(&o.format, "format", "auto", "input format: csv, parquet or auto (by extension, then content)")
	f.Var(&o.columns, "columns", "map fields to the file's columns: FIELD=COLUMN,... (e.g. user_id=uid,seg_id=segment)")
	f.StringVar(&o.delimiter, "delimiter", ",", `CSV field delimiter: ",", ";" or "\t"`)
	f.StringVar(&o.domain, "domain", "", "domain for rows without one (idfa, sha1udid, md5udid, openudid, aaid)")
	f.StringVar(&o.value, "value", "", "value for rows without one")
	f.StringVar(&o.expiration, "expiration", "", "expiration in minutes for rows without one (0 never expires, -1 removes)")
	f.BoolVar(&o.remove, "remove", false, "every row removes its user from its segment (expiration -1)")
	f.BoolVar(&o.lenientIDs, "lenient-ids", false, "accept user IDs of any shape (by default a Xandr user ID is a number, an idfa or aaid a UUID,\nan md5udid 32 hex digits, a sha1udid or openudid 40)")
}

// repeated is a flag that may be given more than once, each value kept:
// --columns a=b --columns c=d is --columns a=b,c=d. Its help shows it as
// a string, as it was before it could be repeated.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }
func (r *repeated) Type() string       { return "string" }

func (e *env) envOr(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// readerOptions turns the flags into reader options.
func (o *options) readerOptions() (reader.Options, error) {
	ro := reader.Options{
		Format: o.format,
		Defaults: reader.Defaults{
			Domain: o.domain, MemberID: o.memberID, Value: o.value, Expiration: o.expiration, Remove: o.remove,
			LenientIDs: o.lenientIDs,
		},
	}
	var err error
	if ro.Delimiter, err = reader.ParseDelimiter(o.delimiter); err != nil {
		return ro, err
	}
	if ro.Columns, err = reader.ParseColumns(o.columns...); err != nil {
		return ro, err
	}
	return ro, ro.Defaults.Check()
}

// minGroupMemory is the least --group-memory: less would only mean more,
// smaller temporary files.
const minGroupMemory = 1 << 20

// intake checks the flags that say how rows are grouped and packed:
// --sorted, --group-memory, --tmp-dir, the request limits and
// --requests-dir.
func (o *options) intake() (chunker.IntakeConfig, error) {
	n, err := humanize.ParseBytes(o.groupMemory)
	if err != nil {
		return chunker.IntakeConfig{}, fmt.Errorf("--group-memory %q: want a size such as 256MiB, 512MB or 2GiB", o.groupMemory)
	}
	if n < minGroupMemory || n > math.MaxInt64 {
		return chunker.IntakeConfig{}, fmt.Errorf("--group-memory %s: want at least 1MiB", o.groupMemory)
	}
	c := chunker.IntakeConfig{
		Limits: chunker.Limits{MaxUsers: o.maxUsers, MaxSegments: o.maxSegments, MaxBytes: o.maxBytes, AllowAboveService: o.aboveServiceLimits},
		Sorted: o.sorted, Memory: int64(n), TmpDir: o.tmpDir, RequestsDir: o.requestsDir,
	}
	return c, c.Check()
}

// metrics turns the --metrics-* flags into the metrics' configuration.
func (o *options) metrics(command string) report.MetricsConfig {
	return report.MetricsConfig{File: o.metricsFile, Push: o.metricsPush, Job: o.metricsJob, Labels: o.metricsLabels, Command: command}
}

// reportPath is --report: as given, or by default named after
// --report-format.
func (o *options) reportPath(given bool) string {
	if !given && (o.reportFormat == "jsonl" || o.reportFormat == "parquet") {
		return "rtseg-report." + o.reportFormat
	}
	return o.report
}
