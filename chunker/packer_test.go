package chunker

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rtseg/rtseg/reader"
)

func TestPackerBodies(t *testing.T) {
	pos := func(line int64) reader.Position { return reader.Position{File: "in.csv", Line: line} }
	tests := []struct {
		name string
		rows []reader.Row
		want string
	}{{
		name: "absent fields are omitted",
		rows: []reader.Row{{Pos: pos(2), UserID: "u1", SegID: 5}},
		want: `{"rt_segment":[{"user_id":"u1","seg_block":[{"seg_id":5}]}]}`,
	}, {
		name: "zero value and expiration are sent",
		rows: []reader.Row{{Pos: pos(2), UserID: "u1", SegID: 5, HasValue: true, HasExpiration: true}},
		want: `{"rt_segment":[{"user_id":"u1","seg_block":[{"seg_id":5,"value":0,"expiration":0}]}]}`,
	}, {
		name: "domain, code and member, removal",
		rows: []reader.Row{{Pos: pos(2), UserID: "AEBE52E7", Domain: "idfa", SegCode: "fans", MemberID: 1234, Expiration: -1, HasExpiration: true}},
		want: `{"rt_segment":[{"user_id":"AEBE52E7","domain":"idfa","seg_block":[{"seg_code":"fans","member_id":1234,"expiration":-1}]}]}`,
	}, {
		name: "a member_id given with a seg_id is not sent",
		rows: []reader.Row{{Pos: pos(2), UserID: "u1", SegID: 5, MemberID: 1234}},
		want: `{"rt_segment":[{"user_id":"u1","seg_block":[{"seg_id":5}]}]}`,
	}, {
		name: "escaping",
		rows: []reader.Row{{Pos: pos(2), UserID: `a"b\c€`, SegCode: "x\u2028y", MemberID: 1}},
		want: `{"rt_segment":[{"user_id":"a\"b\\c€","seg_block":[{"seg_code":"x` + "\u2028" + `y","member_id":1}]}]}`,
	}, {
		name: "a user's segments in segment order, the later row winning",
		rows: []reader.Row{
			{Pos: pos(2), UserID: "u", SegID: 9, Value: 1, HasValue: true},
			{Pos: pos(3), UserID: "u", SegCode: "b", MemberID: 2},
			{Pos: pos(4), UserID: "u", SegID: 3},
			{Pos: pos(5), UserID: "u", SegCode: "a", MemberID: 2},
			{Pos: pos(6), UserID: "u", SegID: 9, Value: 2, HasValue: true},
		},
		want: `{"rt_segment":[{"user_id":"u","seg_block":[{"seg_id":3},{"seg_id":9,"value":2},{"seg_code":"a","member_id":2},{"seg_code":"b","member_id":2}]}]}`,
	}, {
		name: "segments named by ID first, by ID; then by member, then code",
		rows: []reader.Row{
			{Pos: pos(2), UserID: "u", SegCode: "a", MemberID: 9},
			{Pos: pos(3), UserID: "u", SegCode: "z", MemberID: 1},
			{Pos: pos(4), UserID: "u", SegID: 100},
			{Pos: pos(5), UserID: "u", SegCode: "b", MemberID: 1},
			{Pos: pos(6), UserID: "u", SegID: 20, MemberID: 5},
		},
		want: `{"rt_segment":[{"user_id":"u","seg_block":[{"seg_id":20},{"seg_id":100},{"seg_code":"b","member_id":1},{"seg_code":"z","member_id":1},{"seg_code":"a","member_id":9}]}]}`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := &collect{}
			p, _ := NewPacker(DefaultLimits, out)
			if err := p.AddUser(tc.rows[0].User(), tc.rows); err != nil {
				t.Fatal(err)
			}
			if err := p.Flush(); err != nil {
				t.Fatal(err)
			}
			if len(out.reqs) != 1 || string(out.reqs[0].Body) != tc.want {
				t.Errorf("Pack(%d rows) = %q\nwant %s", len(tc.rows), out.bodies(), tc.want)
			}
		})
	}
}

