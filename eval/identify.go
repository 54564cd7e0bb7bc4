package eval

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/identify"
)

// IdentifyReport is the output of RunIdentify: open-set identification
// through the product's own decision (package identify) over a folder of
// <person>/<photo> folders.
type IdentifyReport struct {
	// Protocol says how the folder was split, in words.
	Protocol   string             `json:"protocol"`
	Policy     identify.Policy    `json:"policy"`
	Thresholds map[string]float64 `json:"thresholds"`
	Summary    IdentifySummary    `json:"summary"`
	// BySize repeats the decision on nested sub-galleries (the first n
	// enrolled faces) with the same probes.
	BySize []SizeRow `json:"bySize"`
	// ImpostorTail is the measured false-match rate of one comparison over
	// every pair of photos of different people, at fixed similarities.
	ImpostorTail []TailPoint `json:"impostorTail"`
	// GenuineBelow is the measured share of genuine pairs (two photos of one
	// person) below each similarity.
	GenuineBelow []TailPoint `json:"genuineBelow"`
	Errors       []FileError `json:"errors"`
	Persisted    bool        `json:"persisted"` // always false
}

// IdentifySummary holds the rates at the full gallery.
type IdentifySummary struct {
	People         int `json:"people"`
	Photos         int `json:"photos"`
	Gallery        int `json:"gallery"`        // faces enrolled (N)
	MatedProbes    int `json:"matedProbes"`    // photos of enrolled people, not the enrolled photo
	NonMatedProbes int `json:"nonMatedProbes"` // photos of people never enrolled
	// FPIR is the share of non-mated probes given "match" (face alone).
	FPIR float64 `json:"fpir"`
	// StrangerSecondFactor is the share of non-mated probes asked for a PIN.
	StrangerSecondFactor float64 `json:"strangerSecondFactor"`
	// FNIR is the share of mated probes not given their own "match" by the
	// face alone; SecondFactorShare of them were asked for a PIN instead.
	FNIR              float64 `json:"fnir"`
	SecondFactorShare float64 `json:"secondFactorShare"`
	// WrongPersonMatch is the share of mated probes given someone else's
	// "match" (face alone).
	WrongPersonMatch float64 `json:"wrongPersonMatch"`
	// FNIRWithPIN is the share of mated probes not identified when the
	// person also gives their own PIN (every enrolled face has one).
	FNIRWithPIN float64 `json:"fnirWithPin"`
	// FalseDuplicates is the share of distinct people refused as duplicates
	// when the gallery is enrolled one by one with the duplicate check on.
	FalseDuplicates float64 `json:"falseDuplicates"`
	// DuplicatesCaught is the share of mated probes (the same person
	// enrolling again with another photo) refused as duplicates.
	DuplicatesCaught float64 `json:"duplicatesCaught"`
	// ImpostorPairs is the number of impostor comparisons measured.
	ImpostorPairs int64 `json:"impostorPairs"`
	// FMR is the measured false-match rate of one comparison at each
	// threshold used at the full gallery (thresholds' keys).
	FMR map[string]float64 `json:"fmr"`
}

// SizeRow is the decision at one gallery size.
type SizeRow struct {
	N                 int     `json:"n"`
	FaceOnlyThreshold float64 `json:"faceOnlyThreshold"` // 2 (identify.Never): the face alone never decides
	PredictedFPIR     float64 `json:"predictedFpir"`     // calibrated bound: N × FMR(threshold)
	FPIR              float64 `json:"fpir"`
	FNIR              float64 `json:"fnir"`
	SecondFactorShare float64 `json:"secondFactorShare"` // mated probes asked for a PIN
	FNIRWithPIN       float64 `json:"fnirWithPin"`
	MatedProbes       int     `json:"matedProbes"`
}

// TailPoint is a rate at one similarity.
type TailPoint struct {
	Similarity float64 `json:"similarity"`
	Rate       float64 `json:"rate"`
	Count      int64   `json:"count"`
}

type photo struct {
	person, path string
	emb          []float32
}

