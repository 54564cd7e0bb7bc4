package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/crypt"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/store/vecindex/synth"
	"github.com/likeness/likeness/store/weaviate"
	"github.com/likeness/likeness/store/weaviate/weaviatetest"
)

// benchIndexChild is the hidden `bench` subcommand that loads a built index
// in a fresh process, so that its start-up time and memory are its own.
const benchIndexChild = "index-child"

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch args[0] {
	case "index":
		return runBenchIndex(ctx, args[1:], stdout, stderr)
	case "load":
		return runBenchLoad(ctx, args[1:], stdout, stderr)
	default:
		return runBenchIndexChild(ctx, args[1:], stdout, stderr)
	}
}

// indexResult is one line of `bench index`.
type indexResult struct {
	Store         string   `json:"store"`
	Build         string   `json:"build,omitempty"` // embedded: "sqlite" (enrolled, loaded by the store) or "memory" (added to the index)
	N             int      `json:"n"`
	InsertPerSec  float64  `json:"insertPerSec"`  // embedded: store enrollments (SQLite + index); weaviate: index writes
	P50Ms         float64  `json:"p50Ms"`         // top-1 index search; embedded on one core
	P99Ms         float64  `json:"p99Ms"`         //
	RecallAt1     float64  `json:"recallAt1"`     // genuine probes (similarity as measured on real faces) vs exact search
	RSSMB         float64  `json:"rssMB"`         // embedded: a fresh process after loading; weaviate: the server's
	LoadSeconds   float64  `json:"loadSeconds"`   // embedded: store Open; weaviate: server restart until a search answers
	PeakRSSMB     float64  `json:"peakRssMB"`     // embedded: the loading process's peak, with the database file mapped while loading
	GoSysMB       float64  `json:"goSysMB"`       // embedded: memory the Go runtime took from the OS (its high-water mark)
	StoreP50Ms    float64  `json:"storeP50Ms"`    // embedded: DB.Search (index + SQLite check), one core
	StoreP99Ms    float64  `json:"storeP99Ms"`    //
	HardRecallAt1 float64  `json:"hardRecallAt1"` // extra probes at the lowest genuine similarities, 0.38–0.46
	RealRecallAt1 *float64 `json:"realRecallAt1,omitempty"`
	RealProbes    int      `json:"realProbes,omitempty"`
	Queries       int      `json:"queries"`
	Dim           int      `json:"dim"`
	Searches      int      `json:"searches"`
	SearchProcs   int      `json:"searchProcs,omitempty"`     // cores the timed searches could use
	CPUP50Ms      float64  `json:"cpuP50Ms,omitempty"`        // build "memory": process CPU time per search
	CPUP99Ms      float64  `json:"cpuP99Ms,omitempty"`        //
	BuildCPU      float64  `json:"buildCpuSeconds,omitempty"` // build "memory": CPU time of the AddBatch calls; "sqlite": of the store Open
	// Serving is searches while one writer enrolls and erases (build "memory").
	Serving *servingResult `json:"serving,omitempty"`
}

// probeFile hands the probes and the exact answers to the child process.
type probeFile struct {
	AppID      string       `json:"appId"`
	Collection string       `json:"collection"`
	Runs       int          `json:"runs"`
	Probes     []benchProbe `json:"probes"`
}

type benchProbe struct {
	V    []float32 `json:"v"`
	Want string    `json:"want"` // the exact search's best match
	Kind string    `json:"kind"` // synthetic, hard or real
}

// childResult is what the child process measures.
type childResult struct {
	LoadSeconds float64        `json:"loadSeconds"`
	LoadCPU     float64        `json:"loadCpuSeconds"` // the process's CPU time in the store Open (the wait for the disk excluded)
	RSSMB       float64        `json:"rssMB"`
	PeakRSSMB   float64        `json:"peakRssMB"`
	GoSysMB     float64        `json:"goSysMB"`
	P50Ms       float64        `json:"p50Ms"`
	P99Ms       float64        `json:"p99Ms"`
	StoreP50Ms  float64        `json:"storeP50Ms"`
	StoreP99Ms  float64        `json:"storeP99Ms"`
	Hits        map[string]int `json:"hits"`
	Total       map[string]int `json:"total"`
	Searches    int            `json:"searches"`
}

