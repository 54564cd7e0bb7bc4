package server

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/identify"
)

// Frame quality gates, relative to the frame so any camera resolution works.
const (
	minFaceFrac   = 0.18 // face height / frame height: smaller → move closer
	maxFaceFrac   = 0.85 // larger → move back
	maxCenterOff  = 0.30 // face centre distance from the frame centre, / frame size
	maxYawPitch   = 30   // degrees: beyond → look at the camera
	minBrightness = 45   // mean luma of the aligned face
	minSharpness  = 20   // Laplacian variance of the aligned face
	// manyFacesFor is how long faces of comparable size may stay in view
	// before MANY_FACES ends the attempt; a background face (much smaller,
	// engine.BackgroundRatio) is ignored.
	manyFacesFor = 5 * time.Second
)

// Session phases after capture starts.
type phase int

const (
	phaseCapture   phase = iota // collecting good frames
	phaseChallenge              // strict liveness: following prompts
	phasePIN                    // waiting for a PIN from the user
)

func (ss *session) need() int {
	if ss.op == opEnroll {
		return ss.s.lim.EnrollFrames
	}
	return ss.s.lim.AuthFrames
}

// guideMsg is a guidance reply.
func (ss *session) guideMsg(hint string) map[string]any {
	p := math.Min(1, float64(len(ss.good))/float64(ss.need()))
	if ss.phase == phaseChallenge && ss.chal != nil {
		p = float64(ss.chal.done) / float64(len(ss.chal.steps))
	}
	return map[string]any{"type": "guide", "hint": hint, "progress": math.Round(p*100) / 100}
}

// pinMsg asks for a PIN.
func (ss *session) pinMsg(reason string) map[string]any {
	return map[string]any{"type": "pin", "reason": reason, "minLength": ss.set.PINMinLength}
}

// processFrame analyses one camera frame and returns the reply to it; done
// means the reply is the final result.
func (ss *session) processFrame(ctx context.Context, frame []byte) (map[string]any, bool, *failure) {
	if len(frame) > ss.s.lim.MaxFrameBytes {
		return nil, false, fail(likeness.FioProcessingErr,
			fmt.Sprintf("A camera frame is larger than %d bytes.", ss.s.lim.MaxFrameBytes), nil)
	}
	if ss.phase == phasePIN {
		return ss.guideMsg("processing"), false, nil // a frame still in flight
	}
	img, err := ss.s.cfg.Engine.Decode(frame)
	if err != nil {
		return nil, false, fail(likeness.FioProcessingErr, "A camera frame is not a valid image.", err)
	}
	want := engine.WantEmbedding | engine.WantLiveness
	if ss.op == opEnroll {
		want |= engine.WantAge
	}
	if ss.phase == phaseChallenge {
		want = engine.WantEmbedding | engine.WantEyes
	}
	faces, err := ss.s.cfg.Engine.Analyze(ctx, img, want)
	if err != nil {
		return nil, false, fail(likeness.FioProcessingErr, "The frame could not be processed.", err)
	}
	if len(faces) == 0 {
		ss.manyFacesSince = time.Time{}
		return ss.guideMsg("no_face"), false, nil
	}
	ss.sawFace = true // a face is in view: not NO_FACES_DETECTED
	f, err := engine.Subject(faces)
	if err != nil {
		// Faces of comparable size: a hint while someone passes behind, the
		// end of the attempt only when it lasts (manyFacesFor).
		now := ss.s.cfg.Now()
		if ss.manyFacesSince.IsZero() {
			ss.manyFacesSince = now
		}
		if now.Sub(ss.manyFacesSince) >= manyFacesFor {
			return nil, false, fail(likeness.FioManyFaces, "Several faces are in view.", nil)
		}
		return ss.guideMsg("many_faces"), false, nil
	}
	ss.manyFacesSince = time.Time{}
	if ss.phase == phaseChallenge {
		return ss.challengeFrame(ctx, f)
	}
	if hint := qualityHint(f, img); hint != "" {
		return ss.guideMsg(hint), false, nil
	}
	if ss.firstGood.IsZero() {
		ss.firstGood = ss.s.cfg.Now()
	}
	p := f.Landmarks.Five()
	ss.good = append(ss.good, goodFrame{
		embedding: f.Embedding, liveness: f.Liveness, landmarks: f.Landmarks,
		iod: float32(math.Hypot(float64(p[1].X-p[0].X), float64(p[1].Y-p[0].Y))), age: f.AgeFrame(),
	})
	if len(ss.good) < ss.need() {
		return ss.guideMsg("hold_still"), false, nil
	}
	if ok, why := judgeLiveness(ss.good); !ok {
		ss.log.Info("liveness refused", "signal", why) // which signal, never a score
		return nil, false, fail(likeness.FioPADAttack, "The liveness check failed.", nil)
	}
	embs := make([][]float32, len(ss.good))
	for i, g := range ss.good {
		embs[i] = g.embedding
	}
	ss.template = meanUnit(embs)
	if ss.set.Liveness == likeness.LivenessStrict {
		ss.phase, ss.chal = phaseChallenge, newChallenge(ss.s.cfg.Now(), ss.s.prompts)
		return ss.guideMsg(ss.chal.current()), false, nil
	}
	return ss.conclude(ctx)
}

