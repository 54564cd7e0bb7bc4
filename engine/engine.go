// Package engine finds, describes and compares faces with ONNX models on the
// CPU: detection, 68-point landmarks, 5-point alignment, a 512-d embedding,
// passive liveness, eye openness, age and quality measures. It knows nothing
// about HTTP or storage.
package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/likeness/likeness"
)

// Config configures an Engine. Zero fields take defaults.
type Config struct {
	ModelsDir   string // directory with the .onnx files; default "models"
	LibraryPath string // ONNX Runtime shared library; default ModelsDir/libonnxruntime.so.1
	Workers     int    // frames analysed at once; default runtime.NumCPU()
	Limits      Limits // image decoding limits
}

// Want selects the optional stages of Analyze.
type Want uint8

// Optional stages. Detection, landmarks and quality always run.
const (
	WantEmbedding Want = 1 << iota
	WantLiveness
	WantEyes
	WantAge      // the calibrated age estimate (runs the embedding model too)
	WantAllFaces // run the selected stages on every face, not just the largest
)

// Face is one detected face.
type Face struct {
	Box       Box
	Score     float32 // detector confidence
	Landmarks Landmarks
	Quality   Quality
	Embedding []float32 // L2-normalised; nil unless WantEmbedding
	// Liveness is the passive model's probability that the face is a live
	// person and not a presentation attack (0 unless WantLiveness). It must
	// never be stored, logged or sent to a browser.
	Liveness float32
	EyesOpen [2]float32 // probability each eye is open (image left, right); WantEyes
	// Age is the calibrated age estimate in years (WantAge; see
	// EstimateAge). It must never be stored or sent to a client as is.
	Age    float32
	ageSSR float32 // fr_age.onnx's own estimate, an input of Age
}

// Engine runs the face models. It is safe for concurrent use; at most
// Config.Workers analyses run at once and the rest wait.
type Engine struct {
	cfg     Config
	opts    *ort.SessionOptions
	det     *model
	lmk     *model
	feat    *model
	live    *model
	eye     *model
	age     *model
	workers chan *worker
	all     []*worker
	once    sync.Once
	waiting atomic.Int64 // analyses waiting for a worker (stats.go)
	closed  atomic.Bool  // Close began (stats.go)
	work    atomic.Int64 // nanoseconds workers spent on analyses (WorkTime)
}

// worker is the preallocated tensors one analysis uses.
type worker struct {
	det, lmk, feat, live, eye, age *tensors
}

// DefaultModelsDir returns the models directory to use when none is given:
// $LIKENESS_MODELS_DIR, else ./models when it exists, else models/ beside the
// executable's parent directory (bin/../models).
func DefaultModelsDir() string {
	if d := os.Getenv("LIKENESS_MODELS_DIR"); d != "" {
		return d
	}
	if st, err := os.Stat("models"); err == nil && st.IsDir() {
		return "models"
	}
	if exe, err := os.Executable(); err == nil {
		return filepath.Join(filepath.Dir(filepath.Dir(exe)), "models")
	}
	return "models"
}

// New loads the runtime and every model, verifying each file's SHA-256.
func New(cfg Config) (*Engine, error) {
	if cfg.ModelsDir == "" {
		cfg.ModelsDir = DefaultModelsDir()
	}
	dir, err := filepath.Abs(cfg.ModelsDir)
	if err != nil {
		return nil, err
	}
	cfg.ModelsDir = dir
	if cfg.LibraryPath == "" {
		cfg.LibraryPath = filepath.Join(dir, ortLibrary)
	}
	if cfg.LibraryPath, err = filepath.Abs(cfg.LibraryPath); err != nil {
		return nil, err
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if err := acquireRuntime(cfg.LibraryPath); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg}
	if err := e.load(); err != nil {
		e.destroy()
		releaseRuntime()
		return nil, err
	}
	return e, nil
}

