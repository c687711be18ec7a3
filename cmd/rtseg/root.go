package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/rtseg/rtseg/chunker"
	"github.com/rtseg/rtseg/report"
	"github.com/spf13/cobra"
)

// Exit statuses (SPEC §2), as report decides them.
const (
	exitOK          = report.StatusOK
	exitFailure     = report.StatusFailure
	exitRejected    = report.StatusRejected
	exitInterrupted = report.StatusInterrupted
)

// exitError carries an exit status up to main, with the error to print (nil
// when the status says it all) and a hint for the person reading.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// asExitError keeps an exitError as it is and makes any other error one
// with status 1.
func asExitError(err error) error {
	var xe *exitError
	if errors.As(err, &xe) {
		return err
	}
	return &exitError{code: exitFailure, err: err}
}

// hinted is an error that knows how to help.
type hinted interface{ Hint() string }

// env lets tests and the demo run commands with their own streams.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// signal tells which signal interrupted the run: 2 (SIGINT), 15
	// (SIGTERM) or 0 for none.
	signal func() int
	// hurry is done when a second signal asks to stop at once: requests
	// in flight are then abandoned, and the report written.
	hurry context.Context
	// tuneMemory lets a run set the collector's pace and a soft memory
	// limit (see memoryBudget): the process is its own.
	tuneMemory bool
	// containerMemory finds the memory limit of the process's container
	// (memlimit.FromCgroup); nil for none. Read once, by container.
	containerMemory memlimit.Provider
	containerLimit  *int64
}

// container is the memory limit of the process's container, 0 for none.
func (e *env) container() int64 {
	if e.containerLimit == nil {
		n := chunker.ContainerMemory(e.containerMemory)
		e.containerLimit = &n
	}
	return *e.containerLimit
}

func run(args []string) int {
	ctx, hurry, sig := withSignals(context.Background())
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, signal: sig, hurry: hurry,
		tuneMemory: true, containerMemory: memlimit.FromCgroup}
	return e.execute(ctx, args)
}

// withSignals returns a context cancelled by SIGINT or SIGTERM, another
// cancelled by a second signal, and a function telling which signal arrived
// (0 for none).
func withSignals(parent context.Context) (ctx, hurry context.Context, sig func() int) {
	ctx, cancel := context.WithCancel(parent)
	hurry, stopNow := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, stopSignals...)
	got := make(chan int, 1)
	go func() {
		n := signalNumber(<-ch)
		got <- n
		cancel()
		// A second signal stops waiting for requests in flight; should
		// the run still not end, a third stops the process at once.
		<-ch
		stopNow()
		<-ch
		os.Exit(exitInterrupted + n)
	}()
	return ctx, hurry, func() int {
		select {
		case n := <-got:
			got <- n
			return n
		default:
			return 0
		}
	}
}

func (e *env) execute(ctx context.Context, args []string) int {
	root := e.rootCommand()
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var xe *exitError
	if !errors.As(err, &xe) {
		xe = &exitError{code: exitFailure, err: err}
	}
	if xe.err != nil {
		fmt.Fprintf(e.stderr, "rtseg: error: %v\n", xe.err)
		hint := xe.hint
		var h hinted
		if hint == "" && errors.As(xe.err, &h) {
			hint = h.Hint()
		}
		if hint != "" {
			fmt.Fprintf(e.stderr, "rtseg: hint: %s\n", hint)
		}
	}
	return xe.code
}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "rtseg",
		Short: "Load audience data into the Xandr Instant Audience Service",
		Long: `rtseg loads user-segment associations from CSV and Parquet files into the
Xandr Instant Audience Service (POST /rt-segment). It groups each user's rows,
packs requests as densely as the service's limits allow, sends them under the
POST/s and users/s limits with retries, and writes a report that accounts for
every row.`,
		Example: `  # Try it without credentials: upload the samples to a local emulator
  rtseg demo

  # Check a file without sending anything
  rtseg validate users.csv

  # A one-off backfill
  XANDR_TOKEN=... rtseg upload --summary run.json exports/

  # A nightly job: send only what changed since the last run
  XANDR_TOKEN=... rtseg sync --state-dir /var/lib/rtseg/audience exports/`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		e.uploadCommand(),
		e.syncCommand(),
		e.validateCommand(),
		e.serveMockCommand(),
		e.segmentsCommand(),
		e.reconcileCommand(),
		e.demoCommand(),
		e.versionCommand(),
	)
	return root
}

// usageError reports bad arguments: exit status 1 with a pointer to --help.
func usageError(cmd *cobra.Command, format string, args ...any) error {
	return &exitError{code: exitFailure, err: fmt.Errorf(format, args...),
		hint: fmt.Sprintf("see '%s --help'", cmd.CommandPath())}
}
