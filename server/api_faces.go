package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/identify"
)

// minAPIFacePixels is the smallest face height an API enrollment accepts.
const minAPIFacePixels = 40

// collectionOf checks that :cid is the caller's collection; any other ID is
// not found, whether it exists or not.
func collectionOf(c echo.Context) (*likeness.Principal, error) {
	p := principal(c)
	if c.Param("cid") != p.App.CollectionID {
		return nil, likeness.Errorf(likeness.ENOTFOUND, "Collection not found.")
	}
	return p, nil
}

type collectionView struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	RetentionDays *int      `json:"retentionDays"`
	StoreImages   bool      `json:"storeImages"`
	FaceCount     int       `json:"faceCount"`
	CreatedAt     time.Time `json:"createdAt"`
}

func viewCollection(col *likeness.Collection) collectionView {
	return collectionView{col.ID, col.Name, col.RetentionDays, col.StoreImages, col.FaceCount, col.CreatedAt}
}

func (s *Server) handleGetCollection(c echo.Context) error {
	p, err := collectionOf(c)
	if err != nil {
		return err
	}
	col, err := s.cfg.API.Collection(c.Request().Context(), p.App.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewCollection(col))
}

func (s *Server) handlePatchCollection(c echo.Context) error {
	p, err := collectionOf(c)
	if err != nil {
		return err
	}
	var in map[string]json.RawMessage
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	var patch likeness.CollectionPatch
	for k, v := range in {
		switch k {
		case "name":
			var n string
			if err := json.Unmarshal(v, &n); err != nil {
				return likeness.Errorf(likeness.EINVALID, "name must be a string.")
			}
			patch.Name = &n
		case "retentionDays":
			if string(v) == "null" {
				patch.ClearRetention = true
				continue
			}
			var d int
			if err := json.Unmarshal(v, &d); err != nil {
				return likeness.Errorf(likeness.EINVALID, "retentionDays must be null or a whole number of days.")
			}
			patch.RetentionDays = &d
		case "storeImages":
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return likeness.Errorf(likeness.EINVALID, "storeImages must be true or false.")
			}
			patch.StoreImages = &b
		default:
			return likeness.Errorf(likeness.EINVALID, "Unknown field %q.", k)
		}
	}
	// What is collected and how long it is kept are privacy settings: an
	// owner's, as PATCH /v1/settings is. Renaming is any key's.
	if (patch.RetentionDays != nil || patch.ClearRetention || patch.StoreImages != nil) && p.Key.Role != roleOwner {
		return likeness.Errorf(likeness.EFORBIDDEN, "Changing retentionDays or storeImages needs an owner API key.")
	}
	col, err := s.cfg.API.UpdateCollection(c.Request().Context(), p.App.ID, patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, viewCollection(col))
}

// consentIn is an API client's attestation that it obtained consent.
type consentIn struct {
	ObtainedAt    time.Time `json:"obtainedAt"`
	Method        string    `json:"method"`
	NoticeVersion int       `json:"noticeVersion"`
}

type enrollIn struct {
	Images         []string        `json:"images"`
	ExternalID     string          `json:"externalId"`
	Metadata       json.RawMessage `json:"metadata"`
	Consent        *consentIn      `json:"consent"`
	CheckDuplicate bool            `json:"checkDuplicate"`
}

// readEnroll reads an enrollment from JSON or multipart/form-data (files in
// "images", JSON in "metadata" and "consent").
func readEnroll(c echo.Context) (*enrollIn, [][]byte, error) {
	var in enrollIn
	var images [][]byte
	if strings.HasPrefix(c.Request().Header.Get("Content-Type"), "multipart/form-data") {
		form, err := c.MultipartForm()
		if err != nil {
			return nil, nil, likeness.Wrap(err, likeness.EINVALID, "The multipart body is malformed.")
		}
		for _, fh := range form.File["images"] {
			b, err := readPart(fh)
			if err != nil {
				return nil, nil, err
			}
			images = append(images, b)
		}
		in.ExternalID = c.FormValue("externalId")
		if m := c.FormValue("metadata"); m != "" {
			in.Metadata = json.RawMessage(m)
		}
		if cs := c.FormValue("consent"); cs != "" {
			in.Consent = &consentIn{}
			if err := json.Unmarshal([]byte(cs), in.Consent); err != nil {
				return nil, nil, likeness.Errorf(likeness.EINVALID, "consent must be a JSON object {obtainedAt, method, noticeVersion}.")
			}
		}
		in.CheckDuplicate, _ = strconv.ParseBool(c.FormValue("checkDuplicate"))
	} else {
		if err := bindJSON(c, &in); err != nil {
			return nil, nil, err
		}
		for i, v := range in.Images {
			b, err := decodeImageField(fmt.Sprintf("images[%d]", i), v)
			if err != nil {
				return nil, nil, err
			}
			images = append(images, b)
		}
	}
	return &in, images, nil
}

