package engine

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/likeness/likeness"
)

// BenchResult is the output of Bench, printed by `likeness bench engine`.
type BenchResult struct {
	FrameMs  Percentiles        `json:"frameMs"` // decode → embedding + liveness, whole frame (a session's usable frame)
	ModelMs  map[string]float64 `json:"modelMs"` // bare inference medians
	ModelSum float64            `json:"modelSumMs"`
	DecodeMs float64            `json:"decodeMs"` // JPEG decode median
	Overhead float64            `json:"overhead"` // frame p50 / sum of model medians
	// The same in CPU time of the process (one core, so it is the work
	// done), which other processes on a shared machine barely change.
	FrameCPUMs  float64            `json:"frameCpuMs"`    // whole frame, median
	ModelCPUMs  map[string]float64 `json:"modelCpuMs"`    // bare inference medians
	ModelCPUSum float64            `json:"modelCpuSumMs"` //
	DecodeCPUMs float64            `json:"decodeCpuMs"`   // JPEG decode median
	OverheadCPU float64            `json:"overheadCpu"`   // frameCpuMs / modelCpuSumMs
	RSSMB       float64            `json:"rssMB"`         // peak resident set of the process
	Runs        int                `json:"runs"`
}

// Percentiles are latency percentiles in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
}

// Bench times the engine on one encoded frame: the whole frame as a widget
// session runs a usable one (decode; Analyze: detect, landmarks, quality;
// Describe: align, embed, liveness; FacePatch) and each model's bare
// inference on the same crops, runs times each after a warm-up. The frame
// must hold a face.
func (e *Engine) Bench(ctx context.Context, frame []byte, runs int) (*BenchResult, error) {
	if runs < 1 {
		runs = 1
	}
	res := &BenchResult{Runs: runs, ModelMs: map[string]float64{}, ModelCPUMs: map[string]float64{}}
	var total, decode, totalCPU, decodeCPU []float64
	for i := -2; i < runs; i++ { // two warm-up runs
		t0, c0 := time.Now(), processCPU()
		img, err := e.Decode(frame)
		if err != nil {
			return nil, err
		}
		t1, c1 := time.Now(), processCPU()
		faces, err := e.Analyze(ctx, img, 0)
		if err != nil {
			return nil, err
		}
		if len(faces) == 0 {
			return nil, errNoFaceBench
		}
		if err := e.Describe(ctx, img, &faces[0], WantEmbedding|WantLiveness); err != nil {
			return nil, err
		}
		FacePatch(img, faces[0].Box) // the texture the session keeps (pad.TextureParallax)
		if i >= 0 {
			total = append(total, ms(time.Since(t0)))
			decode = append(decode, ms(t1.Sub(t0)))
			totalCPU = append(totalCPU, ms(processCPU()-c0))
			decodeCPU = append(decodeCPU, ms(c1-c0))
		}
	}
	res.FrameMs = Percentiles{P50: percentile(total, 0.5), P90: percentile(total, 0.9)}
	res.DecodeMs = percentile(decode, 0.5)
	res.FrameCPUMs, res.DecodeCPUMs = percentile(totalCPU, 0.5), percentile(decodeCPU, 0.5)

	// Bare inference: fill each model's input once from the real frame (the
	// last Analyze left the tensors filled), then time Run alone.
	w, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { e.workers <- w }()
	img, _ := e.Decode(frame)
	p := newPyramid(img)
	faces, err := e.detect(w, p)
	if err != nil || len(faces) == 0 {
		return nil, errNoFaceBench
	}
	if err := e.describe(w, p, &faces[0], WantEmbedding|WantLiveness, true); err != nil {
		return nil, err
	}
	for _, m := range []struct {
		name string
		m    *model
		t    *tensors
	}{{"detect", e.det, w.det}, {"landmarks", e.lmk, w.lmk}, {"embed", e.feat, w.feat}, {"liveness", e.live, w.live}} {
		var d, c []float64
		for i := -2; i < runs; i++ {
			t0, c0 := time.Now(), processCPU()
			if err := m.m.run(m.t); err != nil {
				return nil, err
			}
			if i >= 0 {
				d = append(d, ms(time.Since(t0)))
				c = append(c, ms(processCPU()-c0))
			}
		}
		res.ModelMs[m.name] = percentile(d, 0.5)
		res.ModelSum += res.ModelMs[m.name]
		res.ModelCPUMs[m.name] = percentile(c, 0.5)
		res.ModelCPUSum += res.ModelCPUMs[m.name]
	}
	if res.ModelSum > 0 {
		res.Overhead = res.FrameMs.P50 / res.ModelSum
	}
	if res.ModelCPUSum > 0 {
		res.OverheadCPU = res.FrameCPUMs / res.ModelCPUSum
	}
	res.RSSMB = PeakRSSMB()
	return res, nil
}

// processCPU returns the CPU time the process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var errNoFaceBench = likeness.Errorf(likeness.ENOFACE, "The benchmark frame has no face.")

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(q*float64(len(s)-1) + 0.5)
	return s[i]
}

// PeakRSSMB returns the process's peak resident set size (VmHWM) in MB, or 0
// where /proc is not available.
func PeakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

// SplitMJPEG returns the JPEG frames of a Motion-JPEG stream (concatenated
// JPEGs), as Chromium's fake camera plays them.
func SplitMJPEG(b []byte) [][]byte {
	var out [][]byte
	for {
		i := bytes.Index(b, []byte{0xFF, 0xD8, 0xFF})
		if i < 0 {
			return out
		}
		j := bytes.Index(b[i+2:], []byte{0xFF, 0xD9})
		if j < 0 {
			return out
		}
		end := i + 2 + j + 2
		out = append(out, b[i:end])
		b = b[end:]
	}
}
