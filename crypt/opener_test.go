package crypt

import (
	"bytes"
	"errors"
	"testing"
)

func TestOpener(t *testing.T) {
	key, _ := NewDataKey()
	sealed, err := Seal(key, []byte("template bytes"), AAD("face-template", "a", "f"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOpener(key)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	pt, err := o.Open(buf, sealed, AAD("face-template", "a", "f"))
	if err != nil || !bytes.Equal(pt, []byte("template bytes")) || &pt[0] != &buf[:1][0] {
		t.Fatalf("Open = %q, %v (or not into the buffer)", pt, err)
	}
	if _, err := o.Open(nil, sealed, AAD("face-template", "a", "g")); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong AAD: %v", err)
	}
	if _, err := o.Open(nil, sealed[:10], nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := NewOpener(key[:5]); err == nil {
		t.Fatal("NewOpener accepted a short key")
	}
}
