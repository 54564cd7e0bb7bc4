package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tree lists every path under dir with its size and modification time.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, _ := d.Info()
		out = append(out, p+" "+fi.Mode().String()+" "+strconv.FormatInt(fi.Size(), 10)+" "+fi.ModTime().String())
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// TestReadingCommandsNeverCreate: a command other than serve/app create/
// admin create on a missing data directory fails and creates nothing.
func TestReadingCommandsNeverCreate(t *testing.T) {
	ctx := context.Background()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", "")
	for _, args := range [][]string{
		{"audit", "verify", "--data"},
		{"audit", "verify", "--json", "--data"},
		{"index", "rebuild", "--data"},
		{"index", "compact", "--data"},
	} {
		base := t.TempDir()
		typo := filepath.Join(base, "typo")
		var out bytes.Buffer
		err := run(ctx, append(args, typo), &out, &out)
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("%v on a missing directory: err %v, out %s", args, err, out.String())
		}
		if strings.Contains(out.String(), "intact") {
			t.Errorf("%v reported an intact trail of nothing: %s", args, out.String())
		}
		if _, err := os.Stat(typo); err == nil {
			t.Errorf("%v created %s", args, typo)
		}
		// An existing but empty directory: no database is made in it.
		empty := filepath.Join(base, "empty")
		os.Mkdir(empty, 0o700)
		err = run(ctx, append(args, empty), &out, &out)
		if err == nil || !strings.Contains(err.Error(), "no Likeness database") {
			t.Errorf("%v on an empty directory: err %v", args, err)
		}
		if ents, _ := os.ReadDir(empty); len(ents) != 0 {
			t.Errorf("%v created %v in an empty directory", args, ents)
		}
	}
}

// TestMissingMasterKeyChangesNothing: a database whose master key is gone
// is an error for every command, including the creating ones, and nothing
// on disk changes (no new key, no new WAL, no migration).
func TestMissingMasterKeyChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", "")
	var out bytes.Buffer
	if err := run(ctx, []string{"app", "create", "--data", dir, "--name", "Shop", "--origin", "https://shop.example", "--json"}, &out, &out); err != nil {
		t.Fatalf("app create: %v %s", err, out.String())
	}
	if err := os.Remove(filepath.Join(dir, "master.key")); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery staple 42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)
	time.Sleep(10 * time.Millisecond) // so that a rewrite would show in mtimes
	for _, args := range [][]string{
		{"audit", "verify", "--data", dir},
		{"app", "create", "--data", dir, "--name", "Other", "--origin", "https://other.example"},
		{"admin", "create", "--data", dir, "--email", "a@b.example", "--password-file", pw},
		{"index", "rebuild", "--data", dir},
	} {
		out.Reset()
		err := run(ctx, args, &out, &out)
		if err == nil || !strings.Contains(err.Error(), "master key") || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("%v without the master key: err %v", args, err)
		}
		if after := tree(t, dir); after != before {
			t.Errorf("%v changed the data directory:\nbefore\n%s\nafter\n%s", args, before, after)
		}
	}
}

// TestAppCreateValidatesFirst: a bad flag is reported before the data
// directory, master key or database exist.
func TestAppCreateValidatesFirst(t *testing.T) {
	ctx := context.Background()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", "")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"bad origin", []string{"--name", "Shop", "--origin", "not a url"}},
		{"origin with a path", []string{"--name", "Shop", "--origin", "https://shop.example/login"}},
		{"bad webhook", []string{"--name", "Shop", "--origin", "https://shop.example", "--webhook-url", "ftp://x"}},
		{"blank name", []string{"--name", "   ", "--origin", "https://shop.example"}},
	} {
		dir := filepath.Join(t.TempDir(), "new")
		var out bytes.Buffer
		err := run(ctx, append([]string{"app", "create", "--data", dir}, tc.args...), &out, &out)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s: created %s before refusing (%s)", tc.name, dir, tree(t, dir))
		}
	}
}

// TestSecondServerRefused: two servers on one data directory. The second
// real process exits at once with a clear message; the first keeps serving.
func TestSecondServerRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
	ctx := context.Background()
	dir := t.TempDir()
	t.Setenv("LIKENESS_MASTER_KEY_FILE", "")
	// In process: the first Open holds the lock, the second is refused
	// until the first closes.
	db, err := createStore(ctx, dir, exclusive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := createStore(ctx, dir, exclusive); err == nil || !strings.Contains(err.Error(), "in use by another likeness server") {
		t.Fatalf("second exclusive open: %v", err)
	}
	// A reading command beside the server still works.
	var out bytes.Buffer
	if err := run(ctx, []string{"audit", "verify", "--data", dir}, &out, &out); err != nil {
		t.Errorf("audit verify beside a server: %v %s", err, out.String())
	}
	db.Close()
	db, err = createStore(ctx, dir, exclusive)
	if err != nil {
		t.Fatalf("open after the first closed: %v", err)
	}
	defer db.Close()

	// Two real processes: this test binary holds the lock (db above), a
	// child process runs `serve` on the same directory.
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeChild$")
	cmd.Env = append(os.Environ(), "LIKENESS_SERVE_CHILD="+dir)
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "in use by another likeness server") {
		t.Errorf("second serve: err %v, output %s", err, b)
	}
}

// TestServeChild runs `likeness serve` for TestSecondServerRefused.
func TestServeChild(t *testing.T) {
	dir := os.Getenv("LIKENESS_SERVE_CHILD")
	if dir == "" {
		t.Skip("child process of TestSecondServerRefused")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--models", filepath.Join("..", "..", "models")}, &out, &out)
	os.Stdout.WriteString("serve: " + errString(err) + "\n" + out.String())
	if err != nil {
		os.Exit(1)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
