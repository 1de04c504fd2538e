package ui

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// budget keeps the history the budget chart draws: the total of Domo requests sent, sampled
// every few seconds from the bridge's own counter, for the last hour.
type budget struct {
	mu      sync.Mutex
	samples []sample
	keep    time.Duration
}

type sample struct {
	at    time.Time
	total float64
}

// point is one point of the chart: Domo requests in the minute up to At.
type point struct {
	At        int64   `json:"t"` // Unix seconds
	PerMinute float64 `json:"perMinute"`
}

func (b *budget) add(at time.Time, total float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := len(b.samples); n > 0 && total < b.samples[n-1].total {
		b.samples = b.samples[:0] // a counter that went down: another registry, start again
	}
	b.samples = append(b.samples, sample{at, total})
	cut := at.Add(-b.keep - time.Minute)
	i := 0
	for i < len(b.samples)-1 && b.samples[i].at.Before(cut) {
		i++
	}
	b.samples = b.samples[i:]
}

// points turns the samples into requests per minute: for each sample, the requests sent in
// the minute before it (or since the first sample, scaled to a minute, while there is less
// than a minute of history).
func (b *budget) points() []point {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []point
	j := 0
	for i, s := range b.samples {
		if i == 0 {
			continue
		}
		for j < i-1 && s.at.Sub(b.samples[j+1].at) >= time.Minute {
			j++
		}
		base := b.samples[j]
		span := s.at.Sub(base.at)
		if span <= 0 {
			continue
		}
		// Scaled to a minute: the window is a minute give or take a sample, or shorter while
		// there is less history.
		per := (s.total - base.total) * float64(time.Minute) / float64(span)
		out = append(out, point{At: s.at.Unix(), PerMinute: per})
	}
	if len(out) > 0 && len(b.samples) > 0 && b.samples[len(b.samples)-1].at.Sub(b.samples[0].at) > b.keep {
		from := b.samples[len(b.samples)-1].at.Add(-b.keep).Unix()
		k := 0
		for k < len(out) && out[k].At < from {
			k++
		}
		out = out[k:]
	}
	return out
}

// chart is the inline SVG of the budget chart, drawn server-side so that the page shows it
// without its script; the script redraws it from /ui/live.
type chart struct {
	Width, Height int
	Line          string // polyline points
	LimitY        float64
	Limit         int
	Max           float64
	Last          float64
	Empty         bool
}

const chartW, chartH = 640, 160

func drawChart(pts []point, limit int) chart {
	c := chart{Width: chartW, Height: chartH, Limit: limit, Empty: len(pts) < 2}
	top := float64(limit)
	for _, p := range pts {
		top = max(top, p.PerMinute)
		c.Max = max(c.Max, p.PerMinute)
	}
	if top <= 0 {
		top = 1
	}
	top *= 1.1
	if len(pts) > 0 {
		c.Last = pts[len(pts)-1].PerMinute
	}
	c.LimitY = float64(chartH) - float64(limit)/top*float64(chartH)
	if len(pts) < 2 {
		return c
	}
	t0, t1 := pts[0].At, pts[len(pts)-1].At
	span := float64(max(t1-t0, 1))
	var sb strings.Builder
	for i, p := range pts {
		if i > 0 {
			sb.WriteByte(' ')
		}
		x := float64(p.At-t0) / span * float64(chartW)
		y := float64(chartH) - p.PerMinute/top*float64(chartH)
		fmt.Fprintf(&sb, "%.1f,%.1f", x, y)
	}
	c.Line = sb.String()
	return c
}