func runBenchIndex(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench index", flag.ContinueOnError)
	store := fs.String("store", storeEmbedded, "embedded or weaviate")
	ns := fs.String("n", "10000,100000", "collection sizes, comma-separated")
	queries := fs.Int("queries", 440, "probes: genuine, plus one in ten more at the lowest genuine similarities")
	runs := fs.Int("runs", 0, "timed passes over the probes (default: enough for 2,000 searches)")
	dim := fs.Int("dim", 512, "template dimension")
	seed := fs.Uint64("seed", 1, "seed of the synthetic faces")
	faces := fs.String("faces", "", "also probe with the real dev-set faces (engine embeddings) mixed into the gallery")
	workers := fs.Int("writers", 8, "concurrent writers (weaviate)")
	wvURL := fs.String("weaviate-url", "", "an existing Weaviate (default: start one from weaviate-server)")
	wvKeyFile := fs.String("weaviate-api-key-file", "", "its API key")
	keep := fs.Bool("keep", false, "keep the temporary data directories")
	sqliteMax := fs.Int("sqlite-max", 1000000, "embedded: larger collections are added straight to the index in a fresh process (enrolling 10M through SQLite takes hours)")
	asJSON := fs.Bool("json", false, "print JSON")
	ecfg := engineFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *store != storeEmbedded && *store != storeWeaviate {
		return usageError("--store must be embedded or weaviate")
	}
	sizes, err := intList(*ns)
	if err != nil {
		return usageError("--n: " + err.Error())
	}
	var real *realFaces
	if *faces != "" {
		fmt.Fprintf(stderr, "embedding the dev-set faces in %s…\n", *faces)
		if real, err = embedDevSet(ctx, *ecfg, *faces); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%d enrolled identities, %d probes\n", len(real.enrolled), len(real.probes))
	}
	var results []indexResult
	for _, n := range sizes {
		cfg := indexBench{n: n, dim: *dim, queries: *queries, runs: *runs, seed: *seed, real: real,
			workers: *workers, keep: *keep, log: stderr}
		var res *indexResult
		switch {
		case *store == storeEmbedded && n > *sqliteMax:
			res, err = cfg.memory(ctx)
		case *store == storeEmbedded:
			res, err = cfg.embedded(ctx)
		default:
			res, err = cfg.weaviate(ctx, *wvURL, *wvKeyFile)
		}
		if err != nil {
			return fmt.Errorf("n=%d: %w", n, err)
		}
		results = append(results, *res)
		if !*asJSON {
			fmt.Fprintf(stdout, "%-8s n=%-8d insert %7.0f/s  search p50 %6.2f ms p99 %6.2f ms  recall@1 %.4f (hard %.3f)  rss %6.0f MB (peak %6.0f)  load %5.1f s\n",
				res.Store, res.N, res.InsertPerSec, res.P50Ms, res.P99Ms, res.RecallAt1, res.HardRecallAt1, res.RSSMB, res.PeakRSSMB, res.LoadSeconds)
			if res.Build == "memory" {
				fmt.Fprintf(stdout, "         CPU per search p50 %.2f ms p99 %.2f ms; build %.1f s (CPU %.1f s)\n",
					res.CPUP50Ms, res.CPUP99Ms, res.LoadSeconds, res.BuildCPU)
			}
			if sv := res.Serving; sv != nil {
				fmt.Fprintf(stdout, "         while enrolling/erasing (%.0f writes/s, write p99 %.2f ms): search p50 %6.2f ms p99 %6.2f ms, erased faces found %d of %d\n",
					sv.WritesPerSec, sv.WriteP99Ms, sv.SearchP50Ms, sv.SearchP99Ms, sv.ErasedFound, sv.ErasedProbed)
			}
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{"results": results})
	}
	return nil
}

func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no sizes")
	}
	return out, nil
}

// realFaces are dev-set embeddings: one enrolled photo per identity and
// the other photos of those identities as probes.
type realFaces struct {
	enrolled [][]float32
	probes   [][]float32
	of       []int // probes[i] is a photo of enrolled[of[i]]
}

// embedDevSet embeds the live photos of verify/ in a face set laid out like
// ../shared/faces (labels.csv).
func embedDevSet(ctx context.Context, cfg engine.Config, dir string) (*realFaces, error) {
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	byID := map[string][]string{}
	var order []string
	for _, r := range rows[1:] {
		path, id, kind := r[0], r[1], r[2]
		if id == "" || kind != "live" || !strings.HasPrefix(path, "verify/") {
			continue
		}
		if byID[id] == nil {
			order = append(order, id)
		}
		byID[id] = append(byID[id], path)
	}
	eng, err := engine.New(cfg)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	out := &realFaces{}
	for _, id := range order {
		var embs [][]float32
		for _, p := range byID[id] {
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
			if err != nil {
				return nil, err
			}
			img, err := eng.Decode(data)
			if err != nil {
				continue
			}
			face, err := eng.Embed(ctx, img)
			if err != nil {
				continue
			}
			embs = append(embs, face.Embedding)
		}
		if len(embs) < 2 {
			continue
		}
		out.enrolled = append(out.enrolled, embs[0])
		for _, e := range embs[1:] {
			out.probes = append(out.probes, e)
			out.of = append(out.of, len(out.enrolled)-1)
		}
	}
	return out, nil
}

