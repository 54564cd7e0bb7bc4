package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/likeness/likeness"
)

// Standard Webhooks headers and secret format.
const (
	HeaderID        = "webhook-id"        // the event ID, the same on every attempt
	HeaderTimestamp = "webhook-timestamp" // Unix seconds of the attempt
	HeaderSignature = "webhook-signature" // space-separated "v1,<base64 HMAC-SHA256>"
	SecretPrefix    = "whsec_"            // secrets are SecretPrefix + base64 of the key
	// Tolerance is how far a webhook-timestamp may be from the receiver's
	// clock, either way, for Verify to accept the request.
	Tolerance = 5 * time.Minute
)

// Secret key sizes the specification allows (24 to 64 bytes); Likeness
// makes 24-byte keys.
const (
	minKeyLen = 24
	maxKeyLen = 64
)

// ParseSecret returns the HMAC key of a secret: the standard base64 after
// the optional SecretPrefix. EINVALID for anything else.
func ParseSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(secret), SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, likeness.Errorf(likeness.EINVALID, "A webhook secret is %s followed by base64.", SecretPrefix)
	}
	return key, nil
}

// Sign returns the webhook-signature header value for one attempt: one
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret, separated by
// spaces (several secrets during a rotation). EINVALID for a bad secret or
// an ID containing a full stop.
func Sign(id string, ts time.Time, body []byte, secrets ...string) (string, error) {
	if id == "" || strings.Contains(id, ".") || len(secrets) == 0 {
		return "", likeness.Errorf(likeness.EINVALID, "A webhook needs an ID without full stops and a secret.")
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := ParseSecret(s)
		if err != nil {
			return "", err
		}
		if len(key) < minKeyLen || len(key) > maxKeyLen {
			return "", likeness.Errorf(likeness.EINVALID, "A webhook secret key must be %d to %d bytes.", minKeyLen, maxKeyLen)
		}
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body)))
	}
	return strings.Join(sigs, " "), nil
}

// mac returns HMAC-SHA256(key, id + "." + ts + "." + body).
func mac(key []byte, id string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write(strconv.AppendInt(nil, ts, 10))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a webhook request as a receiver must: the three headers are
// present, webhook-timestamp is within Tolerance of now, and one of the
// "v1," signatures in webhook-signature is the HMAC of the exact body bytes
// under secret ("whsec_…"; the prefix is optional), compared in constant
// time. It returns EUNAUTHORIZED when the request is not authentic and
// EINVALID when the secret is malformed. Receivers should then use
// webhook-id to ignore repeats.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return likeness.Errorf(likeness.EUNAUTHORIZED, "Missing webhook headers.")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return likeness.Errorf(likeness.EUNAUTHORIZED, "Malformed webhook timestamp.")
	}
	nowS := now.Unix()
	tol := int64(Tolerance / time.Second)
	if nowS-ts > tol {
		return likeness.Errorf(likeness.EUNAUTHORIZED, "Webhook timestamp too old.")
	}
	if ts-nowS > tol {
		return likeness.Errorf(likeness.EUNAUTHORIZED, "Webhook timestamp too new.")
	}
	want := []byte(base64.StdEncoding.EncodeToString(mac(key, id, ts, body)))
	for _, vs := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(vs, ",")
		if !ok || version != "v1" {
			continue
		}
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return likeness.Errorf(likeness.EUNAUTHORIZED, "No matching webhook signature.")
}
