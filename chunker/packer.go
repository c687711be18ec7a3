package chunker

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/rtseg/rtseg/reader"
)

// Limits bound every request the packer makes.
type Limits struct {
	MaxUsers    int // rt_segment entries per request
	MaxSegments int // seg_blocks per entry
	MaxBytes    int // exact size of the serialized body
	// AllowAboveService accepts limits above DefaultLimits, for a member
	// whose limits Xandr raised (--allow-above-service-limits). Without
	// it such limits are refused: the service would drop what exceeds
	// its own, as warnings.
	AllowAboveService bool
}

// DefaultLimits are the service's documented limits: it processes at most
// 1000 users of a request, "up to 100 segments per user per call", and "the
// JSON payload should not exceed 1MB".
var DefaultLimits = Limits{MaxUsers: 1000, MaxSegments: 100, MaxBytes: 1_000_000}

// AboveServiceError is a limit set above the service's documented one
// without Limits.AllowAboveService.
type AboveServiceError struct {
	Flag         string // the flag that sets it: "--max-segments"
	Value, Limit int
	Unit         string // what Limit counts: "segments per user per request"
}

func (e *AboveServiceError) Error() string {
	return fmt.Sprintf("%s %d is above the service's limit of %d %s; give --allow-above-service-limits if Xandr raised the member's limits",
		e.Flag, e.Value, e.Limit, e.Unit)
}

// minBytes is the smallest body limit that can hold any one valid row: a
// 256-byte user ID and a 50-character code, fully escaped, with every field.
const minBytes = 2048

// Entry is one rt_segment entry: a user and the rows sent as its seg_blocks,
// in body order.
type Entry struct {
	User reader.User
	Rows []reader.Row
}

// Request is one POST body and what it holds.
type Request struct {
	// Seq numbers requests from 0 in the order they were packed.
	Seq int
	// Body is the exact JSON sent.
	Body []byte
	// Entries are the body's rt_segment entries, in order.
	Entries []Entry
	// Ordered marks a request that may repeat a user and segment of an
	// earlier request: it must be sent only after every earlier request is
	// done, so that the later row also wins at the service.
	Ordered bool
}

// Users is the number of rt_segment entries, the unit of the users/s limit.
func (r *Request) Users() int { return len(r.Entries) }

// Rows is the number of seg_blocks in the request.
func (r *Request) Rows() int {
	n := 0
	for _, e := range r.Entries {
		n += len(e.Rows)
	}
	return n
}

// Output receives what the packer makes, in order.
type Output interface {
	// Request takes a packed request; the packer does not touch it again.
	Request(*Request) error
	// Superseded takes a row replaced by a later row for the same user and
	// segment, found at by.
	Superseded(row reader.Row, by reader.Position) error
}

// Packer packs users into requests as densely as the limits allow.
//
// Each user becomes as few rt_segment entries as the limits allow: one per
// MaxSegments segments (more only when MaxBytes is too small to hold that
// many). The entries of a user split over several requests go into
// different requests, never two into one. Requests are filled in order: the
// head request takes each user's first entry until one no longer fits, so
// its unused room is less than one entry, and the requests after it take
// the rest of split users. A few full requests are held back until the next
// ones fill, and at the end of the input the requests still held are packed
// again, the most split users first, so that the last users' entries need
// not each open a request of their own.
type Packer struct {
	limits Limits
	out    Output
	seq    int
	// open are the requests not yet sent, in the order they will be:
	// those before head are full and held back, open[head] takes first
	// entries, the ones after it the rest of split users.
	open []*pending
	head int
	// hold is how many full requests are held back: as many as the
	// entries of the most split user so far, less one, up to maxHold.
	hold    int
	chunks  [][]reader.Row
	order   []int
	scratch []byte
	// cur gathers the rows given to AddUser, keeping the latest row of
	// each segment, as the groupers do.
	cur latest
	// block is where the rows of packed entries are kept: requests share
	// blocks, so that packing a user allocates nothing of its own.
	block []reader.Row
	// lastBody and lastUsers are the size of the last request sent, which
	// the next one is likely to match: its room is made once, not grown.
	lastBody, lastUsers int
}

// blockRows is how many rows a block of kept rows holds, unless one user
// needs more.
const blockRows = 2048

// maxHold bounds the full requests held back, and the memory they take.
const maxHold = 8

// pending is a request being filled.
type pending struct {
	req  Request
	body []byte
}

// NewPacker returns a packer that sends what it makes to out.
func NewPacker(l Limits, out Output) (*Packer, error) {
	if err := l.Check(); err != nil {
		return nil, err
	}
	return &Packer{limits: l, out: out}, nil
}

