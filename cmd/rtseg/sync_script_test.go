package main

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rtseg/rtseg/reader"
	"github.com/rtseg/rtseg/uploader/xandrtest"
)

// Script commands for rtseg sync.

// snapUser is a user of a generated snapshot and its segments, by ID.
type snapUser struct {
	key  xandrtest.UserKey
	segs map[int64]snapAssoc
}

type snapAssoc struct{ value, exp int64 }

// snapshotUsers makes the audience of day 1 or day 2 for n users. Day 1:
// user i is Xandr user 1000001+i, or every 4th an idfa, in 1 + i%4 of the
// segments 101..104 with value i%100 and expiration 43200, or 0 for every
// 3rd user. Day 2 changes, of every 100 users: the value of the first
// segment of user 1, the expiration of user 2's, drops user 3, adds
// segment 107 to user 5, drops segment 103 of user 6, and adds n/100 new
// users: 6 users in 100 have a change, and are sent on day 2.
func snapshotUsers(day, n int) []snapUser {
	var users []snapUser
	total := n
	if day == 2 {
		total += n / 100
	}
	for i := range total {
		u := snapUser{key: xandrtest.UserKey{UserID: strconv.Itoa(1000001 + i)}, segs: map[int64]snapAssoc{}}
		if i%4 == 3 {
			u.key = xandrtest.UserKey{Domain: "idfa", UserID: fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(i*2654435761), i)}
		}
		exp := int64(43200)
		if i%3 == 0 {
			exp = 0
		}
		for s := range 1 + i%4 {
			u.segs[int64(101+s)] = snapAssoc{value: int64(i % 100), exp: exp}
		}
		if day == 2 && i < n {
			switch i % 100 {
			case 1:
				u.segs[101] = snapAssoc{value: u.segs[101].value + 1, exp: exp}
			case 2:
				u.segs[101] = snapAssoc{value: u.segs[101].value, exp: 20160}
			case 3:
				continue
			case 5:
				u.segs[107] = snapAssoc{value: 7, exp: 1440 * 10}
			}
			if i%100 == 6 {
				delete(u.segs, 103) // of 101..103
			}
		}
		users = append(users, u)
	}
	return users
}

// cmdSnapshot writes a day's snapshot as CSV and the emulator state it
// must leave: snapshot DAY FILE.csv WANT.json USERS [sorted|shuffled]
// [upsert=WANT.json]. sorted writes the rows in the state's order (by
// domain, then user ID, byte-wise); shuffled spreads each user's rows
// over the file; the default is users in the generator's order. upsert=
// writes the state that day 2 leaves in --mode upsert after day 1: day 2's
// associations and those that left the snapshot.
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 4 {
		ts.Fatalf("usage: snapshot DAY FILE.csv WANT.json USERS [sorted|shuffled] [upsert=WANT.json]")
	}
	day, err := strconv.Atoi(args[0])
	ts.Check(err)
	n, err := strconv.Atoi(args[3])
	ts.Check(err)
	users := snapshotUsers(day, n)
	order := ""
	upsert := ""
	for _, a := range args[4:] {
		if v, ok := strings.CutPrefix(a, "upsert="); ok {
			upsert = v
		} else {
			order = a
		}
	}
	type line struct {
		u   *snapUser
		seg int64
	}
	var lines []line
	for i := range users {
		u := &users[i]
		segs := make([]int64, 0, len(u.segs))
		for s := range u.segs {
			segs = append(segs, s)
		}
		slices.Sort(segs)
		for _, s := range segs {
			lines = append(lines, line{u, s})
		}
	}
	switch order {
	case "sorted":
		slices.SortStableFunc(lines, func(a, b line) int {
			return reader.CompareUsers(reader.User{Domain: a.u.key.Domain, ID: a.u.key.UserID}, reader.User{Domain: b.u.key.Domain, ID: b.u.key.UserID})
		})
	case "shuffled":
		slices.SortStableFunc(lines, func(a, b line) int { return cmp.Compare(a.seg, b.seg) })
	case "":
	default:
		ts.Fatalf("snapshot: unknown order %q", order)
	}
	var b strings.Builder
	b.WriteString("user_id,domain,seg_id,value,expiration\n")
	for _, l := range lines {
		a := l.u.segs[l.seg]
		fmt.Fprintf(&b, "%s,%s,%d,%d,%d\n", l.u.key.UserID, l.u.key.Domain, l.seg, a.value, a.exp)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(b.String()), 0o644))
	writeState := func(name string, users []snapUser) {
		state := xandrtest.State{}
		for _, u := range users {
			m := state[u.key]
			if m == nil {
				m = map[string]xandrtest.Assoc{}
				state[u.key] = m
			}
			for s, a := range u.segs {
				v, x := a.value, a.exp
				m[strconv.FormatInt(s, 10)] = xandrtest.Assoc{Value: &v, Expiration: &x}
			}
		}
		f, err := os.Create(ts.MkAbs(name))
		ts.Check(err)
		ts.Check(state.WriteJSON(f))
		ts.Check(f.Close())
	}
	writeState(args[2], users)
	if upsert != "" {
		// Day 1's associations, overwritten by day 2's.
		both := snapshotUsers(1, n)
		for _, u := range users {
			found := false
			for i := range both {
				if both[i].key == u.key {
					for s, a := range u.segs {
						both[i].segs[s] = a
					}
					found = true
				}
			}
			if !found {
				both = append(both, u)
			}
		}
		writeState(upsert, both)
	}
}