// qualityHint returns what the user should change, or "" for a usable face.
func qualityHint(f *engine.Face, img *engine.Image) string {
	h := float64(f.Box.H())
	fh := float64(img.H)
	cx := float64(f.Box.X1+f.Box.X2)/2/float64(img.W) - 0.5
	cy := float64(f.Box.Y1+f.Box.Y2)/2/fh - 0.5
	q := f.Quality
	switch {
	case h < minFaceFrac*fh:
		return "move_closer"
	case h > maxFaceFrac*fh:
		return "move_back"
	case math.Abs(cx) > maxCenterOff || math.Abs(cy) > maxCenterOff:
		return "center_face"
	case math.Abs(float64(q.Yaw)) > maxYawPitch || math.Abs(float64(q.Pitch)) > maxYawPitch:
		return "look_at_camera"
	case q.Brightness < minBrightness:
		return "too_dark"
	case q.Sharpness < minSharpness:
		return "too_blurry"
	}
	return ""
}

// conclude decides once liveness is established.
func (ss *session) conclude(ctx context.Context) (map[string]any, bool, *failure) {
	if ss.op == opEnroll {
		return ss.concludeEnroll(ctx)
	}
	return ss.concludeAuth(ctx)
}

func (ss *session) concludeEnroll(ctx context.Context) (map[string]any, bool, *failure) {
	for i := range ss.good {
		for j := i + 1; j < len(ss.good); j++ {
			if !engine.Matches(engine.Similarity(ss.good[i].embedding, ss.good[j].embedding)) {
				return nil, false, fail(likeness.FioFaceMismatch, "The frames show different faces.", nil)
			}
		}
	}
	if ss.set.PreventMinors && engine.DecideAge(ageFrames(ss.good), ss.set.MinimumAge).Verdict != engine.AgeAdult {
		return nil, false, fail(likeness.FioMinorsNotAllowed, "Enrollment is limited to adults.", nil)
	}
	if ss.set.PreventDuplicates {
		dup, err := ss.s.duplicateOf(ctx, ss.app.ID, ss.template)
		if err != nil {
			return nil, false, fail(likeness.FioProcessingErr, "The search failed.", err)
		}
		if dup != "" {
			return nil, false, fail(likeness.FioFaceDuplication, "This face is already enrolled.", nil)
		}
	}
	if ss.set.PIN == likeness.PINRequired {
		ss.phase, ss.pinStep = phasePIN, "enroll"
		return ss.pinMsg("enroll"), false, nil
	}
	return ss.storeEnrollment(ctx, "")
}