// Check refuses limits no request could be packed within, and, unless
// AllowAboveService, limits above the service's (an *AboveServiceError),
// naming the flags that set them.
func (l Limits) Check() error {
	switch {
	case l.MaxUsers < 1:
		return fmt.Errorf("--max-users must be at least 1, not %d", l.MaxUsers)
	case l.MaxSegments < 1:
		return fmt.Errorf("--max-segments must be at least 1, not %d", l.MaxSegments)
	case l.MaxBytes < minBytes:
		return fmt.Errorf("--max-bytes must be at least %d to hold any one row, not %d", minBytes, l.MaxBytes)
	case l.AllowAboveService:
	case l.MaxUsers > DefaultLimits.MaxUsers:
		return &AboveServiceError{"--max-users", l.MaxUsers, DefaultLimits.MaxUsers, "users per request"}
	case l.MaxSegments > DefaultLimits.MaxSegments:
		return &AboveServiceError{"--max-segments", l.MaxSegments, DefaultLimits.MaxSegments, "segments per user per request"}
	case l.MaxBytes > DefaultLimits.MaxBytes:
		return &AboveServiceError{"--max-bytes", l.MaxBytes, DefaultLimits.MaxBytes, "bytes per request body"}
	}
	return nil
}

// AddUser packs all rows of one user, given in input order. Of two rows for
// the same segment the later wins and the earlier is reported superseded,
// naming the next row for that segment (which may be superseded in turn).
// The rows that remain are sent in segment order (reader.Segment.Compare:
// segments named by ID first, then those named by member and code), so the
// bodies do not depend on the order of a user's rows. A user with more
// segments than a request allows is split over several requests.
//
// Each user must be added once; a grouper that may meet a user again (as
// Adjacent does on input that is not quite sorted) must say so, so that the
// requests holding it again are marked Ordered. The packer keeps copies of
// the rows: the caller may reuse the slice.
func (p *Packer) AddUser(u reader.User, rows []reader.Row) error {
	p.cur.reset(u)
	defer p.cur.reset(reader.User{})
	for _, row := range rows {
		if err := p.cur.add(row, p.out); err != nil {
			return err
		}
	}
	return p.add(u, p.cur.rows, false)
}

// add packs a user whose rows hold each segment at most once, as latest
// leaves them. When again is set the user may have been packed already: its
// entries go after every open request holding it, and the requests that
// take them are marked Ordered.
func (p *Packer) add(u reader.User, rows []reader.Row, again bool) error {
	if len(rows) == 0 {
		return nil
	}
	rows = p.keep(rows)
	p.chunks = p.chunks[:0]
	// Most users fit in one entry: encoding it once tells, and the
	// encoding is kept for placing it.
	encoded := false
	if len(rows) <= p.limits.MaxSegments {
		p.scratch = encodeEntry(p.scratch[:0], u, rows)
		encoded = len(bodyOpen)+len(p.scratch)+len(bodyClose) <= p.limits.MaxBytes
	}
	if encoded {
		p.chunks = append(p.chunks, rows)
	}
	for !encoded && len(rows) > 0 {
		n := p.fitBlocks(u, rows)
		p.chunks = append(p.chunks, rows[:n:n])
		rows = rows[n:]
	}
	p.hold = min(max(p.hold, len(p.chunks)-1), maxHold)
	// The first request that may take this user's next entry: after any
	// that holds it already.
	next := p.head
	if again {
		next = max(next, p.lastHolding(u)+1)
	}
	for i, chunk := range p.chunks {
		if !encoded {
			p.scratch = encodeEntry(p.scratch[:0], u, chunk)
		}
		at := next
		if i == 0 && at == p.head {
			// The head takes first entries until one no longer
			// fits; then the next request is the head.
			for p.head < len(p.open) && !p.fits(p.open[p.head], len(p.scratch)) {
				p.head++
			}
			at = p.head
		} else {
			for at < len(p.open) && !p.fits(p.open[at], len(p.scratch)) {
				at++
			}
		}
		if at == len(p.open) {
			p.open = append(p.open, &pending{})
		}
		p.place(p.open[at], Entry{User: u, Rows: chunk}, again)
		next = at + 1
	}
	for p.head > p.hold {
		if err := p.flushFirst(); err != nil {
			return err
		}
	}
	return nil
}

// lastHolding is the index of the last open request holding u, or -1.
func (p *Packer) lastHolding(u reader.User) int {
	for i := len(p.open) - 1; i >= 0; i-- {
		for _, e := range p.open[i].req.Entries {
			if e.User == u {
				return i
			}
		}
	}
	return -1
}

// keep copies a user's rows into the current block, in segment order, so
// that the caller may reuse its slice once AddUser returns. The rows must
// hold each segment once.
func (p *Packer) keep(rows []reader.Row) []reader.Row {
	if cap(p.block)-len(p.block) < len(rows) {
		p.block = make([]reader.Row, 0, max(blockRows, len(rows)))
	}
	start := len(p.block)
	if bySegment(rows) {
		p.block = append(p.block, rows...)
	} else {
		// Sorting the indexes moves ints, not rows; each row is then
		// copied once, into its place.
		order := p.order[:0]
		for i := range rows {
			order = append(order, i)
		}
		slices.SortFunc(order, func(i, j int) int { return compareSegment(&rows[i], &rows[j]) })
		for _, i := range order {
			p.block = append(p.block, rows[i])
		}
		p.order = order
	}
	return p.block[start:len(p.block):len(p.block)]
}

