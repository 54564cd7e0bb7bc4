package crypt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// LoadOrCreateMasterKey returns the master key stored base64-encoded in the
// file at path. When the file does not exist it creates a new random key, the
// file with mode 0600 and any missing directory with mode 0700. It refuses a
// file whose key is not KeySize bytes and, except on Windows, a file that the
// group or others may read or write.
func LoadOrCreateMasterKey(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("crypt: master key path is empty")
	}
	key, err := loadMasterKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("crypt: master key directory: %w", err)
	}
	key, err = NewDataKey()
	if err != nil {
		return nil, err
	}
	if err := createMasterKey(path, key); err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race
			return loadMasterKey(path)
		}
		return nil, err
	}
	return key, nil
}

// LoadMasterKey returns the master key stored base64-encoded in the file at
// path, with the checks of LoadOrCreateMasterKey, and never creates one: a
// missing file is an error wrapping fs.ErrNotExist.
func LoadMasterKey(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("crypt: master key path is empty")
	}
	key, err := loadMasterKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("crypt: master key %s: %w", path, err)
	}
	return key, err
}

func loadMasterKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("crypt: master key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("crypt: master key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("crypt: master key %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("crypt: master key %s has mode %#o: it must not be accessible to group or others (chmod 600 %s)", path, perm, path)
	}
	// A base64 key of KeySize bytes is 44 characters; read a little more to
	// detect a wrong file without reading a large one.
	buf := make([]byte, 256)
	n, err := f.Read(buf)
	if err != nil && n == 0 {
		return nil, fmt.Errorf("crypt: master key %s is empty or unreadable: %v", path, err)
	}
	text := bytes.TrimSpace(buf[:n])
	key := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	m, err := base64.StdEncoding.Decode(key, text)
	if err != nil || m != KeySize {
		return nil, fmt.Errorf("crypt: master key %s must hold %d bytes in base64 (got %d characters)", path, KeySize, len(text))
	}
	return key[:KeySize], nil
}

// createMasterKey writes key to a temporary file and links it into place,
// so that no reader ever sees a partly written key file and an existing file
// is never replaced.
func createMasterKey(path string, key []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".masterkey-*")
	if err != nil {
		return fmt.Errorf("crypt: master key: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return fmt.Errorf("crypt: master key: %w", err)
	}
	data := base64.StdEncoding.AppendEncode(nil, key)
	data = append(data, '\n')
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("crypt: master key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("crypt: master key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("crypt: master key: %w", err)
	}
	if err := os.Link(name, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("crypt: master key: %w", err)
	}
	return nil
}
