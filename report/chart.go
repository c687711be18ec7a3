package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
)

// chartView is an inline SVG chart: its text alternative (Title and Desc,
// and a table of its numbers when no table beside it has them), and its
// shapes in the chart's own coordinates.
type chartView struct {
	ID, Title, Desc string
	W, H            int
	// The plot area.
	Left, Top, Right, Bottom string
	Paths                    []chartPath
	Bars                     []chartBar
	Notes                    []chartNote
	YTicks, XTicks           []chartTick
	Legend                   []chartPath // Class and D as the label
	Head                     []string
	Rows                     [][]string
}

type chartPath struct{ Class, D string }

type chartBar struct{ Class, X, Y, W, H, Label string }

type chartNote struct{ Class, X, Y, Anchor, Text string }

type chartTick struct{ Pos, Label string }

const (
	chartW, chartH                                   = 760, 260
	plotLeft, plotRight, plotTop, plotBottom         = 72.0, 748.0, 36.0, 226.0
	markThrottledY, markRetriedY, markLen            = 6.0, 20.0, 10.0
	plotWidth, plotHeight                    float64 = plotRight - plotLeft, plotBottom - plotTop
)

// f formats a coordinate.
func f(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func newChart(id, title, desc string) *chartView {
	return &chartView{ID: id, Title: title, Desc: desc, W: chartW, H: chartH,
		Left: f(plotLeft), Top: f(plotTop), Right: f(plotRight), Bottom: f(plotBottom)}
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten, for the y axis.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// yTicks labels the y axis from 0 to top in four steps.
func (c *chartView) yTicks(top float64, y func(float64) float64) {
	for i := range 5 {
		v := top * float64(i) / 4
		label := strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
		if v == math.Trunc(v) {
			label = humanize.Comma(int64(v))
		}
		c.YTicks = append(c.YTicks, chartTick{Pos: f(y(v)), Label: label})
	}
}

// throughputChart draws users sent per second, interval by interval,
// against --users-per-second, with the intervals that had 429 answers or
// retries marked above; for rtseg validate, which sends nothing, rows
// settled per second. It is nil when the summary has no series.
func throughputChart(s *Summary, command string) *chartView {
	t := s.Throughput
	if t == nil || len(t.Points) == 0 || t.IntervalSeconds <= 0 {
		return nil
	}
	n := len(t.Points)
	per, unit := func(p Point) int64 { return p.Users }, "users"
	if command == "validate" {
		per, unit = func(p Point) int64 { return p.Rows }, "rows"
	}
	var peak, total float64
	peakAt, throttled, retried := 0, 0, 0
	for i, p := range t.Points {
		v := float64(per(p)) / t.IntervalSeconds
		if v > peak {
			peak, peakAt = v, i
		}
		total += float64(per(p))
		if p.Throttled > 0 {
			throttled++
		}
		if p.Retries > 0 {
			retried++
		}
	}
	span := float64(n) * t.IntervalSeconds
	limit := float64(t.UsersPerSecond)
	if command == "validate" {
		limit = 0
	}
	// A limit far above the peak would flatten the series against the
	// axis: it is then named above the chart rather than drawn.
	drawLimit := limit > 0 && peak*4 >= limit
	top := niceMax(peak * 1.1)
	if drawLimit {
		top = niceMax(max(peak, limit) * 1.1)
	}
	y := func(v float64) float64 { return plotBottom - v/top*plotHeight }
	step := plotWidth / float64(n)
	x := func(i int) float64 { return plotLeft + float64(i)*step }

	what := "Users sent per second"
	if command == "validate" {
		what = "Rows settled per second (nothing was sent)"
	}
	desc := fmt.Sprintf("%s over %s, in intervals of %s: at most %s (at %s), %s on average",
		what, seconds(span), seconds(t.IntervalSeconds), humanize.CommafWithDigits(peak, 1), seconds(float64(peakAt)*t.IntervalSeconds),
		humanize.CommafWithDigits(total/span, 1))
	if limit > 0 {
		desc += fmt.Sprintf(", against the limit of %s users/s", humanize.Comma(int64(limit)))
	}
	desc += "."
	if command != "validate" {
		desc += fmt.Sprintf(" 429 answers came in %s and retries in %s.", count(throttled, "interval"), count(retried, "interval"))
	}
	c := newChart("throughput", what+", against the limit", desc)
	if limit <= 0 {
		c.Title = what
	}

	var area strings.Builder
	fmt.Fprintf(&area, "M%s,%s", f(plotLeft), f(plotBottom))
	var marks429, marksRetry strings.Builder
	for i, p := range t.Points {
		fmt.Fprintf(&area, "V%sH%s", f(y(float64(per(p))/t.IntervalSeconds)), f(x(i+1)))
		mid := f(x(i) + step/2)
		if p.Throttled > 0 {
			fmt.Fprintf(&marks429, "M%s,%sv%s", mid, f(markThrottledY), f(markLen))
		}
		if p.Retries > 0 {
			fmt.Fprintf(&marksRetry, "M%s,%sv%s", mid, f(markRetriedY), f(markLen))
		}
	}
	fmt.Fprintf(&area, "V%sZ", f(plotBottom))
	c.Paths = append(c.Paths, chartPath{"area", area.String()})
	switch {
	case drawLimit:
		c.Paths = append(c.Paths, chartPath{"limit", fmt.Sprintf("M%s,%sH%s", f(plotLeft), f(y(limit)), f(plotRight))})
		c.Notes = append(c.Notes, chartNote{"limit", f(plotRight - 4), f(y(limit) - 5), "end", "limit " + humanize.Comma(int64(limit)) + " users/s"})
	case limit > 0:
		c.Notes = append(c.Notes, chartNote{"limit", f(plotLeft + 6), f(plotTop + 12), "start", "limit " + humanize.Comma(int64(limit)) + " users/s, far above"})
	}
	if marks429.Len() > 0 {
		c.Paths = append(c.Paths, chartPath{"throttled", marks429.String()})
	}
	if marksRetry.Len() > 0 {
		c.Paths = append(c.Paths, chartPath{"retried", marksRetry.String()})
	}
	c.yTicks(top, y)
	last := -1
	for i := range 5 {
		k := n * i / 4
		if k == last {
			continue
		}
		last = k
		c.XTicks = append(c.XTicks, chartTick{Pos: f(x(k)), Label: seconds(float64(k) * t.IntervalSeconds)})
	}
	c.Legend = []chartPath{{"area", unit + "/s"}}
	if drawLimit {
		c.Legend = append(c.Legend, chartPath{"limit", "--users-per-second"})
	}
	if command != "validate" {
		c.Legend = append(c.Legend, chartPath{"throttled", "429 answers"}, chartPath{"retried", "retries"})
	}
	c.Head = []string{"From", "Users", "Users/s", "Requests", "Retries", "429 answers", "Rows settled"}
	for i, p := range t.Points {
		c.Rows = append(c.Rows, []string{seconds(float64(i) * t.IntervalSeconds), humanize.Comma(p.Users),
			humanize.CommafWithDigits(float64(p.Users)/t.IntervalSeconds, 1), humanize.Comma(p.Requests),
			humanize.Comma(p.Retries), humanize.Comma(p.Throttled), humanize.Comma(p.Rows)})
	}
	return c
}

// hoursChart draws, hour by hour, the users the run sent beside the valid
// users the service counted. The hours' table beside it gives the numbers.
func hoursChart(hours []hourRow) *chartView {
	n := len(hours)
	if n == 0 {
		return nil
	}
	var peak float64
	var run, service int64
	for _, h := range hours {
		peak = max(peak, float64(h.RunUsers), float64(h.ValidUsers))
		run += h.RunUsers
		service += h.ValidUsers
	}
	top := niceMax(peak * 1.1)
	y := func(v float64) float64 { return plotBottom - v/top*plotHeight }
	group := plotWidth / float64(n)
	bar := group * 0.38
	desc := fmt.Sprintf("Users per hour from %s to %s UTC, the run's beside the service's valid users: the run sent %s, the service counted %s. The table below gives each hour.",
		hours[0].Hour, hours[n-1].Hour, humanize.Comma(run), humanize.Comma(service))
	c := newChart("hours", "Users per hour: what the run sent, what the service counted", desc)
	for i, h := range hours {
		x0 := plotLeft + float64(i)*group + group*0.1
		for k, b := range []struct {
			class string
			v     int64
		}{{"run", h.RunUsers}, {"service", h.ValidUsers}} {
			c.Bars = append(c.Bars, chartBar{Class: b.class, X: f(x0 + float64(k)*bar), Y: f(y(float64(b.v))), W: f(bar),
				H: f(plotBottom - y(float64(b.v))), Label: fmt.Sprintf("%s: %s", h.Hour, humanize.Comma(b.v))})
		}
	}
	c.yTicks(top, y)
	for k, i := range []int{0, n / 2, n - 1} {
		if k > 0 && (i == 0 || k == 1 && i == n-1) {
			continue // one label an hour
		}
		label := hours[i].Hour
		if len(label) >= 16 {
			label = label[5:16]
		}
		c.XTicks = append(c.XTicks, chartTick{Pos: f(plotLeft + (float64(i)+0.5)*group), Label: label})
	}
	c.Legend = []chartPath{{"run", "the run's users"}, {"service", "the service's valid users"}}
	return c
}
