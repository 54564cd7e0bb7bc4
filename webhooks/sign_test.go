package webhooks_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/webhooks"
)

// The Standard Webhooks specification's published test vector (its Go and
// JavaScript libraries' TestWebhookSign / "sign function works").
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheSpecificationVector(t *testing.T) {
	for _, secret := range []string{vectorSecret, strings.TrimPrefix(vectorSecret, "whsec_")} {
		got, err := webhooks.Sign(vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody), secret)
		if err != nil {
			t.Fatal(err)
		}
		if got != vectorSignature {
			t.Errorf("Sign with %q = %s, want %s", secret, got, vectorSignature)
		}
	}
}

func TestVerifyAcceptsTheSpecificationVector(t *testing.T) {
	h := headers(vectorID, strconv.Itoa(vectorTimestamp), vectorSignature)
	at := time.Unix(vectorTimestamp, 0)
	for _, now := range []time.Time{at, at.Add(webhooks.Tolerance), at.Add(-webhooks.Tolerance)} {
		if err := webhooks.Verify(vectorSecret, h, []byte(vectorBody), now); err != nil {
			t.Errorf("at %v: %v", now.Sub(at), err)
		}
	}
	if err := webhooks.Verify(strings.TrimPrefix(vectorSecret, "whsec_"), h, []byte(vectorBody), at); err != nil {
		t.Errorf("secret without prefix: %v", err)
	}
}

func headers(id, ts, sig string) http.Header {
	h := http.Header{}
	if id != "" {
		h.Set(webhooks.HeaderID, id)
	}
	if ts != "" {
		h.Set(webhooks.HeaderTimestamp, ts)
	}
	if sig != "" {
		h.Set(webhooks.HeaderSignature, sig)
	}
	return h
}