// Every way into the packer applies the same later-wins rule: AddUser
// itself, the Grouper in memory and spilling to disk, and Adjacent. Each
// replaced row is reported once, naming the next row for its user and
// segment, when that row is met; the rows left are sent.
func TestLaterWins(t *testing.T) {
	code := func(line int64, user, code string, member int64) reader.Row {
		return reader.Row{Pos: reader.Position{File: "in.csv", Line: line}, UserID: user, SegCode: code, MemberID: member}
	}
	// many gives a user 40 segments, more than latest looks through
	// before it builds its index, then repeats two of them.
	many := func() []reader.Row {
		var rows []reader.Row
		for i := range int64(40) {
			rows = append(rows, row(i+2, "u", i+1, 1))
		}
		return append(rows, row(42, "u", 7, 2), row(43, "u", 40, 2), row(44, "u", 7, 3))
	}
	tests := []struct {
		name       string
		rows       []reader.Row // sorted by user, as Adjacent needs
		superseded string
	}{{
		name:       "each replaced row names the next row for its segment",
		rows:       []reader.Row{row(2, "u", 1, 1), row(3, "u", 2, 1), row(4, "u", 1, 2), row(5, "u", 1, 3)},
		superseded: "in.csv:2 by in.csv:4, in.csv:4 by in.csv:5",
	}, {
		name:       "replacements are reported in the order the later rows come",
		rows:       []reader.Row{row(2, "u", 2, 1), row(3, "u", 1, 1), row(4, "u", 2, 2), row(5, "u", 1, 2)},
		superseded: "in.csv:2 by in.csv:4, in.csv:3 by in.csv:5",
	}, {
		name:       "a segment is its ID, or its member and code",
		rows:       []reader.Row{row(2, "u", 5, 1), code(3, "u", "x", 5), code(4, "u", "x", 6), code(5, "u", "x", 5)},
		superseded: "in.csv:3 by in.csv:5",
	}, {
		name:       "a member_id given with a seg_id does not make another segment",
		rows:       []reader.Row{{Pos: reader.Position{File: "in.csv", Line: 2}, UserID: "u", SegID: 5, MemberID: 7}, row(3, "u", 5, 1)},
		superseded: "in.csv:2 by in.csv:3",
	}, {
		name: "rows of different users or domains never replace each other",
		rows: []reader.Row{
			row(2, "a", 1, 1), row(3, "b", 1, 1),
			{Pos: reader.Position{File: "in.csv", Line: 4}, UserID: "a", Domain: "idfa", SegID: 1},
		},
	}, {
		name:       "a user with many segments",
		rows:       many(),
		superseded: "in.csv:8 by in.csv:42, in.csv:41 by in.csv:43, in.csv:42 by in.csv:44",
	}, {
		name:       "no replaced row",
		rows:       []reader.Row{row(2, "u", 3, 1), row(3, "u", 1, 1)},
		superseded: "",
	}}
	paths := []struct {
		name string
		pack func(t *testing.T, rows []reader.Row) *collect
	}{
		{"AddUser", func(t *testing.T, rows []reader.Row) *collect {
			out := &collect{}
			p, _ := NewPacker(DefaultLimits, out)
			for start := 0; start < len(rows); {
				end := start + 1
				for end < len(rows) && rows[end].User() == rows[start].User() {
					end++
				}
				if err := p.AddUser(rows[start].User(), rows[start:end]); err != nil {
					t.Fatal(err)
				}
				start = end
			}
			if err := p.Flush(); err != nil {
				t.Fatal(err)
			}
			return out
		}},
		{"Grouper", func(t *testing.T, rows []reader.Row) *collect {
			return packGrouped(t, rows, DefaultLimits, GroupConfig{TmpDir: t.TempDir()})
		}},
		{"Grouper spilling every row", func(t *testing.T, rows []reader.Row) *collect {
			out := packGrouped(t, rows, DefaultLimits, GroupConfig{Memory: 1, TmpDir: t.TempDir()})
			if out.spills == 0 {
				t.Fatalf("%d rows in 1 byte of memory: no spill", len(rows))
			}
			return out
		}},
		{"Adjacent", func(t *testing.T, rows []reader.Row) *collect {
			return packAdjacent(t, rows, DefaultLimits)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var first []string
			for _, path := range paths {
				out := path.pack(t, tc.rows)
				var got []string
				for _, s := range out.superseded {
					got = append(got, fmt.Sprintf("%s by %s", s.row.Pos, s.by))
				}
				if strings.Join(got, ", ") != tc.superseded {
					t.Errorf("%s: superseded %s, want %s", path.name, strings.Join(got, ", "), tc.superseded)
				}
				checkRequests(t, tc.rows, DefaultLimits, out, path.name == "Adjacent")
				if first == nil {
					first = out.bodies()
				} else if !slices.Equal(out.bodies(), first) {
					t.Errorf("%s: bodies %q, want those of %s: %q", path.name, out.bodies(), paths[0].name, first)
				}
			}
		})
	}
}

