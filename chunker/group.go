package chunker

import "github.com/rtseg/rtseg/reader"

// Adjacent groups consecutive rows of the same user and hands each group to
// the packer, holding one user's rows at a time. It is how input sorted by
// user streams in constant memory.
type Adjacent struct {
	p    *Packer
	user reader.User
	rows []reader.Row
}

// NewAdjacent returns a grouper feeding p.
func NewAdjacent(p *Packer) *Adjacent { return &Adjacent{p: p} }

// Add takes the next valid row.
func (g *Adjacent) Add(row reader.Row) error {
	if u := row.User(); len(g.rows) > 0 && u != g.user {
		if err := g.flushUser(); err != nil {
			return err
		}
	}
	g.user = row.User()
	g.rows = append(g.rows, row)
	return nil
}

func (g *Adjacent) flushUser() error {
	err := g.p.AddUser(g.user, g.rows)
	g.rows = nil // the packer keeps the slice in its entries
	return err
}

// Close packs the last user and flushes the last request.
func (g *Adjacent) Close() error {
	if len(g.rows) > 0 {
		if err := g.flushUser(); err != nil {
			return err
		}
	}
	return g.p.Flush()
}
