package eval

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/likeness/likeness/engine"
)

// AgeSample is one face of an age set: its true age (from the file name),
// the model's raw estimate and the frame measures the minors gate looks at.
type AgeSample struct {
	Path  string           `json:"path"`
	Age   int              `json:"age"`
	Faces int              `json:"faces"`
	Frame *engine.AgeFrame `json:"frame,omitempty"` // nil when no face was found
	Size  int64            `json:"size"`            // file size, to invalidate the cache
	Err   string           `json:"error,omitempty"` // why the file could not be processed
	// Embedding is the face embedding the age readout is fitted on.
	Embedding []float32 `json:"embedding,omitempty"`
	threshold float64   // when not 0, the threshold of the fold's own fit
}

// AgeBand is one row of the age table.
type AgeBand struct {
	Band string `json:"band"`
	Lo   int    `json:"lo"`
	Hi   int    `json:"hi"` // inclusive; 200 for open-ended
	N    int    `json:"n"`
	// Calibrated estimate over the faces found (years).
	Mean float64 `json:"mean"`
	P10  float64 `json:"p10"`
	P90  float64 `json:"p90"`
	MAE  float64 `json:"mae"`
	// SSRMean is the mean of fr_age.onnx's own (uncalibrated) estimate.
	SSRMean float64 `json:"ssrMean"`
	// The gate's decisions at the measured minimum age: accepted as an
	// adult, refused as a minor, and undecided (no face, or a face too
	// small, blurred or turned for a reliable estimate; refused as well).
	Accepted   int     `json:"accepted"`
	Refused    int     `json:"refused"`
	Undecided  int     `json:"undecided"`
	AcceptRate float64 `json:"acceptRate"`
}

// AgeSummary holds the minors gate's error rates at MinimumAge.
type AgeSummary struct {
	MinimumAge int     `json:"minimumAge"`
	Threshold  float64 `json:"threshold"` // calibrated years the median estimate must reach
	Faces      int     `json:"faces"`
	MAE        float64 `json:"mae"`    // calibrated, over faces found
	SSRMAE     float64 `json:"ssrMae"` // fr_age.onnx's own estimate
	// MinorsAccepted is the share of 13–17-year-olds accepted as adults,
	// ChildrenAccepted of 0–12-year-olds, AdultsRefused the share of adults
	// aged 25 and over refused (undecided counts as refused).
	MinorsAccepted   float64 `json:"minorsAccepted"`
	ChildrenAccepted float64 `json:"childrenAccepted"`
	AdultsRefused    float64 `json:"adultsRefused"`
	Minors           int     `json:"minors"`
	Children         int     `json:"children"`
	Adults           int     `json:"adults"`
}

// AgeReport is the output of RunAge, printed as JSON by `likeness eval --age`.
type AgeReport struct {
	Bands     []AgeBand   `json:"bands"`
	Summary   AgeSummary  `json:"summary"`
	Errors    []FileError `json:"errors"`
	Persisted bool        `json:"persisted"` // always false: eval stores nothing
}

// ageBands are the reported bands (inclusive).
var ageBands = [...]struct {
	name   string
	lo, hi int
}{
	{"0-12", 0, 12}, {"13-15", 13, 15}, {"16-17", 16, 17}, {"18-20", 18, 20},
	{"21-24", 21, 24}, {"25-34", 25, 34}, {"35+", 35, 200},
}

// AgeOf parses the true age from a file name "<age>_…"; ok is false for
// names that do not start with an age.
func AgeOf(name string) (int, bool) {
	head, _, found := strings.Cut(filepath.Base(name), "_")
	if !found {
		return 0, false
	}
	a, err := strconv.Atoi(head)
	if err != nil || a < 0 || a > 130 {
		return 0, false
	}
	return a, true
}

// AgeFiles lists the image files of dir whose names start with an age,
// sorted by name.
func AgeFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := strings.ToLower(e.Name())
		if e.Type().IsRegular() && (strings.HasSuffix(n, ".jpg") || strings.HasSuffix(n, ".jpeg") || strings.HasSuffix(n, ".png") || strings.HasSuffix(n, ".webp")) {
			if _, ok := AgeOf(e.Name()); ok {
				out = append(out, e.Name())
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// MeasureAge runs the engine over the named files of dir and returns one
// sample per file; a file that cannot be processed is also listed in the
// errors. cache, when not empty, is a JSON file of earlier samples: files
// already in it (same name and size) are not run again, their age is
// re-estimated from the cached model outputs with the current fit, and the
// updated cache is written back (when it cannot be, the errors say so and
// the samples are still returned). It holds model outputs, never images.
func MeasureAge(ctx context.Context, eng *engine.Engine, dir string, names []string, cache string) ([]AgeSample, []FileError, error) {
	known := map[string]AgeSample{}
	if cache != "" {
		if b, err := os.ReadFile(cache); err == nil {
			var old []AgeSample
			if json.Unmarshal(b, &old) == nil {
				for _, s := range old {
					known[s.Path] = s
				}
			}
		}
	}
	var out []AgeSample
	var errs []FileError
	fresh := 0
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		age, _ := AgeOf(name)
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, FileError{Path: name, Error: describe(err)})
			continue
		}
		if s, ok := known[name]; ok && s.Size == st.Size() && s.Age == age {
			if s.Frame != nil {
				s.Frame.Age = engine.EstimateAge(s.Embedding, s.Frame.SSR) // the current fit
			}
			if s.Err != "" {
				errs = append(errs, FileError{Path: name, Error: s.Err})
			}
			out = append(out, s)
			continue
		}
		s := AgeSample{Path: name, Age: age, Size: st.Size()}
		faces, err := analyze(ctx, eng, dir, name, engine.WantAge|engine.WantEmbedding)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			// Listed, and kept as a face the gate cannot decide on (refused),
			// as the product would.
			s.Err = describe(err)
			errs = append(errs, FileError{Path: name, Error: s.Err})
			out = append(out, s)
			fresh++
			continue
		}
		s.Faces = len(faces)
		if len(faces) > 0 {
			f := faces[0].AgeFrame()
			s.Frame = &f
			s.Embedding = faces[0].Embedding
		}
		out = append(out, s)
		fresh++
	}
	if cache != "" && fresh > 0 {
		all := make([]AgeSample, 0, len(known)+fresh)
		for _, s := range out {
			known[s.Path] = s
		}
		for _, s := range known {
			all = append(all, s)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].Path < all[j].Path })
		b, err := json.Marshal(all)
		if err != nil {
			return nil, nil, err
		}
		if err := os.WriteFile(cache, b, 0o600); err != nil {
			// Not fatal: a cache that cannot be written only costs time.
			errs = append(errs, FileError{Path: cache, Error: "the cache could not be written: " + describe(err)})
		}
	}
	return out, errs, nil
}

