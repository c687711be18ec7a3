package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdRows writes a CSV file of N rows, one segment for each of N users
// with Xandr user IDs, for scripts that need many rows:
//
//	rows N out.csv
func cmdRows(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: rows N out.csv")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "user_id,seg_id")
	for i := range n {
		fmt.Fprintf(w, "%d,%d\n", 1_000_000_000_000+i, 1+i%100)
	}
	ts.Check(w.Flush())
	ts.Check(f.Close())
}

// cmdPoke overwrites bytes of a file in place, as damage in storage or
// transfer would:
//
//	poke FILE OFFSET HEX
func cmdPoke(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: poke FILE OFFSET HEX")
	}
	off, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	b, err := hex.DecodeString(args[2])
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_WRONLY, 0)
	ts.Check(err)
	_, err = f.WriteAt(b, off)
	ts.Check(err)
	ts.Check(f.Close())
}
