package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
	"github.com/likeness/likeness/identify"
)

// maxProbeImages is the most images one identify or enroll request may hold.
const maxProbeImages = 5

// identifyIn is the body of POST /v1/collections/{cid}/identify.
type identifyIn struct {
	Images     []string `json:"images"`
	ExternalID string   `json:"externalId"`
	PIN        string   `json:"pin"`
}

// identifyOut is its reply: the outcome and, for a match, who. Never a
// similarity or a candidate list.
type identifyOut struct {
	Outcome    identify.Kind `json:"outcome"`
	FacialID   string        `json:"facialId,omitempty"`
	ExternalID string        `json:"externalId,omitempty"`
}

// handleIdentify decides who the person in the images is, with the same
// decision as the widget's authenticate (package identify).
func (s *Server) handleIdentify(c echo.Context) error {
	p, err := collectionOf(c)
	if err != nil {
		return err
	}
	var in identifyIn
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if len(in.Images) == 0 || len(in.Images) > maxProbeImages {
		return likeness.Errorf(likeness.EINVALID, "images must hold 1 to %d images.", maxProbeImages)
	}
	if len(in.ExternalID) > 256 {
		return likeness.Errorf(likeness.EINVALID, "externalId must be at most 256 bytes.")
	}
	ctx := c.Request().Context()
	set, err := s.cfg.Policy.Settings(ctx, p.App.ID)
	if err != nil {
		return err
	}
	if in.PIN != "" {
		if set.PIN == likeness.PINOff {
			return likeness.Errorf(likeness.EINVALID, "PINs are off for this application: identify without pin.")
		}
		if !likeness.ValidPIN(in.PIN, 1) {
			return likeness.Errorf(likeness.EINVALID, "pin must be %d to %d digits.", set.PINMinLength, likeness.MaxPINLength)
		}
	}
	images := make([][]byte, len(in.Images))
	for i, b64 := range in.Images {
		if images[i], err = decodeImageField(fmt.Sprintf("images[%d]", i), b64); err != nil {
			return err
		}
	}
	probe, err := s.probeTemplate(ctx, images)
	if err != nil {
		return err
	}
	res, err := s.ident.Identify(ctx, identify.Request{
		AppID: p.App.ID, Settings: set, Probe: probe, ExternalID: in.ExternalID, PIN: in.PIN,
	})
	if err != nil {
		return err
	}
	if res.Locked {
		return likeness.Errorf(likeness.ERATELIMIT, "Too many failed attempts; try again later.")
	}
	out := identifyOut{Outcome: res.Kind}
	if res.Kind == identify.Match {
		face, err := s.identified(ctx, p.App.ID, res.FacialID)
		if err != nil {
			return err
		}
		out.FacialID, out.ExternalID = face.FacialID, face.ExternalID
	}
	return c.JSON(http.StatusOK, out)
}

// probeTemplate embeds the subject of each image and returns their mean
// template. EINVALID when the images show different people.
func (s *Server) probeTemplate(ctx context.Context, images [][]byte) ([]float32, error) {
	embs := make([][]float32, len(images))
	for i, b := range images {
		f, err := s.oneFace(ctx, fmt.Sprintf("images[%d]", i), b, engine.WantEmbedding)
		if err != nil {
			return nil, err
		}
		embs[i] = f.Embedding
	}
	for i := range embs {
		for j := i + 1; j < len(embs); j++ {
			if !engine.Matches(engine.Similarity(embs[i], embs[j])) {
				return nil, likeness.Errorf(likeness.EINVALID, "images[%d] and images[%d] show different people.", i, j)
			}
		}
	}
	return meanUnit(embs), nil
}

// identified records a successful identification of a face and returns it.
func (s *Server) identified(ctx context.Context, appID, facialID string) (*likeness.Face, error) {
	face, err := s.cfg.Faces.Face(ctx, appID, facialID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Faces.TouchAuth(ctx, appID, facialID); err != nil {
		s.log.Warn("touch auth", "err", err)
	}
	if err := s.cfg.Policy.RecordAuthSuccess(ctx, appID, facialID); err != nil {
		s.log.Warn("auth success", "err", err)
	}
	return face, nil
}

// duplicateOf returns the Facial ID tmpl duplicates in the application
// ("" for none), with the calibrated N-aware duplicate threshold.
func (s *Server) duplicateOf(ctx context.Context, appID string, tmpl []float32) (string, error) {
	m, err := s.cfg.Faces.Search(ctx, appID, tmpl, 1)
	if err != nil || len(m) == 0 {
		return "", err
	}
	n, err := s.cfg.Identify.GallerySize(ctx, appID)
	if err != nil {
		return "", err
	}
	if m[0].Similarity < identify.DuplicateThreshold(max(n, 1)) {
		return "", nil
	}
	return m[0].FacialID, nil
}
