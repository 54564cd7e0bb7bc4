package eval

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sort"
	"strings"

	"github.com/likeness/likeness/engine"
)

// The age fit: how engine/age_table.go is made
// (`likeness eval --age --faces ../shared/age --fit engine/age_table.go`).
//
//  1. Readout. A ridge regression of min(age, 40) on the face embedding
//     (512 values) plus fr_age.onnx's own estimate, over the faces whose
//     frame is reliable (engine.AgeReliable). fr_age.onnx on its own barely
//     tells a child from an adult (docs/age.md); the embedding carries far
//     more. Ages above 40 count as 40 so that the fit spends itself on
//     telling 10 from 30 rather than 50 from 80. The penalty ageLambda and
//     the cap were chosen among a few values (λ 1e-4…3, cap 25…50 or none)
//     by the outer cross-validation below, a mild optimism the goals'
//     headroom covers.
//  2. Calibration. Scores are cross-fitted (each face scored by a readout
//     fitted on the other folds), cut into ageBins equal-count bins, and the
//     true age is regressed on the bin means by isotonic regression (pool
//     adjacent violators): a non-decreasing table from score to years.
//  3. Margin. On the calibrated cross-fitted estimates, the threshold for
//     minimum age 18 is the lowest that accepts at most ageGoalMinors of the
//     13–17-year-olds and ageGoalChildren of the 0–12-year-olds; the margin
//     ratio is threshold/18 − 1, applied to every minimum age
//     (threshold = minimumAge × (1 + ratio)), as the estimate's error grows
//     with age.
//
// Folds are fixed by a hash of the file name (foldOf). Honest numbers come
// from running the whole procedure (1–3) inside an outer cross-validation
// and deciding each outer fold with a fit that never saw it (AgeFit.HeldOut).
const (
	ageFolds        = 5
	ageLambda       = 0.0001 // ridge penalty; the embedding has unit norm
	ageCap          = 40     // years: older ages count as this in the readout's fit
	ageBins         = 60
	ageGoalMinors   = 0.03
	ageGoalChildren = 0.005
	ageGoalAge      = 18
)

// AgeFit is a fitted readout, calibration and margin, with its held-out
// error rates.
type AgeFit struct {
	Weights     []float64    `json:"weights"` // embedding…, SSR-Net estimate
	Bias        float64      `json:"bias"`
	Calibration [][2]float64 `json:"calibration"` // (score, years), non-decreasing
	MarginRatio float64      `json:"marginRatio"`
	// HeldOut is the gate's outer-cross-validated error at minimum age 18,
	// with every fold decided by a fit made without it.
	HeldOut AgeSummary `json:"heldOut"`
	// HeldOutBands is the outer-cross-validated age table.
	HeldOutBands []AgeBand `json:"heldOutBands"`
	Samples      int       `json:"samples"`
}

type fitRow struct {
	x    []float64
	y    float64 // min(age, ageCap)
	age  float64
	fold int
	s    *AgeSample
}

// foldOf assigns a file to a fold by a hash of its name: deterministic and
// independent of the age.
func foldOf(name string, k int) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % uint32(k))
}

func fitRows(samples []AgeSample) []fitRow {
	var rows []fitRow
	for i := range samples {
		s := &samples[i]
		if s.Frame == nil || len(s.Embedding) != engine.EmbeddingDim || !engine.AgeReliable(*s.Frame) {
			continue
		}
		x := make([]float64, 0, engine.EmbeddingDim+1)
		for _, v := range s.Embedding {
			x = append(x, float64(v))
		}
		x = append(x, float64(s.Frame.SSR)/100)
		rows = append(rows, fitRow{x: x, y: math.Min(float64(s.Age), ageCap), age: float64(s.Age), fold: foldOf(s.Path, ageFolds), s: s})
	}
	return rows
}

// gram holds XᵀX, Xᵀy, Σx, Σy and n of a set of rows.
type gram struct {
	xx     []float64
	xy, sx []float64
	sy     float64
	n      float64
}

func newGram(d int) *gram {
	return &gram{xx: make([]float64, d*d), xy: make([]float64, d), sx: make([]float64, d)}
}

func (g *gram) add(r fitRow) {
	d := len(r.x)
	for i, a := range r.x {
		if a == 0 {
			continue
		}
		row := g.xx[i*d:]
		for j := i; j < d; j++ {
			row[j] += a * r.x[j]
		}
		g.xy[i] += a * r.y
		g.sx[i] += a
	}
	g.sy += r.y
	g.n++
}

func (g *gram) plus(o *gram) {
	for i := range g.xx {
		g.xx[i] += o.xx[i]
	}
	for i := range g.xy {
		g.xy[i] += o.xy[i]
		g.sx[i] += o.sx[i]
	}
	g.sy += o.sy
	g.n += o.n
}

