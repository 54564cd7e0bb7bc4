package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/draw"
	"image/jpeg"
	"net/http"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/likeness/likeness"
)

// identifyCall posts to identify and returns the status and decoded reply.
func (h *harness) identifyCall(body map[string]any) (int, map[string]any, []byte) {
	h.t.Helper()
	st, raw, _ := h.call("POST", "/v1/collections/"+h.app.CollectionID+"/identify", h.apiKey, body)
	var v map[string]any
	json.Unmarshal(raw, &v)
	return st, v, raw
}

func TestIdentifyREST(t *testing.T) {
	h := newHarness(t, Limits{})
	obama := photo(t, "verify/face_recognition/fr_obama/obama.jpg")
	obama2 := photo(t, "verify/face_recognition/fr_obama/obama2.jpg")
	biden := photo(t, "verify/face_recognition/fr_biden/biden.jpg")
	fid := h.enroll(h.apiKey, h.app.CollectionID, "user-1", obama)

	check := func(name string, body map[string]any, status int, outcome, who string) map[string]any {
		t.Helper()
		st, v, raw := h.identifyCall(body)
		if st != status || (outcome != "" && v["outcome"] != outcome) || (who != "" && v["facialId"] != who) {
			t.Fatalf("%s: %d %s, want %d %s %s", name, st, raw, status, outcome, who)
		}
		if outcome != "match" && v["facialId"] != nil {
			t.Errorf("%s: a facialId without a match: %s", name, raw)
		}
		mustNotContain(t, raw, "similarity", "candidates", "score", "threshold")
		return v
	}
	check("the same person", map[string]any{"images": []string{obama2}}, 200, "match", fid)
	if v := check("externalId returned", map[string]any{"images": []string{obama2}}, 200, "match", fid); v["externalId"] != "user-1" {
		t.Errorf("externalId %v", v["externalId"])
	}
	check("a stranger", map[string]any{"images": []string{biden}}, 200, "no_match", "")
	check("scoped to the person", map[string]any{"images": []string{obama2}, "externalId": "user-1"}, 200, "match", fid)
	check("scoped to another id", map[string]any{"images": []string{obama2}, "externalId": "user-2"}, 200, "no_match", "")
	check("a stranger scoped to the person", map[string]any{"images": []string{biden}, "externalId": "user-1"}, 200, "no_match", "")
	check("no images", map[string]any{"images": []string{}}, 400, "", "")
	check("not an image", map[string]any{"images": []string{base64.StdEncoding.EncodeToString([]byte("hello"))}}, 415, "", "")
	check("two people", map[string]any{"images": []string{obama2, biden}}, 400, "", "")
	check("PIN while PINs are off", map[string]any{"images": []string{obama2}, "pin": "4829"}, 400, "", "")

	// With PINs: the PIN decides when asked, a wrong one never matches and
	// counts towards the lockout.
	ctx := context.Background()
	if err := h.db.SetPIN(ctx, h.app.ID, fid, "4829"); err != nil {
		t.Fatal(err)
	}
	h.setPolicy(map[string]any{"pin": "optional", "alwaysAskPin": true, "maxFailedAuth": 3})
	check("PIN asked", map[string]any{"images": []string{obama2}}, 200, "second_factor", "")
	check("right PIN", map[string]any{"images": []string{obama2}, "pin": "4829"}, 200, "match", fid)
	check("stranger with the right PIN", map[string]any{"images": []string{biden}, "pin": "4829"}, 200, "no_match", "")
	check("wrong PIN", map[string]any{"images": []string{obama2}, "pin": "1111"}, 200, "no_match", "")
	check("wrong PIN", map[string]any{"images": []string{obama2}, "pin": "2222"}, 200, "no_match", "")
	check("malformed PIN", map[string]any{"images": []string{obama2}, "pin": "12a4"}, 400, "", "")
	check("third wrong PIN locks", map[string]any{"images": []string{obama2}, "pin": "3333"}, 429, "", "")
	check("locked even with the right PIN", map[string]any{"images": []string{obama2}, "pin": "4829"}, 429, "", "")
}