// bySegment says whether rows are in segment order already.
func bySegment(rows []reader.Row) bool {
	for i := 1; i < len(rows); i++ {
		if compareSegment(&rows[i-1], &rows[i]) > 0 {
			return false
		}
	}
	return true
}

// compareSegment orders rows by segment, as reader.Segment.Compare does:
// segments named by ID first, then those named by member and code.
func compareSegment(a, b *reader.Row) int { return a.Segment().Compare(b.Segment()) }

// fitBlocks counts how many of a user's rows, from the first, fit in one
// entry under the segment and byte limits. It is at least one: any one row
// fits in a body of minBytes.
func (p *Packer) fitBlocks(u reader.User, rows []reader.Row) int {
	size := len(bodyOpen) + len(bodyClose) + len(entryClose)
	p.scratch = appendEntryOpen(p.scratch[:0], u)
	size += len(p.scratch)
	n := 0
	for n < len(rows) && n < p.limits.MaxSegments {
		p.scratch = appendBlock(p.scratch[:0], &rows[n])
		add := len(p.scratch)
		if n > 0 {
			add++ // comma
		}
		if n > 0 && size+add > p.limits.MaxBytes {
			break
		}
		size += add
		n++
	}
	return n
}

// fits says whether a request being filled has room for one more user whose
// encoded entry takes the given number of bytes.
func (p *Packer) fits(r *pending, size int) bool {
	return len(r.req.Entries) < p.limits.MaxUsers &&
		len(r.body)+1+size+len(bodyClose) <= p.limits.MaxBytes
}

// place adds an entry, whose encoding is in p.scratch, to a request being
// filled. A request that takes an entry packed again becomes Ordered.
func (p *Packer) place(r *pending, e Entry, again bool) {
	if len(r.req.Entries) == 0 {
		r.body = append(make([]byte, 0, min(p.limits.MaxBytes, max(4096, p.lastBody+p.lastBody/8))), bodyOpen...)
		r.req.Entries = make([]Entry, 0, max(16, p.lastUsers))
	} else {
		r.body = append(r.body, ',')
	}
	r.body = append(r.body, p.scratch...)
	r.req.Entries = append(r.req.Entries, e)
	r.req.Ordered = r.req.Ordered || again
}

func encodeEntry(b []byte, u reader.User, rows []reader.Row) []byte {
	b = appendEntryOpen(b, u)
	for i := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBlock(b, &rows[i])
	}
	return append(b, entryClose...)
}

// flushFirst sends the first open request.
func (p *Packer) flushFirst() error {
	first := p.open[0]
	copy(p.open, p.open[1:])
	p.open[len(p.open)-1] = nil
	p.open = p.open[:len(p.open)-1]
	p.head = max(p.head-1, 0)
	req := &first.req
	req.Seq = p.seq
	req.Body = append(first.body, bodyClose...)
	p.lastBody, p.lastUsers = len(req.Body), len(req.Entries)
	p.seq++
	return p.out.Request(req)
}

// Flush sends every open request, in order.
func (p *Packer) Flush() error {
	p.repack()
	for len(p.open) > 0 {
		if err := p.flushFirst(); err != nil {
			return err
		}
	}
	return nil
}

// repack packs the entries of the open requests again, if that takes fewer
// requests: the users with the most entries first, each entry into the
// first request that has room and does not hold its user. Requests marked
// Ordered are left as they are, since their order matters.
func (p *Packer) repack() {
	if len(p.open) < 2 {
		return
	}
	type user struct {
		u       reader.User
		entries []Entry
	}
	var users []*user
	byUser := map[reader.User]*user{}
	for _, r := range p.open {
		if r.req.Ordered {
			return
		}
		for _, e := range r.req.Entries {
			if byUser[e.User] == nil {
				byUser[e.User] = &user{u: e.User}
				users = append(users, byUser[e.User])
			}
			byUser[e.User].entries = append(byUser[e.User].entries, e)
		}
	}
	slices.SortStableFunc(users, func(a, b *user) int { return cmp.Compare(len(b.entries), len(a.entries)) })
	var bins []*pending
	var holds []map[reader.User]bool
	for _, u := range users {
		for _, e := range u.entries {
			p.scratch = encodeEntry(p.scratch[:0], e.User, e.Rows)
			i := 0
			for i < len(bins) && (holds[i][e.User] || !p.fits(bins[i], len(p.scratch))) {
				i++
			}
			if i == len(bins) {
				if len(bins) == len(p.open)-1 {
					return // no better
				}
				bins = append(bins, &pending{})
				holds = append(holds, map[reader.User]bool{})
			}
			p.place(bins[i], e, false)
			holds[i][e.User] = true
		}
	}
	p.open, p.head = bins, 0
}

// Encode builds a request holding exactly these entries, for sending again
// entries that the service refused for their number. The entries must fit the
// limits they were packed under.
func Encode(seq int, entries []Entry) *Request {
	body := append([]byte(nil), bodyOpen...)
	for i := range entries {
		if i > 0 {
			body = append(body, ',')
		}
		body = encodeEntry(body, entries[i].User, entries[i].Rows)
	}
	return &Request{Seq: seq, Body: append(body, bodyClose...), Entries: entries}
}
