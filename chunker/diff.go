package chunker

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rtseg/rtseg/reader"
)

// StateRows is the delivered state, read in its order (by user, then
// segment): reader's StateReader.
type StateRows interface {
	// Next returns the next association, which stays valid until the
	// next call; io.EOF ends the state.
	Next() (*reader.Delivered, error)
}

// Mode says what rtseg sync does with an association delivered before and
// absent from the snapshot.
type Mode int

const (
	// Mirror removes it (--mode mirror, the default).
	Mirror Mode = iota
	// Upsert leaves it to expire (--mode upsert).
	Upsert
)

// ParseMode reads --mode.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "mirror", "":
		return Mirror, nil
	case "upsert":
		return Upsert, nil
	}
	return 0, fmt.Errorf("--mode %q: want mirror or upsert", s)
}

// DiffConfig says how rtseg sync compares the snapshot with the delivered
// state.
type DiffConfig struct {
	Mode Mode
	// Full sends every association of the snapshot, changed or not.
	Full bool
	// Now is when the run started: lifetimes are measured against it.
	Now time.Time
	// RefreshBefore sends again an association whose lifetime at the
	// service ends before Now plus this.
	RefreshBefore time.Duration
	// DefaultLifetime is the lifetime the member's default expiration
	// gives an association delivered without one; 0 for never.
	DefaultLifetime time.Duration
}

// lifetimeEnd is when a delivered association ends at the service, or
// false when it never does.
func (c *DiffConfig) lifetimeEnd(old *reader.Row, at time.Time) (time.Time, bool) {
	switch {
	case old.HasExpiration && old.Expiration == reader.ExpirationNever:
		return time.Time{}, false
	case old.HasExpiration:
		return at.Add(time.Duration(old.Expiration) * time.Minute), true
	case c.DefaultLifetime > 0:
		return at.Add(c.DefaultLifetime), true
	}
	return time.Time{}, false
}

// RemovalLimit is --max-removals: how many associations one sync may
// remove, as a count or a percentage of those delivered.
type RemovalLimit struct {
	text    string
	count   int64
	percent float64
	isPct   bool
}

// ParseRemovalLimit reads --max-removals: "N" or "P%".
func ParseRemovalLimit(s string) (RemovalLimit, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
			return RemovalLimit{}, fmt.Errorf("--max-removals %q: want a count or a percentage from 0%% to 100%%", s)
		}
		return RemovalLimit{text: s, percent: v, isPct: true}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return RemovalLimit{}, fmt.Errorf("--max-removals %q: want a count or a percentage such as 10%%", s)
	}
	return RemovalLimit{text: s, count: n}, nil
}

// Allows reports whether removing n of the delivered associations is
// within the limit.
func (l RemovalLimit) Allows(n, delivered int64) bool {
	if l.isPct {
		return float64(n) <= l.percent/100*float64(delivered)
	}
	return n <= l.count
}

func (l RemovalLimit) String() string { return l.text }

// RemovalsError refuses a sync that would remove more associations than
// --max-removals allows: most likely a truncated or empty export.
type RemovalsError struct {
	Removals, Delivered int64
	Limit               RemovalLimit
}

func (e *RemovalsError) Error() string {
	pct := 100.0
	if e.Delivered > 0 {
		pct = 100 * float64(e.Removals) / float64(e.Delivered)
	}
	return fmt.Sprintf("the snapshot would remove %d of the %d delivered associations (%.1f%%), more than --max-removals %s allows; nothing was sent",
		e.Removals, e.Delivered, pct, e.Limit)
}

// Hint says what to check and how to go on.
func (e *RemovalsError) Hint() string {
	return "check that the export is complete; see what would be removed with --dry-run --report-all; if the removals are meant, raise --max-removals (e.g. --max-removals 100%), or use --mode upsert to remove nothing"
}

// OrderError is sorted input (--sorted) whose users are not in the
// state's order, which rtseg sync needs to compare them in one pass.
type OrderError struct {
	Pos        reader.Position
	User, Prev reader.User
}

