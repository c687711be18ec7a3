package chunker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/rtseg/rtseg/reader"
)

// FuzzPack packs random rows under random limits, grouped in memory, spilled
// to disk, or streamed as sorted input in which users come back, and checks
// every property a request must have.
func FuzzPack(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed, uint16(200+seed*100), uint8(seed))
	}
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, mode uint8) {
		checkPack(t, seed, int(n%3000), mode%3)
	})
}

// TestPackProperties runs the fuzz checks over many seeds in every mode.
func TestPackProperties(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	for seed := range uint64(seeds) {
		for mode := range uint8(3) {
			t.Run(fmt.Sprintf("seed=%d/mode=%d", seed, mode), func(t *testing.T) {
				checkPack(t, seed, 1+int(seed*37%1500), mode)
			})
		}
	}
}

// checkPack packs n random rows of a seed: mode 0 groups in memory, mode 1
// spills to disk, mode 2 streams the rows nearly sorted through Adjacent.
func checkPack(t *testing.T, seed uint64, n int, mode uint8) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	rows := odd(rng, n)
	l := Limits{
		MaxUsers:    1 + rng.IntN(30),
		MaxSegments: 1 + rng.IntN(12),
		MaxBytes:    minBytes + rng.IntN(6000),
	}
	if rng.IntN(4) == 0 {
		l = DefaultLimits
	}
	var out *collect
	switch mode {
	case 0:
		out = packGrouped(t, rows, l, GroupConfig{Memory: 1 << 30, TmpDir: t.TempDir()})
	case 1:
		out = packGrouped(t, rows, l, GroupConfig{Memory: int64(1 + rng.IntN(8000)), TmpDir: t.TempDir()})
		if n > 200 && out.spills == 0 {
			t.Fatalf("%d rows in %d bytes of memory: no spill", n, 8000)
		}
	default:
		// Sorted by user, then a few rows moved elsewhere, so that some
		// users come back later.
		rows = sortedByUser(rows)
		for range rng.IntN(1 + n/20) {
			i, j := rng.IntN(n), rng.IntN(n)
			r := rows[i]
			rows = slices.Insert(slices.Delete(rows, i, i+1), j, r)
		}
		numberLines(rows)
		out = packAdjacent(t, rows, l)
	}
	checkRequests(t, rows, l, out, mode == 2)
}

type userSegment struct {
	user reader.User
	seg  reader.Segment
}

// checkRequests checks what the packer made of rows under l: valid bodies
// within the limits, each user once in a request with its segments in
// reader.Segment.Compare order, every row sent once or superseded, and a
// replay of the requests leaving the later rows.
func checkRequests(t *testing.T, rows []reader.Row, l Limits, out *collect, adjacent bool) {
	t.Helper()
	byPos := map[reader.Position]reader.Row{}
	for _, r := range rows {
		byPos[r.Pos] = r
	}
	seen := map[reader.Position]string{}
	mark := func(p reader.Position, how string) {
		if _, ok := byPos[p]; !ok {
			t.Fatalf("%s: row %s is not an input row", how, p)
		}
		if before, ok := seen[p]; ok {
			t.Fatalf("row %s both %s and %s", p, before, how)
		}
		seen[p] = how
	}
	for _, s := range out.superseded {
		mark(s.row.Pos, "superseded")
		w, ok := byPos[s.by]
		if !ok || w.Pos.Line <= s.row.Pos.Line || w.User() != s.row.User() || w.Segment() != s.row.Segment() {
			t.Fatalf("row %s superseded by %s, not a later row for its user and segment", s.row.Pos, s.by)
		}
	}
	state := map[userSegment]reader.Position{}
	sent := map[userSegment]int{} // request that last sent a user and segment
	entries := map[reader.User]int{}
	for i, req := range out.reqs {
		if req.Seq != i {
			t.Fatalf("request %d has Seq %d", i, req.Seq)
		}
		if len(req.Body) > l.MaxBytes {
			t.Fatalf("request %d: %d bytes, over the limit of %d", i, len(req.Body), l.MaxBytes)
		}
		if !json.Valid(req.Body) {
			t.Fatalf("request %d: body is not valid JSON: %s", i, req.Body)
		}
		if n := req.Users(); n < 1 || n > l.MaxUsers {
			t.Fatalf("request %d: %d users, limit %d", i, n, l.MaxUsers)
		}
		checkBody(t, i, req)
		users := map[reader.User]bool{}
		needsOrder := false
		for _, e := range req.Entries {
			if users[e.User] {
				t.Fatalf("request %d: user %q twice", i, e.User.ID)
			}
			users[e.User] = true
			entries[e.User]++
			if n := len(e.Rows); n < 1 || n > l.MaxSegments {
				t.Fatalf("request %d: user %q has %d segments, limit %d", i, e.User.ID, n, l.MaxSegments)
			}
			if !slices.IsSortedFunc(e.Rows, func(a, b reader.Row) int { return a.Segment().Compare(b.Segment()) }) {
				t.Fatalf("request %d: user %q has segments out of reader.Segment.Compare order", i, e.User.ID)
			}
			segs := map[reader.Segment]bool{}
			for _, r := range e.Rows {
				if r.User() != e.User {
					t.Fatalf("request %d: row %s of user %q in the entry of %q", i, r.Pos, r.UserID, e.User.ID)
				}
				if segs[r.Segment()] {
					t.Fatalf("request %d: user %q has segment %s twice", i, e.User.ID, r.Segment())
				}
				segs[r.Segment()] = true
				mark(r.Pos, "sent")
				if r != byPos[r.Pos] {
					t.Fatalf("request %d: row %s changed on its way: %+v, want %+v", i, r.Pos, r, byPos[r.Pos])
				}
				k := userSegment{e.User, r.Segment()}
				if _, ok := sent[k]; ok {
					needsOrder = true
				}
				sent[k] = i
				state[k] = r.Pos
			}
		}
		if needsOrder && !req.Ordered {
			t.Fatalf("request %d repeats a user and segment of an earlier request but is not Ordered", i)
		}
		if req.Ordered && !adjacent {
			t.Fatalf("request %d is Ordered, but the grouper sends each user once", i)
		}
	}
	for _, r := range rows {
		if _, ok := seen[r.Pos]; !ok {
			t.Fatalf("row %s neither sent nor superseded", r.Pos)
		}
	}
	// Each superseded row names the next row for its user and segment:
	// following them leads to the row sent.
	replacedBy := map[reader.Position]reader.Position{}
	for _, s := range out.superseded {
		replacedBy[s.row.Pos] = s.by
	}
	for _, s := range out.superseded {
		k := userSegment{s.row.User(), s.row.Segment()}
		for _, r := range rows {
			if r.Pos.Line > s.row.Pos.Line && r.Pos.Line < s.by.Line && (userSegment{r.User(), r.Segment()}) == k {
				t.Fatalf("row %s superseded by %s, but %s came between", s.row.Pos, s.by, r.Pos)
			}
		}
		p := s.by
		for seen[p] == "superseded" {
			p = replacedBy[p]
		}
		if seen[p] != "sent" {
			t.Fatalf("row %s superseded by %s, which leads to %s, %s", s.row.Pos, s.by, p, seen[p])
		}
	}
	// Replaying the requests in order leaves, for each user and segment,
	// the last row of the input.
	last := map[userSegment]reader.Position{}
	for _, r := range rows {
		last[userSegment{r.User(), r.Segment()}] = r.Pos
	}
	if len(state) != len(last) {
		t.Fatalf("replay holds %d user-segment pairs, want %d", len(state), len(last))
	}
	for k, want := range last {
		if got := state[k]; got != want {
			t.Fatalf("replay: user %q segment %s holds row %s, want the later %s", k.user.ID, k.seg, got, want)
		}
	}
	// Each user is split no more than the limits demand, when a full entry
	// always fits the byte limit (a block takes at most 300 bytes here).
	if !adjacent && l.MaxBytes >= 1024+300*l.MaxSegments {
		distinct := map[reader.User]map[reader.Segment]bool{}
		for _, r := range rows {
			if distinct[r.User()] == nil {
				distinct[r.User()] = map[reader.Segment]bool{}
			}
			distinct[r.User()][r.Segment()] = true
		}
		for u, segs := range distinct {
			if want := (len(segs) + l.MaxSegments - 1) / l.MaxSegments; entries[u] != want {
				t.Fatalf("user %q with %d segments sent in %d entries, want %d", u.ID, len(segs), entries[u], want)
			}
		}
	}
}

