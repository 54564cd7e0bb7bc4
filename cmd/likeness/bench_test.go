package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/store/sqlite"
	"github.com/likeness/likeness/store/vecindex/synth"
	"github.com/likeness/likeness/store/weaviate"
	"github.com/likeness/likeness/store/weaviate/weaviatetest"
)

// buildCLI builds the CLI into the test's temporary directory: the bench
// commands run child processes of their own executable. (The build cache
// makes every build after the first a link.)
func buildCLI(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "likeness")
	// `go test` puts its own go command first in PATH.
	if out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput(); err != nil {
		t.Fatalf("build the CLI: %v\n%s", err, out)
	}
	return path
}

func runCLI(t *testing.T, cli string, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(cli, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("likeness %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

type benchOutput struct {
	Results []indexResult `json:"results"`
}

func TestBenchIndexEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	out := runCLI(t, buildCLI(t), nil, "bench", "index", "--store", "embedded", "--n", "3000", "--queries", "60", "--runs", "2", "--json")
	var res benchOutput
	if err := json.Unmarshal(out, &res); err != nil || len(res.Results) != 1 {
		t.Fatalf("output %s: %v", out, err)
	}
	r := res.Results[0]
	if r.Store != "embedded" || r.N != 3000 || r.InsertPerSec <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms ||
		r.RSSMB <= 0 || r.LoadSeconds <= 0 || r.Searches != 120 {
		t.Fatalf("implausible result %+v", r)
	}
	if r.RecallAt1 < 0.99 {
		t.Fatalf("recall@1 %.3f", r.RecallAt1)
	}
	for _, key := range []string{"store", "n", "insertPerSec", "p50Ms", "p99Ms", "recallAt1", "rssMB", "loadSeconds"} {
		if !bytes.Contains(out, []byte(`"`+key+`":`)) {
			t.Errorf("output lacks %q", key)
		}
	}
}

// TestBenchIndexMemory runs the path `bench index --n 10000000` takes: the
// index built straight from generated vectors in a child process, searched,
// then searched while a writer enrolls and erases.
func TestBenchIndexMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	out := runCLI(t, buildCLI(t), nil, "bench", "index", "--n", "5000", "--sqlite-max", "1000", "--queries", "60", "--runs", "2", "--json")
	var res benchOutput
	if err := json.Unmarshal(out, &res); err != nil || len(res.Results) != 1 {
		t.Fatalf("output %s: %v", out, err)
	}
	r := res.Results[0]
	if r.Build != "memory" || r.N != 5000 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms || r.CPUP50Ms <= 0 ||
		r.PeakRSSMB < r.RSSMB || r.RSSMB <= 0 || r.LoadSeconds <= 0 || r.Searches != 120 || r.Serving == nil {
		t.Fatalf("implausible result %+v", r)
	}
	if r.RecallAt1 < 0.99 || r.HardRecallAt1 < 0.99 {
		t.Fatalf("recall@1 %.3f (hard %.3f)", r.RecallAt1, r.HardRecallAt1)
	}
	if sv := r.Serving; sv.Writes == 0 || sv.Searches != 120 || sv.ErasedProbed == 0 || sv.ErasedFound != 0 {
		t.Fatalf("serving: %+v", sv)
	}
}

func TestBenchIndexWeaviate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	if _, err := weaviatetest.Binary(); err != nil {
		weaviatetest.New(t) // skips (or fails under CI) with the reason
	}
	out := runCLI(t, buildCLI(t), nil, "bench", "index", "--store", "weaviate", "--n", "800", "--queries", "40", "--runs", "1", "--json")
	var res benchOutput
	if err := json.Unmarshal(out, &res); err != nil || len(res.Results) != 1 {
		t.Fatalf("output %s: %v", out, err)
	}
	r := res.Results[0]
	if r.Store != "weaviate" || r.N != 800 || r.InsertPerSec <= 0 || r.P50Ms <= 0 || r.RecallAt1 < 0.95 ||
		r.LoadSeconds <= 0 || r.RSSMB <= 0 {
		t.Fatalf("implausible result %+v", r)
	}
}

