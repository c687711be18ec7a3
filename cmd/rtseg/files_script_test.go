package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rtseg/rtseg/report"
)

// Script commands that make and damage input files.

// cmdUsers writes a CSV in which each of N users, with Xandr user IDs
// 1000001.., has segments 1..SEGMENTS expiring in 1440 minutes:
// users FILE N SEGMENTS.
func cmdUsers(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: users FILE N SEGMENTS")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	segs, err := strconv.Atoi(args[2])
	ts.Check(err)
	var b strings.Builder
	b.WriteString("user_id,seg_id,expiration\n")
	for i := range n {
		for s := range segs {
			fmt.Fprintf(&b, "%d,%d,1440\n", 1000001+i, 1+s)
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b.String()), 0o644))
}

// cmdGzip compresses a file: gzip SRC DST.
func cmdGzip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gzip SRC DST")
	}
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	_, err := z.Write([]byte(ts.ReadFile(args[0])))
	ts.Check(err)
	ts.Check(z.Close())
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b.Bytes(), 0o644))
}

// cmdZstd compresses a file with zstd: zstd SRC DST.
func cmdZstd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: zstd SRC DST")
	}
	var b bytes.Buffer
	z, err := zstd.NewWriter(&b)
	ts.Check(err)
	_, err = z.Write([]byte(ts.ReadFile(args[0])))
	ts.Check(err)
	ts.Check(z.Close())
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b.Bytes(), 0o644))
}

// cmdCorrupt damages a file in place: corrupt FILE OFFSET flips the bits of
// four bytes at OFFSET ("mid" for the middle of the file); corrupt FILE
// truncate=SIZE cuts it to SIZE bytes.
func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: corrupt FILE OFFSET|mid|truncate=SIZE")
	}
	name := ts.MkAbs(args[0])
	data, err := os.ReadFile(name)
	ts.Check(err)
	if size, ok := strings.CutPrefix(args[1], "truncate="); ok {
		n, err := strconv.Atoi(size)
		ts.Check(err)
		ts.Check(os.WriteFile(name, data[:n], 0o644))
		return
	}
	at := len(data) / 2
	if args[1] != "mid" {
		at, err = strconv.Atoi(args[1])
		ts.Check(err)
	}
	for i := at; i < at+4 && i < len(data); i++ {
		data[i] ^= 0xff
	}
	ts.Check(os.WriteFile(name, data, 0o644))
}

// cmdSameSize replaces text in a file by text of the same length and gives
// the file back its modification time, as an edit that a check of size and
// time cannot see: samesize FILE OLD NEW.
func cmdSameSize(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 || len(args[1]) != len(args[2]) {
		ts.Fatalf("usage: samesize FILE OLD NEW, OLD and NEW of one length")
	}
	name := ts.MkAbs(args[0])
	info, err := os.Stat(name)
	ts.Check(err)
	data := ts.ReadFile(args[0])
	if strings.Count(data, args[1]) != 1 {
		ts.Fatalf("samesize: %q is not in %s exactly once", args[1], args[0])
	}
	ts.Check(os.WriteFile(name, []byte(strings.Replace(data, args[1], args[2], 1)), 0o644))
	ts.Check(os.Chtimes(name, info.ModTime(), info.ModTime()))
}

// cmdHoldLock holds a --state-dir as a run of rtseg would, for DURATION or
// until the script ends, and sets $HOLDER to the process ID a run refused
// would name: holdlock DIR DURATION.
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: holdlock DIR DURATION")
	}
	d, err := time.ParseDuration(args[1])
	ts.Check(err)
	j, err := report.OpenJournal(ts.MkAbs(args[0]), report.Identity{}, report.JournalOptions{Restart: true})
	ts.Check(err)
	release := sync.OnceFunc(func() { j.Close() })
	time.AfterFunc(d, release)
	ts.Defer(release)
	ts.Setenv("HOLDER", strconv.Itoa(os.Getpid()))
}
