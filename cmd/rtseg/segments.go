package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader"
	"github.com/spf13/cobra"
)

// readSpan is the window the Segment Service's read limit is held over.
const readSpan = time.Minute

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
	f.StringVar(&o.api, "api", e.envOr("RTSEG_API", defaultAPI), "authentication and Segment Service base URL [RTSEG_API]")
	f.StringVar(&o.tokenFile, "token-file", "", "read the API token from this file (else XANDR_TOKEN, or log in with XANDR_USERNAME and XANDR_PASSWORD)")
	f.StringVar(&o.memberID, "member-id", "", "member_id for rows without one, and the member that should own the segments")
	addInputFlags(f, o)
	f.IntVar(&sf.readsPerMinute, "api-reads-per-minute", uploader.SegmentReadsPerMinute, "Segment Service calls per minute, never exceeded (the API's documented read limit)")
	f.IntVar(&o.maxRetries, "max-retries", 8, "attempts after the first for one call")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "time limit of one HTTP attempt")
	return cmd
}

func (e *env) runSegmentsCheck(cmd *cobra.Command, sf *segmentFlags, args []string) error {
	if len(args) == 0 {
		return usageError(cmd, "no INPUT given")
	}
	if sf.readsPerMinute < 1 {
		return usageError(cmd, "--api-reads-per-minute must be at least 1, not %d", sf.readsPerMinute)
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
	res.write(e.stdout, e.stderr)
	if bad := res.problems(); bad > 0 {
		return &exitError{code: exitRejected, err: fmt.Errorf("%d of %d segments cannot take users now", bad, len(res.checks)),
			hint: "the service would drop adds to them without a word; fix the input or the segments, then check again"}
	}
	return nil
}

// segmentUse is how an input uses one segment.
type segmentUse struct {
	rows  int64
	first reader.Position
	owner int64 // from a row's member_id
}

// segmentCheck is the outcome of a check: each segment with what the
// service says of it and how the input uses it.
type segmentCheck struct {
	checks    []uploader.SegmentCheck
	uses      map[reader.Segment]*segmentUse
	validRows int64
	calls     int64
	// unowned counts the ID segments whose owner could not be checked.
	unowned int
}

// checkSegments reads the inputs, collects the distinct segments of their
// valid rows and checks them with the Segment Service.
func (e *env) checkSegments(ctx context.Context, o *options, args []string, ro reader.Options, readsPerMinute int) (*segmentCheck, error) {
	res, err := collectSegments(ctx, args, ro)
	if err != nil {
		return nil, err
	}
	refs := res.refs()
	if len(refs) == 0 {
		return res, nil
	}
	auth, err := e.auth(o)
	if err != nil {
		return nil, err
	}
	reads, err := uploader.NewReadLimiter(readsPerMinute, readSpan, uploader.LimitJitter)
	if err != nil {
		return nil, fmt.Errorf("--api-reads-per-minute: %w", err)
	}
	client, err := uploader.NewSegmentClient(o.api, uploader.ReadConfig{
		Auth:       auth,
		Reads:      reads,
		MaxRetries: o.maxRetries,
		Timeout:    o.timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("--api: %w", err)
	}
	res.checks, err = client.Check(ctx, refs, time.Now())
	res.calls = client.Calls()
	if err != nil {
		return nil, fmt.Errorf("look up segments: %w", err)
	}
	return res, nil
}

// collectSegments reads every row and counts, per distinct segment, the valid
// rows that reference it.
func collectSegments(ctx context.Context, args []string, ro reader.Options) (*segmentCheck, error) {
	rd, err := reader.Open(args, ro)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	res := &segmentCheck{uses: map[reader.Segment]*segmentUse{}}
	for ctx.Err() == nil {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return nil, err
		}
		if !row.Valid() {
			continue
		}
		res.validRows++
		seg := row.Segment()
		u := res.uses[seg]
		if u == nil {
			u = &segmentUse{first: row.Pos}
			res.uses[seg] = u
		}
		u.rows++
		if u.owner == 0 {
			u.owner = row.MemberID
		}
	}
	return nil, ctx.Err()
}

// refs lists the segments to check, each with the member that should own
// it: the row's member_id, else the one member of all the rows.
func (res *segmentCheck) refs() []uploader.SegmentRef {
	members := map[int64]bool{}
	for _, u := range res.uses {
		if u.owner != 0 {
			members[u.owner] = true
		}
	}
	var only int64
	if len(members) == 1 {
		for m := range members {
			only = m
		}
	}
	refs := make([]uploader.SegmentRef, 0, len(res.uses))
	for seg, u := range res.uses {
		owner := u.owner
		if owner == 0 {
			owner = only
		}
		if owner == 0 {
			res.unowned++
		}
		refs = append(refs, uploader.SegmentRef{Segment: seg, Owner: owner})
	}
	return refs
}

func (res *segmentCheck) problems() int {
	n := 0
	for _, c := range res.checks {
		if c.Problem != uploader.ProblemNone {
			n++
		}
	}
	return n
}

// write prints one line per problem segment, starting with the first row
// that references it, then a line of totals; notes go to notes.
func (res *segmentCheck) write(out, notes io.Writer) {
	kinds := map[uploader.Problem]int{}
	for _, c := range res.checks {
		if c.Problem == uploader.ProblemNone {
			continue
		}
		kinds[c.Problem]++
		u := res.uses[c.Ref.Segment]
		fmt.Fprintf(out, "%s: %s: %s (%s)\n", u.first, c.Problem, c.Reason, plural(u.rows, "row"))
	}
	bad := res.problems()
	line := fmt.Sprintf("rtseg: %s referenced by %s checked in %s: ",
		plural(int64(len(res.checks)), "segment"), plural(res.validRows, "valid row"), plural(res.calls, "lookup"))
	if bad == 0 {
		line += "all usable"
	} else {
		var parts []string
		for _, p := range []uploader.Problem{uploader.ProblemMissing, uploader.ProblemInactive, uploader.ProblemOtherMember, uploader.ProblemFresh} {
			if kinds[p] > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", kinds[p], p))
			}
		}
		line += fmt.Sprintf("%d usable, %d not (%s)", len(res.checks)-bad, bad, strings.Join(parts, ", "))
	}
	fmt.Fprintln(out, line)
	if res.unowned > 0 {
		fmt.Fprintf(notes, "rtseg: note: who owns %s was not checked: no member is known; give --member-id\n", plural(int64(res.unowned), "segment"))
	}
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// preflight runs the segment check before an upload and refuses to start
// when a segment cannot take users. Standard input, read twice, is first
// copied to a temporary file; the returned function removes it.
func (e *env) preflight(cmd *cobra.Command, o *options, args []string, ro *reader.Options) (func(), error) {
	done := func() {}
	if slices.Contains(args, reader.Stdin) {
		f, err := os.CreateTemp(o.tmpDir, "rtseg-stdin-*.csv")
		if err != nil {
			return done, &exitError{code: exitFailure, err: fmt.Errorf("--preflight: keep standard input for a second reading: %w", err)}
		}
		done = func() { f.Close(); os.Remove(f.Name()) }
		if _, err := io.Copy(f, ro.Stdin); err != nil {
			done()
			return func() {}, &exitError{code: exitFailure, err: fmt.Errorf("--preflight: read standard input: %w", err)}
		}
		ro.Stdin = f
	}
	rewind := func() error {
		if f, ok := ro.Stdin.(*os.File); ok && slices.Contains(args, reader.Stdin) {
			_, err := f.Seek(0, io.SeekStart)
			return err
		}
		return nil
	}
	if err := rewind(); err != nil {
		done()
		return func() {}, asExitError(err)
	}
	res, err := e.checkSegments(cmd.Context(), o, args, *ro, uploader.SegmentReadsPerMinute)
	if err == nil {
		err = rewind()
	}
	if err != nil {
		done()
		return func() {}, asExitError(fmt.Errorf("--preflight: %w", err))
	}
	res.write(e.stderr, e.stderr)
	if bad := res.problems(); bad > 0 {
		done()
		return func() {}, &exitError{code: exitFailure,
			err:  fmt.Errorf("--preflight: %d of %d segments cannot take users now; nothing was sent", bad, len(res.checks)),
			hint: "fix the input or the segments and run again (each line above names the first row using the segment); without --preflight the service drops adds to them without a word"}
	}
	return done, nil
}
