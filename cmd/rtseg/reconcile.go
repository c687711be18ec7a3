package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/rtseg/rtseg/report"
	"github.com/rtseg/rtseg/uploader"
	"github.com/spf13/cobra"
)

type reconcileFlags struct {
	summary, format, endpoint, member, html string
	o                                       options
}

func (e *env) reconcileCommand() *cobra.Command {
	rf := &reconcileFlags{}
	cmd := &cobra.Command{
		Use:   "reconcile --summary S.json",
		Short: "Compare a run's summary with what the service says it processed",
		Long: `Reconcile reads the summary of an upload or a sync (their --summary), fetches
the service's hourly usage statistics (GET {endpoint base}/rt-segment-processed)
for the run's member and the hours it covered, and prints side by side what
the run sent (users, adds, removes) and what the service counted (valid
users, adds and removes; invalid users; invalid, unauthorised and inactive
segments), with the service's samples of error lines.

The service counts per request and per member: other uploads of the same
member in the same hours, and requests it processed although rtseg saw them
fail, show up as differences. It may take up to 24 hours to count
everything: reconcile a recent run again later.

The service's sample lines are grouped by kind and segment, with counts.
With --html PATH, reconcile also writes the run page from the summary with
the service's side beside the run's: the counts, hour by hour, and the
samples grouped, with a note while the service may still be counting.

Exit status: 0 the service counted what the run sent, 2 the counts differ,
1 the comparison could not be done.`,
		Example: `  rtseg upload --summary run.json exports/
  rtseg reconcile --summary run.json
  rtseg reconcile --summary run.json --html run.html
  rtseg reconcile --summary run.json --format json > reconciliation.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.runReconcile(cmd, rf)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&rf.summary, "summary", "", "the run's summary (JSON, from rtseg upload --summary)")
	f.StringVar(&rf.format, "format", "text", "output: text or json")
	f.StringVar(&rf.html, "html", "", "also write the run page, with the service's side, here")
	f.StringVar(&rf.endpoint, "endpoint", "", "the rt-segment URL the statistics are beside (default: the summary's, else RTSEG_ENDPOINT, else "+uploader.DefaultEndpoint+")")
	f.StringVar(&rf.member, "member-id", "", "the member whose statistics to read (default: the summary's)")
	f.StringVar(&rf.o.api, "api", e.envOr("RTSEG_API", uploader.DefaultAPI), "authentication base URL, for XANDR_USERNAME and XANDR_PASSWORD [RTSEG_API]")
	f.StringVar(&rf.o.tokenFile, "token-file", "", "read the API token from this file (else XANDR_TOKEN, or log in with XANDR_USERNAME and XANDR_PASSWORD)")
	f.IntVar(&rf.o.maxRetries, "max-retries", 8, "attempts after the first for one call")
	f.DurationVar(&rf.o.timeout, "timeout", 30*time.Second, "time limit of one HTTP attempt")
	return cmd
}

func (e *env) runReconcile(cmd *cobra.Command, rf *reconcileFlags) error {
	if rf.summary == "" {
		return usageError(cmd, "--summary is required")
	}
	if rf.format != "text" && rf.format != "json" {
		return usageError(cmd, "--format %q: want text or json", rf.format)
	}
	var member int64
	if rf.member != "" {
		var err error
		if member, err = strconv.ParseInt(rf.member, 10, 64); err != nil || member <= 0 {
			return usageError(cmd, "--member-id %q: want a positive whole number", rf.member)
		}
	}
	if err := (report.Outputs{HTML: rf.html}).Check([]string{rf.summary}); err != nil {
		return asExitError(err)
	}
	sum, err := report.ReadSummary(rf.summary)
	if err != nil {
		return asExitError(err)
	}
	member, start, end, err := sum.UsageWindow(rf.summary, member)
	if err != nil {
		return asExitError(err)
	}
	endpoint := rf.endpoint
	for _, v := range []string{sum.Endpoint, e.getenv("RTSEG_ENDPOINT"), uploader.DefaultEndpoint} {
		if endpoint == "" {
			endpoint = v
		}
	}
	auth, err := e.auth(&rf.o)
	if err != nil {
		return asExitError(err)
	}
	client, err := uploader.NewUsageClient(endpoint, uploader.ReadConfig{Auth: auth, MaxRetries: rf.o.maxRetries, Timeout: rf.o.timeout})
	if err != nil {
		return asExitError(err)
	}
	hours, err := client.Hours(cmd.Context(), member, start, end)
	if err != nil {
		return asExitError(fmt.Errorf("read the usage statistics: %w", err))
	}
	rec := report.Reconcile(rf.summary, sum, member, start, end, hours, time.Now())
	if rf.format == "json" {
		if err := rec.WriteJSON(e.stdout); err != nil {
			return asExitError(err)
		}
	} else {
		rec.WriteText(e.stdout)
	}
	if rf.html != "" {
		if err := (&report.Page{Summary: sum, Reconciliation: rec}).WriteFile(rf.html); err != nil {
			return asExitError(fmt.Errorf("--html: %w", err))
		}
		fmt.Fprintf(e.stderr, "rtseg: page: %s\n", rf.html)
	}
	if err := rec.Err(); err != nil {
		return &exitError{code: exitRejected, err: err, hint: rec.Hint()}
	}
	return nil
}
