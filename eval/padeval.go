package eval

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/pad"
)

// The PAD evaluation (`likeness eval --pad`) in ISO/IEC 30107-3 terms: an
// attack presentation classification error rate (APCER) per presentation
// attack instrument species, and the bona fide presentation classification
// error rate (BPCER). Presentations are:
//
//   - single images of pad/ (the passive model alone: one picture cannot
//     show motion);
//   - widget sessions simulated from clips of video/ (every 3rd frame, the
//     widget's 10 frames a second; sessions start every 2 s and loop the
//     clip as Chromium's fake camera does), through pad.Next and, when a
//     prompt is asked for, pad.Challenge with the clip's own frames — the
//     product's own decision functions;
//   - sessions of attacks generated from every live clip and one live photo
//     per identity (StillAttack, every species), at standard and strict
//     liveness;
//   - every live clip replayed against every ordered pair of strict prompts
//     and against the standard turn.
//
// The simulation applies the session's one-face rule and, when given, its
// frame gate (the server's size, centre, pose, light and sharpness hints)
// before the prompts, as the session does.

// Session outcomes.
const (
	OutcomeAccepted = "accepted" // judged live (a token would follow recognition)
	OutcomeRefused  = "refused"  // PAD_ATTACK (5)
)

// Frame rate and timing of simulated sessions.
const (
	simInterval  = 100 * time.Millisecond // 10 fps, the widget's default maxFps
	simMaxFPS    = 10
	simNeed      = 5 // enrollment's good frames (server default)
	clipStep     = 3 // .mjpeg clips are played at 30 fps: every 3rd frame
	clipMaxFrame = 150
	sessionEvery = 20 // a session starts every 2 s of a clip
	stillFrames  = 21 // frames of a generated attack: 2 s at 10 fps
)

// SpeciesResult is the APCER of one attack species at one liveness level.
type SpeciesResult struct {
	Species  string  `json:"species"`
	Level    string  `json:"level"` // "image" (passive only), "standard" or "strict"
	Attacks  int     `json:"attacks"`
	Accepted int     `json:"accepted"`
	APCER    float64 `json:"apcer"`
}

// BonaFideResult is the BPCER of one kind of bona fide presentation.
type BonaFideResult struct {
	Kind          string  `json:"kind"` // "image" or "clip"
	Presentations int     `json:"presentations"`
	Refused       int     `json:"refused"`
	BPCER         float64 `json:"bpcer"`
	// Prompted counts clip sessions that looked planar for pad.PassiveWait
	// and were asked to turn; a clip cannot follow, so they count as refused
	// in BPCER. A person at a camera follows the prompt.
	Prompted int `json:"prompted"`
}

// PADSession is one simulated presentation.
type PADSession struct {
	Source  string `json:"source"`
	Species string `json:"species"` // "bona-fide" or an attack species
	Level   string `json:"level"`
	Outcome string `json:"outcome"`
	Signal  string `json:"signal,omitempty"` // why it was refused
	Prompts string `json:"prompts,omitempty"`
	// NonPlanarity is the session's pad.Measure statistic when liveness
	// was first decided (0 when it never was): how the tolerance was chosen.
	NonPlanarity float64 `json:"nonPlanarity"`
	// Parallax is the session's pad.Measure parallax at the same moment:
	// how pad.ParallaxTolerance was chosen.
	Parallax float64 `json:"parallax"`
	// TextureParallax is the session's pad.Measure texture parallax at the
	// same moment: how pad.TextureParallaxTolerance was chosen.
	TextureParallax float64 `json:"textureParallax"`
}

// PADSummary holds the headline numbers.
type PADSummary struct {
	// MaxAPCER is the highest APCER over the species of sessions (clips and
	// generated attacks), as ISO/IEC 30107-3 reports a PAD subsystem.
	MaxAPCER float64 `json:"maxApcer"`
	// BPCER is over live clip sessions at standard liveness.
	BPCER          float64 `json:"bpcer"`
	AttackSessions int     `json:"attackSessions"`
	BonaFide       int     `json:"bonaFideSessions"`
}

// PADReport is the output of RunPAD.
type PADReport struct {
	Species   []SpeciesResult    `json:"species"`
	BonaFide  []BonaFideResult   `json:"bonaFide"`
	Summary   PADSummary         `json:"summary"`
	Rules     map[string]float64 `json:"rules"`
	Sessions  []PADSession       `json:"sessions"`
	Errors    []FileError        `json:"errors"`
	Persisted bool               `json:"persisted"` // always false
}