// ridge solves for centred weights: (Cov + λI) w = Cxy, bias from the means.
func (g *gram) ridge(lambda float64) ([]float64, float64, error) {
	d := len(g.xy)
	a := make([]float64, d*d)
	b := make([]float64, d)
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			v := g.xx[i*d+j] - g.sx[i]*g.sx[j]/g.n
			a[i*d+j], a[j*d+i] = v, v
		}
		a[i*d+i] += lambda
		b[i] = g.xy[i] - g.sx[i]*g.sy/g.n
	}
	// Cholesky: a = L Lᵀ, in place (lower triangle).
	for j := 0; j < d; j++ {
		s := a[j*d+j]
		for k := 0; k < j; k++ {
			s -= a[j*d+k] * a[j*d+k]
		}
		if s <= 0 {
			return nil, 0, errors.New("ridge: matrix not positive definite")
		}
		a[j*d+j] = math.Sqrt(s)
		for i := j + 1; i < d; i++ {
			s := a[i*d+j]
			for k := 0; k < j; k++ {
				s -= a[i*d+k] * a[j*d+k]
			}
			a[i*d+j] = s / a[j*d+j]
		}
	}
	for i := 0; i < d; i++ { // L z = b
		s := b[i]
		for k := 0; k < i; k++ {
			s -= a[i*d+k] * b[k]
		}
		b[i] = s / a[i*d+i]
	}
	for i := d - 1; i >= 0; i-- { // Lᵀ w = z
		s := b[i]
		for k := i + 1; k < d; k++ {
			s -= a[k*d+i] * b[k]
		}
		b[i] = s / a[i*d+i]
	}
	bias := g.sy / g.n
	for i := range b {
		bias -= b[i] * g.sx[i] / g.n
	}
	return b, bias, nil
}

func score(w []float64, bias float64, x []float64) float64 {
	s := bias
	for i, v := range x {
		s += w[i] * v
	}
	return s
}

// isotonic fits a non-decreasing table from score to age: equal-count bins
// of the (score, age) pairs, then pool adjacent violators on the bin means.
func isotonic(scores, ages []float64, bins int) [][2]float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	type block struct{ x, y, w float64 }
	var bl []block
	for b := 0; b < bins; b++ {
		lo, hi := b*len(idx)/bins, (b+1)*len(idx)/bins
		if hi <= lo {
			continue
		}
		var sx, sy float64
		for _, i := range idx[lo:hi] {
			sx += scores[i]
			sy += ages[i]
		}
		w := float64(hi - lo)
		bl = append(bl, block{sx / w, sy / w, w})
		for len(bl) > 1 && bl[len(bl)-2].y >= bl[len(bl)-1].y {
			p, q := bl[len(bl)-2], bl[len(bl)-1]
			w := p.w + q.w
			bl = append(bl[:len(bl)-2], block{(p.x*p.w + q.x*q.w) / w, (p.y*p.w + q.y*q.w) / w, w})
		}
	}
	t := make([][2]float64, len(bl))
	for i, b := range bl {
		t[i] = [2]float64{round4(b.x), round2(b.y)}
	}
	return t
}

func interp(t [][2]float64, x float64) float64 {
	if x <= t[0][0] {
		return t[0][1]
	}
	for i := 1; i < len(t); i++ {
		if x <= t[i][0] {
			x0, y0, x1, y1 := t[i-1][0], t[i-1][1], t[i][0], t[i][1]
			return y0 + (y1-y0)*(x-x0)/(x1-x0)
		}
	}
	return t[len(t)-1][1]
}

// chooseRatio is step 3: the lowest threshold at minimum age 18 meeting the
// goals on calibrated estimates, as a ratio over 18.
func chooseRatio(est, ages []float64) float64 {
	var minors, children []float64
	for i, a := range ages {
		switch {
		case a <= 12:
			children = append(children, est[i])
		case a <= 17:
			minors = append(minors, est[i])
		}
	}
	// The threshold must lie above all but the allowed share of each group.
	need := func(v []float64, share float64) float64 {
		if len(v) == 0 {
			return 0
		}
		sort.Float64s(v)
		k := int(math.Floor(share * float64(len(v)))) // may accept k of them
		return v[len(v)-1-k] + 0.05
	}
	t := math.Max(need(minors, ageGoalMinors), need(children, ageGoalChildren))
	t = math.Max(t, ageGoalAge)
	return math.Ceil((t/ageGoalAge-1)*1000) / 1000
}

// fitModel runs steps 1–3 on rows, using folds other than skip (−1: all).
func fitModel(rows []fitRow, grams []*gram, skip int) (w []float64, bias float64, cal [][2]float64, ratio float64, err error) {
	d := len(rows[0].x)
	total := newGram(d)
	for f, g := range grams {
		if f != skip {
			total.plus(g)
		}
	}
	if w, bias, err = total.ridge(ageLambda); err != nil {
		return nil, 0, nil, 0, err
	}
	// Cross-fitted scores within the training folds.
	var sc, ages []float64
	for inner := range grams {
		if inner == skip {
			continue
		}
		g := newGram(d)
		for f, o := range grams {
			if f != skip && f != inner {
				g.plus(o)
			}
		}
		wi, bi, err := g.ridge(ageLambda)
		if err != nil {
			return nil, 0, nil, 0, err
		}
		for _, r := range rows {
			if r.fold == inner {
				sc = append(sc, score(wi, bi, r.x))
				ages = append(ages, r.age)
			}
		}
	}
	cal = isotonic(sc, ages, ageBins)
	est := make([]float64, len(sc))
	for i, s := range sc {
		est[i] = interp(cal, s)
	}
	return w, bias, cal, chooseRatio(est, ages), nil
}

