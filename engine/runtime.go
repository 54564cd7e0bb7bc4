package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// modelSpec describes one ONNX model file: its tensors and its expected
// SHA-256 (the same sums as models/SHA256SUMS, checked at load so a swapped or
// corrupted file is refused).
type modelSpec struct {
	file      string
	sha256    string
	input     string
	inShape   []int64
	outputs   []string
	outShapes [][]int64
}

var (
	specDetect = modelSpec{"fr_detect.onnx", "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854",
		"input", []int64{1, 3, detH, detW}, []string{"scores", "boxes"}, [][]int64{{1, detAnchors, 2}, {1, detAnchors, 4}}}
	specLandmark = modelSpec{"fr_landmark.onnx", "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258",
		"input", []int64{1, 1, lmkSize, lmkSize}, []string{"output"}, [][]int64{{1, 136}}}
	specFeature = modelSpec{"fr_feature.onnx", "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
		"input", []int64{1, 3, alignSize, alignSize}, []string{"output"}, [][]int64{{1, EmbeddingDim}}}
	specLiveness = modelSpec{"fr_liveness.onnx", "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d",
		"input", []int64{1, 3, liveSize, liveSize}, []string{"output"}, [][]int64{{1, 3}}}
	specEye = modelSpec{"fr_eye.onnx", "1afcea006abc1ccac3c517022abde0aa092bed74ff3c9fe6878483ef9e6e38de",
		"input", []int64{1, 1, eyeSize, eyeSize}, []string{"output"}, [][]int64{{1, 2}}}
	specAge = modelSpec{"fr_age.onnx", "74c9b01700cb9ef96f7190a2230218414ff99d231415c4b091a755780cad5e8a",
		"input", []int64{1, 3, ageSize, ageSize},
		[]string{"prob_stage_1", "prob_stage_2", "prob_stage_3", "stage1_delta_k", "stage2_delta_k", "stage3_delta_k",
			"index_offset_stage1", "index_offset_stage2", "index_offset_stage3"},
		[][]int64{{1, 3}, {1, 3}, {1, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 3}, {1, 3}, {1, 3}}}
)

const ortLibrary = "libonnxruntime.so.1"

// The ONNX Runtime environment is process-wide in the C API, so it is the one
// piece of shared state here: engines reference-count it.
var ortEnv struct {
	sync.Mutex
	refs int
	lib  string
}

func acquireRuntime(lib string) error {
	ortEnv.Lock()
	defer ortEnv.Unlock()
	if ortEnv.refs > 0 {
		if lib != ortEnv.lib {
			return fmt.Errorf("onnxruntime already loaded from %s", ortEnv.lib)
		}
		ortEnv.refs++
		return nil
	}
	if _, err := os.Stat(lib); err != nil {
		return fmt.Errorf("onnxruntime library: %w (run `make build` to install it)", err)
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("initialise onnxruntime: %w", err)
	}
	_ = ort.DisableTelemetry()
	ortEnv.refs, ortEnv.lib = 1, lib
	return nil
}

func releaseRuntime() {
	ortEnv.Lock()
	defer ortEnv.Unlock()
	ortEnv.refs--
	if ortEnv.refs == 0 {
		_ = ort.DestroyEnvironment()
	}
}

// model is one loaded ONNX session. Run is safe for concurrent use; callers
// bring their own tensors.
type model struct {
	spec modelSpec
	sess *ort.DynamicAdvancedSession
}

func loadModel(dir string, spec modelSpec, opts *ort.SessionOptions) (*model, error) {
	path := filepath.Join(dir, spec.file)
	if err := verifySHA256(path, spec.sha256); err != nil {
		return nil, err
	}
	sess, err := ort.NewDynamicAdvancedSession(path, []string{spec.input}, spec.outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", spec.file, err)
	}
	return &model{spec: spec, sess: sess}, nil
}

func verifySHA256(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("model %s: %w (run `make build` to install the models)", filepath.Base(path), err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("model %s: %w", filepath.Base(path), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("model %s: sha256 %s, want %s", filepath.Base(path), got, want)
	}
	return nil
}

// tensors is a model's preallocated input and output tensors, owned by one worker.
type tensors struct {
	in   *ort.Tensor[float32]
	outs []*ort.Tensor[float32]
	vals []ort.Value
}

func newTensors(spec modelSpec) (*tensors, error) {
	in, err := ort.NewEmptyTensor[float32](ort.NewShape(spec.inShape...))
	if err != nil {
		return nil, err
	}
	t := &tensors{in: in}
	for _, shape := range spec.outShapes {
		o, err := ort.NewEmptyTensor[float32](ort.NewShape(shape...))
		if err != nil {
			t.destroy()
			return nil, err
		}
		t.outs = append(t.outs, o)
		t.vals = append(t.vals, o)
	}
	return t, nil
}

func (t *tensors) destroy() {
	if t.in != nil {
		t.in.Destroy()
	}
	for _, o := range t.outs {
		o.Destroy()
	}
}

// run runs the model on t.in and fills t.outs.
func (m *model) run(t *tensors) error {
	if err := m.sess.Run([]ort.Value{t.in}, t.vals); err != nil {
		return fmt.Errorf("run %s: %w", m.spec.file, err)
	}
	return nil
}

func newSessionOptions() (*ort.SessionOptions, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	// One thread per inference, and no busy-waiting: with spinning on, two
	// cores spend most of their time spinning and a frame is 4× slower.
	// Parallelism comes from running several frames at once (Config.Workers).
	for _, f := range []func() error{
		func() error { return opts.SetIntraOpNumThreads(1) },
		func() error { return opts.SetInterOpNumThreads(1) },
		func() error { return opts.AddSessionConfigEntry("session.intra_op.allow_spinning", "0") },
		func() error { return opts.AddSessionConfigEntry("session.inter_op.allow_spinning", "0") },
		func() error { return opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll) },
	} {
		if err := f(); err != nil {
			opts.Destroy()
			return nil, err
		}
	}
	return opts, nil
}
