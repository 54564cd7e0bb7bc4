// Command likeness is the Likeness server and its tools: serve, app, eval
// and bench. This file holds configuration and wiring only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/eval"
	"github.com/likeness/likeness/identify"
	"github.com/likeness/likeness/server"
)

const usage = `likeness — self-hosted, privacy-by-design face authentication

Every subcommand explains itself: likeness SUBCOMMAND --help (or: likeness help SUBCOMMAND).

Usage:
  likeness serve --addr HOST:PORT --data DIR [--demo] [--public-url URL]
        [--database postgres://… --master-key-file FILE]
        [--trusted-proxies CIDRS] [--geoip-db FILE] [--country-header NAME]
        [--console-signup first|open|off] [--webhook-allow-private] [--key-rotation 720h]
        [--vector-store embedded|weaviate --weaviate-url URL --weaviate-api-key-file FILE]
        [--tls-cert FILE --tls-key FILE | --acme-domain NAME [--acme-email E]] [--http-redirect-addr HOST:PORT]
  likeness app create --data DIR --name NAME --origin URL [--webhook-url URL] [--json]
  likeness audit verify --data DIR              check every audit chain (exit 1 when broken)
  likeness keys rotate --data DIR               a new token signing key (serve rotates every --key-rotation, 720h)
  likeness admin create --data DIR --email E [--password-file F]  make a console account (password on stdin)
  likeness org restore --data DIR --org ID      undo an organization's deletion within 90 days (no biometrics)
  likeness eval  --faces DIR [--json]          evaluate the engine on a labelled face set
  likeness eval  --age --faces DIR [--minimum-age N] [--cache FILE] [--fit FILE.go] [--json]
                                               measure the age estimate and the minors gate (files <age>_….jpg)
  likeness bench engine [--faces DIR] [--json]  time the engine on one core
  likeness bench index --store embedded|weaviate --n N [--json]  vector index speed, recall, memory
  likeness bench load --n 1,10,50,100 [--faces DIR] [--json]    concurrent widget sessions against serve
  likeness index rebuild --data DIR [--vector-store weaviate --weaviate-url URL --weaviate-api-key-file F]
                                               re-sync the vector store with the database
  likeness index compact --data DIR [...]      make pending erasures physical in the vector store
  likeness migrate --from DATA_DIR --to postgres://… [--weaviate URL]
                                               copy an embedded deployment into an empty PostgreSQL database

Vector store (serve, index): --vector-store embedded|weaviate --weaviate-url URL --weaviate-api-key-file FILE

Database (serve, app, admin, audit, keys, org, index): the embedded SQLite store in --data DIR, or
  --database postgres://… ($LIKENESS_DATABASE_URL) shared by several servers, with the master key from
  --master-key-file FILE ($LIKENESS_MASTER_KEY_FILE, default DIR/master.key), the same file for every server.

Common flags:
  --models DIR   models and ONNX Runtime library (default: ./models, $LIKENESS_MODELS_DIR)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "likeness:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError string

func (u usageError) Error() string { return string(u) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError("no command")
	}
	if args[0] == "help" && len(args) > 1 { // likeness help SUB [SUB2]
		args = append(args[1:len(args):len(args)], "--help")
	}
	if len(args) >= 2 && isHelp(args[1]) {
		if text, ok := groupHelp(args[0]); ok { // likeness bench --help
			fmt.Fprint(stdout, text)
			return nil
		}
	}
	_, err := printHelp(dispatch(ctx, args, stdout, stderr), stdout)
	return err
}

// dispatch runs the subcommand args[0].
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "app":
		return runApp(ctx, args[1:], stdout, stderr)
	case "admin":
		return runAdmin(ctx, args[1:], os.Stdin, stdout, stderr)
	case "audit":
		return runAudit(ctx, args[1:], stdout, stderr)
	case "org":
		return runOrg(ctx, args[1:], stdout, stderr) // org.go
	case "keys":
		return runKeys(ctx, args[1:], stdout, stderr)
	case "eval":
		return runEval(ctx, args[1:], stdout, stderr)
	case "bench":
		switch {
		case len(args) >= 2 && args[1] == "engine":
			return runBenchEngine(ctx, args[2:], stdout, stderr)
		case len(args) >= 2 && (args[1] == "index" || args[1] == "load" || args[1] == benchIndexChild):
			return runBench(ctx, args[1:], stdout, stderr) // bench.go
		}
		return usageError("usage: likeness bench engine|index|load …")
	case "index":
		return runIndex(ctx, args[1:], stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], stdout, stderr) // migrate.go
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError(fmt.Sprintf("unknown command %q", args[0]))
	}
}

// engineFlags registers the flags that configure the engine.
func engineFlags(fs *flag.FlagSet) *engine.Config {
	cfg := &engine.Config{}
	fs.StringVar(&cfg.ModelsDir, "models", engine.DefaultModelsDir(), "directory with the ONNX models and runtime library")
	fs.IntVar(&cfg.Workers, "workers", 0, "frames analysed at once (default: number of CPUs)")
	return cfg
}

// parse parses a subcommand's flags. --help and -h return helpRequested
// (printed by run, exit 0); a bad flag is a usage error naming --the-flag.
func parse(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return helpRequested(helpText(fs))
	} else if err != nil {
		return flagError(fs, err)
	}
	if fs.NArg() > 0 {
		return usageError("unexpected arguments: " + strings.Join(fs.Args(), " "))
	}
	return nil
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	cfg := engineFlags(fs)
	faces := fs.String("faces", "", "face set directory (labels.csv, pairs.csv; or <person>/<photo> folders with --identify)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	age := fs.Bool("age", false, "measure the age estimate and the minors gate on files named <age>_….jpg")
	minAge := fs.Int("minimum-age", 18, "with --age: the minimum age the gate is measured at")
	cache := fs.String("cache", "auto",
		"with --age: JSON file of the model outputs of files already measured; auto: one per DIR in the temporary directory; none: no cache")
	fitOut := fs.String("fit", "", "with --age: fit the age readout, calibration and margin (eval/agefit.go), write them as Go to FILE, print the held-out rates")
	padOnly := fs.Bool("pad", false, "presentation attack detection only: APCER per attack species and BPCER (ISO/IEC 30107-3) over pad/ images, video/ clips and attacks generated from every live photo and clip")
	ident := fs.Bool("identify", false, "open-set identification over <person>/<photo> folders")
	maxFAR := fs.Float64("max-false-accept-rate", likeness.DefaultMaxFalseAcceptRate, "with --identify: the application's target")
	pinMin := fs.Int("pin-min-length", 4, "with --identify: the application's PIN length")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *faces == "" {
		return usageError("eval needs --faces DIR")
	}
	if !*age && *fitOut != "" {
		return usageError("--fit needs --age")
	}
	if *age && (*minAge < 13 || *minAge > 99) {
		return usageError("--minimum-age must be 13 to 99")
	}
	eng, err := engine.New(*cfg)
	if err != nil {
		return err
	}
	defer eng.Close()
	if *age {
		switch *cache {
		case "none":
			*cache = ""
		case "auto":
			abs, err := filepath.Abs(*faces)
			if err != nil {
				return err
			}
			*cache = filepath.Join(os.TempDir(), fmt.Sprintf("likeness-age-%08x.json", crc32.ChecksumIEEE([]byte(abs))))
		}
		if *fitOut != "" {
			return fitAge(ctx, eng, *faces, *cache, *fitOut, stdout)
		}
		return evalAge(ctx, eng, *faces, *minAge, *cache, *asJSON, stdout)
	}
	if *padOnly {
		return runEvalPAD(ctx, eng, *faces, *asJSON, stdout)
	}
	if *ident {
		pol := identify.Policy{MaxFAR: *maxFAR, PIN: likeness.PINOptional, PINMinLength: *pinMin, RejectWeakPINs: true}
		rep, err := eval.RunIdentify(ctx, eng, *faces, pol, 0)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(rep)
		}
		s := rep.Summary
		fmt.Fprintf(stdout, "gallery %d, %d mated and %d non-mated probes\nFPIR %.4f  FNIR %.4f (second factor %.4f)  wrong person %.4f  FNIR with PIN %.4f\n",
			s.Gallery, s.MatedProbes, s.NonMatedProbes, s.FPIR, s.FNIR, s.SecondFactorShare, s.WrongPersonMatch, s.FNIRWithPIN)
		fmt.Fprintf(stdout, "false duplicates %.4f  duplicates caught %.4f\n", s.FalseDuplicates, s.DuplicatesCaught)
		for _, r := range rep.BySize {
			fmt.Fprintf(stdout, "N=%d threshold %.3f FPIR %.4f (bound %.1e) FNIR %.4f second factor %.4f FNIR with PIN %.4f\n",
				r.N, r.FaceOnlyThreshold, r.FPIR, r.PredictedFPIR, r.FNIR, r.SecondFactorShare, r.FNIRWithPIN)
		}
		return nil
	}
	rep, err := eval.Run(ctx, eng, *faces)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	s := rep.Summary
	fmt.Fprintf(stdout, "pairs: %d genuine, %d impostor\nFMR %.4f  FNMR %.4f  (threshold %.2f, %.1fσ above the impostor mean)\n",
		s.GenuinePairs, s.ImpostorPairs, s.FMR, s.FNMR, engine.VerifyThreshold, s.ThresholdSigmas)
	fmt.Fprintf(stdout, "PAD: %d attacks, %d bona fide; APCER %.3f  BPCER %.3f\n", s.PADAttacks, s.PADBonaFide, s.APCER, s.BPCER)
	for _, c := range rep.Controls {
		fmt.Fprintf(stdout, "control %s: %d faces\n", c.Path, c.Faces)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(stdout, "error %s: %s\n", e.Path, e.Error)
	}
	return nil
}

// runEvalPAD prints `likeness eval --pad`: JSON, or the per-species table.
func runEvalPAD(ctx context.Context, eng *engine.Engine, dir string, asJSON bool, stdout io.Writer) error {
	rep, err := eval.RunPAD(ctx, eng, dir, server.FrameUsable)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintf(stdout, "%-44s %-9s %8s %9s %7s\n", "attack species", "level", "attacks", "accepted", "APCER")
	for _, s := range rep.Species {
		fmt.Fprintf(stdout, "%-44s %-9s %8d %9d %7.3f\n", s.Species, s.Level, s.Attacks, s.Accepted, s.APCER)
	}
	for _, b := range rep.BonaFide {
		fmt.Fprintf(stdout, "bona fide %-6s %d presentations, %d refused (BPCER %.3f), %d asked to turn\n",
			b.Kind, b.Presentations, b.Refused, b.BPCER, b.Prompted)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(stdout, "error %s: %s\n", e.Path, e.Error)
	}
	return nil
}

// fitAge fits the age estimate on an age set, writes the Go table and
// prints the fit's outer-cross-validated error.
func fitAge(ctx context.Context, eng *engine.Engine, dir, cache, out string, stdout io.Writer) error {
	samples, _, err := eval.LoadAge(ctx, eng, dir, cache)
	if err != nil {
		return err
	}
	fit, err := eval.FitAge(samples)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(fit.GoSource()), 0o644); err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(struct {
		MarginRatio float64         `json:"marginRatio"`
		Samples     int             `json:"samples"`
		HeldOut     eval.AgeSummary `json:"heldOut"`
		Bands       []eval.AgeBand  `json:"heldOutBands"`
	}{fit.MarginRatio, fit.Samples, fit.HeldOut, fit.HeldOutBands})
}

// evalAge prints the age table and the minors gate's error rates.
func evalAge(ctx context.Context, eng *engine.Engine, dir string, minAge int, cache string, asJSON bool, stdout io.Writer) error {
	rep, err := eval.RunAge(ctx, eng, dir, minAge, cache)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	fmt.Fprintf(stdout, "%-6s %5s %6s %6s %6s %6s %8s\n", "band", "n", "mean", "p10", "p90", "MAE", "accepted")
	for _, b := range rep.Bands {
		fmt.Fprintf(stdout, "%-6s %5d %6.1f %6.1f %6.1f %6.1f %7.1f%%\n", b.Band, b.N, b.Mean, b.P10, b.P90, b.MAE, 100*b.AcceptRate)
	}
	s := rep.Summary
	fmt.Fprintf(stdout, "minimum age %d (estimate ≥ %.1f): minors 13–17 accepted %.1f%%, children 0–12 accepted %.1f%%, adults 25+ refused %.1f%%\n",
		s.MinimumAge, s.Threshold, 100*s.MinorsAccepted, 100*s.ChildrenAccepted, 100*s.AdultsRefused)
	for _, e := range rep.Errors {
		fmt.Fprintf(stdout, "error %s: %s\n", e.Path, e.Error)
	}
	return nil
}

func runBenchEngine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench engine", flag.ContinueOnError)
	cfg := engineFlags(fs)
	faces := fs.String("faces", filepath.Join("..", "shared", "faces"), "face set with video/live_lmm_hamilton_640x480.mjpeg")
	frame := fs.String("frame", "", "a JPEG frame to time instead (640×480 with one face)")
	runs := fs.Int("runs", 50, "timed runs")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	var data []byte
	var err error
	if *frame != "" {
		data, err = os.ReadFile(*frame)
	} else {
		var clip []byte
		clip, err = os.ReadFile(filepath.Join(*faces, "video", "live_lmm_hamilton_640x480.mjpeg"))
		if err == nil {
			frames := engine.SplitMJPEG(clip)
			if len(frames) == 0 {
				return errors.New("the clip has no JPEG frames")
			}
			data = frames[0]
		}
	}
	if err != nil {
		return err
	}
	// One core: one Go thread running Go code and one inference at a time.
	runtime.GOMAXPROCS(1)
	cfg.Workers = 1
	eng, err := engine.New(*cfg)
	if err != nil {
		return err
	}
	defer eng.Close()
	res, err := eng.Bench(ctx, data, *runs)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "frame p50 %.1f ms, p90 %.1f ms; decode %.1f ms\n", res.FrameMs.P50, res.FrameMs.P90, res.DecodeMs)
	for _, k := range []string{"detect", "landmarks", "embed", "liveness"} {
		fmt.Fprintf(stdout, "  %-10s %.2f ms\n", k, res.ModelMs[k])
	}
	fmt.Fprintf(stdout, "models %.1f ms; frame/models %.2f×; peak RSS %.0f MB; %d runs\n", res.ModelSum, res.Overhead, res.RSSMB, res.Runs)
	fmt.Fprintf(stdout, "CPU time: frame %.1f ms, decode %.1f ms, models %.1f ms; frame/models %.2f×\n",
		res.FrameCPUMs, res.DecodeCPUMs, res.ModelCPUSum, res.OverheadCPU)
	return nil
}
