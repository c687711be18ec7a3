package report

import (
	"math"
	"time"
)

// Throughput is what a run did over time, interval by interval from its
// start: the users and requests sent (counted when their last attempt went
// out), the retries and 429 answers among those attempts, and the rows
// that got their outcome. The interval starts at one second and doubles
// whenever the run outgrows MaxPoints intervals, so the series stays small
// whatever the run's length; each count adds up to the summary's.
type Throughput struct {
	// Start is when the first interval starts, in UTC.
	Start           time.Time `json:"start"`
	IntervalSeconds float64   `json:"interval_seconds"`
	// UsersPerSecond is the run's --users-per-second; 0 for rtseg
	// validate, which sends nothing.
	UsersPerSecond int     `json:"users_per_second_limit,omitempty"`
	Points         []Point `json:"points"`
}

// Point is one interval; At is its start, in seconds from the run's.
type Point struct {
	At        float64 `json:"at"`
	Users     int64   `json:"users,omitempty"`
	Requests  int64   `json:"requests,omitempty"`
	Retries   int64   `json:"retries,omitempty"`
	Throttled int64   `json:"throttled,omitempty"`
	Rows      int64   `json:"rows,omitempty"`
}

// MaxPoints bounds the series.
const MaxPoints = 1000

// series builds a Throughput from events as they happen.
type series struct {
	start    time.Time
	interval time.Duration
	points   []Point
}

func newSeries(start time.Time) *series {
	return &series{start: start, interval: time.Second}
}

// at returns the interval holding t, widening the intervals as needed. A
// time before the start counts in the first.
func (s *series) at(t time.Time) *Point {
	d := max(t.Sub(s.start), 0)
	i := int(d / s.interval)
	for i >= MaxPoints {
		s.widen()
		i = int(d / s.interval)
	}
	for len(s.points) <= i {
		s.points = append(s.points, Point{})
	}
	return &s.points[i]
}

// widen doubles the interval, adding each pair of intervals into one.
func (s *series) widen() {
	s.interval *= 2
	n := (len(s.points) + 1) / 2
	for i := range n {
		p := s.points[2*i]
		if 2*i+1 < len(s.points) {
			q := s.points[2*i+1]
			p.Users += q.Users
			p.Requests += q.Requests
			p.Retries += q.Retries
			p.Throttled += q.Throttled
			p.Rows += q.Rows
		}
		s.points[i] = p
	}
	s.points = s.points[:n]
}

// throughput is the series as the summary gives it.
func (s *series) throughput() *Throughput {
	t := &Throughput{Start: s.start.UTC(), IntervalSeconds: s.interval.Seconds(), Points: make([]Point, len(s.points))}
	for i, p := range s.points {
		p.At = math.Round(float64(i)*s.interval.Seconds()*1000) / 1000
		t.Points[i] = p
	}
	return t
}