// indexBench is one `bench index` run.
type indexBench struct {
	n, dim, queries, runs int
	seed                  uint64
	real                  *realFaces
	workers               int
	keep                  bool
	log                   io.Writer
}

// gallery makes the synthetic identities (and the real enrolled faces after
// them), the probes, and the exact answers as gallery rows.
func (b *indexBench) gallery() (gallery []float32, probes [][]float32, kinds []string, want []int) {
	g := synth.New(b.seed, b.dim)
	total := b.n
	if b.real != nil {
		total += len(b.real.enrolled)
	}
	gallery = make([]float32, 0, total*b.dim)
	for range b.n {
		gallery = append(gallery, g.Identity()...)
	}
	if b.real != nil {
		for _, v := range b.real.enrolled {
			nv := normalized(v)
			gallery = append(gallery, nv...)
		}
	}
	for i := range b.queries {
		j := g.IntN(b.n)
		sim, kind := g.Genuine(), "synthetic"
		if i%10 == 0 {
			sim, kind = synth.GenuineMin+0.08*g.Float(), "hard"
		}
		probes = append(probes, g.Probe(gallery[j*b.dim:(j+1)*b.dim], sim))
		kinds = append(kinds, kind)
	}
	if b.real != nil {
		for _, p := range b.real.probes {
			probes = append(probes, normalized(p))
			kinds = append(kinds, "real")
		}
	}
	fmt.Fprintf(b.log, "n=%d: exact search for %d probes…\n", b.n, len(probes))
	want, _ = synth.Exact(gallery, b.dim, probes, runtime.GOMAXPROCS(0))
	return gallery, probes, kinds, want
}

func normalized(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	inv := 1 / math.Sqrt(ss)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

// runsFor returns how many passes over the probes give about 2,000 timed
// searches.
func (b *indexBench) runsFor(probes int) int {
	if b.runs > 0 {
		return b.runs
	}
	return max(1, (2000+probes-1)/probes)
}

func (b *indexBench) embedded(ctx context.Context) (*indexResult, error) {
	dir, err := os.MkdirTemp("", "likeness-bench-index-")
	if err != nil {
		return nil, err
	}
	if !b.keep {
		defer os.RemoveAll(dir)
	}
	key, err := crypt.LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "likeness.db"), sqlite.Options{MasterKey: key})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "bench", Origins: []string{"https://bench.example"}})
	if err != nil {
		return nil, err
	}
	consent := &likeness.ConsentRecord{ID: uuid.NewString(), AppID: app.ID, Kind: likeness.ConsentAPI, SessionID: "bench",
		CreatedAt: time.Now()}
	if err := db.CreateConsentRecord(ctx, consent); err != nil {
		return nil, err
	}
	gallery, probes, kinds, want := b.gallery()
	rows := len(gallery) / b.dim
	ids := make([]string, rows)

	fmt.Fprintf(b.log, "n=%d: enrolling…\n", b.n)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w := range 2 { // sealing overlaps the commits, which are serial
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= rows || ctx.Err() != nil {
					return
				}
				f, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: consent.ID,
					Template: gallery[i*b.dim : (i+1)*b.dim]})
				if err != nil {
					errs[w] = err
					return
				}
				ids[i] = f.FacialID
				if i > 0 && i%100000 == 0 {
					fmt.Fprintf(b.log, "  %d enrolled (%.0f/s)\n", i, float64(i)/time.Since(start).Seconds())
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, err
	}
	insert := float64(rows) / time.Since(start).Seconds()
	if err := db.Close(); err != nil {
		return nil, err
	}
	pf := probeFile{AppID: app.ID, Collection: app.CollectionID, Runs: b.runsFor(len(probes))}
	for i, p := range probes {
		pf.Probes = append(pf.Probes, benchProbe{V: p, Want: ids[want[i]], Kind: kinds[i]})
	}
	gallery, ids = nil, nil
	runtime.GC()
	pfPath := filepath.Join(dir, "probes.json")
	raw, err := json.Marshal(pf)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(pfPath, raw, 0o600); err != nil {
		return nil, err
	}

	fmt.Fprintf(b.log, "n=%d: loading and searching in a fresh process…\n", b.n)
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", benchIndexChild, "--data", dir, "--probes", pfPath)
	cmd.Env = append(os.Environ(), "LIKENESS_MASTER_KEY_FILE="+filepath.Join(dir, "master.key"))
	cmd.Stderr = b.log
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("bench child: %w", err)
	}
	var cr childResult
	if err := json.Unmarshal(out, &cr); err != nil {
		return nil, fmt.Errorf("bench child: %w", err)
	}
	res := &indexResult{Store: storeEmbedded, Build: "sqlite", SearchProcs: 1, N: b.n, InsertPerSec: insert, P50Ms: cr.P50Ms, P99Ms: cr.P99Ms,
		RSSMB: cr.RSSMB, LoadSeconds: cr.LoadSeconds, PeakRSSMB: cr.PeakRSSMB, GoSysMB: cr.GoSysMB, StoreP50Ms: cr.StoreP50Ms,
		StoreP99Ms: cr.StoreP99Ms, Queries: b.queries, Dim: b.dim, Searches: cr.Searches, BuildCPU: cr.LoadCPU}
	res.fill(cr.Hits, cr.Total)
	return res, nil
}

