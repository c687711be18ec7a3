package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader"
	"github.com/spf13/cobra"
)

func (e *env) segmentsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "segments",
		Short: "Check the segments an input references against the Segment Service",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError(cmd, "give a subcommand, such as 'rtseg segments check INPUT...'")
		},
	}
	cmd.AddCommand(e.segmentsCheckCommand())
	return cmd
}

// segmentFlags are the flags of rtseg segments check.
type segmentFlags struct {
	options
	readsPerMinute int
}

func (e *env) segmentsCheckCommand() *cobra.Command {
	sf := &segmentFlags{}
	cmd := &cobra.Command{
		Use:   "check [flags] INPUT...",
		Short: "Check that every segment an input references can take users now",
		Long: `Check reads each INPUT as upload would, collects the distinct segments its
valid rows reference, looks them up through the Segment Service
(GET {--api}/segment: 100 IDs a call; codes one by one with their member),
and reports each segment the service would silently drop adds to:

  missing        the Segment Service does not know it
  inactive       its state is inactive
  other-member   another member owns it (checked against --member-id, or the
                 one member_id of the rows; not checked when neither is known)
  fresh          modified less than 20 minutes ago: it may not have reached
                 every server yet

Each problem line starts with the first row that references the segment.
Calls are held under the API's read limit (--api-reads-per-minute).

Exit status: 0 every segment is usable, 2 some are not, 1 the check could
not be done (bad arguments, unreadable input, authentication refused).`,
		Example: `  XANDR_TOKEN=hbapi:... rtseg segments check --member-id 1234 exports/
  rtseg upload --preflight exports/   # the same check, then the upload`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.runSegmentsCheck(cmd, sf, args)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	o := &sf.options
	f.StringVar(&o.api, "api", e.envOr("RTSEG_API", uploader.DefaultAPI), "authentication and Segment Service base URL [RTSEG_API]")
	f.StringVar(&o.tokenFile, "token-file", "", "read the API token from this file (else XANDR_TOKEN, or log in with XANDR_USERNAME and XANDR_PASSWORD)")
	f.StringVar(&o.memberID, "member-id", "", "member_id for rows without one, and the member that should own the segments")
	addInputFlags(f, o)
	f.IntVar(&sf.readsPerMinute, "api-reads-per-minute", uploader.SegmentReadsPerMinute, "Segment Service calls per minute, never exceeded (0: the API's documented read limit)")
	f.IntVar(&o.maxRetries, "max-retries", 8, "attempts after the first for one call")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit of one HTTP attempt")
	return cmd
}

func (e *env) runSegmentsCheck(cmd *cobra.Command, sf *segmentFlags, args []string) error {
	if len(args) == 0 {
		return usageError(cmd, "no INPUT given")
	}
	ro, err := sf.readerOptions()
	if err != nil {
		return usageError(cmd, "%v", err)
	}
	ro.Stdin = e.stdin
	res, err := e.checkSegments(cmd.Context(), &sf.options, args, ro, sf.readsPerMinute)
	if err != nil {
		return asExitError(err)
	}
	res.Write(e.stdout, e.stderr)
	if err := res.Err(); err != nil {
		return &exitError{code: exitRejected, err: err}
	}
	return nil
}

// checkSegments reads the inputs and checks the segments of their valid
// rows with the Segment Service.
func (e *env) checkSegments(ctx context.Context, o *options, args []string, ro reader.Options, readsPerMinute int) (*uploader.SegmentReport, error) {
	rd, err := reader.Open(args, ro)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	res, err := uploader.CollectSegments(ctx, rd)
	if err != nil || len(res.Uses) == 0 {
		return res, err
	}
	auth, err := e.auth(o)
	if err != nil {
		return nil, err
	}
	client, err := uploader.NewSegmentClient(o.api, uploader.ReadConfig{
		Auth: auth, ReadsPerMinute: readsPerMinute, MaxRetries: o.maxRetries, Timeout: o.timeout,
	})
	if err != nil {
		return nil, err
	}
	return res, res.Check(ctx, client, time.Now())
}

// preflight runs the segment check before an upload and refuses to start
// when a segment cannot take users. Standard input, read twice, is kept in
// a temporary file; the returned function removes it.
func (e *env) preflight(cmd *cobra.Command, o *options, args []string, ro *reader.Options) (func(), error) {
	release, err := ro.KeepStdin(args, o.tmpDir)
	if err != nil {
		return nil, asExitError(fmt.Errorf("--preflight: %w", err))
	}
	res, err := e.checkSegments(cmd.Context(), o, args, *ro, 0)
	if err != nil {
		release()
		return nil, asExitError(fmt.Errorf("--preflight: %w", err))
	}
	res.Write(e.stderr, e.stderr)
	var bad *uploader.SegmentsError
	if errors.As(res.Err(), &bad) {
		release()
		return nil, &exitError{code: exitFailure, err: &uploader.PreflightError{SegmentsError: bad}}
	}
	return release, nil
}
