package crypt_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/likeness/likeness/crypt"
)

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := crypt.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	key, other := mustKey(t), mustKey(t)
	plain := []byte("a face template, four bytes per float")
	aad := crypt.AAD("face-template", "app1", "face1")
	sealed, err := crypt.Seal(key, plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != len(plain)+crypt.Overhead {
		t.Fatalf("sealed length %d, want %d", len(sealed), len(plain)+crypt.Overhead)
	}
	if bytes.Contains(sealed, plain[:8]) {
		t.Fatal("sealed value contains the plaintext")
	}
	tampered := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name   string
		key    []byte
		sealed []byte
		aad    []byte
		ok     bool
	}{
		{"round trip", key, sealed, aad, true},
		{"wrong key", other, sealed, aad, false},
		{"wrong aad (other row)", key, sealed, crypt.AAD("face-template", "app1", "face2"), false},
		{"wrong aad (other app)", key, sealed, crypt.AAD("face-template", "app2", "face1"), false},
		{"nil aad", key, sealed, nil, false},
		{"tampered version", key, tampered(0), aad, false},
		{"tampered nonce", key, tampered(1), aad, false},
		{"tampered body", key, tampered(20), aad, false},
		{"tampered tag", key, tampered(len(sealed) - 1), aad, false},
		{"truncated by one", key, sealed[:len(sealed)-1], aad, false},
		{"truncated to header", key, sealed[:13], aad, false},
		{"empty", key, nil, aad, false},
		{"appended byte", key, append(bytes.Clone(sealed), 0), aad, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := crypt.Open(tt.key, tt.sealed, tt.aad)
			if tt.ok {
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("Open = %q, %v; want plaintext", got, err)
				}
				return
			}
			if !errors.Is(err, crypt.ErrOpen) {
				t.Fatalf("Open error = %v, want ErrOpen", err)
			}
			if got != nil {
				t.Fatal("Open returned plaintext on failure")
			}
		})
	}
}

func TestSealNonceIsRandom(t *testing.T) {
	key := mustKey(t)
	a, _ := crypt.Seal(key, []byte("same"), nil)
	b, _ := crypt.Seal(key, []byte("same"), nil)
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are equal")
	}
}

func TestBadKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := crypt.Seal(make([]byte, n), []byte("x"), nil); err == nil {
			t.Errorf("Seal with %d-byte key: no error", n)
		}
		if _, err := crypt.Open(make([]byte, n), make([]byte, 64), nil); err == nil || errors.Is(err, crypt.ErrOpen) {
			t.Errorf("Open with %d-byte key: error %v, want a key size error", n, err)
		}
	}
}

func TestAADUnambiguous(t *testing.T) {
	if bytes.Equal(crypt.AAD("a|b", "c"), crypt.AAD("a", "b|c")) {
		t.Fatal("AAD is ambiguous")
	}
	if bytes.Equal(crypt.AAD("ab", ""), crypt.AAD("a", "b")) {
		t.Fatal("AAD is ambiguous")
	}
}

func TestLoadOrCreateMasterKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets", "deeper")
	path := filepath.Join(dir, "master.key")
	key, err := crypt.LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != crypt.KeySize {
		t.Fatalf("key length %d", len(key))
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Fatalf("key file mode %#o, want 0600", perm)
		}
		di, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if perm := di.Mode().Perm(); perm != 0o700 {
			t.Fatalf("key dir mode %#o, want 0700", perm)
		}
	}
	again, err := crypt.LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, again) {
		t.Fatal("second load returned another key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the key file", len(entries))
	}
}

func TestLoadOrCreateMasterKeyConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	var wg sync.WaitGroup
	keys := make([][]byte, 8)
	errs := make([]error, 8)
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = crypt.LoadOrCreateMasterKey(path) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatal("concurrent callers got different keys")
		}
	}
}

func TestLoadMasterKeyRefused(t *testing.T) {
	valid := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string // part of the error
		unix    bool   // permission checks do not apply on Windows
	}{
		{"group readable", valid, 0o640, "mode", true},
		{"other readable", valid, 0o604, "mode", true},
		{"world writable", valid, 0o602, "mode", true},
		{"too short", base64.StdEncoding.EncodeToString(make([]byte, 16)), 0o600, "32 bytes", false},
		{"too long", base64.StdEncoding.EncodeToString(make([]byte, 48)), 0o600, "32 bytes", false},
		{"not base64", strings.Repeat("!", 44), 0o600, "32 bytes", false},
		{"empty", "", 0o600, "empty", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.unix && runtime.GOOS == "windows" {
				t.Skip("no Unix permissions")
			}
			path := filepath.Join(t.TempDir(), "master.key")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			key, err := crypt.LoadOrCreateMasterKey(path)
			if err == nil {
				t.Fatalf("accepted: key of %d bytes", len(key))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), valid) {
				t.Fatal("error contains the key")
			}
			// The refused file is left as it was.
			if b, _ := os.ReadFile(path); string(b) != tt.content {
				t.Fatal("refused key file was changed")
			}
		})
	}
}

func TestLoadMasterKeyAcceptsTrailingNewline(t *testing.T) {
	want := bytes.Repeat([]byte{9}, 32)
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(want)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := crypt.LoadOrCreateMasterKey(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("got %x, %v", got, err)
	}
}
