// Package eval measures the engine on a labelled face set laid out like
// ../shared/faces: labels.csv (one row per file) and pairs.csv (verification
// pairs). It reports the product's own decisions, never tuned per file.
package eval

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
)

// Pair is one verification decision.
type Pair struct {
	A          string  `json:"a"`
	B          string  `json:"b"`
	Same       bool    `json:"same"`
	Similarity float32 `json:"similarity"`
	Match      bool    `json:"match"`
}

// PAD is one presentation-attack-detection decision.
type PAD struct {
	Path  string  `json:"path"`
	Spoof bool    `json:"spoof"`
	Score float32 `json:"score"`
	Live  bool    `json:"live"`
}

// Control is a detection count for a file in controls/.
type Control struct {
	Path  string `json:"path"`
	Faces int    `json:"faces"`
}

// FileError names a file that could not be processed and why.
type FileError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Summary holds the error rates.
type Summary struct {
	GenuinePairs  int     `json:"genuinePairs"`
	ImpostorPairs int     `json:"impostorPairs"`
	FMR           float64 `json:"fmr"`   // false matches / impostor pairs
	FNMR          float64 `json:"fnmr"`  // false non-matches / genuine pairs
	APCER         float64 `json:"apcer"` // attacks accepted as live / attacks
	BPCER         float64 `json:"bpcer"` // live faces refused / live faces
	PADAttacks    int     `json:"padAttacks"`
	PADBonaFide   int     `json:"padBonaFide"`
	// Impostor score statistics, to show how far the threshold sits from
	// the impostor tail.
	ImpostorMean float64 `json:"impostorMean"`
	ImpostorStd  float64 `json:"impostorStd"`
	ImpostorMax  float64 `json:"impostorMax"`
	GenuineMin   float64 `json:"genuineMin"`
	GenuineMean  float64 `json:"genuineMean"`
	// ThresholdSigmas is (threshold − impostor mean) / impostor std.
	ThresholdSigmas float64 `json:"thresholdSigmas"`
}

// Report is the output of Run, printed as JSON by `likeness eval`.
type Report struct {
	Pairs      []Pair             `json:"pairs"`
	PAD        []PAD              `json:"pad"`
	Controls   []Control          `json:"controls"`
	Thresholds map[string]float64 `json:"thresholds"`
	Summary    Summary            `json:"summary"`
	Errors     []FileError        `json:"errors"`
	Persisted  bool               `json:"persisted"` // always false: eval stores nothing
}

// Run evaluates the engine on the face set in dir. Files that fail are listed
// in Errors and count as no match (or as refused, for liveness).
func Run(ctx context.Context, eng *engine.Engine, dir string) (*Report, error) {
	labels, err := readCSV(filepath.Join(dir, "labels.csv"))
	if err != nil {
		return nil, err
	}
	pairs, err := readCSV(filepath.Join(dir, "pairs.csv"))
	if err != nil {
		return nil, err
	}
	r := &Report{
		Pairs: []Pair{}, PAD: []PAD{}, Controls: []Control{}, Errors: []FileError{},
		Thresholds: map[string]float64{
			"verify":          float64(engine.VerifyThreshold),
			"liveness":        float64(engine.LivenessThreshold),
			"detect":          float64(engine.DetectThreshold),
			"verifyTargetFMR": engine.VerifyTargetFMR,
		},
	}
	embeddings := map[string][]float32{}
	failed := map[string]bool{}
	embed := func(path string) []float32 {
		if e, ok := embeddings[path]; ok || failed[path] {
			return e
		}
		face, err := analyze(ctx, eng, dir, path, engine.WantEmbedding)
		if err == nil && len(face) != 1 {
			err = fmt.Errorf("%d faces", len(face))
		}
		if err != nil {
			failed[path] = true
			r.Errors = append(r.Errors, FileError{Path: path, Error: describe(err)})
			return nil
		}
		embeddings[path] = face[0].Embedding
		return face[0].Embedding
	}
	for _, row := range labels.rows {
		path := row["path"]
		switch {
		case strings.HasPrefix(path, "pad/"):
			spoof := row["kind"] == "spoof"
			p := PAD{Path: path, Spoof: spoof}
			faces, err := analyze(ctx, eng, dir, path, engine.WantLiveness)
			switch {
			case err != nil:
				r.Errors = append(r.Errors, FileError{Path: path, Error: describe(err)})
			case len(faces) == 0:
				r.Errors = append(r.Errors, FileError{Path: path, Error: "no face"})
			default:
				p.Score = faces[0].Liveness
				p.Live = engine.IsLive(faces[0].Liveness)
			}
			r.PAD = append(r.PAD, p)
		case strings.HasPrefix(path, "controls/"):
			faces, err := analyze(ctx, eng, dir, path, 0)
			if err != nil {
				r.Errors = append(r.Errors, FileError{Path: path, Error: describe(err)})
				continue
			}
			r.Controls = append(r.Controls, Control{Path: path, Faces: len(faces)})
		}
	}
	var gen, imp []float64
	for _, row := range pairs.rows {
		p := Pair{A: row["path_a"], B: row["path_b"], Same: row["label"] == "same"}
		ea, eb := embed(p.A), embed(p.B)
		if ea != nil && eb != nil {
			p.Similarity = engine.Similarity(ea, eb)
			p.Match = engine.Matches(p.Similarity)
		}
		if p.Same {
			gen = append(gen, float64(p.Similarity))
		} else {
			imp = append(imp, float64(p.Similarity))
		}
		r.Pairs = append(r.Pairs, p)
	}
	r.Summary = summarize(r, gen, imp)
	sort.Slice(r.Errors, func(i, j int) bool { return r.Errors[i].Path < r.Errors[j].Path })
	return r, nil
}