func readPart(fh *multipart.FileHeader) ([]byte, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, likeness.Wrap(err, likeness.EINVALID, "An image part cannot be read.")
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 11<<20))
}

// validConsent checks an API consent attestation.
func (s *Server) validConsent(in *consentIn) error {
	switch {
	case in == nil:
		return likeness.Errorf(likeness.ECONSENT, "consent is required: {obtainedAt, method, noticeVersion} attesting that the person consented.")
	case in.ObtainedAt.IsZero() || in.ObtainedAt.After(s.cfg.Now().Add(5*time.Minute)):
		return likeness.Errorf(likeness.EINVALID, "consent.obtainedAt must be an RFC 3339 time, not in the future.")
	case strings.TrimSpace(in.Method) == "" || len(in.Method) > 100:
		return likeness.Errorf(likeness.EINVALID, "consent.method must say how consent was obtained (1 to 100 characters).")
	case in.NoticeVersion < 1:
		return likeness.Errorf(likeness.EINVALID, "consent.noticeVersion must be the version (1 or more) of the notice the person accepted.")
	}
	return nil
}

// oneFace decodes an image and returns the face it is about (engine.Subject:
// the only face, or the largest when the others are background) with the
// stages in want. name says which input it was, for the error message.
func (s *Server) oneFace(ctx context.Context, name string, data []byte, want engine.Want) (*engine.Face, error) {
	img, err := s.cfg.Engine.Decode(data)
	if err != nil {
		return nil, &likeness.Error{Code: likeness.ErrorCode(err), Message: name + ": " + likeness.ErrorMessage(err), Err: err}
	}
	faces, err := s.cfg.Engine.Analyze(ctx, img, want)
	if err != nil {
		return nil, err
	}
	f, err := engine.Subject(faces)
	switch likeness.ErrorCode(err) {
	case likeness.ENOFACE:
		return nil, likeness.Errorf(likeness.ENOFACE, "%s: no face was found.", name)
	case likeness.EMANYFACES:
		return nil, likeness.Errorf(likeness.EMANYFACES, "%s: %d faces of similar size were found; exactly one is required.", name, len(faces))
	}
	if f.Box.H() < minAPIFacePixels {
		return nil, likeness.Errorf(likeness.EINVALID, "%s: the face is too small (at least %d pixels tall).", name, minAPIFacePixels)
	}
	return f, nil
}