// analysed is what the simulation keeps of one frame.
type analysed struct {
	ok     bool // one subject face (engine.Subject)
	usable bool // and it passes the frame gate
	face   engine.Face
	patch  engine.Patch // the face's texture, for pad.TextureParallax
}

// FrameGate says whether a frame's one face is usable evidence; the widget
// session's own gate is server.FrameUsable.
type FrameGate func(f *engine.Face, img *engine.Image) bool

// RunPAD evaluates presentation attack detection on the face set in dir,
// with the session's frame gate (nil: every one-face frame is usable).
func RunPAD(ctx context.Context, eng *engine.Engine, dir string, gate FrameGate) (*PADReport, error) {
	labels, err := readCSV(filepath.Join(dir, "labels.csv"))
	if err != nil {
		return nil, err
	}
	r := &PADReport{Sessions: []PADSession{}, Errors: []FileError{}, Rules: map[string]float64{
		"minSpanSeconds":           pad.MinSpan.Seconds(),
		"minFrames":                pad.MinFrames,
		"passiveWaitSeconds":       pad.PassiveWait.Seconds(),
		"planarTolerance":          pad.PlanarTolerance,
		"turnTolerance":            pad.TurnTolerance,
		"parallaxTolerance":        pad.ParallaxTolerance,
		"textureParallaxTolerance": pad.TextureParallaxTolerance,
		"minGapSeconds":            pad.MinGap(simMaxFPS).Seconds(),
		"turnDegrees":              pad.TurnDegrees,
		"livenessThreshold":        float64(engine.LivenessThreshold),
	}}
	want := engine.WantEmbedding | engine.WantLiveness | engine.WantEyes
	run := func(frames [][]byte) ([]analysed, error) {
		out := make([]analysed, len(frames))
		for i, f := range frames {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			img, err := eng.Decode(f)
			if err != nil {
				continue
			}
			faces, err := eng.Analyze(ctx, img, want)
			if err != nil {
				return nil, err
			}
			// The session's own subject rule: one face, or one face with
			// only much smaller background faces (engine.Subject).
			if f, err := engine.Subject(faces); err == nil {
				out[i] = analysed{ok: true, usable: gate == nil || gate(f, img), face: *f,
					patch: engine.FacePatch(img, f.Box)}
			}
		}
		return out, nil
	}
	imgRes := map[string]*SpeciesResult{}
	bfImage := BonaFideResult{Kind: "image"}
	bfClip := BonaFideResult{Kind: "clip"}
	sess := map[[2]string]*SpeciesResult{}
	count := func(species, level string, accepted bool) {
		k := [2]string{species, level}
		if sess[k] == nil {
			sess[k] = &SpeciesResult{Species: species, Level: level}
		}
		sess[k].Attacks++
		if accepted {
			sess[k].Accepted++
		}
	}
	var stills []struct {
		src string
		img image.Image
	}
	seenID := map[string]bool{}
	var clips []string
	var liveClips [][]analysed // each live clip's frames, for SpeciesInterleaved
	for _, row := range labels.rows {
		path := row["path"]
		if row["kind"] == "live" && (strings.HasPrefix(path, "pad/") || strings.HasPrefix(path, "verify/")) &&
			!seenID[row["identity"]] {
			if img, err := decodeFile(dir, path); err == nil {
				seenID[row["identity"]] = true
				stills = append(stills, struct {
					src string
					img image.Image
				}{path, img})
			}
		}
		if !strings.HasPrefix(path, "pad/") {
			continue
		}
		faces, err := analyze(ctx, eng, dir, path, engine.WantLiveness)
		if err == nil && len(faces) == 0 {
			err = fmt.Errorf("no face")
		}
		if err != nil {
			r.Errors = append(r.Errors, FileError{Path: path, Error: describe(err)})
		}
		live := err == nil && engine.IsLive(faces[0].Liveness)
		if row["kind"] == "spoof" {
			sp := "image: " + speciesName(row["spoof_type"])
			if imgRes[sp] == nil {
				imgRes[sp] = &SpeciesResult{Species: sp, Level: "image"}
			}
			imgRes[sp].Attacks++
			if live {
				imgRes[sp].Accepted++
			}
		} else {
			bfImage.Presentations++
			if !live {
				bfImage.Refused++
			}
		}
	}
	vids, _ := filepath.Glob(filepath.Join(dir, "video", "*.mjpeg"))
	clips = append(clips, vids...)
	sort.Strings(clips)
	// A clip's species is its spoof_type in labels.csv or, when it has no
	// row, the set's one attack type if it has only one (NUAA: print).
	kinds := map[string]string{}
	types := map[string]bool{}
	for _, row := range labels.rows {
		kinds[row["path"]] = row["spoof_type"]
		if row["kind"] == "spoof" && row["spoof_type"] != "" {
			types[row["spoof_type"]] = true
		}
	}
	only := ""
	if len(types) == 1 {
		for t := range types {
			only = t
		}
	}
	for _, path := range clips {
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		b, err := os.ReadFile(path)
		if err != nil {
			r.Errors = append(r.Errors, FileError{Path: rel, Error: describe(err)})
			continue
		}
		all := engine.SplitMJPEG(b)
		var frames [][]byte
		for i := 0; i < len(all) && len(frames) < clipMaxFrame; i += clipStep {
			frames = append(frames, all[i])
		}
		an, err := run(frames)
		if err != nil {
			return nil, err
		}
		spoof := strings.HasPrefix(filepath.Base(path), "spoof")
		for start := 0; start < len(an); start += sessionEvery {
			s := simulate(an, start, false, nil)
			s.Source, s.Level = fmt.Sprintf("%s@%.1fs", rel, float64(start)*simInterval.Seconds()), "standard"
			if spoof {
				k := kinds[rel]
				if k == "" {
					k = only
				}
				s.Species = "clip: " + speciesName(k)
				count(s.Species, s.Level, s.Outcome == OutcomeAccepted)
			} else {
				s.Species = "bona-fide"
				bfClip.Presentations++
				if s.Outcome != OutcomeAccepted {
					bfClip.Refused++
				}
				if s.Prompts != "" {
					bfClip.Prompted++
				}
			}
			r.Sessions = append(r.Sessions, s)
			if spoof {
				continue
			}
			// The same recording replayed against prompts it cannot know.
			for _, o := range promptOrders() {
				s := simulate(an, start, true, o.prompts)
				s.Source, s.Level, s.Species = fmt.Sprintf("%s@%.1fs", rel, float64(start)*simInterval.Seconds()), o.level, "replayed live clip vs prompts"
				count(s.Species, s.Level, s.Outcome == OutcomeAccepted)
				r.Sessions = append(r.Sessions, s)
			}
		}
		if !spoof && len(all) > 0 {
			liveClips = append(liveClips, an)
			if img, err := decodeBytes(all[len(all)/2]); err == nil {
				stills = append(stills, struct {
					src string
					img image.Image
				}{rel + "#middle", img})
			}
		}
	}
	for i, st := range stills {
		// An attacker frames the face as a camera would: the still is
		// recentred on its face, the face 40 % of the frame height.
		framed, err := frameFace(ctx, eng, st.img)
		if err != nil {
			r.Errors = append(r.Errors, FileError{Path: st.src, Error: describe(err)})
			continue
		}
		for j, sp := range StillSpecies {
			an, err := run(StillAttack(framed, sp, stillFrames, uint64(1000*i+j)))
			if err != nil {
				return nil, err
			}
			for _, strict := range []bool{false, true} {
				s := simulate(an, 0, strict, nil)
				s.Source, s.Species, s.Level = st.src, sp, levelName(strict)
				count(sp, s.Level, s.Outcome == OutcomeAccepted)
				r.Sessions = append(r.Sessions, s)
			}
			if sp != SpeciesShift {
				continue
			}
			// The still interleaved with a live camera of someone else.
			if other := otherFace(an, liveClips, i); other != nil {
				mixed := interleave(an, other, interleaveEvery)
				for _, strict := range []bool{false, true} {
					s := simulate(mixed, 0, strict, nil)
					s.Source, s.Species, s.Level = st.src, SpeciesInterleaved, levelName(strict)
					count(s.Species, s.Level, s.Outcome == OutcomeAccepted)
					r.Sessions = append(r.Sessions, s)
				}
			}
		}
	}
	for _, v := range imgRes {
		v.APCER = ratio(v.Accepted, v.Attacks)
		r.Species = append(r.Species, *v)
	}
	for _, v := range sess {
		v.APCER = ratio(v.Accepted, v.Attacks)
		r.Species = append(r.Species, *v)
		r.Summary.AttackSessions += v.Attacks
		r.Summary.MaxAPCER = max(r.Summary.MaxAPCER, v.APCER)
	}
	sort.Slice(r.Species, func(i, j int) bool {
		a, b := r.Species[i], r.Species[j]
		if a.Level != b.Level {
			return levelOrder(a.Level) < levelOrder(b.Level)
		}
		return a.Species < b.Species
	})
	bfImage.BPCER = ratio(bfImage.Refused, bfImage.Presentations)
	bfClip.BPCER = ratio(bfClip.Refused, bfClip.Presentations)
	r.BonaFide = []BonaFideResult{bfImage, bfClip}
	r.Summary.BPCER, r.Summary.BonaFide = bfClip.BPCER, bfClip.Presentations
	sort.Slice(r.Errors, func(i, j int) bool { return r.Errors[i].Path < r.Errors[j].Path })
	return r, nil
}