// RunIdentify measures open-set identification over dir/<person>/<photo>.
// Protocol (fixed, never tuned per file): people sorted by name; everyone
// with two or more photos is enrolled with their first photo and probed
// with every other (mated); people with one photo alternate between the
// gallery (distractors) and the strangers (non-mated probes). Every
// enrolled face has a PIN. The decision is identify.Decide under policy.
// maxPeople > 0 keeps only the first maxPeople people by name (a fixed
// subset, for tests).
func RunIdentify(ctx context.Context, eng *engine.Engine, dir string, pol identify.Policy, maxPeople int) (*IdentifyReport, error) {
	people, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	if maxPeople > 0 {
		people = slices.DeleteFunc(people, func(e os.DirEntry) bool { return !e.IsDir() })
		people = people[:min(maxPeople, len(people))]
	}
	var all []photo
	for _, p := range people {
		if !p.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, p.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			n := strings.ToLower(f.Name())
			if strings.HasSuffix(n, ".jpg") || strings.HasSuffix(n, ".jpeg") || strings.HasSuffix(n, ".png") {
				all = append(all, photo{person: p.Name(), path: filepath.Join(p.Name(), f.Name())})
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].path < all[j].path })
	rep := &IdentifyReport{Policy: pol, Errors: []FileError{}, Protocol: "people sorted by name; people with ≥2 photos " +
		"enrolled with their first photo and probed with the others; people with one photo alternately enrolled " +
		"(distractors) and kept as strangers; every enrolled face has a PIN"}
	embedAll(ctx, eng, dir, all, rep)

	byPerson := map[string][]*photo{}
	var names []string
	for i := range all {
		p := &all[i]
		if p.emb == nil {
			continue
		}
		if byPerson[p.person] == nil {
			names = append(names, p.person)
		}
		byPerson[p.person] = append(byPerson[p.person], p)
	}
	sort.Strings(names)
	var gallery, mated, strangers []*photo
	single := 0
	for _, n := range names {
		ph := byPerson[n]
		switch {
		case len(ph) >= 2:
			gallery = append(gallery, ph[0])
			mated = append(mated, ph[1:]...)
		case single%2 == 0:
			gallery = append(gallery, ph[0])
			single++
		default:
			strangers = append(strangers, ph[0])
			single++
		}
	}
	// Interleave so that every prefix of the gallery (BySize) holds mated
	// and distractor faces in the same proportion.
	sort.SliceStable(gallery, func(i, j int) bool { return hashName(gallery[i].person) < hashName(gallery[j].person) })
	s := &rep.Summary
	s.People, s.Photos = len(names), len(all)
	s.Gallery, s.MatedProbes, s.NonMatedProbes = len(gallery), len(mated), len(strangers)
	if len(gallery) == 0 || len(mated) == 0 {
		return nil, fmt.Errorf("eval: %s has no person with two usable photos", dir)
	}

	for _, n := range gallerySizes(len(gallery)) {
		row := decideAt(gallery[:n], mated, strangers, pol)
		rep.BySize = append(rep.BySize, row.SizeRow)
		if n == len(gallery) {
			s.FPIR, s.StrangerSecondFactor = row.FPIR, row.strangerSF
			s.FNIR, s.SecondFactorShare, s.WrongPersonMatch, s.FNIRWithPIN = row.FNIR, row.SecondFactorShare, row.wrong, row.FNIRWithPIN
		}
	}
	s.FalseDuplicates, s.DuplicatesCaught = duplicates(gallery, mated)

	t := identify.ThresholdsFor(len(gallery), pol)
	dup := identify.DuplicateThreshold(len(gallery))
	rep.Thresholds = map[string]float64{"faceOnly": r3(t.FaceOnly), "candidate": r3(t.Candidate), "duplicate": r3(dup)}
	grid := []float32{t.FaceOnly, t.Candidate, dup}
	for x := float32(0.20); x < 0.80; x += 0.02 {
		grid = append(grid, x)
	}
	imp, gen, pairs := tails(all, grid)
	s.ImpostorPairs = pairs
	s.FMR = map[string]float64{"faceOnly": imp[0].Rate, "candidate": imp[1].Rate, "duplicate": imp[2].Rate}
	rep.ImpostorTail, rep.GenuineBelow = imp[3:], gen[3:]
	return rep, nil
}

func r3(v float32) float64 { return math.Round(float64(v)*1000) / 1000 }

// hashName orders people by a fixed hash of their name (FNV-1a).
func hashName(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

func gallerySizes(n int) []int {
	var out []int
	for _, s := range []int{100, 200, 500, 1000, 1600} {
		if s < n {
			out = append(out, s)
		}
	}
	return append(out, n)
}

// embedAll embeds every photo's subject (engine.Subject), in parallel.
func embedAll(ctx context.Context, eng *engine.Engine, dir string, all []photo, rep *IdentifyReport) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next = make(chan int)
	)
	for w := 0; w < max(1, min(eng.Workers(), runtime.NumCPU())); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				faces, err := analyze(ctx, eng, dir, all[i].path, engine.WantEmbedding)
				var f *engine.Face
				if err == nil {
					f, err = engine.Subject(faces)
				}
				if err != nil {
					mu.Lock()
					rep.Errors = append(rep.Errors, FileError{Path: all[i].path, Error: describe(err)})
					mu.Unlock()
					continue
				}
				all[i].emb = f.Embedding
			}
		}()
	}
	for i := range all {
		next <- i
	}
	close(next)
	wg.Wait()
	sort.Slice(rep.Errors, func(i, j int) bool { return rep.Errors[i].Path < rep.Errors[j].Path })
}

type sizeResult struct {
	SizeRow
	strangerSF, wrong float64
}

