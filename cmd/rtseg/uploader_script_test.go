package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// cmdGen writes a CSV input and the emulator state it must produce:
// gen INPUT.csv WANT-STATE.json USERS SEGMENTS [FIRST]. USERS must be a
// multiple of 100; user numbers start at FIRST (default 0), so that inputs
// of distant FIRSTs hold different users. User i (grouped, in order) is in
// segments 1..SEGMENTS with value i%100 and expiration 1440; besides:
//   - every 10th user (i%10 == 0) repeats segment 1 with value 999 later: the
//     first row is superseded and 999 wins;
//   - every 20th (i%20 == 5) removes segment 2 later (expiration -1): the add
//     is superseded and the user is not in segment 2;
//   - every 50th (i%50 == 7) has one more row with seg_id "bad": invalid.
//
// So rows = USERS*SEGMENTS + USERS/10 + USERS/20 + USERS/50, of which
// USERS/10 + USERS/20 are superseded and USERS/50 invalid. Every 4th user
// is an idfa.
func cmdGen(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 && len(args) != 5 {
		ts.Fatalf("usage: gen INPUT.csv WANT-STATE.json USERS SEGMENTS [FIRST]")
	}
	first := 0
	if len(args) == 5 {
		var err error
		first, err = strconv.Atoi(args[4])
		ts.Check(err)
	}
	users, err := strconv.Atoi(args[2])
	ts.Check(err)
	segs, err := strconv.Atoi(args[3])
	ts.Check(err)
	if users%100 != 0 || segs < 2 {
		ts.Fatalf("gen: USERS must be a multiple of 100 and SEGMENTS at least 2")
	}
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	w := csv.NewWriter(f)
	w.Write([]string{"user_id", "domain", "seg_id", "value", "expiration"})
	state := xandrtest.State{}
	for i := range users {
		key := xandrtest.UserKey{UserID: strconv.Itoa(1_000_000 + first + i)}
		if i%4 == 3 {
			key = xandrtest.UserKey{Domain: "idfa", UserID: fmt.Sprintf("00000000-0000-4000-8000-%012d", first+i)}
		}
		add := func(seg, value, exp int64) {
			w.Write([]string{key.UserID, key.Domain, strconv.FormatInt(seg, 10), strconv.FormatInt(value, 10), strconv.FormatInt(exp, 10)})
			if state[key] == nil {
				state[key] = map[string]xandrtest.Assoc{}
			}
			k := strconv.FormatInt(seg, 10)
			if exp == -1 {
				delete(state[key], k)
				return
			}
			state[key][k] = xandrtest.Assoc{Value: &value, Expiration: &exp}
		}
		for s := 1; s <= segs; s++ {
			add(int64(s), int64(i%100), 1440)
		}
		if i%10 == 0 {
			add(1, 999, 1440)
		}
		if i%20 == 5 {
			add(2, int64(i%100), -1)
		}
		if i%50 == 7 {
			w.Write([]string{key.UserID, key.Domain, "bad", "1", "1440"})
		}
	}
	w.Flush()
	ts.Check(w.Error())
	ts.Check(f.Close())
	out, err := os.Create(ts.MkAbs(args[1]))
	ts.Check(err)
	ts.Check(state.WriteJSON(out))
	ts.Check(out.Close())
}

// cmdSummary checks fields of a summary: summary S.json NAME=VALUE...
func cmdSummary(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: summary S.json NAME=VALUE...")
	}
	var s map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &s))
	var wrong []string
	for _, a := range args[1:] {
		name, want, _ := strings.Cut(a, "=")
		if got := fmt.Sprint(s[name]); got != want {
			wrong = append(wrong, fmt.Sprintf("%s = %s, want %s", name, got, want))
		}
	}
	if (len(wrong) > 0) != neg {
		ts.Fatalf("summary %s: %s", args[0], strings.Join(wrong, "; "))
	}
}

// cmdNear checks that a summary's number is within a percentage of a
// target: near S.json NAME TARGET PERCENT%.
func cmdNear(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 || !strings.HasSuffix(args[3], "%") {
		ts.Fatalf("usage: near S.json NAME TARGET PERCENT%%")
	}
	var s map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &s))
	got, ok := s[args[1]].(float64)
	if !ok {
		ts.Fatalf("summary %s has no number %s", args[0], args[1])
	}
	target, err := strconv.ParseFloat(args[2], 64)
	ts.Check(err)
	pct, err := strconv.ParseFloat(strings.TrimSuffix(args[3], "%"), 64)
	ts.Check(err)
	off := 100 * (got - target) / target
	ts.Logf("%s = %v: %+.1f%% from %v", args[1], got, off, target)
	if (math.Abs(off) <= pct) == neg {
		ts.Fatalf("%s = %v is %+.1f%% from %v, want within %v%%", args[1], got, off, target, pct)
	}
}
