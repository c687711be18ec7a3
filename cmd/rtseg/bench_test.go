package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// BenchmarkPipeline runs the whole of rtseg upload (read, validate, group,
// pack, send, record) over a shuffled CSV against an unthrottled emulator
// on loopback, and reports rows and users per second: the tool's own
// ceiling, far above the service's limits.
func BenchmarkPipeline(b *testing.B) {
	const users, segs = 20_000, 5
	// Each user's rows are spread over the file, as in an unsorted export.
	in := benchCSV(b, "user_id,domain,seg_id,value,expiration", func(w io.Writer) {
		for s := 0; s < segs; s++ {
			for u := 0; u < users; u++ {
				id := (u*7919 + s*104729) % users
				fmt.Fprintf(w, "%d,idfa,%d,%d,1440\n", 1_000_000_000+id, 100+s, id%100)
			}
		}
	})

	emu := xandrtest.NewServer(xandrtest.WithToken("bench"), xandrtest.WithRateLimits(1<<30, 1<<30))
	defer emu.Close()
	e := &env{stdin: os.Stdin, stdout: io.Discard, stderr: io.Discard, signal: func() int { return 0 },
		getenv: func(k string) string {
			if k == "XANDR_TOKEN" {
				return "bench"
			}
			return ""
		}}
	args := []string{"upload", "--endpoint", emu.URL + "/rt-segment", "--rps", "1000000", "--users-per-second", "1000000000", "--allow-above-service-limits",
		"--progress", "none", "--report", filepath.Join(b.TempDir(), "report.csv"), in}
	for b.Loop() {
		if code := e.execute(context.Background(), args); code != exitOK {
			b.Fatalf("rtseg upload exited %d", code)
		}
	}
	b.ReportMetric(float64(users*segs*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(users*b.N)/b.Elapsed().Seconds(), "users/s")
}

// BenchmarkValidateSorted runs rtseg validate --sorted (read, validate,
// group, pack, record; nothing sent) over a CSV sorted by user, as the
// readers' acceptance measures it, and reports rows per second.
func BenchmarkValidateSorted(b *testing.B) {
	const users, segs = 100_000, 4
	in := benchCSV(b, "user_id,domain,seg_id,seg_code,member_id,value,expiration", func(w io.Writer) {
		for u := range users {
			for s := range segs {
				fmt.Fprintf(w, "%d,,%d,,,%d,1440\n", 10_000_000_000+u, 1000+(u*7+s*13)%5000, s)
			}
		}
	})
	e := &env{stdin: os.Stdin, stdout: io.Discard, stderr: io.Discard, signal: func() int { return 0 }, getenv: func(string) string { return "" }}
	args := []string{"validate", "--sorted", "--progress", "none", "--report", filepath.Join(b.TempDir(), "report.csv"), in}
	for b.Loop() {
		if code := e.execute(context.Background(), args); code != exitOK {
			b.Fatalf("rtseg validate exited %d", code)
		}
	}
	b.ReportMetric(float64(users*segs*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// benchCSV writes a CSV file of the header and the lines rows writes, in a
// temporary directory, and returns its path.
func benchCSV(b *testing.B, header string, rows func(w io.Writer)) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "in.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, header)
	rows(w)
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}
