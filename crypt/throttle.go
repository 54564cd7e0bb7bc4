package crypt

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
)

// ThrottleMAC names a throttle key (a client address, an email address)
// of a purpose without revealing it: HMAC-SHA256 over the purpose's length
// (two bytes, big-endian), the purpose and the key, under a key derived
// from the master key. Every store computes
// it the same way, so servers sharing a master key find the same row.
func ThrottleMAC(master []byte, purpose, key string) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, master, nil, "likeness throttle keys v1", 32)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte{byte(len(purpose) >> 8), byte(len(purpose))})
	m.Write([]byte(purpose))
	m.Write([]byte(key))
	return m.Sum(nil), nil
}
