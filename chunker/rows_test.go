package chunker

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rtseg/rtseg/reader"
)

// collect is an Output that keeps what the packer makes.
type collect struct {
	reqs       []*Request
	superseded []replaced
	// stopAfter makes Request fail once this many requests were taken
	// (0: never).
	stopAfter int
	// spills is how many runs the grouper wrote.
	spills int
}

type replaced struct {
	row reader.Row
	by  reader.Position
}

var errStopped = fmt.Errorf("output stopped")

func (c *collect) Request(r *Request) error {
	if c.stopAfter > 0 && len(c.reqs) >= c.stopAfter {
		return errStopped
	}
	c.reqs = append(c.reqs, r)
	return nil
}

func (c *collect) Superseded(row reader.Row, by reader.Position) error {
	c.superseded = append(c.superseded, replaced{row, by})
	return nil
}

func (c *collect) bodies() []string {
	var out []string
	for _, r := range c.reqs {
		out = append(out, string(r.Body))
	}
	return out
}

// users counts the rt_segment entries of all requests.
func (c *collect) users() int {
	n := 0
	for _, r := range c.reqs {
		n += r.Users()
	}
	return n
}

func (c *collect) bytes() int {
	n := 0
	for _, r := range c.reqs {
		n += len(r.Body)
	}
	return n
}

// packGrouped feeds rows to a new grouper and returns what it packed.
func packGrouped(t testing.TB, rows []reader.Row, l Limits, cfg GroupConfig) *collect {
	t.Helper()
	out := &collect{}
	p, err := NewPacker(l, out)
	if err != nil {
		t.Fatal(err)
	}
	g := NewGrouper(p, cfg)
	for _, r := range rows {
		if err := g.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if g.open != 0 {
		t.Fatalf("%d temporary files still open after Close", g.open)
	}
	out.spills = g.spills
	return out
}

func packAdjacent(t testing.TB, rows []reader.Row, l Limits) *collect {
	t.Helper()
	out := &collect{}
	p, err := NewPacker(l, out)
	if err != nil {
		t.Fatal(err)
	}
	g := NewAdjacent(p, 0)
	for _, r := range rows {
		if err := g.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// realistic makes n rows for users with 1 to maxSegs distinct segments each,
// in random order, as a warehouse export of Xandr user IDs would hold.
func realistic(rng *rand.Rand, n, maxSegs int) []reader.Row {
	rows := make([]reader.Row, 0, n)
	for u := 0; len(rows) < n; u++ {
		id := fmt.Sprintf("%020d", rng.Uint64()%1e19)
		k := 1 + rng.IntN(maxSegs)
		var segs []int
		for len(segs) < k {
			if s := rng.IntN(max(maxSegs*2, 1000)); !slices.Contains(segs, s) {
				segs = append(segs, s)
			}
		}
		for _, s := range segs {
			rows = append(rows, reader.Row{
				UserID: id, SegID: int64(10000 + s),
				Value: 1, HasValue: true, Expiration: 1440, HasExpiration: true,
			})
			if len(rows) == n {
				break
			}
		}
	}
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	numberLines(rows)
	return rows
}

// numberLines gives rows the positions of a CSV file's records.
func numberLines(rows []reader.Row) {
	for i := range rows {
		rows[i].Pos = reader.Position{File: "in.csv", Line: int64(i + 2)}
	}
}

// sortedByUser returns the rows stably sorted by domain and user ID, with
// their positions renumbered as in a new file.
func sortedByUser(rows []reader.Row) []reader.Row {
	order := make([]int, len(rows))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := &rows[i], &rows[j]
		if c := strings.Compare(a.Domain, b.Domain); c != 0 {
			return c
		}
		if c := strings.Compare(a.UserID, b.UserID); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	s := make([]reader.Row, len(rows))
	for k, i := range order {
		s[k] = rows[i]
	}
	numberLines(s)
	return s
}

// odd makes rows that test the encoder and the limits: user IDs and codes
// with quotes, backslashes and non-ASCII text, long and short, several
// domains, seg_id and seg_code segments, every optional field present or
// absent, and repeated segments.
func odd(rng *rand.Rand, n int) []reader.Row {
	users := make([]reader.User, 1+rng.IntN(40))
	domains := []string{"", "", "idfa", "aaid", "sha1udid"}
	for i := range users {
		users[i] = reader.User{Domain: domains[rng.IntN(len(domains))], ID: oddText(rng, 1+rng.IntN(60), i)}
		if rng.IntN(20) == 0 {
			users[i].ID = strings.Repeat(`"`, 256)
		}
	}
	codes := make([]string, 1+rng.IntN(10))
	for i := range codes {
		codes[i] = oddText(rng, 1+rng.IntN(20), i)
		if rng.IntN(10) == 0 {
			codes[i] = strings.Repeat("€", 50)
		}
	}
	segs := 1 + rng.IntN(300)
	rows := make([]reader.Row, n)
	for i := range rows {
		u := users[rng.IntN(len(users))]
		r := reader.Row{UserID: u.ID, Domain: u.Domain}
		if rng.IntN(4) == 0 {
			r.SegCode, r.MemberID = codes[rng.IntN(len(codes))], int64(1+rng.IntN(3))
		} else {
			r.SegID = int64(1 + rng.IntN(segs))
			if rng.IntN(8) == 0 {
				r.MemberID = 7 // given with a seg_id: not sent
			}
		}
		if rng.IntN(3) > 0 {
			r.Value, r.HasValue = int32(rng.Uint32()), true
		}
		if rng.IntN(3) > 0 {
			r.Expiration, r.HasExpiration = int32(rng.IntN(259202))-1, true
		}
		rows[i] = r
	}
	numberLines(rows)
	return rows
}

// oddText makes a distinct string of about n characters, some of which need
// escaping in JSON.
func oddText(rng *rand.Rand, n, distinct int) string {
	alphabet := []string{"a", "Z", "0", `"`, `\`, "/", "é", "€", "𝄞", " ", "<", "\u2028"}
	var b strings.Builder
	fmt.Fprintf(&b, "%d-", distinct)
	for range n {
		b.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	return b.String()
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }
