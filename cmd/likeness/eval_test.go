package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvalAge runs `eval --age --json` on a temporary folder with a child,
// a 16-year-old and an adult from ../shared/age, a corrupt file and a file
// whose name holds no age.
func TestEvalAge(t *testing.T) {
	src := filepath.Join("..", "..", "..", "shared", "age")
	files := []string{"8_0_0_20170110220038315.jpg.chip.jpg", "16_0_0_20170102234641453.jpg.chip.jpg", "35_0_0_20170103182703466.jpg.chip.jpg"}
	dir := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Skipf("SKIP: the shared age set is absent or changed (%v)", err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "40_0_0_corrupt.jpg"), []byte("\xff\xd8\xff not a jpeg"), 0o600)
	os.WriteFile(filepath.Join(dir, "noage.jpg"), []byte("x"), 0o600)
	models, _ := filepath.Abs(filepath.Join("..", "..", "models"))
	var out, errb bytes.Buffer
	// Twice with a cache: the second run reads the model outputs back and
	// must say the same.
	cache := filepath.Join(t.TempDir(), "cache.json")
	var first string
	for i := 0; i < 2; i++ {
		out.Reset()
		err := run(context.Background(), []string{"eval", "--age", "--faces", dir, "--json", "--cache", cache, "--models", models, "--workers", "1"}, &out, &errb)
		if err != nil {
			t.Fatalf("eval --age: %v\n%s", err, errb.String())
		}
		if i == 0 {
			first = out.String()
		} else if out.String() != first {
			t.Fatalf("the cached run differs:\n%s\n%s", first, out.String())
		}
	}
	var rep struct {
		Bands []struct {
			Band                   string
			N, Accepted, Undecided int
		}
		Summary map[string]float64
		Errors  []struct{ Path, Error string }
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, k := range []string{"minorsAccepted", "childrenAccepted", "adultsRefused", "threshold", "mae"} {
		if _, ok := rep.Summary[k]; !ok {
			t.Errorf("summary lacks %s: %s", k, out.String())
		}
	}
	if len(rep.Bands) != 7 || rep.Bands[0].Band != "0-12" || rep.Bands[6].Band != "35+" {
		t.Errorf("bands %+v", rep.Bands)
	}
	if rep.Summary["children"] != 1 || rep.Summary["minors"] != 1 || rep.Summary["adults"] != 2 {
		t.Errorf("groups %v, want 1 child, 1 minor, 2 adults (the corrupt one counts)", rep.Summary)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Path != "40_0_0_corrupt.jpg" || strings.Contains(rep.Errors[0].Error, "unexpected") {
		t.Errorf("errors %+v, want the corrupt file with a clear reason", rep.Errors)
	}
	if rep.Summary["childrenAccepted"] != 0 {
		t.Errorf("the 8-year-old was accepted as an adult: %v", rep.Summary)
	}
	if rep.Summary["adultsRefused"] < 0.5 {
		t.Errorf("the corrupt adult file must count as refused: %v", rep.Summary)
	}

	for _, bad := range [][]string{
		{"eval", "--faces", dir, "--fit", "x.go"},
		{"eval", "--age", "--faces", dir, "--minimum-age", "5"},
		{"eval", "--age"},
	} {
		var ue usageError
		if err := run(context.Background(), bad, &out, &errb); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}

// TestEvalAgeCacheNotWritable: a cache that cannot be written is reported,
// and the measurement still comes out.
func TestEvalAgeCacheNotWritable(t *testing.T) {
	src := filepath.Join("..", "..", "..", "shared", "age", "8_0_0_20170110220038315.jpg.chip.jpg")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("SKIP: the shared age set is absent (%v)", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, filepath.Base(src)), b, 0o600)
	cache := filepath.Join(dir, "no-such-dir", "cache.json")
	models, _ := filepath.Abs(filepath.Join("..", "..", "models"))
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"eval", "--age", "--faces", dir, "--json", "--cache", cache, "--models", models, "--workers", "1"}, &out, &errb); err != nil {
		t.Fatalf("eval --age: %v", err)
	}
	if !strings.Contains(out.String(), `"children":1`) || !strings.Contains(out.String(), "cache could not be written") {
		t.Fatalf("got %s", out.String())
	}
}