// TestVerify follows the cases of the specification libraries' tests.
func TestVerify(t *testing.T) {
	now := time.Now()
	body := []byte(vectorBody)
	sign := func(ts time.Time, secrets ...string) string {
		s, err := webhooks.Sign(vectorID, ts, body, secrets...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	good := sign(now, vectorSecret)
	other := "whsec_" + strings.Repeat("QUJD", 8) // 24 bytes of "ABC…"
	tests := []struct {
		name   string
		secret string
		h      http.Header
		body   []byte
		code   string // "" = accepted
	}{
		{"valid", vectorSecret, headers(vectorID, ts, good), body, ""},
		{"missing id", vectorSecret, headers("", ts, good), body, likeness.EUNAUTHORIZED},
		{"missing timestamp", vectorSecret, headers(vectorID, "", good), body, likeness.EUNAUTHORIZED},
		{"missing signature", vectorSecret, headers(vectorID, ts, ""), body, likeness.EUNAUTHORIZED},
		{"malformed timestamp", vectorSecret, headers(vectorID, "hello", good), body, likeness.EUNAUTHORIZED},
		{"invalid signature", vectorSecret, headers(vectorID, ts, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="), body, likeness.EUNAUTHORIZED},
		{"partial signature", vectorSecret, headers(vectorID, ts, good[:8]), body, likeness.EUNAUTHORIZED},
		{"empty signature", vectorSecret, headers(vectorID, ts, "v1,"), body, likeness.EUNAUTHORIZED},
		{"right MAC, other version", vectorSecret, headers(vectorID, ts, "v2,"+strings.TrimPrefix(good, "v1,")), body, likeness.EUNAUTHORIZED},
		{"tampered body", vectorSecret, headers(vectorID, ts, good), []byte(`{"test": 2432232315}`), likeness.EUNAUTHORIZED},
		{"other id", vectorSecret, headers("msg_other", ts, good), body, likeness.EUNAUTHORIZED},
		{"other timestamp", vectorSecret, headers(vectorID, strconv.FormatInt(now.Unix()+1, 10), good), body, likeness.EUNAUTHORIZED},
		{"other secret", other, headers(vectorID, ts, good), body, likeness.EUNAUTHORIZED},
		{"too old", vectorSecret, headers(vectorID, strconv.FormatInt(now.Add(-webhooks.Tolerance-time.Second).Unix(), 10),
			sign(now.Add(-webhooks.Tolerance-time.Second), vectorSecret)), body, likeness.EUNAUTHORIZED},
		{"too new", vectorSecret, headers(vectorID, strconv.FormatInt(now.Add(webhooks.Tolerance+time.Second).Unix(), 10),
			sign(now.Add(webhooks.Tolerance+time.Second), vectorSecret)), body, likeness.EUNAUTHORIZED},
		{"several signatures, one valid", vectorSecret, headers(vectorID, ts, strings.Join([]string{
			"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
			good, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="}, " ")), body, ""},
		{"rotation: old secret", vectorSecret, headers(vectorID, ts, sign(now, other, vectorSecret)), body, ""},
		{"rotation: new secret", other, headers(vectorID, ts, sign(now, other, vectorSecret)), body, ""},
		{"malformed secret", "whsec_not base64!", headers(vectorID, ts, good), body, likeness.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhooks.Verify(tt.secret, tt.h, tt.body, now)
			if got := likeness.ErrorCode(err); got != tt.code {
				t.Fatalf("Verify = %v (code %q), want code %q", err, got, tt.code)
			}
		})
	}
}

func TestSignRotationGivesOneSignaturePerSecret(t *testing.T) {
	other := "whsec_" + strings.Repeat("QUJD", 8)
	at := time.Unix(vectorTimestamp, 0)
	both, err := webhooks.Sign(vectorID, at, []byte(vectorBody), other, vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(both, " ")
	if len(parts) != 2 || parts[1] != vectorSignature || !strings.HasPrefix(parts[0], "v1,") || parts[0] == parts[1] {
		t.Fatalf("signatures %q", both)
	}
}

func TestSignRefuses(t *testing.T) {
	at := time.Unix(vectorTimestamp, 0)
	for name, f := range map[string]func() (string, error){
		"id with a full stop": func() (string, error) { return webhooks.Sign("msg_a.b", at, nil, vectorSecret) },
		"no secret":           func() (string, error) { return webhooks.Sign(vectorID, at, nil) },
		"short key":           func() (string, error) { return webhooks.Sign(vectorID, at, nil, "whsec_c2hvcnQ=") },
		"not base64":          func() (string, error) { return webhooks.Sign(vectorID, at, nil, "whsec_%%%") },
	} {
		if _, err := f(); likeness.ErrorCode(err) != likeness.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestMarshal(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 123e6, time.UTC)
	tests := []struct {
		ev   likeness.Event
		want string
	}{
		{likeness.Event{ID: "msg_1", Type: likeness.EventEnrolled, PublicID: "app_x", FacialID: "f", ConsentID: "c",
			ExternalID: "u1", Payload: []byte(`{"a": 1}`), OccurredAt: at},
			`{"type":"facialid.enrolled","timestamp":"2025-03-01T12:00:00.123Z","data":{"facialId":"f","publicId":"app_x","externalId":"u1","payload":{"a":1},"consentId":"c"}}`},
		{likeness.Event{Type: likeness.EventDeleted, PublicID: "app_x", FacialID: "f", Reason: likeness.ReasonSelfService,
			OccurredAt: at.In(time.FixedZone("x", 3600))},
			`{"type":"facialid.deleted","timestamp":"2025-03-01T12:00:00.123Z","data":{"facialId":"f","publicId":"app_x","reason":"self_service"}}`},
		{likeness.Event{Type: likeness.EventConsentRecorded, PublicID: "app_x", ConsentID: "c", OccurredAt: at},
			`{"type":"consent.recorded","timestamp":"2025-03-01T12:00:00.123Z","data":{"publicId":"app_x","consentId":"c"}}`},
	}
	for _, tt := range tests {
		b, err := webhooks.Marshal(tt.ev)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("Marshal =\n%s\nwant\n%s", b, tt.want)
		}
	}
}