// AddUser keeps copies of the rows it is given: the caller may reuse its
// slice at once, and the packer does not reorder it.
func TestAddUserLeavesRowsAlone(t *testing.T) {
	rows := []reader.Row{row(2, "u", 9, 1), row(3, "u", 1, 1), row(4, "u", 9, 2)}
	given := slices.Clone(rows)
	out := &collect{}
	p, _ := NewPacker(DefaultLimits, out)
	if err := p.AddUser(reader.User{ID: "u"}, rows); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows, given) {
		t.Errorf("AddUser changed its rows: %v, want %v", rows, given)
	}
	for i := range rows {
		rows[i].SegID = 100
	}
	p.Flush()
	if want := `{"rt_segment":[{"user_id":"u","seg_block":[{"seg_id":1,"value":1},{"seg_id":9,"value":2}]}]}`; string(out.reqs[0].Body) != want {
		t.Errorf("body %s, want %s", out.reqs[0].Body, want)
	}
}

// shape describes requests as users per request, each user as its number
// of segments.
func shape(out *collect) string {
	var reqs []string
	for _, r := range out.reqs {
		var users []string
		for _, e := range r.Entries {
			users = append(users, fmt.Sprintf("%s%d", e.User.ID, len(e.Rows)))
		}
		reqs = append(reqs, strings.Join(users, " "))
	}
	return strings.Join(reqs, " | ")
}

func TestPackerLimits(t *testing.T) {
	segs := func(user string, n int) []reader.Row {
		rows := make([]reader.Row, n)
		for i := range rows {
			rows[i] = row(int64(i+2), user, int64(i+1), 1)
		}
		return rows
	}
	// One seg_block here is {"seg_id":N,"value":1}: 23 bytes for N < 10.
	tests := []struct {
		name  string
		l     Limits
		users [][]reader.Row
		want  string
	}{{
		name:  "users per request",
		l:     Limits{MaxUsers: 2, MaxSegments: 100, MaxBytes: minBytes},
		users: [][]reader.Row{segs("a", 1), segs("b", 1), segs("c", 1), segs("d", 1), segs("e", 1)},
		want:  "a1 b1 | c1 d1 | e1",
	}, {
		name:  "a user over the segment limit goes into consecutive requests, once in each",
		l:     Limits{MaxUsers: 10, MaxSegments: 4, MaxBytes: minBytes},
		users: [][]reader.Row{segs("a", 10), segs("b", 1), segs("c", 5), segs("d", 1)},
		want:  "a4 b1 c4 d1 | a4 c1 | a2",
	}, {
		name:  "a full request is closed; the split user's rest fills later ones",
		l:     Limits{MaxUsers: 2, MaxSegments: 4, MaxBytes: minBytes},
		users: [][]reader.Row{segs("a", 9), segs("b", 1), segs("c", 1), segs("d", 6), segs("e", 1)},
		want:  "a4 b1 | a4 c1 | a1 d4 | d2 e1",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := &collect{}
			p, err := NewPacker(tc.l, out)
			if err != nil {
				t.Fatal(err)
			}
			for _, rows := range tc.users {
				if err := p.AddUser(rows[0].User(), rows); err != nil {
					t.Fatal(err)
				}
			}
			p.Flush()
			if got := shape(out); got != tc.want {
				t.Errorf("Pack = %s, want %s", got, tc.want)
			}
		})
	}
}

