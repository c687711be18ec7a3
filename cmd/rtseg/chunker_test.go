package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdChunker helps the chunker's scripts:
//
//	chunker gen ROWS USERS MAXSEGS SEED SHUFFLED SORTED
//	    writes the same rows twice as CSV: shuffled, and stably sorted by
//	    domain then user_id (byte-wise, as LC_ALL=C sort does); sets
//	    $ENTRIES to the fewest entries that can send them (each user once
//	    per 100 segments)
//	chunker dense SUMMARY
//	    fails unless the summary's users equal $ENTRIES and its requests are
//	    within 2% of max(users/1000, bytes/1,000,000), rounded up
//	chunker same DIR1 DIR2
//	    fails unless both directories hold the same files, byte for byte
//	chunker body FILE WANT
//	    fails unless the request body in FILE is WANT's text (less its
//	    final newline: bodies have none)
//	chunker empty DIR
//	    fails unless the directory is empty
//	chunker waitfile FILE
//	    waits (up to a minute) until the file exists
func cmdChunker(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! chunker")
	}
	if len(args) == 0 {
		ts.Fatalf("usage: chunker gen|same|empty|waitfile ...")
	}
	switch args[0] {
	case "gen":
		if len(args) != 7 {
			ts.Fatalf("usage: chunker gen ROWS USERS MAXSEGS SEED SHUFFLED SORTED")
		}
		n := ints(ts, strings.Join(args[1:5], ","), 4)
		shuffled, sorted := genRows(n[0], n[1], n[2], uint64(n[3]))
		writeRows(ts, args[5], shuffled)
		writeRows(ts, args[6], sorted)
		ts.Setenv("ENTRIES", strconv.Itoa(fewestEntries(shuffled)))
	case "dense":
		if len(args) != 2 {
			ts.Fatalf("usage: chunker dense SUMMARY")
		}
		var sum struct {
			Users, Requests int
			BytesSent       int `json:"bytes_sent"`
		}
		ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &sum))
		if want := ts.Getenv("ENTRIES"); strconv.Itoa(sum.Users) != want {
			ts.Fatalf("%d users sent, want the lower bound %s", sum.Users, want)
		}
		bound := max(float64(sum.Users)/1000, float64(sum.BytesSent)/1e6)
		if float64(sum.Requests) > math.Ceil(1.02*bound) {
			ts.Fatalf("%d requests, more than 2%% over max(users/1000, bytes/1e6) = %.2f", sum.Requests, bound)
		}
		fmt.Fprintf(ts.Stdout(), "%d users in %d requests for max(%.2f, %.2f)\n", sum.Users, sum.Requests, float64(sum.Users)/1000, float64(sum.BytesSent)/1e6)
	case "same":
		if len(args) != 3 {
			ts.Fatalf("usage: chunker same DIR1 DIR2")
		}
		a, b := dirFiles(ts, args[1]), dirFiles(ts, args[2])
		if !slices.Equal(a, b) {
			ts.Fatalf("%s has %d files, %s has %d: the names differ", args[1], len(a), args[2], len(b))
		}
		for _, name := range a {
			x, y := ts.ReadFile(args[1]+"/"+name), ts.ReadFile(args[2]+"/"+name)
			if x != y {
				ts.Fatalf("%s differs between %s and %s", name, args[1], args[2])
			}
		}
		fmt.Fprintf(ts.Stdout(), "%d files alike\n", len(a))
	case "body":
		if len(args) != 3 {
			ts.Fatalf("usage: chunker body FILE WANT")
		}
		got, want := ts.ReadFile(args[1]), strings.TrimSuffix(ts.ReadFile(args[2]), "\n")
		if got != want {
			ts.Fatalf("%s:\n%s\nwant:\n%s", args[1], got, want)
		}
	case "empty":
		if len(args) != 2 {
			ts.Fatalf("usage: chunker empty DIR")
		}
		if names := dirFiles(ts, args[1]); len(names) > 0 {
			ts.Fatalf("%s holds %s", args[1], strings.Join(names, ", "))
		}
	case "waitfile":
		if len(args) != 2 {
			ts.Fatalf("usage: chunker waitfile FILE")
		}
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := os.Stat(ts.MkAbs(args[1])); err == nil {
				return
			}
			if time.Now().After(deadline) {
				ts.Fatalf("%s did not appear within a minute", args[1])
			}
			time.Sleep(20 * time.Millisecond)
		}
	default:
		ts.Fatalf("chunker: unknown subcommand %q", args[0])
	}
}

func dirFiles(ts *testscript.TestScript, dir string) []string {
	des, err := os.ReadDir(ts.MkAbs(dir))
	ts.Check(err)
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// genRows makes rows for users with 1 to maxSegs segments each (seg_ids and
// member codes, values and expirations present or not, a few segments
// repeated with another value) and returns them shuffled and stably sorted
// by domain and user_id.
func genRows(n, users, maxSegs int, seed uint64) (shuffled, sorted [][]string) {
	rng := rand.New(rand.NewPCG(seed, seed))
	domains := []string{"", "", "", "idfa", "aaid", "sha1udid"}
	for g := 0; len(shuffled) < n; g++ {
		u := g % max(users, 1)
		id := fmt.Sprintf("1%019d", uint64(u)*7919+seed) // a Xandr user ID of 20 digits
		domain := domains[u%len(domains)]
		switch domain {
		case "idfa", "aaid":
			id = fmt.Sprintf("%08x-6d92-4ba4-ae5b-%012x", u, seed)
		case "sha1udid":
			id = fmt.Sprintf("%08x6d924ba4ae5b%012x%08x", u, seed, u)
		}
		k := 1 + rng.IntN(maxSegs)
		for s := 0; s < k && len(shuffled) < n; s++ {
			seg := []string{id, domain, strconv.Itoa(10000 + s), "", "", "", ""}
			if s%5 == 4 {
				seg[2], seg[3], seg[4] = "", fmt.Sprintf("code-%d", s), "1234"
			}
			if rng.IntN(3) > 0 {
				seg[5] = strconv.Itoa(rng.IntN(100))
			}
			if rng.IntN(3) > 0 {
				seg[6] = strconv.Itoa(rng.IntN(43200))
			}
			shuffled = append(shuffled, seg)
			if rng.IntN(50) == 0 && len(shuffled) < n {
				again := slices.Clone(seg)
				again[5] = "999"
				shuffled = append(shuffled, again)
			}
		}
	}
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	sorted = slices.Clone(shuffled)
	slices.SortStableFunc(sorted, func(a, b []string) int {
		return cmp.Or(strings.Compare(a[1], b[1]), strings.Compare(a[0], b[0]))
	})
	return shuffled, sorted
}

// fewestEntries is the number of rt_segment entries the rows need at 100
// segments per entry.
func fewestEntries(rows [][]string) int {
	segs := map[[2]string]map[[3]string]bool{}
	for _, r := range rows {
		u := [2]string{r[0], r[1]}
		if segs[u] == nil {
			segs[u] = map[[3]string]bool{}
		}
		segs[u][[3]string{r[2], r[3], r[4]}] = true
	}
	n := 0
	for _, s := range segs {
		n += (len(s) + 99) / 100
	}
	return n
}

func writeRows(ts *testscript.TestScript, name string, rows [][]string) {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	w.WriteString("user_id,domain,seg_id,seg_code,member_id,value,expiration\n")
	for _, r := range rows {
		w.WriteString(strings.Join(r, ","))
		w.WriteByte('\n')
	}
	ts.Check(w.Flush())
	ts.Check(os.WriteFile(ts.MkAbs(name), b.Bytes(), 0o644))
}