func summarize(r *Report, gen, imp []float64) Summary {
	var s Summary
	var fm, fnm int
	for _, p := range r.Pairs {
		if p.Same {
			s.GenuinePairs++
			if !p.Match {
				fnm++
			}
		} else {
			s.ImpostorPairs++
			if p.Match {
				fm++
			}
		}
	}
	s.FMR = ratio(fm, s.ImpostorPairs)
	s.FNMR = ratio(fnm, s.GenuinePairs)
	var ac, bf int
	for _, p := range r.PAD {
		if p.Spoof {
			s.PADAttacks++
			if p.Live {
				ac++
			}
		} else {
			s.PADBonaFide++
			if !p.Live {
				bf++
			}
		}
	}
	s.APCER = ratio(ac, s.PADAttacks)
	s.BPCER = ratio(bf, s.PADBonaFide)
	s.ImpostorMean, s.ImpostorStd, s.ImpostorMax, _ = stats(imp)
	s.GenuineMean, _, _, s.GenuineMin = stats(gen)
	if s.ImpostorStd > 0 {
		s.ThresholdSigmas = (float64(engine.VerifyThreshold) - s.ImpostorMean) / s.ImpostorStd
	}
	return s
}

func stats(v []float64) (mean, std, mx, mn float64) {
	if len(v) == 0 {
		return 0, 0, 0, 0
	}
	mx, mn = math.Inf(-1), math.Inf(1)
	for _, x := range v {
		mean += x
		mx, mn = math.Max(mx, x), math.Min(mn, x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v))), mx, mn
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func analyze(ctx context.Context, eng *engine.Engine, dir, path string, want engine.Want) ([]engine.Face, error) {
	full := filepath.Join(dir, filepath.FromSlash(path))
	if !strings.HasPrefix(filepath.Clean(full), filepath.Clean(dir)) {
		return nil, errors.New("path outside the face set")
	}
	data, err := os.ReadFile(full)
	if err != nil {
		return nil, err
	}
	img, err := eng.Decode(data)
	if err != nil {
		return nil, err
	}
	return eng.Analyze(ctx, img, want)
}

// describe gives a short reason for a failed file.
func describe(err error) string {
	var le *likeness.Error
	if errors.As(err, &le) {
		return le.Message
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return "cannot read file: " + pe.Err.Error()
	}
	return err.Error()
}

type table struct {
	rows []map[string]string
}

func readCSV(path string) (*table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rd := csv.NewReader(f)
	rd.FieldsPerRecord = -1
	header, err := rd.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t := &table{}
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		row := map[string]string{}
		for i, h := range header {
			if i < len(rec) {
				row[strings.TrimSpace(h)] = strings.TrimSpace(rec[i])
			}
		}
		t.rows = append(t.rows, row)
	}
	return t, nil
}