// simulate runs one widget session over analysed frames from start (looping
// them, at 10 fps): pad.Next on the usable frames and, when it asks for
// prompts, pad.Challenge on the one-face frames — with prompts, or else the
// first order the server may draw (strict: blink then turn left; standard:
// turn left then right) — until accepted or refused.
func simulate(an []analysed, start int, strict bool, prompts []string) PADSession {
	if prompts == nil {
		prompts = []string{pad.PromptTurnLeft, pad.PromptTurnRight}
		if strict {
			prompts = []string{pad.PromptBlink, pad.PromptTurnLeft}
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var frames []pad.Frame
	usable := 0 // usable frames seen, for pad.Scored
	var ch *pad.Challenge
	var ev pad.Evidence // when liveness was first decided
	end := func(outcome, signal string, prompted bool) PADSession {
		r := PADSession{Outcome: outcome, Signal: signal, NonPlanarity: ev.NonPlanarity, Parallax: ev.Parallax,
			TextureParallax: ev.TextureParallax}
		if prompted {
			r.Prompts = strings.Join(prompts, ",")
		}
		return r
	}
	limit := len(an) + 2*int(pad.StepFor/simInterval)*len(prompts) + 4*int(pad.PassiveWait/simInterval)
	for k := 0; k < limit; k++ {
		a := an[(start+k)%len(an)]
		at := t0.Add(time.Duration(k) * simInterval)
		if !a.ok {
			continue
		}
		f := &a.face
		if ch != nil {
			st, why := ch.Observe(pad.Observation{Landmarks: f.Landmarks, Yaw: f.Quality.Yaw, EyesOpen: f.EyesOpen, At: at})
			switch st {
			case pad.Failed:
				return end(OutcomeRefused, why, true)
			case pad.Passed:
				return end(OutcomeAccepted, "", true)
			}
			continue
		}
		if !a.usable {
			continue
		}
		frames = append(frames, pad.Frame{Landmarks: f.Landmarks, At: at, Liveness: f.Liveness,
			Unscored: !pad.Scored(usable), Embedding: f.Embedding, Patch: a.patch,
			Memo: new(pad.TextureMemo)}) // aligned once per session, as the server does
		usable++
		if len(frames) > pad.MaxFrames {
			frames = frames[1:]
		}
		act, why := pad.Next(frames, simNeed, simMaxFPS, strict)
		if act != pad.Collect && ev.Frames == 0 {
			ev = pad.Measure(frames)
			if ev.TextureParallax == 0 { // not needed by the decision: reported all the same
				ev.TextureParallax = pad.TextureParallax(frames)
			}
		}
		switch act {
		case pad.Refuse:
			return end(OutcomeRefused, why, false)
		case pad.Accept:
			return end(OutcomeAccepted, "", false)
		case pad.Prompt:
			var ref []engine.Landmarks
			for _, fr := range frames {
				ref = append(ref, fr.Landmarks)
			}
			ch = pad.NewChallenge(prompts, ref, at)
		}
	}
	if ch != nil {
		return end(OutcomeRefused, pad.ReasonTimeout, true)
	}
	return end(OutcomeRefused, "no_decision", false)
}

// promptOrder is a prompt sequence and the liveness level that asks it.
type promptOrder struct {
	level   string
	prompts []string
}

// promptOrders are the prompt sequences a replay is tried against: every
// ordered pair of strict's prompts, and both orders of the standard
// fallback's two turns.
func promptOrders() []promptOrder {
	p := []string{pad.PromptBlink, pad.PromptTurnLeft, pad.PromptTurnRight}
	var out []promptOrder
	for _, a := range p {
		for _, b := range p {
			if a != b {
				out = append(out, promptOrder{"strict", []string{a, b}})
			}
		}
	}
	return append(out, promptOrder{"standard", []string{pad.PromptTurnLeft, pad.PromptTurnRight}},
		promptOrder{"standard", []string{pad.PromptTurnRight, pad.PromptTurnLeft}})
}

func levelName(strict bool) string {
	if strict {
		return "strict"
	}
	return "standard"
}

func levelOrder(l string) int {
	return map[string]int{"image": 0, "standard": 1, "strict": 2}[l]
}

// speciesName names an attack species from labels.csv's spoof_type.
func speciesName(s string) string {
	if s == "" {
		return "unlabelled"
	}
	return s
}

func decodeFile(dir, path string) (image.Image, error) {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(path)))
	if err != nil {
		return nil, err
	}
	return decodeBytes(b)
}