func (s *Server) handleEnrollFace(c echo.Context) error {
	p, err := collectionOf(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	in, images, err := readEnroll(c)
	if err != nil {
		return err
	}
	if len(images) == 0 || len(images) > maxProbeImages {
		return likeness.Errorf(likeness.EINVALID, "images must hold 1 to %d images.", maxProbeImages)
	}
	if len(in.Metadata) > likeness.MaxPayloadBytes {
		return likeness.Errorf(likeness.ETOOLARGE, "metadata is larger than %d bytes.", likeness.MaxPayloadBytes)
	}
	if len(in.Metadata) > 0 && !json.Valid(in.Metadata) {
		return likeness.Errorf(likeness.EINVALID, "metadata must be JSON.")
	}
	if len(in.ExternalID) > 256 || !utf8.ValidString(in.ExternalID) {
		return likeness.Errorf(likeness.EINVALID, "externalId must be valid UTF-8 of at most 256 bytes.")
	}
	if err := s.validConsent(in.Consent); err != nil {
		return err
	}
	tmpl, err := s.probeTemplate(ctx, images)
	if err != nil {
		return err
	}
	if err := s.minorsGate(ctx, p.App.ID, images); err != nil {
		return err
	}
	if in.CheckDuplicate {
		dup, err := s.duplicateOf(ctx, p.App.ID, tmpl)
		if err != nil {
			return err
		}
		if dup != "" {
			return likeness.Errorf(likeness.ECONFLICT, "This person is already enrolled as %s.", dup)
		}
	}
	obtained := in.Consent.ObtainedAt.UTC()
	rec, err := s.cfg.Consent.RecordConsent(ctx, likeness.ConsentRecord{
		AppID: p.App.ID, Kind: likeness.ConsentAPI, NoticeVersion: in.Consent.NoticeVersion,
		Method: strings.TrimSpace(in.Consent.Method), ObtainedAt: &obtained,
		SessionID: c.Response().Header().Get(echo.HeaderXRequestID), Pending: true,
	})
	if err != nil {
		return err
	}
	face, err := s.cfg.Faces.Enroll(ctx, likeness.Enrollment{
		AppID: p.App.ID, ConsentID: rec.ID, Template: tmpl, Payload: in.Metadata, ExternalID: in.ExternalID, Images: images,
	})
	if err != nil {
		s.discardConsent(ctx, p.App.ID, rec.ID)
		return err
	}
	return c.JSON(http.StatusCreated, s.faceView(ctx, face))
}

type consentView struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	NoticeVersion int        `json:"noticeVersion"`
	Method        string     `json:"method,omitempty"`
	ObtainedAt    *time.Time `json:"obtainedAt,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
}

type faceView struct {
	FacialID            string          `json:"facialId"`
	ExternalID          string          `json:"externalId,omitempty"`
	Metadata            json.RawMessage `json:"metadata,omitempty"`
	EnrolledAt          time.Time       `json:"enrolledAt"`
	LastAuthenticatedAt *time.Time      `json:"lastAuthenticatedAt,omitempty"`
	Consent             *consentView    `json:"consent,omitempty"`
	HasPIN              *bool           `json:"hasPin,omitempty"`
	StoredImages        *int            `json:"storedImages,omitempty"`
}

// faceView describes a face with its consent record and extras.
func (s *Server) faceView(ctx context.Context, f *likeness.Face) faceView {
	v := faceView{FacialID: f.FacialID, ExternalID: f.ExternalID, Metadata: f.Payload, EnrolledAt: f.EnrolledAt,
		LastAuthenticatedAt: f.LastAuthAt}
	if rec, err := s.cfg.API.ConsentRecord(ctx, f.AppID, f.ConsentID); err == nil {
		v.Consent = &consentView{rec.ID, rec.Kind, rec.NoticeVersion, rec.Method, rec.ObtainedAt, rec.CreatedAt}
	}
	if x, err := s.cfg.API.FaceExtras(ctx, f.AppID, f.FacialID); err == nil {
		v.HasPIN, v.StoredImages = &x.HasPIN, &x.Images
	}
	return v
}

func (s *Server) handleListFaces(c echo.Context) error {
	p, err := collectionOf(c)
	if err != nil {
		return err
	}
	limit := 50
	if l := c.QueryParam("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 || limit > 100 {
			return likeness.Errorf(likeness.EINVALID, "limit must be 1 to 100.")
		}
	}
	page, err := s.cfg.API.ListFaces(c.Request().Context(), p.App.ID, c.QueryParam("externalId"), c.QueryParam("cursor"), limit)
	if err != nil {
		return err
	}
	out := struct {
		Faces      []faceView `json:"faces"`
		NextCursor string     `json:"nextCursor,omitempty"`
	}{Faces: []faceView{}, NextCursor: page.NextCursor}
	for _, f := range page.Faces {
		out.Faces = append(out.Faces, faceView{FacialID: f.FacialID, ExternalID: f.ExternalID, Metadata: f.Payload,
			EnrolledAt: f.EnrolledAt, LastAuthenticatedAt: f.LastAuthAt})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleGetFace(c echo.Context) error {
	p, err := collectionOf(c)
	if err != nil {
		return err
	}
	f, err := s.cfg.Faces.Face(c.Request().Context(), p.App.ID, c.Param("fid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.faceView(c.Request().Context(), f))
}

func (s *Server) handlePatchFace(c echo.Context) error {
	p, err := collectionOf(c)
	if err != nil {
		return err
	}
	var in map[string]json.RawMessage
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	var patch likeness.FacePatch
	for k, v := range in {
		switch k {
		case "externalId":
			var id string
			if string(v) != "null" {
				if err := json.Unmarshal(v, &id); err != nil {
					return likeness.Errorf(likeness.EINVALID, "externalId must be a string or null.")
				}
			}
			patch.ExternalID = &id
		case "metadata":
			if string(v) == "null" {
				patch.ClearPayload = true
			} else {
				patch.Payload = v
			}
		default:
			return likeness.Errorf(likeness.EINVALID, "Unknown field %q: externalId and metadata can be changed.", k)
		}
	}
	f, err := s.cfg.API.UpdateFace(c.Request().Context(), p.App.ID, c.Param("fid"), patch)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.faceView(c.Request().Context(), f))
}

func (s *Server) handleDeleteFace(c echo.Context) error {
	p, err := collectionOf(c)
	if err != nil {
		return err
	}
	if err := s.cfg.Faces.DeleteFace(c.Request().Context(), p.App.ID, c.Param("fid"), likeness.ReasonAPI); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) handleDeleteByExternalID(c echo.Context) error {
	p, err := collectionOf(c)
	if err != nil {
		return err
	}
	ext := c.QueryParam("externalId")
	if ext == "" {
		return likeness.Errorf(likeness.EINVALID, "externalId is required: DELETE …/faces?externalId=X erases every face with it.")
	}
	n, err := s.cfg.API.DeleteFacesByExternalID(c.Request().Context(), p.App.ID, ext, likeness.ReasonAPI)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"deleted": n})
}

type matchView struct {
	FacialID   string  `json:"facialId"`
	ExternalID string  `json:"externalId,omitempty"`
	Similarity float32 `json:"similarity"`
	Match      bool    `json:"match"`
}

func (s *Server) handleSearch(c echo.Context) error {
	p, err := collectionOf(c)
	if err != nil {
		return err
	}
	var in struct {
		Image string `json:"image"`
		Limit int    `json:"limit"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.Limit == 0 {
		in.Limit = 5
	}
	if in.Limit < 1 || in.Limit > 20 {
		return likeness.Errorf(likeness.EINVALID, "limit must be 1 to 20.")
	}
	data, err := decodeImageField("image", in.Image)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	f, err := s.oneFace(ctx, "image", data, engine.WantEmbedding)
	if err != nil {
		return err
	}
	ms, err := s.cfg.Faces.Search(ctx, p.App.ID, f.Embedding, in.Limit)
	if err != nil {
		return err
	}
	set, err := s.cfg.Policy.Settings(ctx, p.App.ID)
	if err != nil {
		return err
	}
	n, err := s.cfg.Identify.GallerySize(ctx, p.App.ID)
	if err != nil {
		return err
	}
	// match: the face alone would identify this person at the collection's
	// size and the application's target (identify.ThresholdsFor).
	faceOnly := identify.ThresholdsFor(n, identify.PolicyOf(set)).FaceOnly
	out := struct {
		Matches []matchView `json:"matches"`
	}{Matches: []matchView{}}
	for _, m := range ms {
		v := matchView{FacialID: m.FacialID, Similarity: round3(m.Similarity), Match: m.Similarity >= faceOnly}
		if face, err := s.cfg.Faces.Face(ctx, p.App.ID, m.FacialID); err == nil {
			v.ExternalID = face.ExternalID
		}
		out.Matches = append(out.Matches, v)
	}
	return c.JSON(http.StatusOK, out)
}

