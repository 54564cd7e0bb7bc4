package server

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/identify"
	"github.com/likeness/likeness/pad"
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
	p := math.Min(1, float64(len(ss.good))/float64(max(ss.need(), pad.MinFrames)))
	if n := len(ss.good); n > 0 { // evidence also needs time
		p = math.Min(p, float64(ss.good[n-1].at.Sub(ss.good[0].at))/float64(pad.MinSpan))
	}
	if ss.phase == phaseChallenge && ss.chal != nil {
		p = ss.chal.Progress()
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
	defer ss.s.capacity.frameDone()
	img, err := ss.s.cfg.Engine.Decode(frame)
	if err != nil {
		return nil, false, fail(likeness.FioProcessingErr, "A camera frame is not a valid image.", err)
	}
	// Detection, landmarks and quality on every frame: guidance and the
	// planar-motion evidence need them. The embedding and liveness models
	// (describe) run only on the frame's subject, and only once the frame
	// is known to be one the decision uses.
	faces, err := ss.s.cfg.Engine.Analyze(ctx, img, 0)
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
		// The eyes for a blink; the embedding for the same-face check,
		// unless the frame is turned too far to be looked at.
		want := engine.WantEyes
		if sameFaceComparable(f) {
			want |= engine.WantEmbedding
		}
		if bad := ss.describe(ctx, img, f, want); bad != nil {
			return nil, false, bad
		}
		return ss.challengeFrame(ctx, f)
	}
	if hint := qualityHint(f, img); hint != "" {
		return ss.guideMsg(hint), false, nil
	}
	// A usable frame: pad.Next and the template use every one of them;
	// the passive model runs on pad.Scored ones.
	want := engine.WantEmbedding
	scored := pad.Scored(ss.usable)
	ss.usable++
	if scored {
		want |= engine.WantLiveness
	}
	if ss.op == opEnroll {
		want |= engine.WantAge
	}
	if bad := ss.describe(ctx, img, f, want); bad != nil {
		return nil, false, bad
	}
	if ss.firstGood.IsZero() {
		ss.firstGood = ss.s.cfg.Now()
	}
	ss.good = append(ss.good, goodFrame{
		embedding: f.Embedding, liveness: f.Liveness, scored: scored, landmarks: f.Landmarks, age: f.AgeFrame(),
		patch: engine.FacePatch(img, f.Box), yaw: f.Quality.Yaw, at: ss.frameAt,
	})
	if len(ss.good) > pad.MaxFrames { // the newest frames are the evidence
		ss.good = append(ss.good[:0], ss.good[len(ss.good)-pad.MaxFrames:]...)
	}
	// Evidence over time (pad.Next): enough frames spanning pad.MinSpan of
	// the server's receive times, at camera pace, not one planar image.
	strict := ss.set.Liveness == likeness.LivenessStrict
	action, why := pad.Next(padFrames(ss.good), ss.need(), ss.s.lim.MaxFPS, strict)
	switch action {
	case pad.Collect:
		return ss.guideMsg("hold_still"), false, nil
	case pad.Refuse:
		return nil, false, ss.padFailure(ctx, why)
	}
	embs := make([][]float32, len(ss.good))
	for i, g := range ss.good {
		embs[i] = g.embedding
	}
	ss.template = meanUnit(embs)
	if action == pad.Prompt {
		if strict {
			ss.startChallenge(ss.s.prompts, challengeSteps)
		} else { // planar so far: turns both ways, in random order, decide
			ss.log.Info("liveness needs turns", "signal", why)
			ss.startChallenge([]string{pad.PromptTurnLeft, pad.PromptTurnRight}, 2)
		}
		return ss.guideMsg(ss.chal.Current()), false, nil
	}
	return ss.conclude(ctx)
}

// describe runs the stages in want on the frame's subject face.
func (ss *session) describe(ctx context.Context, img *engine.Image, f *engine.Face, want engine.Want) *failure {
	if err := ss.s.cfg.Engine.Describe(ctx, img, f, want); err != nil {
		return fail(likeness.FioProcessingErr, "The frame could not be processed.", err)
	}
	return nil
}

// FrameUsable reports whether a frame's face passes the session's frame
// gate (no hint to move, face the camera, add light or hold steady); the
// PAD evaluation simulates sessions with it.
func FrameUsable(f *engine.Face, img *engine.Image) bool { return qualityHint(f, img) == "" }

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
	if o := ss.s.cfg.Observer; o != nil {
		defer func(began time.Time) { o.Decided(ss.op, time.Since(began)) }(time.Now())
	}
	if ss.op == opEnroll {
		return ss.concludeEnroll(ctx)
	}
	return ss.concludeAuth(ctx)
}

func (ss *session) concludeEnroll(ctx context.Context) (map[string]any, bool, *failure) {
	// The frames show one face: pad.Decide refused the session otherwise
	// (pad.SameFace, pad.ReasonMixed) before liveness was established.
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
	token, err := ss.token(face.FacialID, opEnroll)
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

// judgeLiveness judges the good frames (pad.Decide).
func judgeLiveness(frames []goodFrame, maxFPS int) (pad.Verdict, string) {
	return pad.Decide(padFrames(frames), maxFPS)
}

// padFrames is what pad needs of the good frames; each frame's texture
// memo is the good frame's own, so a frame is aligned once per session.
func padFrames(frames []goodFrame) []pad.Frame {
	out := make([]pad.Frame, len(frames))
	for i, g := range frames {
		out[i] = pad.Frame{Landmarks: g.landmarks, At: g.at, Liveness: g.liveness, Unscored: !g.scored,
			Embedding: g.embedding, Patch: g.patch, Memo: &frames[i].tex}
	}
	return out
}
