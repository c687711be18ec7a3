package chunker

import "github.com/rtseg/rtseg/reader"

// Adjacent groups consecutive rows of the same user and hands each group to
// the packer, holding one user's rows at a time. It is how input sorted by
// user streams in constant memory.
//
// A user whose rows come back after another user's (input not quite sorted)
// is packed again, into a later request marked Ordered, so that it is sent
// only after every request before it and the later rows still win at the
// service. Adjacent remembers the users it has packed in a Bloom filter of
// bounded size: a false positive only marks a request Ordered that need not
// be. Rows of a user that comes back are never reported superseded by the
// earlier group's rows (they are sent in order instead). A group holds the
// latest row of each of its segments: memory for its distinct segments.
type Adjacent struct {
	p    users
	out  superseder
	seen *seen // nil when p checks the order itself
	cur  latest
}

// DefaultFilterMemory bounds Adjacent's filter of users already packed when
// NewAdjacent is given no size.
const DefaultFilterMemory = 64 << 20

// NewAdjacent returns a grouper that feeds the packer p. Its filter of users
// already packed may grow to the given number of bytes of memory, or to
// DefaultFilterMemory when that number is 0 or less.
func NewAdjacent(p *Packer, memory int64) *Adjacent {
	if memory <= 0 {
		memory = DefaultFilterMemory
	}
	return &Adjacent{p: p, out: p.out, seen: newSeen(memory)}
}

// newStrictAdjacent returns a grouper that hands each run of a user's rows
// to p, which must refuse a user that comes back (the diff of rtseg sync
// does): it keeps no filter of users.
func newStrictAdjacent(p users, out superseder) *Adjacent {
	return &Adjacent{p: p, out: out}
}

// OnFilterGrow registers a function that Adjacent calls each time its filter
// of users already packed grows, with the filter's new total size in bytes.
// The filter first grows when the first user is packed. A caller can use it
// to count that memory against its budget.
func (g *Adjacent) OnFilterGrow(f func(size int64)) {
	if g.seen != nil {
		g.seen.grown = f
	}
}

// Add takes the next valid row.
func (g *Adjacent) Add(row reader.Row) error {
	if err := g.start(row.User()); err != nil {
		return err
	}
	return g.cur.add(row, g.out)
}

// hold takes an invalid row that names its user (rtseg sync): the user
// has rows the input could not read.
func (g *Adjacent) hold(row reader.Row) error {
	if err := g.start(row.User()); err != nil {
		return err
	}
	g.cur.hold(row.Pos)
	return nil
}

// start makes u the current user, handing on the one before.
func (g *Adjacent) start(u reader.User) error {
	if g.cur.empty() || u != g.cur.user {
		if err := g.flushUser(); err != nil {
			return err
		}
		g.cur.reset(u)
	}
	return nil
}

func (g *Adjacent) flushUser() error {
	if g.cur.empty() {
		return nil
	}
	again := len(g.cur.rows) > 0 && g.seen != nil && g.seen.testAndAdd(g.cur.user)
	return g.cur.handOn(g.p, again)
}

// Close packs the last user and flushes the last requests.
func (g *Adjacent) Close() error {
	if err := g.flushUser(); err != nil {
		return err
	}
	g.cur.reset(reader.User{})
	return g.p.Flush()
}
