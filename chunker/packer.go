package chunker

import (
	"fmt"

	"github.com/rtseg/rtseg/reader"
)

// Limits bound every request the packer makes.
type Limits struct {
	MaxUsers    int // rt_segment entries per request
	MaxSegments int // seg_blocks per entry
	MaxBytes    int // exact size of the serialized body
}

// DefaultLimits are the service's documented limits.
var DefaultLimits = Limits{MaxUsers: 1000, MaxSegments: 100, MaxBytes: 1_000_000}

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
type Packer struct {
	limits  Limits
	out     Output
	seq     int
	cur     *Request
	body    []byte
	scratch []byte
}

// NewPacker returns a packer that sends what it makes to out.
func NewPacker(l Limits, out Output) (*Packer, error) {
	switch {
	case l.MaxUsers < 1:
		return nil, fmt.Errorf("max users per request must be at least 1, not %d", l.MaxUsers)
	case l.MaxSegments < 1:
		return nil, fmt.Errorf("max segments per user must be at least 1, not %d", l.MaxSegments)
	case l.MaxBytes < minBytes:
		return nil, fmt.Errorf("max bytes per request must be at least %d to hold any one row, not %d", minBytes, l.MaxBytes)
	}
	return &Packer{limits: l, out: out}, nil
}

// AddUser packs all rows of one user, in input order. Of two rows for the same
// segment the later wins and the earlier is reported superseded. A user with
// more segments than a request allows is split over several requests.
func (p *Packer) AddUser(u reader.User, rows []reader.Row) error {
	rows, err := p.laterWins(rows)
	if err != nil {
		return err
	}
	for len(rows) > 0 {
		n := p.fitBlocks(u, rows)
		if err := p.addEntry(Entry{User: u, Rows: rows[:n:n]}); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// laterWins drops every row that a later row for the same segment replaces,
// keeping the order of the rest.
func (p *Packer) laterWins(rows []reader.Row) ([]reader.Row, error) {
	if len(rows) < 2 {
		return rows, nil
	}
	last := make(map[reader.Segment]int, len(rows))
	for i := range rows {
		last[rows[i].Segment()] = i
	}
	if len(last) == len(rows) {
		return rows, nil
	}
	kept := make([]reader.Row, 0, len(last))
	for i := range rows {
		if j := last[rows[i].Segment()]; j != i {
			if err := p.out.Superseded(rows[i], rows[j].Pos); err != nil {
				return nil, err
			}
			continue
		}
		kept = append(kept, rows[i])
	}
	return kept, nil
}

// fitBlocks is how many of rows fit in one entry under the segment and byte
// limits, at least one.
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

func encodeEntry(b []byte, e *Entry) []byte {
	b = appendEntryOpen(b, e.User)
	for i := range e.Rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendBlock(b, &e.Rows[i])
	}
	return append(b, entryClose...)
}

func (p *Packer) addEntry(e Entry) error {
	p.scratch = encodeEntry(p.scratch[:0], &e)
	if p.cur != nil {
		full := len(p.cur.Entries) >= p.limits.MaxUsers ||
			len(p.body)+1+len(p.scratch)+len(bodyClose) > p.limits.MaxBytes
		if full {
			if err := p.Flush(); err != nil {
				return err
			}
		}
	}
	if p.cur == nil {
		p.cur = &Request{Seq: p.seq}
		p.seq++
		p.body = append(make([]byte, 0, 4096), bodyOpen...)
	} else {
		p.body = append(p.body, ',')
	}
	p.body = append(p.body, p.scratch...)
	p.cur.Entries = append(p.cur.Entries, e)
	return nil
}

// Flush sends the request being filled, if any.
func (p *Packer) Flush() error {
	if p.cur == nil {
		return nil
	}
	req := p.cur
	req.Body = append(p.body, bodyClose...)
	p.cur, p.body = nil, nil
	return p.out.Request(req)
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
		body = encodeEntry(body, &entries[i])
	}
	return &Request{Seq: seq, Body: append(body, bodyClose...), Entries: entries}
}
