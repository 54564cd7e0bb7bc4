package engine

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/likeness/likeness"
)

// facesDir returns ../shared/faces, or skips the test with a clear message
// when the shared face set is not beside the repository.
func facesDir(tb testing.TB) string {
	tb.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", "..", "shared", "faces"))
	if _, err := os.Stat(filepath.Join(dir, "labels.csv")); err != nil {
		tb.Skipf("SKIP: the shared face set is absent (%s); real-face tests need ../shared/faces beside the repository", dir)
	}
	return dir
}

// newEngine opens the real engine on the repository's models, closed at the
// end of the test. Missing models are a failure: `make test` installs them.
func newEngine(tb testing.TB, workers int) *Engine {
	tb.Helper()
	e, err := New(Config{ModelsDir: filepath.Join("..", "models"), Workers: workers})
	if err != nil {
		tb.Fatalf("engine: %v (run `make build` to install the models)", err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

func readFace(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(facesDir(tb), filepath.FromSlash(rel)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func analyzeFile(tb testing.TB, e *Engine, rel string, want Want) ([]Face, *Image) {
	tb.Helper()
	img, err := e.Decode(readFace(tb, rel))
	if err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
	faces, err := e.Analyze(context.Background(), img, want)
	if err != nil {
		tb.Fatalf("%s: %v", rel, err)
	}
	return faces, img
}

func TestDetectionControls(t *testing.T) {
	e := newEngine(t, 1)
	for _, tc := range []struct {
		file  string
		faces int
	}{
		{"controls/landscape.jpg", 0},
		{"controls/no-faces.jpg", 0},
		{"controls/two_people.jpg", 2},
		{"verify/face_recognition/fr_obama/obama.jpg", 1},
		{"verify/face_recognition/fr_obama/obama-240p.jpg", 1},
		{"verify/faceapi_bbt/fa_penny/penny1.png", 1}, // tight grey crop
	} {
		t.Run(tc.file, func(t *testing.T) {
			faces, _ := analyzeFile(t, e, tc.file, WantAllFaces)
			if len(faces) != tc.faces {
				t.Fatalf("found %d faces, want %d", len(faces), tc.faces)
			}
		})
	}
}

func TestEXIFRotatedPhotoIsUpright(t *testing.T) {
	e := newEngine(t, 1)
	// Stored landscape (640×480) with EXIF orientation 6: upright it is portrait.
	faces, img := analyzeFile(t, e, "pad/live/silentface_image_T1.jpg", WantLiveness)
	if img.W != 480 || img.H != 640 {
		t.Fatalf("decoded %dx%d, want 480x640 after EXIF rotation", img.W, img.H)
	}
	if len(faces) != 1 {
		t.Fatalf("found %d faces, want 1", len(faces))
	}
	if r := faces[0].Quality.Roll; r < -30 || r > 30 {
		t.Fatalf("face roll %.0f°: the image was not turned upright", r)
	}
}

func TestVerification(t *testing.T) {
	e := newEngine(t, 1)
	emb := func(rel string) []float32 {
		img, err := e.Decode(readFace(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		f, err := e.Embed(context.Background(), img)
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if len(f.Embedding) != EmbeddingDim {
			t.Fatalf("embedding has %d values", len(f.Embedding))
		}
		if n := Similarity(f.Embedding, f.Embedding); n < 0.999 || n > 1.001 {
			t.Fatalf("embedding is not unit length: |e|² = %f", n)
		}
		return f.Embedding
	}
	obama, obama2 := emb("verify/face_recognition/fr_obama/obama.jpg"), emb("verify/face_recognition/fr_obama/obama2.jpg")
	biden := emb("verify/face_recognition/fr_biden/biden.jpg")
	if s := Similarity(obama, obama2); !Matches(s) {
		t.Errorf("obama ~ obama2 = %.3f: no match", s)
	}
	if s := Similarity(obama, biden); Matches(s) {
		t.Errorf("obama ~ biden = %.3f: a match", s)
	}
}

func TestEmbedRefusesNoFaceAndManyFaces(t *testing.T) {
	e := newEngine(t, 1)
	for file, code := range map[string]string{
		"controls/landscape.jpg":  likeness.ENOFACE,
		"controls/two_people.jpg": likeness.EMANYFACES,
	} {
		img, err := e.Decode(readFace(t, file))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Embed(context.Background(), img)
		if got := likeness.ErrorCode(err); got != code {
			t.Errorf("%s: code %q, want %q (%v)", file, got, code, err)
		}
	}
}

func TestLivenessOnVideoFrames(t *testing.T) {
	e := newEngine(t, 1)
	for _, tc := range []struct {
		clip string
		live bool
	}{
		{"video/live_lmm_hamilton_640x480.mjpeg", true},
		{"video/spoof_replay_silentface_F2_640x480.mjpeg", false},
	} {
		frames := SplitMJPEG(readFace(t, tc.clip))
		if len(frames) < 30 {
			t.Fatalf("%s: %d frames", tc.clip, len(frames))
		}
		agree := 0
		n := 0
		for i := 0; i < len(frames); i += 10 {
			img, err := e.Decode(frames[i])
			if err != nil {
				t.Fatal(err)
			}
			faces, err := e.Analyze(context.Background(), img, WantLiveness|WantEyes)
			if err != nil || len(faces) != 1 {
				t.Fatalf("%s frame %d: %d faces, %v", tc.clip, i, len(faces), err)
			}
			n++
			if IsLive(faces[0].Liveness) == tc.live {
				agree++
			}
		}
		if agree < n*9/10 {
			t.Errorf("%s: %d of %d frames judged correctly", tc.clip, agree, n)
		}
	}
}

func TestConcurrentAnalyze(t *testing.T) {
	e := newEngine(t, 2)
	data := readFace(t, "verify/face_recognition/fr_obama/obama.jpg")
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img, err := e.Decode(data)
			if err == nil {
				_, err = e.Embed(context.Background(), img)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestAnalyzeHonoursCancelledContext(t *testing.T) {
	e := newEngine(t, 1)
	w, _ := e.acquire(context.Background()) // hold the only worker
	defer func() { e.workers <- w }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Analyze(ctx, &Image{W: 64, H: 64, Pix: make([]uint8, 3*64*64)}, 0)
	if likeness.ErrorCode(err) != likeness.EUNAVAILABLE {
		t.Fatalf("got %v, want EUNAVAILABLE", err)
	}
}

// TestWorkersServedInArrivalOrder: analyses waiting for a worker get one in
// the order they asked, so sessions that each wait with one frame share the
// engine round-robin; WorkTime counts the time workers were held, not the
// time spent waiting.
func TestWorkersServedInArrivalOrder(t *testing.T) {
	e := newEngine(t, 1)
	w, _ := e.acquire(context.Background()) // hold the only worker
	work0 := e.WorkTime()
	const n = 5
	order := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			img := &Image{W: 64, H: 64, Pix: make([]uint8, 3*64*64)}
			if _, err := e.Analyze(context.Background(), img, 0); err != nil {
				t.Error(err)
			}
			order <- i
		}()
		// Let goroutine i queue before i+1 starts.
		for waiting() < i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(50 * time.Millisecond)
	e.release(w, time.Now())
	wg.Wait()
	close(order)
	want := 0
	for got := range order {
		if got != want {
			t.Fatalf("analysis %d got the worker at turn %d", got, want)
		}
		want++
	}
	if d := e.WorkTime() - work0; d <= 0 || d > 2*time.Second {
		t.Errorf("WorkTime grew by %v for %d small analyses", d, n)
	}
}

// waiting returns how many goroutines are parked waiting for a worker.
func waiting() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "[select") && strings.Contains(g, "engine.(*Engine).acquire(") {
			n++
		}
	}
	return n
}

func TestNewRefusesTamperedModel(t *testing.T) {
	dir := t.TempDir()
	src, _ := filepath.Abs(filepath.Join("..", "models"))
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if err := os.Symlink(filepath.Join(src, en.Name()), filepath.Join(dir, en.Name())); err != nil {
			t.Fatal(err)
		}
	}
	bad := filepath.Join(dir, specFeature.file)
	os.Remove(bad)
	if err := os.WriteFile(bad, []byte("not a model"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{ModelsDir: dir, LibraryPath: filepath.Join(src, ortLibrary)})
	if err == nil {
		t.Fatal("New accepted a model with the wrong checksum")
	}
}

func firstFrame(tb testing.TB) []byte {
	frames := SplitMJPEG(readFace(tb, "video/live_lmm_hamilton_640x480.mjpeg"))
	if len(frames) == 0 {
		tb.Fatal("no frames")
	}
	return frames[0]
}

// Benchmarks: each stage, the whole frame, and the bare model inference, so
// the overhead around the models is visible. Run on one core:
//
//	go test ./engine -run '^$' -bench . -cpu 1
func BenchmarkDecode(b *testing.B) {
	e := newEngine(b, 1)
	frame := firstFrame(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrame(b *testing.B) {
	e := newEngine(b, 1)
	frame := firstFrame(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		img, err := e.Decode(frame)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Analyze(context.Background(), img, WantEmbedding|WantLiveness); err != nil {
			b.Fatal(err)
		}
	}
}

// benchStage times one stage with its model on a decoded frame.
func benchStage(b *testing.B, stage func(e *Engine, w *worker, p *pyramid, f *Face) error) {
	e := newEngine(b, 1)
	img, err := e.Decode(firstFrame(b))
	if err != nil {
		b.Fatal(err)
	}
	w, _ := e.acquire(context.Background())
	defer func() { e.workers <- w }()
	p := newPyramid(img)
	faces, err := e.detect(w, p)
	if err != nil || len(faces) == 0 {
		b.Fatal("no face", err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := stage(e, w, p, &faces[0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStageDetect(b *testing.B) {
	benchStage(b, func(e *Engine, w *worker, p *pyramid, f *Face) error {
		_, err := e.runDetector(w, newPyramid(p.base()), 0)
		return err
	})
}

func BenchmarkStageLandmarks(b *testing.B) {
	benchStage(b, func(e *Engine, w *worker, p *pyramid, f *Face) error { return e.landmarks(w, p, f) })
}

func BenchmarkStageEmbed(b *testing.B) {
	benchStage(b, func(e *Engine, w *worker, p *pyramid, f *Face) error { return e.describe(w, p, f, WantEmbedding, true) })
}

func BenchmarkStageLiveness(b *testing.B) {
	benchStage(b, func(e *Engine, w *worker, p *pyramid, f *Face) error { return e.describe(w, p, f, WantLiveness, true) })
}

// benchModel times one model's bare inference on its (already filled) input.
func benchModel(b *testing.B, pick func(e *Engine, w *worker) (*model, *tensors)) {
	benchStage(b, func(e *Engine, w *worker, p *pyramid, f *Face) error {
		m, t := pick(e, w)
		return m.run(t)
	})
}

func BenchmarkModelDetect(b *testing.B) {
	benchModel(b, func(e *Engine, w *worker) (*model, *tensors) { return e.det, w.det })
}

func BenchmarkModelLandmarks(b *testing.B) {
	benchModel(b, func(e *Engine, w *worker) (*model, *tensors) { return e.lmk, w.lmk })
}

func BenchmarkModelEmbed(b *testing.B) {
	benchModel(b, func(e *Engine, w *worker) (*model, *tensors) { return e.feat, w.feat })
}

func BenchmarkModelLiveness(b *testing.B) {
	benchModel(b, func(e *Engine, w *worker) (*model, *tensors) { return e.live, w.live })
}