// cmdStateFile compares a delivered state file with an emulator state in
// the JSON of GET /state, leaving aside when each association was
// delivered: statefile STATE.parquet WANT.json. With '!', it checks that
// they differ.
func cmdStateFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: statefile STATE.parquet WANT.json")
	}
	got := readStateFile(ts, args[0])
	var b strings.Builder
	ts.Check(got.WriteJSON(&b))
	var g, w any
	ts.Check(json.Unmarshal([]byte(b.String()), &g))
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &w))
	if reflect.DeepEqual(g, w) == neg {
		ts.Fatalf("state file %s holds:\n%s\nwant (neg=%v):\n%s", args[0], b.String(), neg, ts.ReadFile(args[1]))
	}
}

// cmdStateRows checks a delivered state file's number of associations, or
// with "mirrors", that it holds what the emulator holds:
// staterows STATE.parquet N|mirrors.
func cmdStateRows(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: staterows STATE.parquet N|mirrors")
	}
	got := readStateFile(ts, args[0])
	if args[1] == "mirrors" {
		held := mockOf(ts).srv.State()
		if reflect.DeepEqual(got, held) == neg {
			ts.Fatalf("state file %s and the emulator's state differ: %d and %d users (neg=%v)", args[0], len(got), len(held), neg)
		}
		return
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	n := 0
	for _, segs := range got {
		n += len(segs)
	}
	if (n == want) == neg {
		ts.Fatalf("state file %s holds %d associations, want %d (neg=%v)", args[0], n, want, neg)
	}
}

// readStateFile reads a state file with rtseg's own state reader, which
// checks its order, as an emulator state.
func readStateFile(ts *testscript.TestScript, name string) xandrtest.State {
	s, err := reader.OpenState(ts.MkAbs(name))
	ts.Check(err)
	defer s.Close()
	state := xandrtest.State{}
	for {
		d, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		ts.Check(err)
		r := d.Row
		key := xandrtest.UserKey{Domain: r.Domain, UserID: r.UserID}
		if state[key] == nil {
			state[key] = map[string]xandrtest.Assoc{}
		}
		var a xandrtest.Assoc
		if r.HasValue {
			v := int64(r.Value)
			a.Value = &v
		}
		if r.HasExpiration {
			x := int64(r.Expiration)
			a.Expiration = &x
		}
		state[key][r.Segment().String()] = a
	}
	return state
}

// cmdCSVHead keeps the header and the first N rows of a CSV file, as a
// truncated export would: csvhead FILE N.
func cmdCSVHead(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: csvhead FILE N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	records, err := csv.NewReader(strings.NewReader(ts.ReadFile(args[0]))).ReadAll()
	ts.Check(err)
	if n+1 < len(records) {
		records = records[:n+1]
	}
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	w := csv.NewWriter(f)
	ts.Check(w.WriteAll(records))
	ts.Check(f.Close())
}

// cmdSameCounts checks that two summaries have the same numbers:
// samecounts A.json B.json NAME... compares each NAME, and NAME=OTHER
// compares A's NAME with B's OTHER.
func cmdSameCounts(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: samecounts A.json B.json NAME[=OTHER]...")
	}
	var a, b map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &a))
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &b))
	var wrong []string
	for _, name := range args[2:] {
		na, nb, ok := strings.Cut(name, "=")
		if !ok {
			nb = na
		}
		if a[na] == nil || fmt.Sprint(a[na]) != fmt.Sprint(b[nb]) {
			wrong = append(wrong, fmt.Sprintf("%s %s = %v, %s %s = %v", args[0], na, a[na], args[1], nb, b[nb]))
		}
	}
	if len(wrong) > 0 {
		ts.Fatalf("%s", strings.Join(wrong, "; "))
	}
}
