package server

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
)

// Frame quality gates, relative to the frame so any camera resolution works.
const (
	minFaceFrac   = 0.18 // face height / frame height: smaller → move closer
	maxFaceFrac   = 0.85 // larger → move back
	maxCenterOff  = 0.30 // face centre distance from the frame centre, / frame size
	maxYawPitch   = 30   // degrees: beyond → look at the camera
	minBrightness = 45   // mean luma of the aligned face
	minSharpness  = 20   // Laplacian variance of the aligned face
	manyFacesMax  = 6    // consecutive frames with several faces before MANY_FACES
)

// processFrame analyses one camera frame. It returns the final result when
// the operation is decided, else a guidance hint.
func (ss *session) processFrame(ctx context.Context, frame []byte) (map[string]any, string, *failure) {
	if len(frame) > ss.s.lim.MaxFrameBytes {
		return nil, "", fail(likeness.FioProcessingErr,
			fmt.Sprintf("A camera frame is larger than %d bytes.", ss.s.lim.MaxFrameBytes), nil)
	}
	img, err := ss.s.cfg.Engine.Decode(frame)
	if err != nil {
		return nil, "", fail(likeness.FioProcessingErr, "A camera frame is not a valid image.", err)
	}
	want := engine.WantEmbedding | engine.WantLiveness
	if ss.op == opEnroll {
		want |= engine.WantAge
	}
	faces, err := ss.s.cfg.Engine.Analyze(ctx, img, want)
	if err != nil {
		return nil, "", fail(likeness.FioProcessingErr, "The frame could not be processed.", err)
	}
	switch {
	case len(faces) == 0:
		ss.manyFaces = 0
		return nil, "no_face", nil
	case len(faces) > 1:
		ss.manyFaces++
		if ss.manyFaces >= manyFacesMax {
			return nil, "", fail(likeness.FioManyFaces, "Several faces are in view.", nil)
		}
		return nil, "many_faces", nil
	}
	ss.manyFaces = 0
	f := &faces[0]
	if hint := qualityHint(f, img); hint != "" {
		return nil, hint, nil
	}
	if ss.firstGood.IsZero() {
		ss.firstGood = ss.s.cfg.Now()
	}
	p := f.Landmarks.Five()
	ss.good = append(ss.good, goodFrame{
		embedding: f.Embedding, liveness: f.Liveness, landmarks: f.Landmarks,
		iod: float32(math.Hypot(float64(p[1].X-p[0].X), float64(p[1].Y-p[0].Y))), age: f.Age,
	})
	need := ss.s.lim.AuthFrames
	if ss.op == opEnroll {
		need = ss.s.lim.EnrollFrames
	}
	if len(ss.good) < need {
		return nil, "hold_still", nil
	}
	res, fl := ss.decide(ctx)
	return res, "", fl
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

// decide ends the operation once enough good frames are in.
func (ss *session) decide(ctx context.Context) (map[string]any, *failure) {
	if ok, why := judgeLiveness(ss.good); !ok {
		ss.log.Info("liveness refused", "signal", why) // which signal, never a score
		return nil, fail(likeness.FioPADAttack, "The liveness check failed.", nil)
	}
	embs := make([][]float32, len(ss.good))
	for i, g := range ss.good {
		embs[i] = g.embedding
	}
	switch ss.op {
	case opEnroll:
		for i := range embs {
			for j := i + 1; j < len(embs); j++ {
				if !engine.Matches(engine.Similarity(embs[i], embs[j])) {
					return nil, fail(likeness.FioFaceMismatch, "The frames show different faces.", nil)
				}
			}
		}
		face, err := ss.s.cfg.Faces.Enroll(ctx, likeness.Enrollment{
			AppID: ss.app.ID, ConsentID: ss.consent.ID, Template: meanUnit(embs), Payload: ss.payload,
		})
		if err != nil {
			return nil, fail(likeness.FioProcessingErr, "The enrollment could not be stored.", err)
		}
		token, err := ss.s.signer.issue(ss.app.PublicID, face.FacialID, opEnroll)
		if err != nil {
			return nil, fail(likeness.FioProcessingErr, "The result could not be signed.", err)
		}
		ss.log.Info("enrolled", "facial_id", face.FacialID)
		return map[string]any{"type": "result", "facialId": face.FacialID,
			"timestamp": face.EnrolledAt.UTC().Format(time.RFC3339), "details": map[string]any{"age": ageRange(ss.good)},
			"token": token}, nil
	default:
		matches, err := ss.s.cfg.Faces.Search(ctx, ss.app.ID, meanUnit(embs), 1)
		if err != nil {
			return nil, fail(likeness.FioProcessingErr, "The search failed.", err)
		}
		if len(matches) == 0 || !engine.Matches(matches[0].Similarity) {
			return nil, fail(likeness.FioUnrecognizedFace, "The face was not recognised.", nil)
		}
		face, err := ss.s.cfg.Faces.Face(ctx, ss.app.ID, matches[0].FacialID)
		if err != nil {
			return nil, fail(likeness.FioUnrecognizedFace, "The face was not recognised.", err)
		}
		if err := ss.s.cfg.Faces.TouchAuth(ctx, ss.app.ID, face.FacialID); err != nil {
			ss.log.Warn("touch auth", "err", err)
		}
		token, err := ss.s.signer.issue(ss.app.PublicID, face.FacialID, opAuthenticate)
		if err != nil {
			return nil, fail(likeness.FioProcessingErr, "The result could not be signed.", err)
		}
		var payload any = nil
		if len(face.Payload) > 0 {
			payload = face.Payload
		}
		ss.log.Info("authenticated", "facial_id", face.FacialID)
		return map[string]any{"type": "result", "facialId": face.FacialID, "payload": payload, "token": token}, nil
	}
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
	ages := make([]float64, len(frames))
	for i, f := range frames {
		ages[i] = float64(f.age)
	}
	sort.Float64s(ages)
	d := int(ages[len(ages)/2]) / 10 * 10
	return fmt.Sprintf("%d-%d", d, d+9)
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
