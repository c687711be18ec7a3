package chunker

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rtseg/rtseg/reader"
)

func row(line int64, user string, seg int64, value int32) reader.Row {
	return reader.Row{Pos: reader.Position{File: "in.csv", Line: line}, UserID: user, SegID: seg, Value: value, HasValue: true}
}

// A user who comes back in --sorted input is sent again in a later request,
// marked Ordered so that its later row wins at the service too.
func TestAdjacentUserComesBack(t *testing.T) {
	rows := []reader.Row{
		row(2, "a", 1, 1),
		row(3, "a", 2, 1),
		row(4, "b", 1, 1),
		row(5, "a", 1, 9), // a comes back: segment 1 again
		row(6, "c", 1, 1),
	}
	out := packAdjacent(t, rows, DefaultLimits)
	want := []struct {
		body    string
		ordered bool
	}{
		// c is not held back: it joins the first request.
		{`{"rt_segment":[{"user_id":"a","seg_block":[{"seg_id":1,"value":1},{"seg_id":2,"value":1}]},{"user_id":"b","seg_block":[{"seg_id":1,"value":1}]},{"user_id":"c","seg_block":[{"seg_id":1,"value":1}]}]}`, false},
		{`{"rt_segment":[{"user_id":"a","seg_block":[{"seg_id":1,"value":9}]}]}`, true},
	}
	if len(out.reqs) != len(want) {
		t.Fatalf("Pack(%d rows) = %d requests, want %d: %q", len(rows), len(out.reqs), len(want), out.bodies())
	}
	for i, w := range want {
		if got := out.reqs[i]; string(got.Body) != w.body || got.Ordered != w.ordered {
			t.Errorf("request %d = %s (ordered %v)\nwant %s (ordered %v)", i, got.Body, got.Ordered, w.body, w.ordered)
		}
	}
	if len(out.superseded) != 0 {
		t.Errorf("superseded %v: a user that comes back is sent again, in order", out.superseded)
	}
}

// Users that do not come back never make a request Ordered.
func TestAdjacentSortedInputIsNotOrdered(t *testing.T) {
	rows := sortedByUser(realistic(rand.New(rand.NewPCG(11, 12)), 100_000, 3))
	out := packAdjacent(t, rows, DefaultLimits)
	for _, r := range out.reqs {
		if r.Ordered {
			t.Fatalf("request %d of sorted input is Ordered", r.Seq)
		}
	}
}

func TestSeenFilter(t *testing.T) {
	user := func(i int) reader.User { return reader.User{ID: "user-" + strconv.Itoa(i)} }
	for _, tc := range []struct {
		name   string
		memory int64
		users  int
		maxFP  float64 // false positives among users never added
		layers int
	}{
		{"tiny bound", 64, 2000, 1, 1},
		{"one layer", 64 << 20, 100_000, 0.0001, 1},
		{"grown", 64 << 20, 400_000, 0.0005, 2},
		{"bound reached", 1<<20 + 1, 500_000, 0.002, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSeen(tc.memory)
			for i := range tc.users {
				if s.testAndAdd(user(i)) && tc.maxFP < 0.001 {
					// A false positive on the way in would be
					// rare enough to count as one below.
					continue
				}
			}
			for i := range tc.users {
				if !s.testAndAdd(user(i)) {
					t.Fatalf("user %d added, then not seen", i)
				}
			}
			fp := 0
			const probe = 100_000
			for i := range probe {
				if s.testAndAdd(reader.User{Domain: "idfa", ID: strconv.Itoa(i)}) {
					fp++
				}
			}
			if rate := float64(fp) / probe; rate > tc.maxFP {
				t.Errorf("%d users in %d bytes: %.5f false positives, want at most %.5f", tc.users, tc.memory, rate, tc.maxFP)
			}
			if len(s.layers) != tc.layers {
				t.Errorf("%d users in %d bytes: %d layers, want %d", tc.users, tc.memory, len(s.layers), tc.layers)
			}
			size := int64(0)
			for _, l := range s.layers {
				size += int64(len(l.bits)) * 8
			}
			if size > max(tc.memory, 64) {
				t.Errorf("filter takes %d bytes, bound %d", size, tc.memory)
			}
		})
	}
}

func TestHashUserSeparatesDomain(t *testing.T) {
	a1, a2 := hashUser(reader.User{Domain: "idfa", ID: "x"})
	b1, b2 := hashUser(reader.User{Domain: "idf", ID: "ax"})
	if a1 == b1 && a2 == b2 {
		t.Fatal("users idfa/x and idf/ax hash alike")
	}
	if strings.Contains("idfa", "\xff") {
		t.Fatal("unreachable")
	}
}

// OnFilterGrow tells the filter's size each time it grows.
func TestAdjacentOnFilterGrow(t *testing.T) {
	const bound = 64 << 20
	p, err := NewPacker(DefaultLimits, &collect{})
	if err != nil {
		t.Fatal(err)
	}
	g := NewAdjacent(p, bound)
	var sizes []int64
	g.OnFilterGrow(func(size int64) { sizes = append(sizes, size) })
	// The first layer, of 1 MiB, holds 349,525 users; the next is of 2 MiB.
	for i := range 360_000 {
		if err := g.Add(row(int64(i+2), "user-"+strconv.Itoa(i), 1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	want := []int64{1 << 20, 3 << 20}
	if !slices.Equal(sizes, want) {
		t.Errorf("filter sizes told %v, want %v", sizes, want)
	}
}