// decodeBytes decodes with the engine's decoder (EXIF orientation applied).
func decodeBytes(b []byte) (image.Image, error) {
	m, err := engine.Decode(b, engine.Limits{})
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i := 0; i < m.W*m.H; i++ {
		copy(img.Pix[4*i:4*i+3], m.Pix[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	return img, nil
}

// frameFace returns the still recentred on its largest face, on a grey
// 4:3 canvas where the face is 40 % of the height once StillAttack fits it
// into the frame.
func frameFace(ctx context.Context, eng *engine.Engine, src image.Image) (image.Image, error) {
	b := src.Bounds()
	m := &engine.Image{W: b.Dx(), H: b.Dy(), Pix: make([]uint8, 3*b.Dx()*b.Dy())}
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r, g, bl, _ := src.At(b.Min.X+x, b.Min.Y+y).RGBA()
			o := 3 * (y*b.Dx() + x)
			m.Pix[o], m.Pix[o+1], m.Pix[o+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
		}
	}
	faces, err := eng.Analyze(ctx, m, 0)
	if err != nil {
		return nil, err
	}
	if len(faces) == 0 {
		return nil, fmt.Errorf("no face to frame")
	}
	f := faces[0].Box
	h := float64(f.H()) / (0.4 / 0.9) // StillAttack fits the canvas into 90 % of the frame
	w := h * 4 / 3
	cx, cy := float64(f.X1+f.X2)/2, float64(f.Y1+f.Y2)/2
	dst := image.NewRGBA(image.Rect(0, 0, int(w), int(h)))
	for i := range dst.Pix {
		dst.Pix[i] = 96
		if i%4 == 3 {
			dst.Pix[i] = 255
		}
	}
	ox, oy := int(cx-w/2), int(cy-h/2)
	for y := 0; y < int(h); y++ {
		for x := 0; x < int(w); x++ {
			sx, sy := ox+x, oy+y
			if sx < 0 || sy < 0 || sx >= b.Dx() || sy >= b.Dy() {
				continue
			}
			o := 3 * (sy*b.Dx() + sx)
			d := dst.PixOffset(x, y)
			dst.Pix[d], dst.Pix[d+1], dst.Pix[d+2] = m.Pix[o], m.Pix[o+1], m.Pix[o+2]
		}
	}
	return dst, nil
}

// interleaveEvery is how often a frame of the other face comes in an
// interleaved attack: one frame in three (enough motion for the geometry,
// while most frames carry the still's identity).
const interleaveEvery = 3

// otherFace returns the frames of a live clip (trying them from the k-th)
// whose face is not the still's, or nil: the embeddings of their first
// one-face frames do not match.
func otherFace(still []analysed, clips [][]analysed, k int) []analysed {
	first := func(an []analysed) *engine.Face {
		for i := range an {
			if an[i].ok {
				return &an[i].face
			}
		}
		return nil
	}
	s := first(still)
	if s == nil {
		return nil
	}
	for j := range clips {
		c := clips[(k+j)%len(clips)]
		if f := first(c); f != nil && !engine.Matches(engine.Similarity(s.Embedding, f.Embedding)) {
			return c
		}
	}
	return nil
}

// interleave is an attack stream: every n-th frame from other (a live
// camera of someone else), the rest from still, looping both over the
// length a session may need.
func interleave(still, other []analysed, n int) []analysed {
	out := make([]analysed, 0, 4*len(still))
	for k := range cap(out) {
		if k%n == 0 {
			out = append(out, other[k%len(other)])
		} else {
			out = append(out, still[k%len(still)])
		}
	}
	return out
}