func (e *OrderError) Error() string {
	return fmt.Sprintf("%s: user %s comes after user %s: with --sorted, the snapshot must be sorted by domain, then user_id, byte-wise, each user once", e.Pos, showUser(e.User), showUser(e.Prev))
}

// Hint says how to sort the input, or do without.
func (e *OrderError) Hint() string {
	return `leave out --sorted to have rtseg group the rows (spilling past --group-memory), or sort the export by domain (empty first), then user_id with a byte-wise collation (e.g. ORDER BY coalesce(domain, ''), user_id COLLATE "C")`
}

func showUser(u reader.User) string {
	if u.Domain == "" {
		return strconv.Quote(u.ID)
	}
	return u.Domain + ":" + strconv.Quote(u.ID)
}

// differ compares each user's rows of the snapshot, as a grouper hands
// them on in the state's order, with the delivered state, and writes the
// plan. After a failure (input out of order, a damaged state) it hands the
// users it gets to fallback, which accounts for their rows unsent.
type differ struct {
	cfg   *DiffConfig
	state StateRows
	plan  *Plan
	out   SyncOutcomes

	peek    *reader.Delivered
	hasPeek bool
	stateOK bool // the state has been read to its end
	order   []int
	last    reader.User
	started bool
	// refreshBy is when a lifetime must end at the latest for an
	// unchanged association to stay unsent.
	refreshBy time.Time
	// unchanged are rows decided unchanged, handed to out in batches.
	unchanged []reader.Row
	// held is the last user with rows the snapshot could not read;
	// holdNext lets the next add be for that user.
	held              reader.User
	hasHeld, holdNext bool

	err      error
	fail     func(error)
	fallback users
}

// unchangedBatch is how many unchanged rows go to out at once.
const unchangedBatch = 512

// fill reads the state's next association into peek.
func (d *differ) fill() error {
	if d.hasPeek || d.stateOK || d.state == nil {
		return nil
	}
	var err error
	d.peek, err = d.state.Next()
	switch {
	case errors.Is(err, io.EOF):
		d.stateOK = true
		return nil
	case err != nil:
		return err
	}
	d.hasPeek = true
	return nil
}

// failed records the first failure and stops the run.
func (d *differ) failed(err error) {
	if d.err == nil {
		d.err = err
		d.fail(err)
	}
}

// next checks that u comes after the users before it, and decides for the
// associations of the state whose users come before it.
func (d *differ) next(u reader.User, pos reader.Position, again bool) bool {
	same := d.holdNext && u == d.held
	d.holdNext = false
	if again || d.started && !same && reader.CompareUsers(u, d.last) <= 0 {
		d.failed(&OrderError{Pos: pos, User: u, Prev: d.last})
		return false
	}
	d.started, d.last = true, u
	if err := d.absentBefore(u, false); err != nil {
		d.failed(err)
		return false
	}
	return true
}

// hold takes a user with rows in the snapshot that could not be read
// (invalid), before add takes its valid rows if it has any. An invalid row
// is no evidence that an association is gone: the user's associations
// absent from the snapshot are kept, not removed.
func (d *differ) hold(u reader.User, pos reader.Position) error {
	if d.err != nil || !d.next(u, pos, false) {
		return nil
	}
	d.held, d.hasHeld, d.holdNext = u, true, true
	return nil
}