func (e *Engine) load() error {
	var err error
	if e.opts, err = newSessionOptions(); err != nil {
		return err
	}
	for _, m := range []struct {
		dst  **model
		spec modelSpec
	}{{&e.det, specDetect}, {&e.lmk, specLandmark}, {&e.feat, specFeature},
		{&e.live, specLiveness}, {&e.eye, specEye}, {&e.age, specAge}} {
		if *m.dst, err = loadModel(e.cfg.ModelsDir, m.spec, e.opts); err != nil {
			return err
		}
	}
	e.workers = make(chan *worker, e.cfg.Workers)
	for i := 0; i < e.cfg.Workers; i++ {
		w := &worker{}
		for _, t := range []struct {
			dst  **tensors
			spec modelSpec
		}{{&w.det, specDetect}, {&w.lmk, specLandmark}, {&w.feat, specFeature},
			{&w.live, specLiveness}, {&w.eye, specEye}, {&w.age, specAge}} {
			if *t.dst, err = newTensors(t.spec); err != nil {
				return err
			}
		}
		e.all = append(e.all, w)
		e.workers <- w
	}
	return nil
}

func (e *Engine) destroy() {
	for _, w := range e.all {
		for _, t := range []*tensors{w.det, w.lmk, w.feat, w.live, w.eye, w.age} {
			if t != nil {
				t.destroy()
			}
		}
	}
	for _, m := range []*model{e.det, e.lmk, e.feat, e.live, e.eye, e.age} {
		if m != nil {
			m.sess.Destroy()
		}
	}
	if e.opts != nil {
		e.opts.Destroy()
	}
}

// Close waits for running analyses to finish and releases every model and
// the runtime. The Engine must not be used afterwards.
func (e *Engine) Close() error {
	e.once.Do(func() {
		e.closed.Store(true)
		for range e.all {
			<-e.workers
		}
		e.destroy()
		releaseRuntime()
	})
	return nil
}

// Workers returns how many analyses may run at once.
func (e *Engine) Workers() int { return e.cfg.Workers }

// Decode decodes an image with the engine's limits.
func (e *Engine) Decode(data []byte) (*Image, error) { return Decode(data, e.cfg.Limits) }

// acquire takes a worker, waiting until one is free or ctx ends. Waiters
// are served in the order they came (a channel's receive queue is FIFO), so
// callers that each have one analysis outstanding — a widget session
// analyses one frame at a time — share the workers round-robin.
func (e *Engine) acquire(ctx context.Context) (*worker, error) {
	select {
	case w := <-e.workers:
		return w, nil
	default:
	}
	e.waiting.Add(1)
	defer e.waiting.Add(-1)
	select {
	case w := <-e.workers:
		return w, nil
	case <-ctx.Done():
		return nil, likeness.Wrap(ctx.Err(), likeness.EUNAVAILABLE, "The face engine is busy.")
	}
}

// release returns a worker taken at start and counts the time it was held.
func (e *Engine) release(w *worker, start time.Time) {
	e.work.Add(int64(time.Since(start)))
	e.workers <- w
}

// WorkTime returns the time workers have spent on analyses since New, all
// workers added up: its growth per analysed frame is what a frame costs
// the engine, queueing left out (the server's admission control measures
// the engine's capacity with it).
func (e *Engine) WorkTime() time.Duration { return time.Duration(e.work.Load()) }

// Analyze finds the faces in img, largest first, with landmarks and quality
// for each, and the stages in want for the largest (or every face with
// WantAllFaces).
func (e *Engine) Analyze(ctx context.Context, img *Image, want Want) ([]Face, error) {
	if img == nil || img.W < 8 || img.H < 8 {
		return nil, likeness.Errorf(likeness.EINVALID, "The image is too small.")
	}
	w, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer e.release(w, time.Now())
	p := newPyramid(img)
	faces, err := e.detect(w, p)
	if err != nil {
		return nil, err
	}
	for i := range faces {
		if i > 0 && want&WantAllFaces == 0 {
			break
		}
		if err := e.describe(w, p, &faces[i], want, true); err != nil {
			return nil, err
		}
	}
	return faces, nil
}

