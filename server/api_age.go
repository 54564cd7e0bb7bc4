package server

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/likeness/likeness"
	"github.com/likeness/likeness/engine"
)

// minorsGate applies the application's preventMinors setting to the images
// of an API enrollment: the same gate (engine.DecideAge) as the widget, over
// the median of the images. nil when the setting is off or the person passes.
func (s *Server) minorsGate(ctx context.Context, appID string, images [][]byte) error {
	set, err := s.cfg.Policy.Settings(ctx, appID)
	if err != nil || !set.PreventMinors {
		return err
	}
	frames := make([]engine.AgeFrame, len(images))
	for i, b := range images {
		f, err := s.oneFace(ctx, fmt.Sprintf("images[%d]", i), b, engine.WantAge)
		if err != nil {
			return err
		}
		frames[i] = f.AgeFrame()
	}
	return minorsError(engine.DecideAge(frames, set.MinimumAge))
}

// minorsError is the REST reply to the minors gate's decision: nil for an
// adult. The estimate itself is never returned.
func minorsError(d engine.AgeDecision) error {
	switch d.Verdict {
	case engine.AgeAdult:
		return nil
	case engine.AgeUndecided:
		return likeness.Errorf(likeness.EINVALID,
			"preventMinors is on and no image shows a face large, sharp and frontal enough to estimate an age.")
	default:
		return likeness.Errorf(likeness.EFORBIDDEN, "Enrollment is limited to adults (preventMinors).")
	}
}

// handleAge returns the age band of one image and the minors gate's
// decision at the application's minimum age. Only applications that enabled
// preventMinors get it; nothing is stored or logged.
func (s *Server) handleAge(c echo.Context) error {
	p := principal(c)
	ctx := c.Request().Context()
	set, err := s.cfg.Policy.Settings(ctx, p.App.ID)
	if err != nil {
		return err
	}
	if !set.PreventMinors {
		return likeness.Errorf(likeness.EPRECONDITION, "Age estimates are only available to applications with preventMinors on.")
	}
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
	f, err := s.oneFace(ctx, "image", data, engine.WantAge)
	if err != nil {
		return err
	}
	d := engine.DecideAge([]engine.AgeFrame{f.AgeFrame()}, set.MinimumAge)
	v := ageView{Decision: "undecided", MinimumAge: set.MinimumAge, AgeBand: d.Band()}
	switch d.Verdict {
	case engine.AgeAdult:
		v.Decision = "adult"
	case engine.AgeMinor:
		v.Decision = "minor"
	}
	return c.JSON(http.StatusOK, v)
}

// ageView is the reply of POST /v1/age.
type ageView struct {
	Decision   string `json:"decision"`          // adult, minor or undecided
	AgeBand    string `json:"ageBand,omitempty"` // decade band ("20-29"); absent when undecided
	MinimumAge int    `json:"minimumAge"`
}