func (d *differ) add(u reader.User, rows []reader.Row, again bool) error {
	if d.err != nil || !d.next(u, rows[0].Pos, again) {
		return d.fallback.add(u, rows, false)
	}
	// The snapshot's rows, in segment order.
	order := d.order[:0]
	sorted := true
	for i := range rows {
		order = append(order, i)
		sorted = sorted && (i == 0 || compareSegment(&rows[i-1], &rows[i]) < 0)
	}
	if !sorted {
		slices.SortFunc(order, func(i, j int) int { return compareSegment(&rows[i], &rows[j]) })
	}
	d.order = order
	// Merged with the state's rows of the user, which come in segment
	// order too.
	i := 0
	for {
		if err := d.fill(); err != nil {
			d.failed(err)
			if i == len(order) {
				return nil
			}
			return d.fallback.add(u, d.rest(rows, order[i:]), false)
		}
		if !d.hasPeek || d.peek.Row.UserID != u.ID || d.peek.Row.Domain != u.Domain {
			break
		}
		c := 1
		if i < len(order) {
			c = compareSegment(&rows[order[i]], &d.peek.Row)
		}
		var err error
		switch {
		case c < 0:
			err = d.decide(&rows[order[i]], nil)
			i++
		case c > 0:
			err = d.absent(d.peek)
			d.hasPeek = false
		default:
			err = d.decide(&rows[order[i]], d.peek)
			d.hasPeek = false
			i++
		}
		if err != nil {
			return err
		}
	}
	for ; i < len(order); i++ {
		if err := d.decide(&rows[order[i]], nil); err != nil {
			return err
		}
	}
	return nil
}

// rest returns the rows at the given indexes, which the diff did not
// decide for.
func (d *differ) rest(rows []reader.Row, idx []int) []reader.Row {
	out := make([]reader.Row, len(idx))
	for k, i := range idx {
		out[k] = rows[i]
	}
	return out
}

// decide compares a snapshot row with the association delivered, if any.
func (d *differ) decide(row *reader.Row, old *reader.Delivered) error {
	var a Action
	switch {
	case row.Removes() && old == nil:
		a = Unchanged
	case row.Removes():
		a = Removed
	case old == nil:
		a = Added
	case !sameAssoc(row, &old.Row):
		a = Changed
	case d.cfg.Full:
		a = Refreshed
	default:
		a = Unchanged
		if end, ok := d.cfg.lifetimeEnd(&old.Row, old.At); ok && end.Before(d.refreshBy) {
			a = Refreshed
		}
	}
	if a == Unchanged {
		d.unchanged = append(d.unchanged, *row)
		if len(d.unchanged) == unchangedBatch {
			d.report()
		}
		if old != nil {
			// The snapshot's row is the same as the one delivered.
			return d.plan.add(a, old, nil)
		}
	}
	return d.plan.add(a, old, row)
}

// report hands the unchanged rows decided so far to out.
func (d *differ) report() {
	if len(d.unchanged) > 0 {
		d.out.Unchanged(d.unchanged)
		clear(d.unchanged) // drop the text the rows point to
		d.unchanged = d.unchanged[:0]
	}
}

// absent decides for an association delivered and absent from the
// snapshot.
func (d *differ) absent(old *reader.Delivered) error {
	a := Removed
	switch end, ok := d.cfg.lifetimeEnd(&old.Row, old.At); {
	case ok && !end.After(d.cfg.Now):
		a = Expired
	case d.cfg.Mode == Upsert:
		a = Kept
	case d.hasHeld && old.Row.UserID == d.held.ID && old.Row.Domain == d.held.Domain:
		a = Kept
	}
	return d.plan.add(a, old, nil)
}

// absentBefore decides for every association of the state whose user
// comes before u, or for all that are left with all.
func (d *differ) absentBefore(u reader.User, all bool) error {
	for {
		if err := d.fill(); err != nil {
			return err
		}
		if !d.hasPeek || !all && reader.CompareUsers(d.peek.Row.User(), u) >= 0 {
			return nil
		}
		d.hasPeek = false
		if err := d.absent(d.peek); err != nil {
			return err
		}
	}
}

// Flush decides for the rest of the state, after the last user.
func (d *differ) Flush() error {
	if d.err == nil {
		if err := d.absentBefore(reader.User{}, true); err != nil {
			d.failed(err)
		}
	}
	d.report()
	if err := d.plan.finish(); err != nil {
		d.failed(err)
	}
	return nil
}

// sameAssoc reports whether two rows of one association give it the same
// value and expiration.
func sameAssoc(a, b *reader.Row) bool {
	return a.HasValue == b.HasValue && (!a.HasValue || a.Value == b.Value) &&
		a.HasExpiration == b.HasExpiration && (!a.HasExpiration || a.Expiration == b.Expiration)
}
