package xandrtest

import (
	"sort"
	"time"
)

// window counts events in every window (t-span, t] of the run, for limits
// that hold in every window rather than per calendar second. Each call is
// stamped when it arrives but counted when it gets the emulator's lock, so
// events may be added a little out of time order; every window an event
// falls in is checked, not only the one ending with it.
type window struct {
	span   time.Duration
	events []event // sorted by time
	newest time.Time
	max    int // the most ever counted in one window
}

type event struct {
	at time.Time
	n  int
}

func newWindow(span time.Duration) window { return window{span: span} }

// prune forgets events too old to share a window with any event still to
// come, which arrives at most a little before the newest one seen.
func (w *window) prune() {
	cut := 0
	horizon := w.newest.Add(-2 * w.span)
	for cut < len(w.events) && w.events[cut].at.Before(horizon) {
		cut++
	}
	w.events = w.events[cut:]
}

// count is the number of events in the window (t-span, t].
func (w *window) count(t time.Time) int {
	from := t.Add(-w.span)
	i := sort.Search(len(w.events), func(i int) bool { return w.events[i].at.After(t) })
	n := 0
	for i--; i >= 0 && w.events[i].at.After(from); i-- {
		n += w.events[i].n
	}
	return n
}

// peakWith is the most events any window holding at would count if n more
// were added at at.
func (w *window) peakWith(at time.Time, n int) int {
	peak := w.count(at) + n
	end := at.Add(w.span)
	i := sort.Search(len(w.events), func(i int) bool { return w.events[i].at.After(at) })
	for ; i < len(w.events) && w.events[i].at.Before(end); i++ {
		peak = max(peak, w.count(w.events[i].at)+n)
	}
	return peak
}

// fits reports whether n more events at at keep every window within limit,
// and otherwise roughly how long until they would.
func (w *window) fits(at time.Time, n, limit int) (bool, time.Duration) {
	if w.peakWith(at, n) <= limit {
		return true, 0
	}
	from := at.Add(-w.span)
	for _, e := range w.events {
		if e.at.After(from) {
			return false, max(e.at.Add(w.span).Sub(at), time.Millisecond)
		}
	}
	return false, w.span
}

// add counts n events at at.
func (w *window) add(at time.Time, n int) {
	w.max = max(w.max, w.peakWith(at, n))
	i := sort.Search(len(w.events), func(i int) bool { return w.events[i].at.After(at) })
	w.events = append(w.events, event{})
	copy(w.events[i+1:], w.events[i:])
	w.events[i] = event{at: at, n: n}
	if at.After(w.newest) {
		w.newest = at
	}
	w.prune()
}

// memberWindow returns a member's window of span in *m, making both as
// needed.
func memberWindow(m *map[int64]*window, member int64, span time.Duration) *window {
	if *m == nil {
		*m = map[int64]*window{}
	}
	w := (*m)[member]
	if w == nil {
		nw := newWindow(span)
		w = &nw
		(*m)[member] = w
	}
	return w
}
