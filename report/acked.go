package report

import "github.com/rtseg/rtseg/reader"

// Acked is a set of row positions: the rows of a run the service
// acknowledged (or an earlier run delivered), which rtseg sync writes into
// the new state. It takes a bit per line, in pages allocated as lines are
// added, so that a sync that sends little holds little.
type Acked struct {
	files map[string]uint64
	pages map[uint64]*ackPage
	n     int64
}

// ackPage holds the bits of 4096 consecutive lines of one file.
type ackPage [64]uint64

const ackPageLines = 4096

// NewAcked returns an empty set.
func NewAcked() *Acked {
	return &Acked{files: map[string]uint64{}, pages: map[uint64]*ackPage{}}
}

func (a *Acked) key(pos reader.Position, add bool) (uint64, bool) {
	f, ok := a.files[pos.File]
	if !ok {
		if !add {
			return 0, false
		}
		f = uint64(len(a.files))
		a.files[pos.File] = f
	}
	return f<<44 | uint64(pos.Line)/ackPageLines, true
}

func (a *Acked) add(pos reader.Position) {
	k, _ := a.key(pos, true)
	p := a.pages[k]
	if p == nil {
		p = new(ackPage)
		a.pages[k] = p
	}
	bit := uint64(pos.Line) % ackPageLines
	if p[bit/64]&(1<<(bit%64)) == 0 {
		p[bit/64] |= 1 << (bit % 64)
		a.n++
	}
}

// Has reports whether the row at pos is in the set.
func (a *Acked) Has(pos reader.Position) bool {
	k, ok := a.key(pos, false)
	if !ok {
		return false
	}
	p := a.pages[k]
	bit := uint64(pos.Line) % ackPageLines
	return p != nil && p[bit/64]&(1<<(bit%64)) != 0
}

// Len is the number of positions in the set.
func (a *Acked) Len() int64 { return a.n }