// Describe runs the stages in want on f, one face that Analyze found in
// img with fewer stages (detection, landmarks and quality only, say): a
// caller that decides from the cheap stages whether a frame is worth the
// embedding and liveness models runs them afterwards, once, on that face.
func (e *Engine) Describe(ctx context.Context, img *Image, f *Face, want Want) error {
	if img == nil || f == nil {
		return likeness.Errorf(likeness.EINVALID, "No face to describe.")
	}
	w, err := e.acquire(ctx)
	if err != nil {
		return err
	}
	defer e.release(w, time.Now())
	return e.describe(w, newPyramid(img), f, want, false) // Analyze measured the quality
}

// detect runs the detector and the landmark model, and keeps the detections
// that pass the face checks.
func (e *Engine) detect(w *worker, p *pyramid) ([]Face, error) {
	img := p.base()
	dets, err := e.runDetector(w, p, 0)
	if err != nil {
		return nil, err
	}
	if len(dets) == 0 {
		// A face that fills the picture (a tight crop) is larger than the
		// detector's biggest anchors: look again with a margin around it.
		if dets, err = e.runDetector(w, p, 0.2); err != nil {
			return nil, err
		}
	}
	faces := make([]Face, 0, len(dets))
	for _, d := range dets {
		f := Face{Box: d.box, Score: d.score}
		if err := e.landmarks(w, p, &f); err != nil {
			return nil, err
		}
		if !plausible(&f, img) {
			continue
		}
		faces = append(faces, f)
	}
	sort.SliceStable(faces, func(i, j int) bool { return faces[i].Box.area() > faces[j].Box.area() })
	return faces, nil
}

func (e *Engine) runDetector(w *worker, p *pyramid, pad float64) ([]detection, error) {
	img := p.base()
	scale, ox, oy := detectInput(p, w.det.in.GetData(), pad)
	if err := e.det.run(w.det); err != nil {
		return nil, err
	}
	return decodeDetections(w.det.outs[0].GetData(), w.det.outs[1].GetData(), scale, ox, oy, img.W, img.H, DetectThreshold), nil
}

// landmarks runs the 68-point model on the square box around the face.
func (e *Engine) landmarks(w *worker, p *pyramid, f *Face) error {
	img := p.base()
	side := float64(f.Box.H())
	cx, cy := float64(f.Box.X1+f.Box.X2)/2, float64(f.Box.Y1+f.Box.Y2)/2
	x0, y0, s := fitSquare(cx, cy, side, 1, img.W, img.H)
	p.sample(w.lmk.in.GetData(), lmkSize, lmkSize, cropAffine(x0, y0, s, s, lmkSize, lmkSize), layoutGray, 0, 1.0/256, 0)
	if err := e.lmk.run(w.lmk); err != nil {
		return err
	}
	out := w.lmk.outs[0].GetData()
	for i := range f.Landmarks {
		f.Landmarks[i] = Point{
			X: float32(x0 + float64(out[2*i])*s - 0.5),
			Y: float32(y0 + float64(out[2*i+1])*s - 0.5),
		}
	}
	f.Quality.Size = f.Box.H()
	f.Quality.Yaw, f.Quality.Pitch, f.Quality.Roll = pose(&f.Landmarks)
	return nil
}

