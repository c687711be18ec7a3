package report

import (
	"testing"
	"time"
)

// However long the run, the series holds at most MaxPoints intervals and
// each of its counts adds up to what happened.
func TestSeriesWidensAndKeepsCounts(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := newSeries(start)
	var rows int64
	for sec := range 100_000 { // 27.8 hours, an event a second
		s.at(start.Add(time.Duration(sec) * time.Second)).Rows += 3
		rows += 3
		if len(s.points) > MaxPoints {
			t.Fatalf("after %d s the series holds %d points, more than %d", sec, len(s.points), MaxPoints)
		}
	}
	tp := s.throughput()
	if tp.IntervalSeconds != 128 {
		t.Errorf("interval after 100000 s = %v s, want 128 (doubled from 1 until 1000 points cover the run)", tp.IntervalSeconds)
	}
	var got int64
	for i, p := range tp.Points {
		got += p.Rows
		if want := float64(i) * 128; p.At != want {
			t.Fatalf("point %d starts at %v s, want %v", i, p.At, want)
		}
	}
	if got != rows {
		t.Errorf("the points hold %d rows, want %d", got, rows)
	}
	if !tp.Start.Equal(start) {
		t.Errorf("Start = %v, want %v", tp.Start, start)
	}
}

// The recorder's series adds up to its summary: users, requests,
// retries, 429s and rows settled.
func TestRecorderThroughputAddsUp(t *testing.T) {
	clock := steppingClock(time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC), 700*time.Millisecond)
	sum := recordWith(t, clock)
	tp := sum.Throughput
	if tp == nil || len(tp.Points) < 2 {
		t.Fatalf("throughput %+v, want several points", tp)
	}
	var p Point
	for _, q := range tp.Points {
		p.Users += q.Users
		p.Requests += q.Requests
		p.Retries += q.Retries
		p.Throttled += q.Throttled
		p.Rows += q.Rows
	}
	if p.Users != sum.Users || p.Requests != sum.Requests || p.Retries != sum.Retries || p.Throttled != sum.Throttled || p.Rows != sum.RowsRead {
		t.Errorf("the series adds up to %+v; the summary has users %d, requests %d, retries %d, throttled %d, rows %d",
			p, sum.Users, sum.Requests, sum.Retries, sum.Throttled, sum.RowsRead)
	}
	if tp.UsersPerSecond != 1000 {
		t.Errorf("users_per_second_limit = %d, want 1000", tp.UsersPerSecond)
	}
}

// steppingClock returns a clock that moves on by step at each reading.
func steppingClock(start time.Time, step time.Duration) func() time.Time {
	now := start.Add(-step)
	return func() time.Time {
		now = now.Add(step)
		return now
	}
}
