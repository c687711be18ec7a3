package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rtseg/rtseg/objstore/objstoretest"
)

type storesKey struct{}

// storesSlot holds a script's fake object stores, by kind.
type storesSlot map[string]objstoretest.Store

// cmdObjects drives fake object stores on loopback:
//
//	objects KIND start              start s3 (gofakes3), gcs (fake-gcs-server)
//	                                or azure (Azurite), and set the client's
//	                                environment; s3 sets $S3Q and azure $AZQ,
//	                                the query that points a URL at the fake
//	objects KIND put BUCKET/KEY FILE
//	objects KIND get BUCKET/KEY FILE
//	objects KIND reset BUCKET/KEY OFFSET   cut the next read of KEY there
//	objects KIND resets N           N connections were cut
//	objects KIND deny BUCKET        answer 403 to everything on BUCKET
//	objects KIND denywrites BUCKET  answer 403 to writes to BUCKET
//	objects KIND fetched BUCKET/KEY MAXPERCENT   at most that share of the
//	                                object's bytes were served
//	objects KIND secret             print the fake's secret key to stdout
//
// Buckets are made as they are first put to.
func cmdObjects(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: objects KIND start|put|get|reset|resets|deny|fetched ...")
	}
	slot := ts.Value(storesKey{}).(storesSlot)
	kind, verb, rest := args[0], args[1], args[2:]
	if verb == "start" {
		var s objstoretest.Store
		var err error
		switch kind {
		case "s3":
			s3 := objstoretest.NewS3()
			ts.Setenv("S3Q", strings.SplitN(s3.URL("b", ""), "?", 2)[1])
			s = s3
		case "gcs":
			s, err = objstoretest.NewGCS()
		case "azure":
			var az *objstoretest.Azure
			az, err = objstoretest.NewAzure()
			if err == nil {
				ts.Setenv("AZQ", strings.SplitN(az.URL("b", ""), "?", 2)[1])
				s = az
			}
		default:
			ts.Fatalf("objects: unknown kind %q", kind)
		}
		ts.Check(err)
		ts.Defer(s.Close)
		for k, v := range s.Env() {
			ts.Setenv(k, v)
		}
		slot[kind] = s
		return
	}
	s := slot[kind]
	if s == nil {
		ts.Fatalf("objects: run 'objects %s start' first", kind)
	}
	object := func(arg string) (string, string) {
		b, k, ok := strings.Cut(arg, "/")
		if !ok {
			ts.Fatalf("objects: want BUCKET/KEY, not %q", arg)
		}
		return b, k
	}
	switch {
	case verb == "put" && len(rest) == 2:
		b, k := object(rest[0])
		s.CreateBucket(b) // made already is fine
		ts.Check(s.Put(b, k, []byte(ts.ReadFile(rest[1]))))
	case verb == "get" && len(rest) == 2:
		b, k := object(rest[0])
		data, err := s.Get(b, k)
		if (err != nil) != neg {
			ts.Fatalf("objects get %s: %v", rest[0], err)
		}
		if err == nil {
			ts.Check(os.WriteFile(ts.MkAbs(rest[1]), data, 0o644))
		}
	case verb == "reset" && len(rest) == 2:
		b, k := object(rest[0])
		off, err := strconv.ParseInt(rest[1], 10, 64)
		ts.Check(err)
		s.ResetAt(b, k, off)
	case verb == "resets" && len(rest) == 1:
		want, err := strconv.Atoi(rest[0])
		ts.Check(err)
		if got := s.Resets(); got != want {
			ts.Fatalf("%d connections cut, want %d", got, want)
		}
	case verb == "deny" && len(rest) == 1:
		s.Deny(rest[0])
	case verb == "denywrites" && len(rest) == 1:
		s.DenyWrites(rest[0])
	case verb == "fetched" && len(rest) == 2:
		b, k := object(rest[0])
		data, err := s.Get(b, k)
		ts.Check(err)
		most, err := strconv.ParseFloat(rest[1], 64)
		ts.Check(err)
		served := s.Served(b, k)
		pct := 100 * float64(served) / float64(len(data))
		fmt.Fprintf(ts.Stdout(), "fetched %d of %d bytes (%.1f%%)\n", served, len(data), pct)
		if (pct <= most) == neg || served == 0 {
			ts.Fatalf("fetched %d of %d bytes (%.1f%%), want at most %v%% and some", served, len(data), pct, most)
		}
	case verb == "secret" && len(rest) == 0:
		sec, ok := s.(interface{ Secret() string })
		if !ok {
			ts.Fatalf("objects %s has no secret", kind)
		}
		fmt.Fprintln(ts.Stdout(), sec.Secret())
	default:
		ts.Fatalf("objects: bad command %q", strings.Join(args, " "))
	}
}