// FitAge fits the age readout, its calibration and the margin on samples
// (see the procedure above) and measures them by outer cross-validation.
func FitAge(samples []AgeSample) (*AgeFit, error) {
	rows := fitRows(samples)
	if len(rows) < 10*ageFolds {
		return nil, fmt.Errorf("age fit: %d usable faces, too few", len(rows))
	}
	d := len(rows[0].x)
	grams := make([]*gram, ageFolds)
	for f := range grams {
		grams[f] = newGram(d)
	}
	for _, r := range rows {
		grams[r.fold].add(r)
	}
	fit := &AgeFit{Samples: len(rows)}
	var err error
	if fit.Weights, fit.Bias, fit.Calibration, fit.MarginRatio, err = fitModel(rows, grams, -1); err != nil {
		return nil, err
	}
	// Outer cross-validation: each fold decided by a fit made without it.
	// Samples with no reliable frame are undecided whatever the fit.
	held := make([]AgeSample, 0, len(samples))
	for f := 0; f < ageFolds; f++ {
		w, b, cal, ratio, err := fitModel(rows, grams, f)
		if err != nil {
			return nil, err
		}
		m := &ageModel{w: w, bias: b, cal: cal, ratio: ratio}
		for i := range samples {
			if foldOf(samples[i].Path, ageFolds) == f {
				held = append(held, m.apply(samples[i]))
			}
		}
	}
	rep := ScoreAge(held, ageGoalAge)
	fit.HeldOut, fit.HeldOutBands = rep.Summary, rep.Bands
	fit.HeldOut.Threshold = math.Round(ageGoalAge*(1+fit.MarginRatio)*10) / 10 // the final fit's
	return fit, nil
}

// ageModel is one fold's fit; apply re-estimates a sample with it (into
// Frame.Age) and gives the sample the fold's threshold, for held-out scoring.
type ageModel struct {
	w     []float64
	bias  float64
	cal   [][2]float64
	ratio float64
}

func (m *ageModel) apply(s AgeSample) AgeSample {
	if s.Frame == nil || len(s.Embedding) != engine.EmbeddingDim {
		return s
	}
	f := *s.Frame
	x := make([]float64, 0, engine.EmbeddingDim+1)
	for _, v := range s.Embedding {
		x = append(x, float64(v))
	}
	x = append(x, float64(f.SSR)/100)
	f.Age = float32(interp(m.cal, score(m.w, m.bias, x)))
	s.Frame = &f
	s.threshold = ageGoalAge * (1 + m.ratio)
	return s
}

// GoSource renders the fit as the Go table of engine/age_table.go.
func (f *AgeFit) GoSource() string {
	var b strings.Builder
	b.WriteString("// Code generated by `likeness eval --age --faces ../shared/age --fit engine/age_table.go`; DO NOT EDIT.\n\n")
	b.WriteString("package engine\n\n")
	h := f.HeldOut
	fmt.Fprintf(&b, "// The age readout, its calibration and the minors gate's margin, fitted on\n"+
		"// %d faces of ../shared/age by the procedure in eval/agefit.go. Held out\n"+
		"// (5-fold cross-validation of the whole procedure) at minimum age 18:\n"+
		"// %.1f%% of 13–17-year-olds and %.1f%% of 0–12-year-olds accepted as\n"+
		"// adults, %.1f%% of adults aged 25+ refused; mean absolute error %.1f years.\n\n",
		f.Samples, 100*h.MinorsAccepted, 100*h.ChildrenAccepted, 100*h.AdultsRefused, h.MAE)
	fmt.Fprintf(&b, "// ageMarginRatio: the threshold is minimumAge × (1 + ageMarginRatio).\nconst ageMarginRatio = %g\n\n", f.MarginRatio)
	fmt.Fprintf(&b, "// ageBias is the readout's intercept.\nconst ageBias = %.6g\n\n", f.Bias)
	b.WriteString("// ageWeights is the readout: 512 embedding weights, then the SSR-Net\n// estimate's (in hundreds of years).\nvar ageWeights = [EmbeddingDim + 1]float32{")
	for i, w := range f.Weights {
		if i%8 == 0 {
			b.WriteString("\n\t")
		} else {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.6g,", w)
	}
	b.WriteString("\n}\n\n// ageCalibration maps the readout's score to years (non-decreasing).\nvar ageCalibration = [][2]float64{")
	for i, k := range f.Calibration {
		if i%4 == 0 {
			b.WriteString("\n\t")
		} else {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "{%g, %g},", k[0], k[1])
	}
	b.WriteString("\n}\n")
	return b.String()
}
