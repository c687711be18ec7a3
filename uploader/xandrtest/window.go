package xandrtest

import "time"

// window counts events over the last second, for limits that hold in every
// one-second window.
type window struct {
	events []event
	total  int
	max    int // the most ever counted in one window
}

type event struct {
	at time.Time
	n  int
}

func (w *window) prune(now time.Time) {
	cut := 0
	for cut < len(w.events) && !w.events[cut].at.After(now.Add(-time.Second)) {
		w.total -= w.events[cut].n
		cut++
	}
	w.events = w.events[cut:]
}

// fits reports whether n more events at now stay within limit, and when the
// oldest counted event leaves the window otherwise.
func (w *window) fits(now time.Time, n, limit int) (bool, time.Duration) {
	w.prune(now)
	if w.total+n <= limit {
		return true, 0
	}
	if len(w.events) == 0 {
		return false, time.Second
	}
	return false, w.events[0].at.Add(time.Second).Sub(now)
}

func (w *window) add(now time.Time, n int) {
	w.prune(now)
	w.events = append(w.events, event{at: now, n: n})
	w.total += n
	if w.total > w.max {
		w.max = w.total
	}
}
