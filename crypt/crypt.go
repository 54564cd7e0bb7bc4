// Package crypt holds the keys and the authenticated encryption Likeness uses
// for data at rest.
//
// The scheme is an envelope: a master key lives in a file outside the
// database; every application has a random data key stored in the database
// sealed by the master key; templates, images and secrets are sealed with the
// application's data key. Associated data binds each ciphertext to its row, so
// a ciphertext copied into another row does not open. Deleting an
// application's data key crypto-shreds everything sealed with it.
package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// KeySize is the size in bytes of master keys and data keys (AES-256).
const KeySize = 32

const (
	version   = 1  // first byte of every sealed value
	nonceSize = 12 // standard GCM nonce
	tagSize   = 16 // GCM tag
	overhead  = 1 + nonceSize + tagSize
)

// ErrOpen is returned by Open for any ciphertext that does not authenticate:
// wrong key, wrong associated data, tampered or truncated input. The reason is
// deliberately not distinguished.
var ErrOpen = errors.New("crypt: message authentication failed")

// Overhead is the number of bytes Seal adds to a plaintext.
const Overhead = overhead

// NewDataKey returns a new random key of KeySize bytes.
func NewDataKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("crypt: random key: %w", err)
	}
	return k, nil
}

// Seal encrypts and authenticates plaintext with AES-256-GCM under key, and
// authenticates aad (which is not stored). The result is
// version(1) | nonce(12) | ciphertext | tag(16), with a random nonce.
func Seal(key, plaintext, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+nonceSize, overhead+len(plaintext))
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("crypt: random nonce: %w", err)
	}
	return aead.Seal(out, out[1:1+nonceSize], plaintext, aad), nil
}

// Open authenticates and decrypts a value made by Seal with the same key and
// aad. It returns ErrOpen when the value does not authenticate, and another
// error only for a key of the wrong size.
func Open(key, sealed, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < overhead || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// AAD builds unambiguous associated data from parts: each part is preceded by
// its length, so ("a|b", "c") and ("a", "b|c") differ. Use a constant first
// part naming the kind of value, then the IDs of its row, e.g.
// AAD("face-template", appID, facialID).
func AAD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("crypt: key is %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("crypt: %w", err)
	}
	return cipher.NewGCM(block)
}
