package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/likeness/likeness/store/vecindex"
	"github.com/likeness/likeness/store/vecindex/synth"
)

// `bench index` builds collections above --sqlite-max straight into the
// embedded index, in a fresh process (`bench index-child --memory`):
// enrolling ten million faces through SQLite takes hours here, and the
// index's own start-up work is adding the vectors the store decrypts,
// which it does as here: AddBatch calls of up to 4,096 faces from one
// goroutine per core.

// addBlock is how many faces one AddBatch call adds (the store's loader's
// batch).
const addBlock = 4096

// memResult is what the in-memory child measures.
type memResult struct {
	BuildSeconds float64        `json:"buildSeconds"`    // AddBatch calls only (addBlock faces each), from GOMAXPROCS goroutines
	BuildCPU     float64        `json:"buildCpuSeconds"` // the process's CPU time in those calls
	GenSeconds   float64        `json:"genSeconds"`      // making the synthetic vectors (not part of the build)
	RSSMB        float64        `json:"rssMB"`
	PeakRSSMB    float64        `json:"peakRssMB"`
	GoSysMB      float64        `json:"goSysMB"`
	P50Ms        float64        `json:"p50Ms"`
	P99Ms        float64        `json:"p99Ms"`
	CPUP50Ms     float64        `json:"cpuP50Ms"` // the process's CPU time per search (every goroutine of it)
	CPUP99Ms     float64        `json:"cpuP99Ms"`
	Hits         map[string]int `json:"hits"`
	Total        map[string]int `json:"total"`
	Searches     int            `json:"searches"`
	Serving      *servingResult `json:"serving"`
}

// servingResult: searches while one writer enrolls and erases.
type servingResult struct {
	Writes       int     `json:"writes"`       // adds and removes, alternating
	WritesPerSec float64 `json:"writesPerSec"` //
	WriteP50Ms   float64 `json:"writeP50Ms"`
	WriteP99Ms   float64 `json:"writeP99Ms"`
	SearchP50Ms  float64 `json:"searchP50Ms"`
	SearchP99Ms  float64 `json:"searchP99Ms"`
	Searches     int     `json:"searches"`
	ErasedFound  int     `json:"erasedFound"` // searches for an erased face that still returned it (must be 0)
	ErasedProbed int     `json:"erasedProbed"`
}

// memory runs the in-memory child and turns its report into a result.
func (b *indexBench) memory(ctx context.Context) (*indexResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b.log, "n=%d: building the index in a fresh process…\n", b.n)
	cmd := exec.CommandContext(ctx, exe, "bench", benchIndexChild, "--memory", "--n", strconv.Itoa(b.n),
		"--dim", strconv.Itoa(b.dim), "--seed", strconv.FormatUint(b.seed, 10), "--queries", strconv.Itoa(b.queries),
		"--runs", strconv.Itoa(b.runs))
	cmd.Stderr = b.log
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("bench child: %w", err)
	}
	var mr memResult
	if err := json.Unmarshal(out, &mr); err != nil {
		return nil, fmt.Errorf("bench child: %w", err)
	}
	res := &indexResult{Store: storeEmbedded, Build: "memory", N: b.n, InsertPerSec: float64(b.n) / mr.BuildSeconds,
		P50Ms: mr.P50Ms, P99Ms: mr.P99Ms, RSSMB: mr.RSSMB, LoadSeconds: mr.BuildSeconds, PeakRSSMB: mr.PeakRSSMB,
		GoSysMB: mr.GoSysMB, Queries: b.queries, Dim: b.dim, Searches: mr.Searches, SearchProcs: runtime.GOMAXPROCS(0),
		Serving: mr.Serving, CPUP50Ms: mr.CPUP50Ms, CPUP99Ms: mr.CPUP99Ms, BuildCPU: mr.BuildCPU}
	res.fill(mr.Hits, mr.Total)
	return res, nil
}