// describe runs alignment, embedding and the optional stages on one face,
// and measures the aligned face's quality when quality is set.
func (e *Engine) describe(w *worker, p *pyramid, f *Face, want Want, quality bool) error {
	img := p.base()
	// The aligned face is needed for quality even without an embedding.
	in := w.feat.in.GetData()
	if quality || want&(WantEmbedding|WantAge) != 0 {
		p.sample(in, alignSize, alignSize, similarity(f.Landmarks.Five(), arcfaceRef), layoutRGB, 127.5, 1.0/128, 0)
	}
	if quality {
		grey := make([]float32, alignSize*alignSize)
		n := alignSize * alignSize
		for i := range grey {
			grey[i] = luma(in[i]*128+127.5, in[n+i]*128+127.5, in[2*n+i]*128+127.5)
		}
		f.Quality.Sharpness, f.Quality.Brightness = sharpBright(grey, alignSize)
	}
	var emb []float32
	if want&(WantEmbedding|WantAge) != 0 {
		if err := e.feat.run(w.feat); err != nil {
			return err
		}
		emb = append([]float32(nil), w.feat.outs[0].GetData()...)
		if l2normalize(emb) == 0 {
			return likeness.Wrap(errors.New("zero embedding"), likeness.EINTERNAL, "The face could not be processed.")
		}
		if want&WantEmbedding != 0 {
			f.Embedding = emb
		}
	}
	side := float64(f.Box.H())
	cx, cy := float64(f.Box.X1+f.Box.X2)/2, float64(f.Box.Y1+f.Box.Y2)/2
	if want&WantLiveness != 0 {
		x0, y0, s := fitSquare(cx, cy, side, liveCropScale, img.W, img.H)
		// The liveness model (MiniFASNet) was trained on OpenCV BGR crops of
		// raw 0–255 values.
		p.sample(w.live.in.GetData(), liveSize, liveSize, cropAffine(x0, y0, s, s, liveSize, liveSize), layoutBGR, 0, 1, 0)
		if err := e.live.run(w.live); err != nil {
			return err
		}
		f.Liveness = softmax(w.live.outs[0].GetData())[liveClass]
	}
	if want&WantEyes != 0 {
		for i, eye := range [2][2]int{{36, 39}, {42, 45}} {
			c := f.Landmarks.mean(eye[0]+1, eye[0]+2, eye[0]+4, eye[0]+5)
			ew := float64(f.Landmarks[eye[1]].X - f.Landmarks[eye[0]].X)
			s := max(ew*eyeCropScale, 4)
			p.sample(w.eye.in.GetData(), eyeSize, eyeSize,
				cropAffine(float64(c.X)-s/2, float64(c.Y)-s/2, s, s, eyeSize, eyeSize), layoutGray, 0, 1.0/255, 0)
			if err := e.eye.run(w.eye); err != nil {
				return err
			}
			f.EyesOpen[i] = softmax(w.eye.outs[0].GetData())[eyeOpenClass]
		}
	}
	if want&WantAge != 0 {
		x0, y0, s := fitSquare(cx, cy, side, ageCropScale, img.W, img.H)
		in := w.age.in.GetData()
		n := ageSize * ageSize
		// ImageNet normalisation per channel.
		p.sample(in, ageSize, ageSize, cropAffine(x0, y0, s, s, ageSize, ageSize), layoutRGB, 0, 1.0/255, 0)
		for c, ms := range [3][2]float32{{0.485, 0.229}, {0.456, 0.224}, {0.406, 0.225}} {
			for i := c * n; i < (c+1)*n; i++ {
				in[i] = (in[i] - ms[0]) / ms[1]
			}
		}
		if err := e.age.run(w.age); err != nil {
			return err
		}
		var x []float32
		for _, o := range w.age.outs {
			x = append(x, o.GetData()...)
		}
		f.ageSSR = mergeAge(x)
		f.Age = EstimateAge(emb, f.ageSSR)
	}
	return nil
}

// Embed returns the embedding of the face img is about (Subject): ENOFACE
// when there is none, EMANYFACES when several faces are of comparable size.
func (e *Engine) Embed(ctx context.Context, img *Image) (*Face, error) {
	faces, err := e.Analyze(ctx, img, WantEmbedding)
	if err != nil {
		return nil, err
	}
	return Subject(faces)
}

// String describes the engine configuration (for logs).
func (e *Engine) String() string {
	return fmt.Sprintf("engine(models=%s workers=%d)", e.cfg.ModelsDir, e.cfg.Workers)
}
