package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/likeness/likeness"
)

// photo returns a face-set image as base64.
func photo(t testing.TB, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(facesDir(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// call makes an API request and returns status and body.
func (h *harness) call(method, path, key string, body any) (int, []byte, http.Header) {
	h.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case *multipartBody:
		rd, ct = &b.buf, b.ct
	default:
		raw, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	req, _ := http.NewRequest(method, h.ts.URL+path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

type multipartBody struct {
	buf bytes.Buffer
	ct  string
}

func consentJSON() map[string]any {
	return map[string]any{"obtainedAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339), "method": "signup form checkbox", "noticeVersion": 1}
}

// enroll enrolls photos through the API and returns the Facial ID.
func (h *harness) enroll(key, cid, externalID string, photos ...string) string {
	h.t.Helper()
	st, body, _ := h.call("POST", "/v1/collections/"+cid+"/faces", key, map[string]any{
		"images": photos, "externalId": externalID, "metadata": map[string]any{"plan": "pro"}, "consent": consentJSON(),
	})
	if st != http.StatusCreated {
		h.t.Fatalf("enroll: %d %s", st, body)
	}
	var v struct{ FacialID string }
	json.Unmarshal(body, &v)
	return v.FacialID
}

// mustNotContain fails if a reply contains internal or biometric detail.
func mustNotContain(t testing.TB, body []byte, extra ...string) {
	t.Helper()
	low := strings.ToLower(string(body))
	for _, bad := range append([]string{"embedding", "template", "liveness\":", "sqlite", "onnx", "panic", "goroutine", ".go:", "sql:", "whsec_"}, extra...) {
		if strings.Contains(low, strings.ToLower(bad)) {
			t.Errorf("reply contains %q: %s", bad, body)
		}
	}
}

func TestAPIScenarios(t *testing.T) {
	h := newHarness(t, Limits{})
	key, cid := h.apiKey, h.app.CollectionID
	obama := photo(t, "verify/face_recognition/fr_obama/obama.jpg")
	obama2 := photo(t, "verify/face_recognition/fr_obama/obama2.jpg")
	biden := photo(t, "verify/face_recognition/fr_biden/biden.jpg")
	fid := h.enroll(key, cid, "user-1", obama)

	for _, tc := range []struct {
		name, method, path string
		key                string
		body               any
		status             int
		want               []string // must appear
		notWant            []string // must not appear, beyond the defaults
	}{
		{"no key", "GET", "/v1/collections/" + cid, "", nil, 401, []string{`"unauthorized"`}, nil},
		{"bad key", "GET", "/v1/collections/" + cid, "lk_" + strings.Repeat("A", 43), nil, 401, []string{"Invalid API key."}, nil},
		{"get collection", "GET", "/v1/collections/" + cid, key, nil, 200, []string{`"faceCount":1`, `"storeImages":false`, `"retentionDays":null`}, nil},
		{"patch retention", "PATCH", "/v1/collections/" + cid, key, map[string]any{"retentionDays": 30}, 200, []string{`"retentionDays":30`}, nil},
		{"patch bad retention", "PATCH", "/v1/collections/" + cid, key, map[string]any{"retentionDays": 0}, 400, []string{"retentionDays"}, nil},
		{"patch unknown field", "PATCH", "/v1/collections/" + cid, key, map[string]any{"owner": "me"}, 400, []string{"Unknown field"}, nil},
		{"clear retention", "PATCH", "/v1/collections/" + cid, key, map[string]any{"retentionDays": nil}, 200, []string{`"retentionDays":null`}, nil},
		{"enroll without consent", "POST", "/v1/collections/" + cid + "/faces", key, map[string]any{"images": []string{obama2}}, 403, []string{`"consent"`}, nil},
		{"enroll future consent", "POST", "/v1/collections/" + cid + "/faces", key, map[string]any{"images": []string{obama2},
			"consent": map[string]any{"obtainedAt": time.Now().Add(time.Hour).Format(time.RFC3339), "method": "x", "noticeVersion": 1}}, 400, []string{"obtainedAt"}, nil},
		{"enroll no face", "POST", "/v1/collections/" + cid + "/faces", key, map[string]any{"images": []string{photo(t, "controls/landscape.jpg")}, "consent": consentJSON()}, 422, []string{"images[0]: no face"}, nil},
		{"enroll two faces", "POST", "/v1/collections/" + cid + "/faces", key, map[string]any{"images": []string{photo(t, "controls/two_people.jpg")}, "consent": consentJSON()}, 422, []string{"exactly one"}, nil},
		{"enroll corrupt image", "POST", "/v1/collections/" + cid + "/faces", key, map[string]any{"images": []string{base64.StdEncoding.EncodeToString([]byte("\xff\xd8\xff garbage"))}, "consent": consentJSON()}, 400, []string{"images[0]: The image is corrupt"}, []string{"unexpected EOF"}},
		{"enroll not base64", "POST", "/v1/collections/" + cid + "/faces", key, map[string]any{"images": []string{"%%%"}, "consent": consentJSON()}, 400, []string{"not valid base64"}, nil},
		{"enroll different people", "POST", "/v1/collections/" + cid + "/faces", key, map[string]any{"images": []string{obama2, biden}, "consent": consentJSON()}, 400, []string{"different people"}, nil},
		{"enroll duplicate", "POST", "/v1/collections/" + cid + "/faces", key, map[string]any{"images": []string{obama2}, "consent": consentJSON(), "checkDuplicate": true}, 409, []string{fid}, nil},
		{"enroll huge metadata", "POST", "/v1/collections/" + cid + "/faces", key, map[string]any{"images": []string{obama2}, "consent": consentJSON(), "metadata": strings.Repeat("x", 17<<10)}, 413, nil, nil},
		{"wrong json", "POST", "/v1/collections/" + cid + "/faces", key, `{"images": "one"}`, 400, []string{"wrong type"}, nil},
		{"malformed json", "POST", "/v1/collections/" + cid + "/faces", key, `{"images": [`, 400, []string{"malformed JSON"}, nil},
		{"get face", "GET", "/v1/collections/" + cid + "/faces/" + fid, key, nil, 200, []string{fid, `"externalId":"user-1"`, `"plan":"pro"`, `"kind":"api_attestation"`, `"method":"signup form checkbox"`, `"hasPin":false`}, nil},
		{"list by external id", "GET", "/v1/collections/" + cid + "/faces?externalId=user-1", key, nil, 200, []string{fid}, nil},
		{"list bad cursor", "GET", "/v1/collections/" + cid + "/faces?cursor=!!", key, nil, 400, []string{"cursor"}, nil},
		{"patch face", "PATCH", "/v1/collections/" + cid + "/faces/" + fid, key, map[string]any{"metadata": map[string]any{"plan": "free"}}, 200, []string{`"plan":"free"`}, nil},
		{"search", "POST", "/v1/collections/" + cid + "/search", key, map[string]any{"image": obama2}, 200, []string{fid, `"match":true`, `"similarity"`}, nil},
		{"search stranger", "POST", "/v1/collections/" + cid + "/search", key, map[string]any{"image": biden}, 200, []string{`"match":false`}, nil},
		{"verify same", "POST", "/v1/verify", key, map[string]any{"imageA": obama, "imageB": obama2}, 200, []string{`"match":true`}, nil},
		{"verify different", "POST", "/v1/verify", key, map[string]any{"imageA": obama, "imageB": biden}, 200, []string{`"match":false`}, nil},
		{"liveness", "POST", "/v1/liveness", key, map[string]any{"image": photo(t, "pad/spoof/silentface_image_F1.jpg")}, 200, []string{`"live":false`, `"score"`}, nil},
		{"delete by external id missing", "DELETE", "/v1/collections/" + cid + "/faces", key, nil, 400, []string{"externalId is required"}, nil},
		{"keys", "GET", "/v1/keys", key, nil, 200, []string{`"role":"owner"`, `"prefix"`}, nil},
		{"unsupported content type", "POST", "/v1/verify", key, &multipartBody{ct: "text/plain"}, 415, nil, nil},
		{"openapi is public", "GET", "/v1/openapi.json", "", nil, 200, []string{`"openapi"`}, nil},
		{"application", "GET", "/v1/application", key, nil, 200, []string{cid, h.app.PublicID}, nil},
		{"unknown path is not found", "GET", "/nothing-here", "", nil, 404, []string{`"not_found"`}, []string{"API key"}},
		{"unknown v1 path is not found", "GET", "/v1/nothing-here", key, nil, 404, []string{`"not_found"`}, nil},
		{"wrong method", "POST", "/healthz", "", nil, 405, []string{`"method_not_allowed"`}, nil},
		{"faceio without key", "GET", "/checkfacialid?fid=x", "", nil, 401, []string{`"error":"Missing key parameter`}, []string{"Bearer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := h.call(tc.method, tc.path, tc.key, tc.body)
			if st != tc.status {
				t.Fatalf("status %d, want %d: %s", st, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("reply lacks %q: %s", w, body)
				}
			}
			if tc.name != "openapi is public" {
				mustNotContain(t, body, append(tc.notWant, key)...)
			}
		})
	}
	if strings.Contains(h.log.String(), `"score"`) || strings.Contains(h.log.String(), "signup form") {
		t.Error("the log holds a score or request content")
	}
}

func TestAPIMultipartEnrollAndStoredImages(t *testing.T) {
	h := newHarness(t, Limits{})
	if st, body, _ := h.call("PATCH", "/v1/collections/"+h.app.CollectionID, h.apiKey, map[string]any{"storeImages": true}); st != 200 {
		t.Fatalf("%d %s", st, body)
	}
	img, _ := os.ReadFile(filepath.Join(facesDir(t), "verify/face_recognition/fr_obama/obama.jpg"))
	mb := &multipartBody{}
	w := multipart.NewWriter(&mb.buf)
	fw, _ := w.CreateFormFile("images", "obama.jpg")
	fw.Write(img)
	w.WriteField("externalId", "mp-1")
	c, _ := json.Marshal(consentJSON())
	w.WriteField("consent", string(c))
	w.Close()
	mb.ct = w.FormDataContentType()
	st, body, _ := h.call("POST", "/v1/collections/"+h.app.CollectionID+"/faces", h.apiKey, mb)
	if st != 201 || !strings.Contains(string(body), `"storedImages":1`) {
		t.Fatalf("%d %s", st, body)
	}
	// The stored image is sealed: its bytes are nowhere in the database files.
	for _, f := range []string{"likeness.db", "likeness.db-wal"} {
		raw, _ := os.ReadFile(filepath.Join(h.dir, f))
		if bytes.Contains(raw, img[200:264]) {
			t.Errorf("%s holds the image in clear", f)
		}
	}
}

// TestTenantIsolation: application B's key gets 404 on every resource of A.
func TestTenantIsolation(t *testing.T) {
	h := newHarness(t, Limits{})
	fidA := h.enroll(h.apiKey, h.app.CollectionID, "alice", photo(t, "verify/face_recognition/fr_obama/obama.jpg"))
	appB, secB, err := h.db.CreateApp(context.Background(), likeness.AppCreate{Name: "Other", Origins: []string{"https://other.example"}})
	if err != nil {
		t.Fatal(err)
	}
	cidA := h.app.CollectionID
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/collections/" + cidA},
		{"PATCH", "/v1/collections/" + cidA},
		{"GET", "/v1/collections/" + cidA + "/faces"},
		{"POST", "/v1/collections/" + cidA + "/faces"},
		{"DELETE", "/v1/collections/" + cidA + "/faces?externalId=alice"},
		{"GET", "/v1/collections/" + cidA + "/faces/" + fidA},
		{"PATCH", "/v1/collections/" + cidA + "/faces/" + fidA},
		{"DELETE", "/v1/collections/" + cidA + "/faces/" + fidA},
		{"POST", "/v1/collections/" + cidA + "/search"},
		// B's own collection path with A's Facial ID.
		{"GET", "/v1/collections/" + appB.CollectionID + "/faces/" + fidA},
		{"PATCH", "/v1/collections/" + appB.CollectionID + "/faces/" + fidA},
		{"DELETE", "/v1/collections/" + appB.CollectionID + "/faces/" + fidA},
	} {
		st, body, _ := h.call(r.method, r.path, secB.APIKey, map[string]any{"metadata": map[string]any{"x": 1}})
		if st != http.StatusNotFound {
			t.Errorf("%s %s with B's key: %d %s, want 404", r.method, r.path, st, body)
		}
		if strings.Contains(string(body), "alice") {
			t.Errorf("%s %s leaked A's data: %s", r.method, r.path, body)
		}
	}
	// FACEIO-compatible endpoints too.
	for _, p := range []string{"/checkfacialid", "/deletefacialid", "/setfacialidpayload"} {
		st, body, _ := h.call("GET", p+"?key="+secB.APIKey+"&fid="+fidA+"&payload=1", "", nil)
		if p == "/checkfacialid" {
			if st != 200 || !strings.Contains(string(body), `"valid":false`) {
				t.Errorf("%s: %d %s", p, st, body)
			}
			continue
		}
		if st != http.StatusNotFound {
			t.Errorf("%s with B's key: %d %s", p, st, body)
		}
	}
	// A's face is intact.
	if _, err := h.db.Face(context.Background(), h.app.ID, fidA); err != nil {
		t.Fatal(err)
	}
}

// TestErasureIsComplete: after deletion no row, no index entry, and a search
// with the same photo finds nothing.
func TestErasureIsComplete(t *testing.T) {
	h := newHarness(t, Limits{})
	cid := h.app.CollectionID
	obama := photo(t, "verify/face_recognition/fr_obama/obama.jpg")
	a := h.enroll(h.apiKey, cid, "same-user", obama)
	b := h.enroll(h.apiKey, cid, "same-user", photo(t, "verify/face_recognition/fr_obama/obama2.jpg"))
	keep := h.enroll(h.apiKey, cid, "other-user", photo(t, "verify/face_recognition/fr_biden/biden.jpg"))
	st, body, _ := h.call("DELETE", "/v1/collections/"+cid+"/faces?externalId=same-user", h.apiKey, nil)
	if st != 200 || !strings.Contains(string(body), `"deleted":2`) {
		t.Fatalf("%d %s", st, body)
	}
	for _, id := range []string{a, b} {
		if st, _, _ := h.call("GET", "/v1/collections/"+cid+"/faces/"+id, h.apiKey, nil); st != 404 {
			t.Errorf("%s still readable: %d", id, st)
		}
	}
	st, body, _ = h.call("POST", "/v1/collections/"+cid+"/search", h.apiKey, map[string]any{"image": obama})
	if st != 200 || strings.Contains(string(body), a) || strings.Contains(string(body), b) || strings.Contains(string(body), `"match":true`) {
		t.Fatalf("search after erasure: %d %s", st, body)
	}
	if h.faceCount() != 1 {
		t.Fatalf("%d faces left, want 1 (%s)", h.faceCount(), keep)
	}
	// FACEIO-compatible delete of the last one.
	st, body, _ = h.call("POST", "/deletefacialid", "", map[string]any{"key": h.apiKey, "fid": keep})
	if st != 200 || string(body) != `{"status":200}`+"\n" {
		t.Fatalf("deletefacialid: %d %q", st, body)
	}
	st, body, _ = h.call("GET", "/deletefacialid?key="+h.apiKey+"&fid="+keep, "", nil)
	if st != 404 || !strings.Contains(string(body), `"status":404`) || !strings.Contains(string(body), `"error"`) {
		t.Fatalf("second deletefacialid: %d %s", st, body)
	}
	if h.faceCount() != 0 {
		t.Fatal("faces remain")
	}
	// Every erasure is in the audit trail.
	st, body, _ = h.call("GET", "/v1/audit", h.apiKey, nil)
	if st != 200 || strings.Count(string(body), `"facialid.deleted"`) != 3 || !strings.Contains(string(body), `"verified":true`) {
		t.Fatalf("audit: %d %s", st, body)
	}
}

func TestFaceIOCompatiblePayloadAndPIN(t *testing.T) {
	h := newHarness(t, Limits{})
	fid := h.enroll(h.apiKey, h.app.CollectionID, "", photo(t, "verify/face_recognition/fr_obama/obama.jpg"))
	for _, tc := range []struct {
		path   string
		body   any
		status int
		want   string
	}{
		{"/setfacialidpayload", map[string]any{"key": h.apiKey, "fid": fid, "payload": map[string]any{"email": "a@b.c"}}, 200, `{"status":200}`},
		{"/setfacialidpincode", map[string]any{"key": h.apiKey, "fid": fid, "pin": "12ab"}, 400, `"error":"The PIN must be`},
		{"/setfacialidpincode", map[string]any{"key": h.apiKey, "fid": fid, "pin": "482913"}, 200, `{"status":200}`},
		{"/checkfacialid", map[string]any{"key": h.apiKey, "fid": fid}, 200, `"valid":true`},
		{"/checkfacialid", map[string]any{"key": h.apiKey}, 400, `"error":"Missing fid parameter."`},
		{"/checkfacialid", map[string]any{"fid": fid}, 401, `"status":401`},
	} {
		st, body, _ := h.call("POST", tc.path, "", tc.body)
		if st != tc.status || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s %v: %d %s", tc.path, tc.body, st, body)
		}
		mustNotContain(t, body, "$argon2id", "482913")
	}
	f, _ := h.db.Face(context.Background(), h.app.ID, fid)
	if !strings.Contains(string(f.Payload), "a@b.c") {
		t.Errorf("payload %s", f.Payload)
	}
	x, _ := h.db.FaceExtras(context.Background(), h.app.ID, fid)
	if !x.HasPIN || !strings.HasPrefix(x.PINHash, "$argon2id$") || !pinOK(t, h, fid, "482913") || pinOK(t, h, fid, "482914") {
		t.Errorf("PIN not stored as argon2id: %+v", x.HasPIN)
	}
}

func TestAPIKeysRolesAndRateLimit(t *testing.T) {
	h := newHarness(t, Limits{APIRate: 1, APIBurst: 4})
	st, body, _ := h.call("POST", "/v1/keys", h.apiKey, map[string]any{"role": "member"})
	if st != 201 {
		t.Fatalf("%d %s", st, body)
	}
	var k struct{ ID, Key, Role string }
	json.Unmarshal(body, &k)
	if !strings.HasPrefix(k.Key, "lk_") || k.Role != "member" {
		t.Fatalf("created %+v", k)
	}
	// A member cannot read the audit trail or manage keys.
	for _, r := range []struct{ m, p string }{{"GET", "/v1/audit"}, {"POST", "/v1/keys"}, {"DELETE", "/v1/keys/" + k.ID}} {
		if st, _, _ := h.call(r.m, r.p, k.Key, nil); st != 403 {
			t.Errorf("member %s %s: %d, want 403", r.m, r.p, st)
		}
	}
	// The key is shown once: listing shows only its prefix.
	_, body, _ = h.call("GET", "/v1/keys", h.apiKey, nil)
	if strings.Contains(string(body), k.Key) {
		t.Error("the key is listed in full")
	}
	// Rate limit: burst 4, then 429 with Retry-After.
	h.clock.Advance(time.Minute) // refill every bucket
	var got429 bool
	for i := 0; i < 6; i++ {
		st, _, hdr := h.call("GET", "/v1/collections/"+h.app.CollectionID, k.Key, nil)
		if st == 429 {
			got429 = true
			if hdr.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}
	}
	if !got429 {
		t.Error("no 429 after the burst")
	}
	// Revoked keys stop working.
	h.clock.Advance(time.Minute)
	if st, _, _ := h.call("DELETE", "/v1/keys/"+k.ID, h.apiKey, nil); st != 204 {
		t.Fatalf("revoke: %d", st)
	}
	if st, _, _ := h.call("GET", "/v1/usage", k.Key, nil); st != 401 {
		t.Errorf("revoked key: %d", st)
	}
	// Usage records exist for the member key.
	_, body, _ = h.call("GET", "/v1/usage", h.apiKey, nil)
	if !strings.Contains(string(body), k.ID) || !strings.Contains(string(body), `"status":429`) {
		t.Errorf("usage: %s", body)
	}
}

func TestRetentionPurge(t *testing.T) {
	h := newHarness(t, Limits{})
	fid := h.enroll(h.apiKey, h.app.CollectionID, "", photo(t, "verify/face_recognition/fr_obama/obama.jpg"))
	h.call("PATCH", "/v1/collections/"+h.app.CollectionID, h.apiKey, map[string]any{"retentionDays": 30})
	ctx := context.Background()
	if n, err := h.db.PurgeExpired(ctx); err != nil || n != 0 {
		t.Fatalf("purged %d (%v) before the period", n, err)
	}
	h.clock.Advance(31 * 24 * time.Hour)
	if n, err := h.db.PurgeExpired(ctx); err != nil || n != 1 {
		t.Fatalf("purged %d (%v), want 1", n, err)
	}
	if _, err := h.db.Face(ctx, h.app.ID, fid); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("face still there: %v", err)
	}
	_, body, _ := h.call("GET", "/v1/audit", h.apiKey, nil)
	if !strings.Contains(string(body), `"facialid.purged"`) || !strings.Contains(string(body), `"system:retention"`) {
		t.Errorf("purge not audited: %s", body)
	}
}

func TestExport(t *testing.T) {
	h := newHarness(t, Limits{})
	fid := h.enroll(h.apiKey, h.app.CollectionID, "ext-9", photo(t, "verify/face_recognition/fr_obama/obama.jpg"))
	st, body, hdr := h.call("GET", "/v1/export", h.apiKey, nil)
	if st != 200 || !strings.Contains(hdr.Get("Content-Disposition"), "attachment") {
		t.Fatalf("%d %v", st, hdr)
	}
	var x likeness.Export
	if err := json.Unmarshal(body, &x); err != nil {
		t.Fatal(err)
	}
	if len(x.Faces) != 1 || x.Faces[0].FacialID != fid || x.Faces[0].ExternalID != "ext-9" || len(x.ConsentRecords) != 1 {
		t.Fatalf("export %s", body)
	}
	mustNotContain(t, body)
}

func pinOK(t *testing.T, h *harness, fid, pin string) bool {
	ok, err := h.db.CheckPIN(context.Background(), h.app.ID, fid, pin)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