// benchID returns a random version-4 UUID from r.
func benchID(r *rand.Rand) string {
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		x := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(x >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// runBenchMemChild builds an index of n synthetic faces from vectors made
// in batches (never all held as float32), then times searches with genuine
// probes made from faces of the gallery, then searches while a writer
// enrolls and erases. The reference answer of a probe is the face it was
// made from: above a million faces an exact search over float32 copies
// does not fit; at and below it, `bench index` through SQLite compares with
// the exact search.
func runBenchMemChild(ctx context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	n := fs.Int("n", 1000000, "faces")
	dim := fs.Int("dim", 512, "dimension")
	seed := fs.Uint64("seed", 1, "seed")
	queries := fs.Int("queries", 440, "probes")
	runs := fs.Int("runs", 0, "timed passes over the probes")
	if err := parse(fs, args); err != nil {
		return err
	}
	const col, batch, genBlock = "bench", 1 << 15, 1 << 10
	workers := runtime.GOMAXPROCS(0)
	ix := vecindex.New()
	ix.Reserve(col, *n)

	// The probes' source faces, chosen up front; a probe is made when its
	// face goes by.
	pick := synth.New(*seed^0x5eed, *dim)
	type probe struct {
		src  int
		sim  float64
		kind string
		v    []float32
		id   string
	}
	probes := make([]probe, *queries)
	bySrc := map[int][]int{}
	for i := range probes {
		p := probe{src: pick.IntN(*n), sim: pick.Genuine(), kind: "synthetic"}
		if i%10 == 0 {
			p.sim, p.kind = synth.GenuineMin+0.08*pick.Float(), "hard"
		}
		probes[i] = p
		bySrc[p.src] = append(bySrc[p.src], i)
	}

	vecs := make([]float32, batch**dim)
	ids := make([]string, batch)
	var gen, build, buildCPU time.Duration
	for start := 0; start < *n; start += batch {
		m := min(batch, *n-start)
		t := time.Now()
		// Each block of genBlock faces has its own generator: the gallery
		// is the same whatever the number of workers.
		parallel(workers, (m+genBlock-1)/genBlock, func(from, to int) {
			for blk := from; blk < to; blk++ {
				k := uint64(start/genBlock + blk)
				g := synth.New(*seed+k*0x9e3779b97f4a7c15, *dim)
				r := rand.New(rand.NewPCG(*seed, k))
				for i := blk * genBlock; i < min(m, (blk+1)*genBlock); i++ {
					g.Fill(vecs[i**dim : (i+1)**dim])
					ids[i] = benchID(r)
				}
			}
		})
		for i := range m {
			for _, pi := range bySrc[start+i] {
				p := &probes[pi]
				p.v = pick.Probe(vecs[i**dim:(i+1)**dim], p.sim)
				p.id = ids[i]
			}
		}
		gen += time.Since(t)
		t, cpu0 := time.Now(), cpuTime()
		var failed atomic.Value
		parallel(workers, (m+addBlock-1)/addBlock, func(from, to int) {
			for blk := from; blk < to; blk++ {
				i, j := blk*addBlock, min(m, (blk+1)*addBlock)
				if err := ix.AddBatch(col, ids[i:j], vecs[i**dim:j**dim]); err != nil {
					failed.Store(err)
					return
				}
			}
		})
		build += time.Since(t)
		buildCPU += cpuTime() - cpu0
		if err, _ := failed.Load().(error); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if done := start + m; done%(1<<20) < batch {
			fmt.Fprintf(stderr, "  %d added (index %.1f s, generation %.1f s)\n", done, build.Seconds(), gen.Seconds())
		}
	}
	vecs, ids = nil, nil
	runtime.GC()
	debug.FreeOSMemory()
	res := memResult{BuildSeconds: build.Seconds(), BuildCPU: buildCPU.Seconds(), GenSeconds: gen.Seconds(), Hits: map[string]int{}, Total: map[string]int{}}
	res.RSSMB, res.PeakRSSMB = procMemMB(os.Getpid())
	var mst runtime.MemStats
	runtime.ReadMemStats(&mst)
	res.GoSysMB = float64(mst.Sys) / (1 << 20)

	passes := *runs
	if passes <= 0 {
		passes = max(1, (2000+len(probes)-1)/len(probes))
	}
	for _, p := range probes[:min(50, len(probes))] { // warm-up
		ix.Search(col, p.v, 1)
	}
	var lat, cpu []float64
	for run := range passes {
		for _, p := range probes {
			t, c := time.Now(), cpuTime()
			m := ix.Search(col, p.v, 1)
			lat = append(lat, ms(time.Since(t)))
			cpu = append(cpu, ms(cpuTime()-c))
			if run == 0 {
				res.Total[p.kind]++
				if len(m) == 1 && m[0].FacialID == p.id {
					res.Hits[p.kind]++
				}
			}
		}
	}
	res.Searches = len(lat)
	res.P50Ms, res.P99Ms = pct(lat, 50), pct(lat, 99)
	res.CPUP50Ms, res.CPUP99Ms = pct(cpu, 50), pct(cpu, 99)

	// Serving: one writer enrolls new faces and erases probed ones while
	// the searches run; a probe whose face was erased must not find it.
	sv := &servingResult{}
	g := synth.New(*seed^0xadd, *dim)
	erased := map[string]bool{}
	var mu sync.Mutex
	stop := make(chan struct{})
	var wlat []float64
	var wg sync.WaitGroup
	wstart := time.Now()
	wg.Go(func() {
		r := rand.New(rand.NewPCG(*seed, 0xe7a5e))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			t := time.Now()
			if i%2 == 0 {
				_ = ix.Add(col, benchID(r), g.Identity())
			} else {
				id := probes[(i/2)%len(probes)].id
				ix.Remove(col, id)
				mu.Lock()
				erased[id] = true
				mu.Unlock()
			}
			wlat = append(wlat, ms(time.Since(t)))
			time.Sleep(time.Millisecond) // a busy site: hundreds of writes a second
		}
	})
	var slat []float64
	for _, p := range slices.Repeat(probes, 2) {
		mu.Lock()
		gone := erased[p.id]
		mu.Unlock()
		t := time.Now()
		m := ix.Search(col, p.v, 1)
		slat = append(slat, ms(time.Since(t)))
		if gone {
			sv.ErasedProbed++
			if len(m) == 1 && m[0].FacialID == p.id {
				sv.ErasedFound++
			}
		}
	}
	close(stop)
	wg.Wait()
	sv.Writes = len(wlat)
	sv.WritesPerSec = float64(len(wlat)) / time.Since(wstart).Seconds()
	sv.WriteP50Ms, sv.WriteP99Ms = pct(wlat, 50), pct(wlat, 99)
	sv.SearchP50Ms, sv.SearchP99Ms = pct(slat, 50), pct(slat, 99)
	sv.Searches = len(slat)
	res.Serving = sv
	_, res.PeakRSSMB = procMemMB(os.Getpid())
	return json.NewEncoder(stdout).Encode(res)
}

// cpuTime returns the CPU time the process has used: searches on a shared
// machine wait for the cores, and this tells the work from the wait.
func cpuTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// parallel runs fn over [0, n) split among workers goroutines.
func parallel(workers, n int, fn func(from, to int)) {
	var wg sync.WaitGroup
	per := (n + workers - 1) / workers
	for w := range workers {
		from, to := w*per, min(n, (w+1)*per)
		if from >= to {
			break
		}
		wg.Go(func() { fn(from, to) })
	}
	wg.Wait()
}
