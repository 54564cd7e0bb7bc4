package templates

import (
	"fmt"
	"strconv"
	"time"
)

// Chart geometry, in SVG user units (the SVG scales to its container).
const (
	chartW      = 720
	chartH      = 220
	chartLeft   = 44
	chartRight  = 8
	chartTop    = 12
	chartBottom = 26
	maxSeries   = 8 // colour classes s0…s7; more series are summed into "Other"
)

// Series is one stacked quantity of a chart: a value per day.
type Series struct {
	Name   string
	Values []int // one per day of the chart
}

// Chart is a stacked bar chart, one stack per day, drawn as inline SVG in
// the page (no script, no third-party library), with its data as a table.
type Chart struct {
	ID      string // prefix of the element IDs
	Title   string
	Summary string // one sentence read before the chart
	Width   int
	Height  int
	Bars    []Bar
	YTicks  []Tick
	XTicks  []Tick
	Legend  []LegendItem
	Days    []string // table rows
	Series  []Series // table columns
	Empty   bool     // every value is zero
	// ShowLegend names the series under the chart (always when there are
	// several).
	ShowLegend bool
	Base       float64 // y of the x axis
	Left       float64 // x of the y axis
	Right      float64 // x of the plot's right edge
}

// Bar is one rectangle of a stack.
type Bar struct {
	X, Y, W, H float64
	Class      string // s0…s7
	Label      string // its tooltip, e.g. "Mar 3 · PAD_ATTACK: 2"
}

// Tick is a labelled position on an axis.
type Tick struct {
	Pos   float64
	Label string
}

// LegendItem names a series' colour.
type LegendItem struct {
	Class string
	Name  string
}

// NewChart lays out a stacked bar chart of series over days; the series
// take the colours s{colour}, s{colour+1}…
func NewChart(id, title string, days []time.Time, series []Series, colour int) Chart {
	series = foldSeries(series, len(days))
	c := Chart{ID: id, Title: title, Width: chartW, Height: chartH, Series: series,
		Base: chartH - chartBottom, Left: chartLeft, Right: chartW - chartRight}
	totals := make([]int, len(days))
	sum := 0
	for _, s := range series {
		for i, v := range s.Values {
			totals[i] += v
			sum += v
		}
	}
	top := 0
	for _, t := range totals {
		top = max(top, t)
	}
	scaleMax := niceCeil(top)
	plotH := float64(chartH - chartTop - chartBottom)
	plotW := float64(chartW - chartLeft - chartRight)
	ticks := []int{0, scaleMax}
	if scaleMax%2 == 0 {
		ticks = []int{0, scaleMax / 2, scaleMax}
	}
	for _, v := range ticks {
		c.YTicks = append(c.YTicks, Tick{Pos: c.Base - plotH*float64(v)/float64(scaleMax), Label: strconv.Itoa(v)})
	}
	n := max(1, len(days))
	slot := plotW / float64(n)
	barW := max(1, slot*0.72)
	every := max(1, (n+5)/6)
	for i, d := range days {
		x := chartLeft + slot*float64(i) + (slot-barW)/2
		label := d.Format("Jan 2")
		c.Days = append(c.Days, label)
		if i%every == 0 || i == n-1 && (n-1)%every >= (every+1)/2 {
			c.XTicks = append(c.XTicks, Tick{Pos: x + barW/2, Label: label})
		}
		y := c.Base
		for si, s := range series {
			v := s.Values[i]
			if v == 0 {
				continue
			}
			h := plotH * float64(v) / float64(scaleMax)
			y -= h
			c.Bars = append(c.Bars, Bar{X: round1(x), Y: round1(y), W: round1(barW), H: round1(h),
				Class: colourClass(colour + si), Label: fmt.Sprintf("%s · %s: %d", label, s.Name, v)})
		}
	}
	for si, s := range series {
		c.Legend = append(c.Legend, LegendItem{Class: colourClass(colour + si), Name: s.Name})
	}
	c.ShowLegend = len(series) > 1
	c.Empty = sum == 0
	switch {
	case c.Empty:
		c.Summary = fmt.Sprintf("%s: none in the last %d days.", title, len(days))
	default:
		c.Summary = fmt.Sprintf("%s: %d in the last %d days, at most %d on one day.", title, sum, len(days), top)
	}
	return c
}

// foldSeries keeps the first maxSeries-1 series and sums the others into
// "Other", and pads every series to n values.
func foldSeries(in []Series, n int) []Series {
	out := make([]Series, 0, min(len(in), maxSeries))
	for i, s := range in {
		vals := make([]int, n)
		copy(vals, s.Values)
		if i < maxSeries-1 || len(in) == maxSeries {
			out = append(out, Series{Name: s.Name, Values: vals})
			continue
		}
		if i == maxSeries-1 {
			out = append(out, Series{Name: "Other", Values: vals})
			continue
		}
		for j := range vals {
			out[maxSeries-1].Values[j] += vals[j]
		}
	}
	return out
}

// niceCeil returns the smallest of 1, 2, 4, 5, 10, 20, 40, 50, 100, … that is
// at least v (and even, above 1, so the middle tick is whole).
func niceCeil(v int) int {
	if v <= 1 {
		return 1
	}
	for mag := 1; ; mag *= 10 {
		for _, m := range []int{2, 4, 5, 10} {
			if m*mag >= v {
				return m * mag
			}
		}
	}
}

func colourClass(i int) string { return fmt.Sprintf("s%d", i%maxSeries) }

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }

// Fmt formats a chart coordinate for an SVG attribute.
func Fmt(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