// checkBody decodes a body on its own terms and checks it says exactly what
// the request's entries hold: fields present only when the row has them.
func checkBody(t *testing.T, i int, req *Request) {
	t.Helper()
	var body struct {
		RTSegment []struct {
			UserID   *string                      `json:"user_id"`
			Domain   *string                      `json:"domain"`
			SegBlock []map[string]json.RawMessage `json:"seg_block"`
		} `json:"rt_segment"`
	}
	dec := json.NewDecoder(bytes.NewReader(req.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("request %d: %v: %s", i, err, req.Body)
	}
	if len(body.RTSegment) != len(req.Entries) {
		t.Fatalf("request %d: body has %d users, entries %d", i, len(body.RTSegment), len(req.Entries))
	}
	for j, got := range body.RTSegment {
		e := req.Entries[j]
		if got.UserID == nil || *got.UserID != e.User.ID {
			t.Fatalf("request %d entry %d: user_id %v, want %q", i, j, got.UserID, e.User.ID)
		}
		if (got.Domain != nil) != (e.User.Domain != "") || (got.Domain != nil && *got.Domain != e.User.Domain) {
			t.Fatalf("request %d entry %d: domain %v, want %q (absent if empty)", i, j, got.Domain, e.User.Domain)
		}
		if len(got.SegBlock) != len(e.Rows) {
			t.Fatalf("request %d entry %d: %d seg_blocks, want %d", i, j, len(got.SegBlock), len(e.Rows))
		}
		for k, b := range got.SegBlock {
			r := e.Rows[k]
			want := map[string]any{}
			if r.SegID != 0 {
				want["seg_id"] = r.SegID
			} else {
				want["seg_code"], want["member_id"] = r.SegCode, r.MemberID
			}
			if r.HasValue {
				want["value"] = int64(r.Value)
			}
			if r.HasExpiration {
				want["expiration"] = int64(r.Expiration)
			}
			if len(b) != len(want) {
				t.Fatalf("request %d entry %d block %d: fields %v, want %v", i, j, k, keys(b), want)
			}
			for name, w := range want {
				raw, ok := b[name]
				if !ok {
					t.Fatalf("request %d entry %d block %d: no %s", i, j, k, name)
				}
				var got any
				switch w.(type) {
				case string:
					var s string
					err := json.Unmarshal(raw, &s)
					got = s
					if err != nil {
						t.Fatal(err)
					}
				default:
					var n int64
					err := json.Unmarshal(raw, &n)
					got = n
					if err != nil {
						t.Fatal(err)
					}
				}
				if got != w {
					t.Fatalf("request %d entry %d block %d: %s = %v, want %v", i, j, k, name, got, w)
				}
			}
		}
	}
}

func keys(m map[string]json.RawMessage) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}