// LoadAge measures every file of dir named "<age>_…" (see MeasureAge).
func LoadAge(ctx context.Context, eng *engine.Engine, dir, cache string) ([]AgeSample, []FileError, error) {
	names, err := AgeFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	if len(names) == 0 {
		return nil, nil, errors.New("no files named <age>_… in " + dir)
	}
	return MeasureAge(ctx, eng, dir, names, cache)
}

// RunAge measures the age estimate and the minors gate on a folder of faces
// named "<age>_…" (as ../shared/age), deciding each face as a one-frame
// session at minimumAge. See MeasureAge for cache.
func RunAge(ctx context.Context, eng *engine.Engine, dir string, minimumAge int, cache string) (*AgeReport, error) {
	samples, errs, err := LoadAge(ctx, eng, dir, cache)
	if err != nil {
		return nil, err
	}
	r := ScoreAge(samples, minimumAge)
	if errs == nil {
		errs = []FileError{}
	}
	r.Errors = errs
	return r, nil
}

// ScoreAge builds the age table and the gate's error rates from samples,
// deciding each as a one-frame session with its Frame.Age.
func ScoreAge(samples []AgeSample, minimumAge int) *AgeReport {
	r := &AgeReport{Errors: []FileError{}}
	r.Summary.MinimumAge = minimumAge
	r.Summary.Threshold = engine.AgeThreshold(minimumAge)
	var absAll, rawAll float64
	var minorsIn, childrenIn, adultsOut int
	for _, b := range ageBands {
		band := AgeBand{Band: b.name, Lo: b.lo, Hi: b.hi}
		var est []float64
		var abs, raw float64
		for _, s := range samples {
			if s.Age < b.lo || s.Age > b.hi {
				continue
			}
			band.N++
			var frames []engine.AgeFrame
			if s.Frame != nil {
				frames = append(frames, *s.Frame)
				e := float64(s.Frame.Age)
				est = append(est, e)
				abs += math.Abs(e - float64(s.Age))
				raw += float64(s.Frame.SSR)
				rawAll += math.Abs(float64(s.Frame.SSR) - float64(s.Age))
			}
			t := s.threshold
			if t == 0 {
				t = engine.AgeThreshold(minimumAge)
			}
			d := engine.DecideAgeAt(frames, t)
			switch d.Verdict {
			case engine.AgeAdult:
				band.Accepted++
			case engine.AgeMinor:
				band.Refused++
			default:
				band.Undecided++
			}
			switch {
			case s.Age <= 12:
				r.Summary.Children++
				if d.Verdict == engine.AgeAdult {
					childrenIn++
				}
			case s.Age <= 17:
				r.Summary.Minors++
				if d.Verdict == engine.AgeAdult {
					minorsIn++
				}
			case s.Age >= 25:
				r.Summary.Adults++
				if d.Verdict != engine.AgeAdult {
					adultsOut++
				}
			}
		}
		absAll += abs
		r.Summary.Faces += len(est)
		if len(est) > 0 {
			sort.Float64s(est)
			var sum float64
			for _, e := range est {
				sum += e
			}
			band.Mean = round2(sum / float64(len(est)))
			band.P10 = round2(quantile(est, 0.1))
			band.P90 = round2(quantile(est, 0.9))
			band.MAE = round2(abs / float64(len(est)))
			band.SSRMean = round2(raw / float64(len(est)))
		}
		band.AcceptRate = round4(ratio(band.Accepted, band.N))
		r.Bands = append(r.Bands, band)
	}
	if r.Summary.Faces > 0 {
		r.Summary.MAE = round2(absAll / float64(r.Summary.Faces))
		r.Summary.SSRMAE = round2(rawAll / float64(r.Summary.Faces))
	}
	r.Summary.MinorsAccepted = round4(ratio(minorsIn, r.Summary.Minors))
	r.Summary.ChildrenAccepted = round4(ratio(childrenIn, r.Summary.Children))
	r.Summary.AdultsRefused = round4(ratio(adultsOut, r.Summary.Adults))
	return r
}

// quantile is the linearly interpolated q-quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round4(v float64) float64 { return math.Round(v*10000) / 10000 }