// fill sets the recall fields from hits and totals by probe kind.
func (r *indexResult) fill(hits, total map[string]int) {
	r.RecallAt1 = ratioOf(hits["synthetic"], total["synthetic"])
	r.HardRecallAt1 = ratioOf(hits["hard"], total["hard"])
	if total["real"] > 0 {
		v := ratioOf(hits["real"], total["real"])
		r.RealRecallAt1, r.RealProbes = &v, total["real"]
	}
}

func ratioOf(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// runBenchIndexChild loads the store built by the parent and times searches.
func runBenchIndexChild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench "+benchIndexChild, flag.ContinueOnError)
	if len(args) > 0 && args[0] == "--memory" {
		return runBenchMemChild(ctx, fs, args[1:], stdout, stderr) // benchmem.go
	}
	data := fs.String("data", "", "data directory")
	probes := fs.String("probes", "", "probe file")
	if err := parse(fs, args); err != nil {
		return err
	}
	raw, err := os.ReadFile(*probes)
	if err != nil {
		return err
	}
	var pf probeFile
	if err := json.Unmarshal(raw, &pf); err != nil {
		return err
	}
	raw = nil
	start, cpu0 := time.Now(), cpuTime()
	db, err := openStore(ctx, *data)
	if err != nil {
		return err
	}
	defer db.Close()
	res := childResult{LoadSeconds: time.Since(start).Seconds(), LoadCPU: (cpuTime() - cpu0).Seconds(), Hits: map[string]int{},
		Total: map[string]int{}}
	runtime.GC()
	debug.FreeOSMemory()
	res.RSSMB, res.PeakRSSMB = procMemMB(os.Getpid())
	var mst runtime.MemStats
	runtime.ReadMemStats(&mst)
	res.GoSysMB = float64(mst.Sys) / (1 << 20)

	// One core: one thread running Go code.
	runtime.GOMAXPROCS(1)
	vi := db.VectorIndex()
	for i := range min(50, len(pf.Probes)) { // warm-up
		_, _ = vi.Search(ctx, pf.Collection, pf.Probes[i].V, 1)
	}
	var lat, storeLat []float64
	for run := range pf.Runs {
		for _, p := range pf.Probes {
			t := time.Now()
			m, err := vi.Search(ctx, pf.Collection, p.V, 1)
			lat = append(lat, ms(time.Since(t)))
			if err != nil {
				return err
			}
			if run == 0 {
				res.Total[p.Kind]++
				if len(m) == 1 && m[0].FacialID == p.Want {
					res.Hits[p.Kind]++
				}
			}
		}
	}
	for _, p := range pf.Probes {
		t := time.Now()
		if _, err := db.Search(ctx, pf.AppID, p.V, 1); err != nil {
			return err
		}
		storeLat = append(storeLat, ms(time.Since(t)))
	}
	res.Searches = len(lat)
	res.P50Ms, res.P99Ms = pct(lat, 50), pct(lat, 99)
	res.StoreP50Ms, res.StoreP99Ms = pct(storeLat, 50), pct(storeLat, 99)
	return json.NewEncoder(stdout).Encode(res)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pct returns the p-th percentile (nearest rank) of xs.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.999999) - 1
	return s[min(len(s)-1, max(0, i))]
}

// procMemMB returns a process's resident and peak resident memory in MB.
func procMemMB(pid int) (rss, peak float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		switch k {
		case "VmRSS":
			rss = kb / 1024
		case "VmHWM":
			peak = kb / 1024
		}
	}
	return rss, peak
}