func (ss *session) storeEnrollment(ctx context.Context, pin string) (map[string]any, bool, *failure) {
	face, err := ss.s.cfg.Faces.Enroll(ctx, likeness.Enrollment{
		AppID: ss.app.ID, ConsentID: ss.consent.ID, Template: ss.template, Payload: ss.payload, PIN: pin,
	})
	if err != nil {
		return nil, false, fail(likeness.FioProcessingErr, "The enrollment could not be stored.", err)
	}
	token, err := ss.s.signer.issue(ss.app.PublicID, face.FacialID, opEnroll)
	if err != nil {
		return nil, false, fail(likeness.FioProcessingErr, "The result could not be signed.", err)
	}
	ss.log.Info("enrolled", "facial_id", face.FacialID)
	return map[string]any{"type": "result", "facialId": face.FacialID,
		"timestamp": face.EnrolledAt.UTC().Format(time.RFC3339), "details": map[string]any{"age": ageRange(ss.good)},
		"token": token}, true, nil
}

// concludeAuth identifies the template with the one decision the REST API's
// identify uses (package identify).
func (ss *session) concludeAuth(ctx context.Context) (map[string]any, bool, *failure) {
	res, err := ss.s.ident.Identify(ctx, ss.identifyRequest(""))
	if err != nil {
		return nil, false, fail(likeness.FioProcessingErr, "The search failed.", err)
	}
	return ss.afterIdentify(ctx, res)
}

// identifyRequest is this session's identification, with pin when given.
func (ss *session) identifyRequest(pin string) identify.Request {
	r := identify.Request{AppID: ss.app.ID, Settings: ss.set, Probe: ss.template,
		ExternalID: ss.externalID, FacialID: ss.facialIDHint, PIN: pin}
	if pin != "" {
		r.PINCandidates = ss.pinCands
	}
	return r
}

// afterIdentify turns an identification into the session's next step.
func (ss *session) afterIdentify(ctx context.Context, res *identify.Result) (map[string]any, bool, *failure) {
	switch {
	case res.Locked:
		return nil, false, fail(likeness.FioTooManyRequests, "Too many failed attempts; try again later.", nil)
	case res.Kind == identify.Match:
		return ss.authSuccess(ctx, res.FacialID)
	case res.Kind == identify.SecondFactor:
		ss.phase, ss.pinStep, ss.pinCands = phasePIN, "authenticate", res.PINFor
		return ss.pinMsg("authenticate"), false, nil
	case res.WrongPIN:
		ss.pinTries++
		if ss.pinTries >= identify.PINTries {
			return nil, false, fail(likeness.FioWrongPINCode, "Wrong PIN code.", nil)
		}
		return ss.pinMsg("retry"), false, nil
	}
	ss.log.Info("not identified", "reason", res.Reason) // a reason, never a score
	return nil, false, fail(likeness.FioUnrecognizedFace, "The face was not recognised.", nil)
}

func (ss *session) authSuccess(ctx context.Context, facialID string) (map[string]any, bool, *failure) {
	face, err := ss.s.identified(ctx, ss.app.ID, facialID)
	if err != nil {
		return nil, false, fail(likeness.FioUnrecognizedFace, "The face was not recognised.", err)
	}
	token, err := ss.token(face.FacialID, opAuthenticate)
	if err != nil {
		return nil, false, fail(likeness.FioProcessingErr, "The result could not be signed.", err)
	}
	var payload any
	if len(face.Payload) > 0 {
		payload = face.Payload
	}
	ss.log.Info("authenticated", "facial_id", face.FacialID)
	return map[string]any{"type": "result", "facialId": face.FacialID, "payload": payload, "token": token}, true, nil
}

