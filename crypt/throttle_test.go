package crypt

import (
	"bytes"
	"testing"
)

// TestThrottleMAC: the same inputs give the same MAC; another master key,
// purpose or key, or the same bytes split differently, give another.
func TestThrottleMAC(t *testing.T) {
	master := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{8}, 32)
	mac := func(m []byte, purpose, key string) string {
		b, err := ThrottleMAC(m, purpose, key)
		if err != nil || len(b) != 32 {
			t.Fatalf("ThrottleMAC: %x, %v", b, err)
		}
		return string(b)
	}
	base := mac(master, "pad", "app_1|203.0.113.7")
	if mac(master, "pad", "app_1|203.0.113.7") != base {
		t.Fatal("not deterministic")
	}
	for name, got := range map[string]string{
		"another master key": mac(other, "pad", "app_1|203.0.113.7"),
		"another purpose":    mac(master, "signin", "app_1|203.0.113.7"),
		"another key":        mac(master, "pad", "app_1|203.0.113.8"),
		"bytes moved":        mac(master, "pad\x00app_1|", "203.0.113.7"),
		"prefix":             mac(master, "pa", "dapp_1|203.0.113.7"),
	} {
		if got == base {
			t.Errorf("%s gives the same MAC", name)
		}
	}
	if bytes.Contains([]byte(base), []byte("203.0.113")) {
		t.Error("the key shows in its MAC")
	}
}