func round3(v float32) float32 { return float32(int(v*1000+0.5*sign(v))) / 1000 }

func sign(v float32) float32 {
	if v < 0 {
		return -1
	}
	return 1
}

func (s *Server) handleVerify(c echo.Context) error {
	var in struct {
		ImageA string `json:"imageA"`
		ImageB string `json:"imageB"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	var embs [2][]float32
	for i, v := range []struct{ name, data string }{{"imageA", in.ImageA}, {"imageB", in.ImageB}} {
		data, err := decodeImageField(v.name, v.data)
		if err != nil {
			return err
		}
		f, err := s.oneFace(ctx, v.name, data, engine.WantEmbedding)
		if err != nil {
			return err
		}
		embs[i] = f.Embedding
	}
	set, err := s.cfg.Policy.Settings(ctx, principal(c).App.ID)
	if err != nil {
		return err
	}
	// 1:1: the application's target is the false-match rate of this one
	// comparison.
	sim := engine.Similarity(embs[0], embs[1])
	match := sim >= engine.ThresholdAt(set.MaxFalseAcceptRate)
	return c.JSON(http.StatusOK, map[string]any{"match": match, "similarity": round3(sim)})
}

// handleLiveness returns the passive liveness decision and score for one
// image. The score is returned to the caller and never stored or logged.
func (s *Server) handleLiveness(c echo.Context) error {
	var in struct {
		Image string `json:"image"`
	}
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	data, err := decodeImageField("image", in.Image)
	if err != nil {
		return err
	}
	f, err := s.oneFace(c.Request().Context(), "image", data, engine.WantLiveness)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"live": engine.IsLive(f.Liveness), "score": round3(f.Liveness)})
}