// cmdPeakRSS runs a program with the script's environment, as exec does,
// and fails unless it exits 0 (or, negated, not 0) within a peak
// anonymous RSS: peakrss NAME LIMIT PROGRAM ARGS... LIMIT is MiB, or
// A+B, as in $PEAK_local+16 to compare with an earlier run: the peak is
// kept in $PEAK_NAME. An absolute LIMIT is not checked under the race
// detector, which multiplies memory; a sum is. Its stdout and stderr
// become the script's. Anonymous memory (heap, stacks, buffers) is what a
// run's input can make grow; the pages of the executable (RssFile, some
// 30 MiB with every store's client linked in) are the same for every run,
// and the kernel takes them back under pressure. RssAnon is sampled every
// 10ms from /proc (Linux); the peak of all RSS is logged too.
func cmdPeakRSS(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: peakrss NAME LIMIT PROGRAM ARGS...")
	}
	name, limit := args[0], args[1]
	args = args[1:]
	var most float64
	for _, term := range strings.Split(limit, "+") {
		v, err := strconv.ParseFloat(term, 64)
		ts.Check(err)
		most += v
	}
	relative := strings.Contains(limit, "+")
	cmd := exec.Command(scriptProgram(ts, args[1]), args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "XANDR_TOKEN", "ENDPOINT", "API",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE",
		"AWS_SHARED_CREDENTIALS_FILE", "STORAGE_EMULATOR_HOST", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY"} {
		if v := ts.Getenv(k); v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	ts.Check(cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var anon, hwm int64 // kB
	var runErr error
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	for waiting := true; waiting; {
		select {
		case runErr = <-done:
			waiting = false
		case <-time.After(10 * time.Millisecond):
			b, err := os.ReadFile(status)
			if err != nil {
				continue
			}
			kB := func(v string) int64 {
				n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				return n
			}
			for line := range strings.Lines(string(b)) {
				if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
					anon = max(anon, kB(v))
				}
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					hwm = max(hwm, kB(v))
				}
			}
		}
	}
	ts.Stdout().Write([]byte(stdout.String()))
	ts.Stderr().Write([]byte(stderr.String()))
	ts.Logf("peak anonymous RSS %.1f MiB; peak RSS %.1f MiB", float64(anon)/1024, float64(hwm)/1024)
	if (runErr != nil) != neg {
		ts.Fatalf("%s: %v", strings.Join(args[1:], " "), runErr)
	}
	if anon == 0 {
		ts.Fatalf("peakrss: no RssAnon read from %s", status)
	}
	peak := float64(anon) / 1024
	ts.Setenv("PEAK_"+name, strconv.FormatFloat(peak, 'f', 1, 64))
	switch {
	case !relative && raceBuild:
		ts.Logf("under the race detector: the limit of %v MiB is not checked", most)
	case peak > most:
		ts.Fatalf("peak anonymous RSS %.1f MiB, over %v MiB", peak, most)
	}
}

// cmdWide writes a CSV of N rows with rtseg's seven columns and 33 more
// of incompressible text, the width of a warehouse's export of which
// rtseg reads a few columns: wide N out.csv
func cmdWide(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: wide N out.csv")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	w := bufio.NewWriter(f)
	w.WriteString("user_id,domain,seg_id,seg_code,member_id,value,expiration")
	for c := range 33 {
		fmt.Fprintf(w, ",extra_%02d", c)
	}
	w.WriteString("\n")
	x := uint64(88172645463325252)
	for i := range n {
		fmt.Fprintf(w, "%d,,%d,,,1,1440", 1_000_000_000_000+i, 1+i%50)
		for range 33 {
			// xorshift: text no encoding or codec makes small.
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			fmt.Fprintf(w, ",%016x", x)
		}
		w.WriteString("\n")
	}
	ts.Check(w.Flush())
	ts.Check(f.Close())
}

// scriptCondition answers the scripts' own conditions: [azurite] when
// Azurite can be started. CI installs it: there a script needing it fails
// rather than skips.
func scriptCondition(cond string) (bool, error) {
	if cond == "race" { // the race detector is on (see cmdLimits)
		return raceBuild, nil
	}
	if cond != "azurite" {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	_, err := objstoretest.AzuriteBinary()
	if err != nil && os.Getenv("CI") != "" {
		return false, err
	}
	return err == nil, nil
}