// decideAt runs every probe through identify.Decide against the gallery.
func decideAt(gallery, mated, strangers []*photo, pol identify.Policy) sizeResult {
	n := len(gallery)
	t := identify.ThresholdsFor(n, pol)
	r := sizeResult{SizeRow: SizeRow{N: n, FaceOnlyThreshold: r3(t.FaceOnly)}}
	if t.FaceOnly < identify.Never {
		r.PredictedFPIR = math.Min(1, float64(n)*engine.FalseMatchRate(t.FaceOnly))
	}
	enrolled := map[string]bool{}
	for _, g := range gallery {
		enrolled[g.person] = true
	}
	decide := func(p *photo, pin bool) identify.Decision {
		top := topK(gallery, p.emb, identify.MaxCandidates+1)
		in := identify.Input{GallerySize: n, Policy: pol, PINGiven: pin}
		for _, m := range top {
			in.Candidates = append(in.Candidates, identify.Candidate{FacialID: m.person, Similarity: m.sim, HasPIN: true})
		}
		return identify.Decide(in)
	}
	var fp, sf int
	for _, p := range strangers {
		switch decide(p, false).Kind {
		case identify.Match:
			fp++
		case identify.SecondFactor:
			sf++
		}
	}
	var probes, miss, wrong, askPIN, missPIN int
	for _, p := range mated {
		if !enrolled[p.person] {
			continue
		}
		probes++
		d := decide(p, false)
		switch {
		case d.Kind == identify.Match && d.FacialID == p.person:
		case d.Kind == identify.Match:
			wrong++
			miss++
		default:
			miss++
		}
		if d.Kind == identify.SecondFactor {
			askPIN++
		}
		// With the person's own PIN: a match when the face made them a PIN
		// candidate (or identified them alone).
		d = decide(p, true)
		ok := (d.Kind == identify.Match && d.FacialID == p.person) ||
			(d.Kind == identify.SecondFactor && slices.Contains(d.PINFor, p.person))
		if !ok {
			missPIN++
		}
	}
	r.MatedProbes = probes
	r.FPIR = ratio(fp, len(strangers))
	r.strangerSF = ratio(sf, len(strangers))
	r.FNIR = ratio(miss, probes)
	r.wrong = ratio(wrong, probes)
	r.SecondFactorShare = ratio(askPIN, probes)
	r.FNIRWithPIN = ratio(missPIN, probes)
	return r
}

type hit struct {
	person string
	sim    float32
}

// topK is a brute-force search: exact, so the eval measures the decision,
// not the index.
func topK(gallery []*photo, q []float32, k int) []hit {
	out := make([]hit, 0, k+1)
	for _, g := range gallery {
		s := engine.Similarity(q, g.emb)
		if len(out) == k && s <= out[k-1].sim {
			continue
		}
		i := sort.Search(len(out), func(i int) bool { return out[i].sim < s })
		out = append(out, hit{})
		copy(out[i+1:], out[i:])
		out[i] = hit{g.person, s}
		if len(out) > k {
			out = out[:k]
		}
	}
	return out
}

// duplicates enrolls the gallery one by one with the duplicate check on
// and counts distinct people refused, then checks each mated probe (the
// same person again) against the full gallery.
func duplicates(gallery, mated []*photo) (falseDup, caught float64) {
	refused := 0
	for i, g := range gallery {
		if i == 0 {
			continue
		}
		if top := topK(gallery[:i], g.emb, 1); top[0].sim >= identify.DuplicateThreshold(i) {
			refused++
		}
	}
	n := len(gallery)
	hits := 0
	for _, p := range mated {
		if top := topK(gallery, p.emb, 1); top[0].sim >= identify.DuplicateThreshold(n) {
			hits++
		}
	}
	return ratio(refused, max(1, n-1)), ratio(hits, len(mated))
}

// tails measures, over every pair of usable photos, the impostor rate at
// or above and the genuine share below each similarity of grid.
func tails(all []photo, grid []float32) (imp, gen []TailPoint, pairs int64) {
	var usable []*photo
	for i := range all {
		if all[i].emb != nil {
			usable = append(usable, &all[i])
		}
	}
	workers := runtime.NumCPU()
	impC := make([][]int64, workers)
	genC := make([][]int64, workers)
	nImp, nGen := make([]int64, workers), make([]int64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		impC[w] = make([]int64, len(grid))
		genC[w] = make([]int64, len(grid))
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(usable); i += workers {
				a := usable[i]
				for _, b := range usable[i+1:] {
					s := engine.Similarity(a.emb, b.emb)
					same := a.person == b.person
					if same {
						nGen[w]++
					} else {
						nImp[w]++
					}
					for k, g := range grid {
						if same && s < g {
							genC[w][k]++
						} else if !same && s >= g {
							impC[w][k]++
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
	var ni, ng int64
	for w := 0; w < workers; w++ {
		ni += nImp[w]
		ng += nGen[w]
	}
	for k, g := range grid {
		var ci, cg int64
		for w := 0; w < workers; w++ {
			ci += impC[w][k]
			cg += genC[w][k]
		}
		imp = append(imp, TailPoint{Similarity: r3(g), Rate: rate(ci, ni), Count: ci})
		gen = append(gen, TailPoint{Similarity: r3(g), Rate: rate(cg, ng), Count: cg})
	}
	return imp, gen, ni
}

func rate(c, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(c) / float64(n)
}