// A body may reach the byte limit exactly, and not one byte more.
func TestPackerByteLimitIsExact(t *testing.T) {
	one := `{"user_id":"u00","seg_block":[{"seg_id":1}]}`
	for _, extra := range []int{0, -1} {
		// Room for exactly 60 entries, or one byte short of it.
		limit := len(bodyOpen) + 60*len(one) + 59 + len(bodyClose) + extra
		if limit < minBytes {
			t.Fatalf("limit %d under %d", limit, minBytes)
		}
		out := &collect{}
		p, _ := NewPacker(Limits{MaxUsers: 1000, MaxSegments: 100, MaxBytes: limit}, out)
		for i := range 120 {
			u := fmt.Sprintf("u%02d", i%100)
			if i >= 100 {
				u = fmt.Sprintf("v%02d", i-100)
			}
			p.AddUser(reader.User{ID: u}, []reader.Row{{UserID: u, SegID: 1}})
		}
		p.Flush()
		first := len(out.reqs[0].Body)
		if extra == 0 && (first != limit || out.reqs[0].Users() != 60) {
			t.Errorf("limit %d: first body %d bytes with %d users, want exactly the limit with 60", limit, first, out.reqs[0].Users())
		}
		if extra < 0 && out.reqs[0].Users() != 59 {
			t.Errorf("limit %d: first body holds %d users, want 59", limit, out.reqs[0].Users())
		}
	}
}

// The least byte limit holds the largest valid row.
func TestMinBytesHoldsAnyRow(t *testing.T) {
	r := reader.Row{
		UserID: strings.Repeat(`"`, reader.MaxUserIDBytes), Domain: "openudid",
		SegCode: strings.Repeat("𝄞", reader.MaxSegCodeChars), MemberID: 1<<63 - 1,
		Value: -1 << 31, HasValue: true, Expiration: reader.MaxExpiration, HasExpiration: true,
	}
	out := &collect{}
	p, _ := NewPacker(Limits{MaxUsers: 1, MaxSegments: 1, MaxBytes: minBytes}, out)
	if err := p.AddUser(r.User(), []reader.Row{r}); err != nil {
		t.Fatal(err)
	}
	p.Flush()
	if n := len(out.reqs[0].Body); n > minBytes {
		t.Fatalf("largest row takes %d bytes, more than the least limit %d", n, minBytes)
	}
}

func TestNewPackerRefusesBadLimits(t *testing.T) {
	for _, l := range []Limits{
		{MaxUsers: 0, MaxSegments: 100, MaxBytes: 1_000_000},
		{MaxUsers: 1000, MaxSegments: 0, MaxBytes: 1_000_000},
		{MaxUsers: 1000, MaxSegments: 100, MaxBytes: minBytes - 1},
	} {
		if _, err := NewPacker(l, &collect{}); err == nil {
			t.Errorf("NewPacker(%+v): no error", l)
		}
	}
}

// Encode rebuilds the exact body the packer made from its entries.
func TestEncodeMatchesPacker(t *testing.T) {
	out := packGrouped(t, odd(newRand(21), 500), Limits{MaxUsers: 7, MaxSegments: 5, MaxBytes: 4000}, GroupConfig{Memory: 1 << 20})
	for _, r := range out.reqs {
		if got := Encode(r.Seq, r.Entries); string(got.Body) != string(r.Body) {
			t.Fatalf("Encode(request %d) = %s\nwant %s", r.Seq, got.Body, r.Body)
		}
	}
}