// The widget's authenticate and identify decide the same for frames of the
// same person and stretch of video.
func TestIdentifyMatchesWidget(t *testing.T) {
	h := newHarness(t, Limits{})
	live := clip(t, "live_lmm_hamilton_640x480.mjpeg")
	e, _, _ := h.dial(opEnroll, testOrigin)
	e.begin(opEnroll, nil)
	res := e.stream(live[:12])
	if res["type"] != "result" {
		t.Fatalf("enroll: %v", res)
	}
	fid := res["facialId"].(string)
	// Another person enrolled through the API, so N is not 1.
	h.enroll(h.apiKey, h.app.CollectionID, "", photo(t, "verify/face_recognition/fr_biden/biden.jpg"))

	// The widget streams the rest of the clip at camera pace (liveness needs
	// a second of frames); identify gets frames of the same stretch.
	a, _, _ := h.dial(opAuthenticate, testOrigin)
	a.begin(opAuthenticate, nil)
	wres := a.stream(live[12:])
	imgs := []string{}
	for _, f := range live[12:15] {
		imgs = append(imgs, base64.StdEncoding.EncodeToString(f))
	}
	st, v, raw := h.identifyCall(map[string]any{"images": imgs})
	if st != 200 {
		t.Fatalf("identify: %d %s", st, raw)
	}
	switch {
	case wres["type"] == "result" && (v["outcome"] != "match" || v["facialId"] != wres["facialId"] || v["facialId"] != fid):
		t.Fatalf("widget %v, identify %s", wres, raw)
	case wres["type"] == "error" && int(wres["code"].(float64)) == int(likeness.FioUnrecognizedFace) && v["outcome"] != "no_match":
		t.Fatalf("widget %v, identify %s", wres, raw)
	case wres["type"] == "pin" && v["outcome"] != "second_factor":
		t.Fatalf("widget %v, identify %s", wres, raw)
	}
	if wres["type"] != "result" {
		t.Fatalf("a live clip of the enrolled person was not identified: %v", wres)
	}
}

// composite returns a JPEG of base with a copy of face, scaled by scale,
// beside it on the right: a second face of that relative size.
func composite(t *testing.T, base, face []byte, scale float64) string {
	t.Helper()
	b, err := jpeg.Decode(bytes.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	f, err := jpeg.Decode(bytes.NewReader(face))
	if err != nil {
		t.Fatal(err)
	}
	w, hgt := int(float64(f.Bounds().Dx())*scale), int(float64(f.Bounds().Dy())*scale)
	bw, bh := b.Bounds().Dx(), b.Bounds().Dy()
	dst := image.NewRGBA(image.Rect(0, 0, bw+w, max(bh, hgt)))
	draw.Draw(dst, image.Rect(0, 0, bw, bh), b, b.Bounds().Min, draw.Src)
	xdraw.CatmullRom.Scale(dst, image.Rect(bw, 0, bw+w, hgt), f, f.Bounds(), draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out.Bytes())
}

func TestBackgroundFaceIsNotAnotherSubject(t *testing.T) {
	h := newHarness(t, Limits{})
	obama, err := readShared(t, "verify/face_recognition/fr_obama/obama.jpg")
	if err != nil {
		t.Skip(err)
	}
	biden, err := readShared(t, "verify/face_recognition/fr_biden/biden.jpg")
	if err != nil {
		t.Skip(err)
	}
	key, cid := h.apiKey, h.app.CollectionID
	// A small face in the background: the photo enrolls as its subject.
	small := composite(t, obama, biden, 0.25)
	fid := h.enroll(key, cid, "", small)
	st, v, raw := h.identifyCall(map[string]any{"images": []string{photo(t, "verify/face_recognition/fr_obama/obama2.jpg")}})
	if st != 200 || v["outcome"] != "match" || v["facialId"] != fid {
		t.Fatalf("the subject of a photo with a background face was not enrolled: %d %s", st, raw)
	}
	// Two faces of the same size: ambiguous, refused.
	same := composite(t, obama, obama, 1.0)
	st, body, _ := h.call("POST", "/v1/collections/"+cid+"/faces", key, map[string]any{
		"images": []string{same}, "consent": consentJSON()})
	if st == http.StatusCreated {
		t.Fatalf("two comparable faces enrolled: %s", body)
	}
}