// handlePIN takes a PIN the user typed.
func (ss *session) handlePIN(ctx context.Context, pin string) (map[string]any, bool, *failure) {
	if ss.phase != phasePIN {
		return nil, false, fail(likeness.FioProcessingErr, "No PIN was asked for.", nil)
	}
	switch ss.pinStep {
	case "enroll":
		if ss.set.CheckNewPIN(pin) != "" {
			return ss.pinMsg("retry"), false, nil
		}
		if ss.set.UniquePINs {
			used, err := ss.s.cfg.Policy.PINInUse(ctx, ss.app.ID, pin)
			if err != nil {
				return nil, false, fail(likeness.FioProcessingErr, "The PIN could not be checked.", err)
			}
			if used { // UNIQUE_PIN_REQUIRED is not fatal: ask for another
				return ss.pinMsg("unique"), false, nil
			}
		}
		ss.pinFirst, ss.pinStep = pin, "confirm"
		return ss.pinMsg("confirm"), false, nil
	case "confirm":
		if pin != ss.pinFirst {
			ss.pinFirst, ss.pinStep = "", "enroll"
			return ss.pinMsg("retry"), false, nil
		}
		return ss.storeEnrollment(ctx, pin)
	default: // authenticate: the same decision, now with the PIN
		res, err := ss.s.ident.Identify(ctx, ss.identifyRequest(pin))
		if err != nil {
			return nil, false, fail(likeness.FioProcessingErr, "The PIN could not be checked.", err)
		}
		return ss.afterIdentify(ctx, res)
	}
}

// ageFrames is what the minors gate (engine.DecideAge) needs of the frames.
func ageFrames(frames []goodFrame) []engine.AgeFrame {
	out := make([]engine.AgeFrame, len(frames))
	for i, f := range frames {
		out[i] = f.age
	}
	return out
}

// meanUnit returns the L2-normalised mean of unit vectors: the template of
// several frames of one face.
func meanUnit(v [][]float32) []float32 {
	out := make([]float32, len(v[0]))
	for _, e := range v {
		for i, x := range e {
			out[i] += x
		}
	}
	var s float64
	for _, x := range out {
		s += float64(x) * float64(x)
	}
	n := float32(math.Sqrt(s))
	for i := range out {
		out[i] /= n
	}
	return out
}

// ageRange is a coarse decade band of the median age estimate ("30-39"):
// FACEIO returns an age in details; a band is as useful and reveals less.
func ageRange(frames []goodFrame) string {
	return engine.DecideAgeAt(ageFrames(frames), 0).Band()
}

// Liveness across frames. The passive model judges each frame; on top of
// it, a face that does not move at all between frames — a photo held still,
// a replayed still image — is an attack: a live face in front of a camera
// always shows micro-motion and sensor noise.
const (
	// staticMotion is the mean landmark displacement between consecutive good
	// frames, as a fraction of the eye distance, below which the face is
	// taken as static.
	staticMotion = 0.004
	// staticSimilarity is the mean similarity between consecutive frames'
	// embeddings above which frames are taken as copies of one image.
	staticSimilarity = 0.995
)

// judgeLiveness returns whether the good frames show a live face, and the
// name of the signal that refused it.
func judgeLiveness(frames []goodFrame) (bool, string) {
	n := len(frames)
	scores := make([]float64, n)
	votes := 0
	for i, f := range frames {
		scores[i] = float64(f.liveness)
		if engine.IsLive(f.liveness) {
			votes++
		}
	}
	sort.Float64s(scores)
	if scores[n/2] < float64(engine.LivenessThreshold) || votes*3 < n*2 {
		return false, "passive"
	}
	if n < 2 {
		return true, ""
	}
	var motion, sim float64
	for i := 1; i < n; i++ {
		a, b := &frames[i-1], &frames[i]
		var d float64
		for k := range a.landmarks {
			d += math.Hypot(float64(a.landmarks[k].X-b.landmarks[k].X), float64(a.landmarks[k].Y-b.landmarks[k].Y))
		}
		motion += d / float64(len(a.landmarks)) / math.Max(1, float64(a.iod))
		sim += float64(engine.Similarity(a.embedding, b.embedding))
	}
	motion /= float64(n - 1)
	sim /= float64(n - 1)
	if motion < staticMotion && sim > staticSimilarity {
		return false, "static"
	}
	return true, ""
}
