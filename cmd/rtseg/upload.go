package main

import (
	"context"
	"fmt"

	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/report"
	"github.com/spf13/cobra"
)

func (e *env) uploadCommand() *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "upload [flags] INPUT...",
		Short: "Validate, pack and send rows to the Instant Audience Service",
		Long: `Upload reads user-segment rows from each INPUT (a CSV or Parquet file, a
directory of *.csv, *.csv.gz and *.parquet files read in name order, a glob,
an object or prefix in a bucket (s3://, gs://, azblob://: see the README
for credentials), or - for CSV on standard input), groups each user's rows, packs them into
requests within the service's limits, sends them with retries under the
POST/s and users/s limits, and writes a report of every row not accepted.

Credentials come from XANDR_TOKEN, --token-file, or XANDR_USERNAME and
XANDR_PASSWORD (logging in at {--api}/auth, and again when the token expires).

The limits default to the service's documented ones: 1000 users and 100
segments per user in a request of at most 1000000 bytes, 100 POST calls and
1000 users a second. Higher values are refused unless
--allow-above-service-limits says that Xandr raised the member's limits.

The service's limits are per member. Jobs of one member that run at the same
time, on one machine or several, hold them together when each names the same
Redis with --limiter (or RTSEG_LIMITER) and the same --limiter-key: no
one-second window then goes over --rps or --users-per-second, retries
included, each job gets its share, and a 429 seen by one pauses them all. If
Redis cannot be reached at the start, the run does not start (exit status 1).
If it is lost during the run, sending pauses while rtseg reconnects; after
--limiter-wait without it, the rows still to send fail (exit status 2) and go
to --failed, to be sent again later.

Progress shows the share of rows accounted for (answered, invalid,
superseded), the phase (reading, grouping, spilling, sending) and the time
left: a bar on a terminal, a log line every 10s otherwise.

For scheduled runs, --metrics-file (node_exporter's textfile collector) or
--metrics-push (a Pushgateway) report the run to Prometheus, with the
summary's counts, its exit status and rtseg_last_success_timestamp_seconds,
set only by a run that exits 0: alert on
'time() - rtseg_last_success_timestamp_seconds > 26*3600'. --report-format
parquet writes a report with typed columns that a warehouse loads as it is.
Inside a container, --group-memory's default shrinks to fit its memory limit.

With --html PATH it writes the run page: one HTML file, readable offline,
that shows the verdict, every row accounted for, the segments, the invalid,
warned and failed rows grouped by why with file:line examples, and users
sent per second against the limit, with 429s and retries marked. It is
written at the end, and on SIGINT/SIGTERM, like the summary; open it in a
browser, or keep it as a CI or Airflow artifact. rtseg reconcile --summary
S.json --html PATH adds the service's side to it later.

Exit status: 0 all rows accepted (or rejections within --max-rejected),
1 the run could not be done, 2 too many rows invalid, warned or failed,
130/143 interrupted by SIGINT/SIGTERM (report, summary and page still written).`,
		Example: `  # A one-off backfill from a warehouse export
  export XANDR_TOKEN=hbapi:...
  rtseg upload --summary backfill.json --failed retry.csv exports/part-*.csv.gz

  # A nightly job: tolerate up to 0.1% rejected rows, tell Prometheus how it went,
  # and leave a report for the warehouse
  rtseg upload --max-rejected 0.1% --metrics-push http://pushgateway:9091 --metrics-job audience-nightly \
    --report-format parquet --report nightly-report.parquet /data/audience.parquet

  # Keep a page to look at
  rtseg upload --max-rejected 0.1% --report nightly-report.csv --summary nightly.json \
    --html nightly.html /data/audience.parquet

  # Retry what failed last night
  rtseg upload --failed retry-again.csv retry.csv

  # Three nightly jobs of one member at once, sharing its limits
  export RTSEG_LIMITER=redis://:REDIS_PASSWORD@redis.internal:6379/0
  rtseg upload --limiter-key member-1234 --failed a-retry.csv family-a/ &
  rtseg upload --limiter-key member-1234 --failed b-retry.csv family-b/ &
  rtseg upload --limiter-key member-1234 --failed c-retry.csv backfill.parquet &
  wait`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.runUpload(cmd, o, args, true)
		},
	}
	e.addCommonFlags(cmd, o, true)
	cmd.Flags().BoolVar(&o.preflight, "preflight", false, "check the input's segments with the Segment Service first; refuse to start if any cannot take users")
	cmd.Flags().StringVar(&o.stateDir, "state-dir", "", "journal acknowledged requests here; run the same command again to send only the rest")
	cmd.Flags().BoolVar(&o.restart, "restart", false, "with --state-dir: forget the journal and send everything, even if the inputs changed")
	return cmd
}

func (e *env) validateCommand() *cobra.Command {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "validate [flags] INPUT...",
		Short: "Read, check and pack rows as upload would, without sending anything",
		Long: `Validate does everything upload does except send: it reads each INPUT,
checks every row, groups and packs them, and reports invalid and superseded
rows (and, with --report-all, the rows it would send as "valid"). With
--requests-dir it writes the request bodies it would send, and with --html
the run page: the invalid rows grouped by reason, with file:line examples.`,
		Example: `  rtseg validate users.csv
  rtseg validate --html check.html exports/
  rtseg validate --report-all --requests-dir out/ exports/`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.runUpload(cmd, o, args, false)
		},
	}
	e.addCommonFlags(cmd, o, false)
	return cmd
}

// runUpload runs upload (send) or validate (!send).
func (e *env) runUpload(cmd *cobra.Command, o *options, args []string, send bool) (err error) {
	r, err := e.newJob(cmd, o, args, jobSetup{send: send,
		interrupted: fmt.Sprintf("interrupted: finishing the requests in flight (%v at most), then writing the report; interrupt again to stop waiting", graceInFlight)})
	if err != nil {
		return err
	}
	defer r.close(&err)
	if send && o.stateDir != "" {
		if err := r.openJournal(""); err != nil {
			return err
		}
	}
	sum, runErr := r.execute(func(ctx context.Context, rec *report.Recorder, reqs chan<- *chunker.Request) error {
		return chunker.Intake(ctx, r.rd, r.intake, rec, reqs)
	})
	if sum == nil {
		return runErr
	}
	return r.finish(sum, runErr)
}
