package chunker

import "github.com/rtseg/rtseg/reader"

// latest gathers one user's rows in input order, keeping only the latest
// row for each segment: a row for a segment already held replaces the held
// one, which is reported superseded at once. So a user holds memory for its
// distinct segments, not its rows, even when millions of rows share one
// user ID (a zeroed device ID, a placeholder).
type latest struct {
	user  reader.User
	rows  []reader.Row
	index map[reader.Segment]int // built once a user has many rows
	// held says the user has rows the input could not read (rtseg
	// sync's holder is told), the first at heldAt.
	held   bool
	heldAt reader.Position
}

// holder takes users with rows in the snapshot that could not be read:
// the diff of rtseg sync. It is told of such a user before its valid rows,
// if it has any, are added.
type holder interface {
	hold(u reader.User, at reader.Position) error
}

// empty reports whether no row of a user is held.
func (l *latest) empty() bool { return len(l.rows) == 0 && !l.held }

// hold marks the user as having a row the input could not read, at pos.
func (l *latest) hold(pos reader.Position) {
	if !l.held {
		l.held, l.heldAt = true, pos
	}
}

// handOn hands the user to p: to its holder first, if the user is held.
func (l *latest) handOn(p users, again bool) error {
	if l.held {
		if h, ok := p.(holder); ok {
			if err := h.hold(l.user, l.heldAt); err != nil {
				return err
			}
		}
	}
	if len(l.rows) == 0 {
		return nil
	}
	return p.add(l.user, l.rows, again)
}

// superseder takes rows replaced by a later row for the same user and
// segment: an Output.
type superseder interface {
	Superseded(row reader.Row, by reader.Position) error
}

// users takes each user's rows from a grouper: the Packer, or the diff of
// rtseg sync. The rows hold each segment once, as latest leaves them; again
// says the user may have been handed on before.
type users interface {
	add(u reader.User, rows []reader.Row, again bool) error
	// Flush is told that no user follows.
	Flush() error
}

// indexFrom is the number of rows from which a map finds a segment faster
// than a look through the rows.
const indexFrom = 32

// add takes the user's next row. If the user already has a row for that
// segment, the new row takes its place and the old one is reported to out
// as superseded.
func (l *latest) add(row reader.Row, out superseder) error {
	seg := row.Segment()
	i := -1
	if l.index != nil {
		if j, ok := l.index[seg]; ok {
			i = j
		}
	} else {
		for j := range l.rows {
			if l.rows[j].Segment() == seg {
				i = j
				break
			}
		}
	}
	if i >= 0 {
		if err := out.Superseded(l.rows[i], row.Pos); err != nil {
			return err
		}
		l.rows[i] = row
		return nil
	}
	l.rows = append(l.rows, row)
	switch {
	case l.index != nil:
		l.index[seg] = len(l.rows) - 1
	case len(l.rows) == indexFrom:
		l.index = make(map[reader.Segment]int, 2*indexFrom)
		for j := range l.rows {
			l.index[l.rows[j].Segment()] = j
		}
	}
	return nil
}

// reset starts the next user, reusing the room of the last one's rows,
// which the packer has copied.
func (l *latest) reset(u reader.User) {
	clear(l.rows) // drop the text the rows point to
	l.user, l.rows, l.index = u, l.rows[:0], nil
	l.held, l.heldAt = false, reader.Position{}
}
