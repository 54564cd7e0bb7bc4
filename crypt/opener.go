package crypt

import "crypto/cipher"

// Opener opens many values sealed under one key, setting the cipher up once
// (loading every template of a collection at start).
type Opener struct{ aead cipher.AEAD }

// NewOpener returns an Opener for key.
func NewOpener(key []byte) (*Opener, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return &Opener{aead: aead}, nil
}

// Open is Open with the plaintext written over dst's storage (pass dst[:0]
// to reuse a buffer). It returns ErrOpen when the value does not
// authenticate.
func (o *Opener) Open(dst, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < overhead || sealed[0] != version {
		return nil, ErrOpen
	}
	pt, err := o.aead.Open(dst, sealed[1:1+nonceSize], sealed[1+nonceSize:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