func (b *indexBench) weaviate(ctx context.Context, url, keyFile string) (*indexResult, error) {
	var srv *weaviatetest.Server
	key := ""
	if url == "" {
		dir, err := os.MkdirTemp("", "likeness-bench-weaviate-")
		if err != nil {
			return nil, err
		}
		if !b.keep {
			defer os.RemoveAll(dir)
		}
		logf, err := os.Create(filepath.Join(dir, "weaviate.log"))
		if err != nil {
			return nil, err
		}
		defer logf.Close()
		fmt.Fprintf(b.log, "n=%d: starting weaviate-server…\n", b.n)
		if srv, err = weaviatetest.Start(ctx, weaviatetest.Options{DataDir: filepath.Join(dir, "data"), Log: logf}); err != nil {
			return nil, err
		}
		defer srv.Close()
		url, key = srv.URL, srv.APIKey
	} else if keyFile != "" {
		b, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, err
		}
		key = strings.TrimSpace(string(b))
	}
	ix, err := weaviate.Open(ctx, weaviate.Options{URL: url, APIKey: key, Class: "LikenessBench"})
	if err != nil {
		return nil, err
	}
	defer ix.Close()
	col := "col_bench" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	if err := ix.Ensure(ctx, col, secret); err != nil {
		return nil, err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_ = ix.Drop(dctx, col)
	}()
	gallery, probes, kinds, want := b.gallery()
	rows := len(gallery) / b.dim
	ids := make([]string, rows)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	fmt.Fprintf(b.log, "n=%d: inserting with %d writers…\n", b.n, b.workers)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, b.workers)
	for w := range b.workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= rows || ctx.Err() != nil {
					return
				}
				if err := ix.Add(ctx, col, ids[i], gallery[i*b.dim:(i+1)*b.dim]); err != nil {
					errs[w] = err
					return
				}
				if i > 0 && i%10000 == 0 {
					fmt.Fprintf(b.log, "  %d inserted (%.0f/s)\n", i, float64(i)/time.Since(start).Seconds())
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, err
	}
	res := &indexResult{Store: storeWeaviate, N: b.n, InsertPerSec: float64(rows) / time.Since(start).Seconds(),
		Queries: b.queries, Dim: b.dim}
	search := func(record bool, lat *[]float64, hits, total map[string]int) error {
		for i, p := range probes {
			t := time.Now()
			m, err := ix.Search(ctx, col, p, 1)
			if err != nil {
				return err
			}
			*lat = append(*lat, ms(time.Since(t)))
			if record {
				total[kinds[i]]++
				if len(m) == 1 && m[0].FacialID == ids[want[i]] {
					hits[kinds[i]]++
				}
			}
		}
		return nil
	}
	var lat []float64
	hits, total := map[string]int{}, map[string]int{}
	var warm []float64
	if err := search(false, &warm, nil, nil); err != nil {
		return nil, err
	}
	for run := range b.runsFor(len(probes)) {
		if err := search(run == 0, &lat, hits, total); err != nil {
			return nil, err
		}
	}
	res.P50Ms, res.P99Ms, res.Searches = pct(lat, 50), pct(lat, 99), len(lat)
	res.fill(hits, total)
	if srv != nil {
		// Start-up: restart the server and wait until a search answers
		// (Weaviate loads the HNSW graph from its commit logs).
		fmt.Fprintf(b.log, "n=%d: restarting weaviate-server…\n", b.n)
		t := time.Now()
		if err := srv.Restart(ctx); err != nil {
			return nil, err
		}
		for {
			m, err := ix.Search(ctx, col, probes[0], 1)
			if err == nil && len(m) == 1 {
				break
			}
			if time.Since(t) > 30*time.Minute {
				return nil, fmt.Errorf("no answer after restart: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		res.LoadSeconds = time.Since(t).Seconds()
		res.RSSMB, res.PeakRSSMB = procMemMB(srv.PID())
	}
	return res, nil
}

// loadLevel is one concurrency level of `bench load`.
type loadLevel struct {
	N               int            `json:"n"`               // concurrent widget clients
	Seconds         float64        `json:"seconds"`         // measured wall time
	Attempts        int            `json:"attempts"`        // sessions asked for
	Sessions        int            `json:"sessions"`        // admitted
	Decided         int            `json:"decided"`         // ended with a result (authenticated)
	Failed          map[string]int `json:"failed"`          // ended with an error, by FACEIO name
	Shed            int            `json:"shed"`            // refused at the upgrade with TOO_MANY_REQUESTS
	ShedShare       float64        `json:"shedShare"`       // shed / attempts
	ShedP50Ms       float64        `json:"shedP50Ms"`       // time to the refusal
	ShedP99Ms       float64        `json:"shedP99Ms"`       //
	FramesPerSec    float64        `json:"framesPerSec"`    // frames answered by the server, sustained
	DecisionP50Ms   float64        `json:"decisionP50Ms"`   // capture start → result
	DecisionP99Ms   float64        `json:"decisionP99Ms"`   //
	FrameP50Ms      float64        `json:"frameP50Ms"`      // one frame → its answer
	FrameP99Ms      float64        `json:"frameP99Ms"`      //
	HealthzP50Ms    float64        `json:"healthzP50Ms"`    // GET /healthz during the level
	HealthzP99Ms    float64        `json:"healthzP99Ms"`    //
	HealthzMaxMs    float64        `json:"healthzMaxMs"`    //
	ServerRSSMB     float64        `json:"serverRssMB"`     // largest sample during the level
	ServerPeakRSSMB float64        `json:"serverPeakRssMB"` // the server process's peak so far
	// CPU used during the level, in cores (CPU seconds per second): the
	// server, and this load generator, which runs on the same machine.
	ServerCPU  float64 `json:"serverCpu"`
	LoadGenCPU float64 `json:"loadGenCpu"`
}

// loadStats collects one level's measurements from every client.
type loadStats struct {
	mu                                  sync.Mutex
	attempts, sessions, decided, shed   int
	frames                              int
	failed                              map[string]int
	shedLat, decisionLat, frameLat, hzL []float64
}

func (s *loadStats) add(f func(s *loadStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// loadBench drives widget sessions against a spawned `likeness serve`.
type loadBench struct {
	base     string // http://127.0.0.1:PORT
	publicID string
	origin   string
	frames   [][]byte
	pid      int
	fps      int
}

func runBenchLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench load", flag.ContinueOnError)
	ecfg := engineFlags(fs)
	levels := fs.String("n", "1,10,50,100", "concurrent widget clients per level, comma-separated")
	faces := fs.String("faces", filepath.Join("..", "shared", "faces"), "face set with video/live_lmm_hamilton_640x480.mjpeg")
	duration := fs.Duration("duration", 30*time.Second, "how long each level runs")
	maxSessions := fs.Int("max-sessions", 0, "the server's concurrent session limit (default: its own, 16 per engine worker)")
	fps := fs.Int("fps", 10, "frames a second each client sends at most (the widget's maxFps)")
	asJSON := fs.Bool("json", false, "print JSON")
	keep := fs.Bool("keep", false, "keep the temporary data directory")
	if err := parse(fs, args); err != nil {
		return err
	}
	ns, err := intList(*levels)
	if err != nil {
		return usageError("--n: " + err.Error())
	}
	clip, err := os.ReadFile(filepath.Join(*faces, "video", "live_lmm_hamilton_640x480.mjpeg"))
	if err != nil {
		return err
	}
	all := engine.SplitMJPEG(clip)
	lb := &loadBench{origin: "http://bench.example", fps: max(1, *fps)}
	for i := 0; i < len(all); i += 3 { // the clip is 30 fps; the widget sends 10
		lb.frames = append(lb.frames, all[i])
	}
	if len(lb.frames) == 0 {
		return errors.New("the clip has no JPEG frames")
	}

	dir, err := os.MkdirTemp("", "likeness-bench-load-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	if lb.publicID, err = benchApp(ctx, dir, lb.origin); err != nil {
		return err
	}
	stop, err := lb.spawn(ctx, dir, *ecfg, *maxSessions, stderr)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintln(stderr, "enrolling the clip's face…")
	if err := lb.enroll(ctx); err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	var out []loadLevel
	for _, n := range ns {
		fmt.Fprintf(stderr, "%d clients for %s…\n", n, *duration)
		lv := lb.level(ctx, n, *duration)
		out = append(out, lv)
		if !*asJSON {
			fmt.Fprintf(stdout, "n=%-4d frames/s %6.1f  decided %4d  decision p50 %7.0f ms p99 %7.0f ms  shed %5.1f%% (p99 %5.1f ms)  healthz p99 %6.1f ms  server RSS %5.0f MB  CPU server %.2f load generator %.2f  failed %v\n",
				lv.N, lv.FramesPerSec, lv.Decided, lv.DecisionP50Ms, lv.DecisionP99Ms, 100*lv.ShedShare, lv.ShedP99Ms,
				lv.HealthzP99Ms, lv.ServerRSSMB, lv.ServerCPU, lv.LoadGenCPU, lv.Failed)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(2 * time.Second) // let the level's sessions drain
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(map[string]any{
			"levels": out, "maxSessions": *maxSessions, "cpus": runtime.NumCPU(), "durationSeconds": duration.Seconds(),
			"fps": lb.fps,
		})
	}
	return nil
}

// benchApp creates the bench application in dir, with session rate limits
// out of the way (this measures capacity, not per-IP limits).
func benchApp(ctx context.Context, dir, origin string) (string, error) {
	db, err := createStore(ctx, dir)
	if err != nil {
		return "", err
	}
	defer db.Close()
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "load bench", Origins: []string{origin}})
	if err != nil {
		return "", err
	}
	st, err := db.Settings(ctx, app.ID)
	if err != nil {
		return "", err
	}
	st.SessionsPerIPPerMinute, st.SessionsPerAppPerMinute = 10000, 1000000
	if _, err := db.UpdateSettings(ctx, app.ID, *st); err != nil {
		return "", err
	}
	return app.PublicID, nil
}

// spawn starts `likeness serve` on a free port and waits for /healthz.
func (lb *loadBench) spawn(ctx context.Context, dir string, ecfg engine.Config, maxSessions int, stderr io.Writer) (func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := netListen()
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	// Each client stands for a different person's browser: its own address
	// in X-Forwarded-For, believed from loopback, so the per-address session
	// limit applies per client as it would in production.
	args := []string{"serve", "--addr", addr, "--data", dir, "--log-level", "error", "--models", ecfg.ModelsDir,
		"--max-sessions", strconv.Itoa(maxSessions), "--trusted-proxies", "127.0.0.1"}
	if ecfg.Workers > 0 {
		args = append(args, "--workers", strconv.Itoa(ecfg.Workers))
	}
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "LIKENESS_MASTER_KEY_FILE="+filepath.Join(dir, "master.key"))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	}
	lb.base, lb.pid = "http://"+addr, cmd.Process.Pid
	for start := time.Now(); ; {
		if resp, err := httpGet(ctx, lb.base+"/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return stop, nil
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("likeness serve exited:\n%s", b)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Since(start) > time.Minute {
			stop()
			return nil, errors.New("likeness serve did not become healthy in a minute")
		}
	}
}

// wsURL is the widget socket of an operation.
func (lb *loadBench) wsURL(op string) string {
	return "ws" + strings.TrimPrefix(lb.base, "http") + "/widget/ws?publicId=" + lb.publicID + "&op=" + op
}

// enroll enrolls the clip's face through the widget protocol.
func (lb *loadBench) enroll(ctx context.Context) error {
	c, status, _, err := dialWidget(ctx, lb.wsURL("enroll"), lb.origin, clientAddr(0))
	if err != nil {
		return fmt.Errorf("dial (HTTP %d): %w", status, err)
	}
	defer c.Close()
	if err := c.WriteJSON(map[string]any{"type": "start", "locale": "en"}); err != nil {
		return err
	}
	n, err := readUntil(c, "consent")
	if err != nil {
		return err
	}
	if err := c.WriteJSON(map[string]any{"type": "consent", "accept": true, "version": n["version"], "sha256": n["sha256"]}); err != nil {
		return err
	}
	if err := c.WriteJSON(map[string]any{"type": "camera", "ok": true}); err != nil {
		return err
	}
	if _, err := readUntil(c, "capture"); err != nil {
		return err
	}
	// At camera pace: the server refuses a burst of frames as not a camera.
	gap := time.Second / time.Duration(lb.fps)
	next := time.Now()
	for i := 0; i < 400; i++ {
		time.Sleep(time.Until(next))
		next = time.Now().Add(gap)
		m, err := sendFrame(c, lb.frames[i%len(lb.frames)])
		if err != nil {
			return err
		}
		switch m["type"] {
		case "result":
			return nil
		case "error":
			return fmt.Errorf("the server refused the enrollment: %v", m)
		}
	}
	return errors.New("no decision after 400 frames")
}

// level runs n clients for d, each running authentication sessions back to
// back, while /healthz and the server's memory are sampled.
func (lb *loadBench) level(ctx context.Context, n int, d time.Duration) loadLevel {
	st := &loadStats{failed: map[string]int{}}
	start := time.Now()
	srvCPU0, genCPU0 := procCPU(lb.pid), procCPU(os.Getpid())
	deadline := start.Add(d)
	var clients sync.WaitGroup
	for i := range n {
		clients.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				lb.session(ctx, st, i)
			}
		})
	}
	var rssMax float64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var samplers sync.WaitGroup
	samplers.Go(func() {
		for sampleCtx.Err() == nil {
			t := time.Now()
			resp, err := httpGet(sampleCtx, lb.base+"/healthz")
			if err == nil {
				resp.Body.Close()
				st.add(func(s *loadStats) { s.hzL = append(s.hzL, ms(time.Since(t))) })
			}
			if rss, _ := procMemMB(lb.pid); rss > rssMax {
				rssMax = rss
			}
			select {
			case <-sampleCtx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	clients.Wait()
	elapsed := time.Since(start)
	srvCPU, genCPU := procCPU(lb.pid)-srvCPU0, procCPU(os.Getpid())-genCPU0
	stopSampling()
	samplers.Wait()
	_, peak := procMemMB(lb.pid)
	st.mu.Lock()
	defer st.mu.Unlock()
	return loadLevel{
		N: n, Seconds: elapsed.Seconds(), Attempts: st.attempts, Sessions: st.sessions, Decided: st.decided,
		Failed: st.failed, Shed: st.shed, ShedShare: ratioOf(st.shed, st.attempts),
		ShedP50Ms: pct(st.shedLat, 50), ShedP99Ms: pct(st.shedLat, 99),
		FramesPerSec:  float64(st.frames) / elapsed.Seconds(),
		DecisionP50Ms: pct(st.decisionLat, 50), DecisionP99Ms: pct(st.decisionLat, 99),
		FrameP50Ms: pct(st.frameLat, 50), FrameP99Ms: pct(st.frameLat, 99),
		HealthzP50Ms: pct(st.hzL, 50), HealthzP99Ms: pct(st.hzL, 99), HealthzMaxMs: pct(st.hzL, 100),
		ServerRSSMB: rssMax, ServerPeakRSSMB: peak,
		ServerCPU: srvCPU.Seconds() / elapsed.Seconds(), LoadGenCPU: genCPU.Seconds() / elapsed.Seconds(),
	}
}

// procCPU returns the CPU time (user and system) a process has used, from
// /proc/PID/stat; 0 where /proc is not available.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (USER_HZ, 100 on Linux).
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100)
}

// session runs one authentication: at most fps frames a second, one frame
// unanswered at a time, until the server decides. A refused upgrade is a
// shed session; the client then waits a quarter second, as a widget retry
// would.
func (lb *loadBench) session(ctx context.Context, st *loadStats, client int) {
	t0 := time.Now()
	c, status, retry, err := dialWidget(ctx, lb.wsURL("authenticate"), lb.origin, clientAddr(client))
	if err != nil {
		shed := status == 429
		st.add(func(s *loadStats) {
			s.attempts++
			if shed {
				s.shed++
				s.shedLat = append(s.shedLat, ms(time.Since(t0)))
			} else {
				s.failed["DIAL"]++
			}
		})
		time.Sleep(retry) // as the server asks (Retry-After), as a widget's retry would
		return
	}
	defer c.Close()
	st.add(func(s *loadStats) { s.attempts++; s.sessions++ })
	fail := func(name string) { st.add(func(s *loadStats) { s.failed[name]++ }) }
	if c.WriteJSON(map[string]any{"type": "start", "locale": "en"}) != nil ||
		c.WriteJSON(map[string]any{"type": "camera", "ok": true}) != nil {
		fail("WRITE")
		return
	}
	if _, err := readUntil(c, "capture"); err != nil {
		fail("NO_CAPTURE")
		return
	}
	capStart := time.Now()
	gap := time.Second / time.Duration(lb.fps)
	next := time.Now()
	for i := client * 7; ctx.Err() == nil; i++ {
		time.Sleep(time.Until(next))
		next = time.Now().Add(gap)
		t := time.Now()
		m, err := sendFrame(c, lb.frames[i%len(lb.frames)])
		if err != nil {
			fail("READ")
			return
		}
		lat := ms(time.Since(t))
		st.add(func(s *loadStats) { s.frames++; s.frameLat = append(s.frameLat, lat) })
		switch m["type"] {
		case "result":
			d := ms(time.Since(capStart))
			st.add(func(s *loadStats) { s.decided++; s.decisionLat = append(s.decisionLat, d) })
			return
		case "error":
			name, _ := m["name"].(string)
			fail(name)
			return
		}
	}
}

// wsConn is the part of a WebSocket connection the bench uses.
type wsConn = *websocket.Conn

// clientAddr is the address bench client i claims (X-Forwarded-For).
func clientAddr(i int) string { return fmt.Sprintf("10.77.%d.%d", i/250, 1+i%250) }

// dialWidget opens a widget socket as the client address addr; on refusal
// it returns the HTTP status and how long to wait before trying again (the
// reply's Retry-After, else a quarter second).
func dialWidget(ctx context.Context, url, origin, addr string) (wsConn, int, time.Duration, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	c, resp, err := d.DialContext(ctx, url, http.Header{"Origin": {origin}, "X-Forwarded-For": {addr}})
	if err != nil {
		status, retry := 0, 250*time.Millisecond
		if resp != nil {
			status = resp.StatusCode
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				retry = time.Duration(s) * time.Second
			}
			resp.Body.Close()
		}
		return nil, status, retry, err
	}
	return c, http.StatusSwitchingProtocols, 0, nil
}

// readUntil reads messages until one of type typ, skipping guidance.
func readUntil(c wsConn, typ string) (map[string]any, error) {
	for {
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		var m map[string]any
		if err := c.ReadJSON(&m); err != nil {
			return nil, err
		}
		switch m["type"] {
		case typ:
			return m, nil
		case "guide":
		default:
			return nil, fmt.Errorf("got %v, want a %q message", m, typ)
		}
	}
}

// sendFrame sends one frame and reads the server's one answer to it.
func sendFrame(c wsConn, frame []byte) (map[string]any, error) {
	_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := c.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	var m map[string]any
	err := c.ReadJSON(&m)
	return m, err
}

func httpGet(ctx context.Context, url string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases its request's context when closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