// TestIndexRebuildCommand: `likeness index rebuild` fills an empty Weaviate
// from the database, and `serve`'s store then finds the faces there.
func TestIndexRebuildCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	s := weaviatetest.New(t)
	ctx := context.Background()
	dir := t.TempDir()
	// Faces enrolled with the embedded index only: Weaviate has none.
	db, err := createStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := db.CreateApp(ctx, likeness.AppCreate{Name: "A", Origins: []string{"https://a.example"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &likeness.ConsentRecord{ID: "consent-1", AppID: app.ID, Kind: likeness.ConsentAPI, SessionID: "t", CreatedAt: time.Now()}
	if err := db.CreateConsentRecord(ctx, rec); err != nil {
		t.Fatal(err)
	}
	g := synth.New(1, 128)
	var vecs [][]float32
	var ids []string
	for range 25 {
		v := g.Identity()
		f, err := db.Enroll(ctx, likeness.Enrollment{AppID: app.ID, ConsentID: rec.ID, Template: v})
		if err != nil {
			t.Fatal(err)
		}
		vecs, ids = append(vecs, v), append(ids, f.FacialID)
	}
	db.Close()

	keyFile := filepath.Join(t.TempDir(), "weaviate.key")
	if err := os.WriteFile(keyFile, []byte(s.APIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := buildCLI(t)
	out := runCLI(t, cli, nil, "index", "rebuild", "--data", dir, "--vector-store", "weaviate",
		"--weaviate-url", s.URL, "--weaviate-api-key-file", keyFile, "--json")
	var rep struct{ Collections, Faces, Added, Removed, Dropped int }
	if err := json.Unmarshal(out, &rep); err != nil || rep.Collections != 1 || rep.Faces != 25 || rep.Added != 25 {
		t.Fatalf("rebuild: %s (%v)", out, err)
	}

	vi, err := weaviate.Open(ctx, weaviate.Options{URL: s.URL, APIKey: s.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	defer vi.Close()
	db, err = createStore(ctx, dir, func(o *sqlite.Options) { o.Index = vi })
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, v := range vecs {
		m, err := db.Search(ctx, app.ID, v, 1)
		if err != nil || len(m) != 1 || m[0].FacialID != ids[i] {
			t.Fatalf("face %d after rebuild: %v, %v", i, m, err)
		}
	}
	// A wrong key file is refused before anything is touched.
	cmd := exec.Command(cli, "index", "rebuild", "--data", dir, "--vector-store", "weaviate",
		"--weaviate-url", s.URL, "--weaviate-api-key-file", filepath.Join(dir, "missing"))
	if err := cmd.Run(); err == nil {
		t.Fatal("rebuild ran without its API key file")
	}
}

// TestBenchLoadSmoke runs `bench load` briefly against a spawned server with
// real frames (the full levels run with `make bench-load`).
func TestBenchLoadSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI and runs the engine")
	}
	faces, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "faces"))
	if _, err := os.Stat(filepath.Join(faces, "video", "live_lmm_hamilton_640x480.mjpeg")); err != nil {
		t.Skipf("SKIP: the shared face set is absent (%s)", faces)
	}
	models, _ := filepath.Abs(filepath.Join("..", "..", "models"))
	out := runCLI(t, buildCLI(t), nil, "bench", "load", "--n", "1,3", "--duration", "4s", "--max-sessions", "2",
		"--faces", faces, "--models", models, "--json")
	var res struct {
		Levels []loadLevel `json:"levels"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Levels) != 2 {
		t.Fatalf("output %s: %v", out, err)
	}
	one, three := res.Levels[0], res.Levels[1]
	if one.Decided < 1 || one.FramesPerSec <= 0 || one.Shed != 0 || one.HealthzP50Ms <= 0 || one.ServerRSSMB <= 0 ||
		one.ServerCPU <= 0 || one.LoadGenCPU <= 0 {
		t.Fatalf("one client: %+v", one)
	}
	if three.Shed == 0 || three.ShedShare <= 0 {
		t.Fatalf("three clients over a limit of two were not shed: %+v", three)
	}
}
