package identify

import (
	"context"
	"slices"
	"time"

	"github.com/likeness/likeness"
)

// Store is what identification needs of the face store. Errors are
// *likeness.Error values; ENOTFOUND for an unknown application.
type Store interface {
	// Search returns up to k best matches in the application's collection.
	Search(ctx context.Context, appID string, probe []float32, k int) ([]likeness.Match, error)
	// GallerySize returns the number of faces Search compares against.
	GallerySize(ctx context.Context, appID string) (int, error)
	// Compare returns the similarity of probe to each named face (1:1).
	Compare(ctx context.Context, appID string, facialIDs []string, probe []float32) ([]likeness.Match, error)
	// FacialIDsByExternalID returns the Facial IDs carrying an external ID.
	FacialIDsByExternalID(ctx context.Context, appID, externalID string) ([]string, error)
	// FaceExtras tells whether a face has a PIN.
	FaceExtras(ctx context.Context, appID, facialID string) (*likeness.FaceExtras, error)
	// Lockout returns the time until which the face is locked out.
	Lockout(ctx context.Context, appID, facialID string) (time.Time, error)
	// CheckPIN reports whether pin is the face's PIN.
	CheckPIN(ctx context.Context, appID, facialID, pin string) (bool, error)
	// RecordAuthFailure counts a failed attempt; true when the face is now locked.
	RecordAuthFailure(ctx context.Context, appID, facialID string, max int, lock time.Duration) (bool, error)
}

// Service runs identifications against a store. It is safe for concurrent
// use.
type Service struct {
	store Store
	now   func() time.Time
}

// New returns a Service; now is the clock (lockouts are compared with it).
func New(store Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now}
}

// Request is one identification.
type Request struct {
	AppID    string
	Settings *likeness.Settings
	Probe    []float32 // L2-normalised template of the probe (mean of its frames)
	// ExternalID or FacialID, when set, scope the comparison to that
	// person's faces: 1:1 (or 1:few) instead of 1:N.
	ExternalID string
	FacialID   string
	// PIN, when set, is checked as the second factor.
	PIN string
	// PINCandidates, when set, restrict the PIN check to the Facial IDs an
	// earlier SecondFactor decision of the same attempt named (the widget's
	// PIN step), so that a later search cannot widen them.
	PINCandidates []string
}

// Result is the outcome of Identify.
type Result struct {
	Decision
	// WrongPIN is true when a PIN was given and matched no candidate (the
	// failure has been counted towards each candidate's lockout).
	WrongPIN bool
}

// Identify searches, decides and, when a PIN is given and needed, checks
// it. Every failed PIN is counted towards the lockout of the faces it was
// tried against; a locked face is never matched.
func (s *Service) Identify(ctx context.Context, r Request) (*Result, error) {
	pol := PolicyOf(r.Settings)
	var (
		matches []likeness.Match
		n       int
		err     error
	)
	switch {
	case r.ExternalID != "" || r.FacialID != "":
		ids := []string{r.FacialID}
		if r.ExternalID != "" {
			if ids, err = s.store.FacialIDsByExternalID(ctx, r.AppID, r.ExternalID); err != nil {
				return nil, err
			}
		}
		if matches, err = s.store.Compare(ctx, r.AppID, ids, r.Probe); err != nil {
			return nil, err
		}
		n = len(ids)
	default:
		if matches, err = s.store.Search(ctx, r.AppID, r.Probe, MaxCandidates+1); err != nil {
			return nil, err
		}
		if n, err = s.store.GallerySize(ctx, r.AppID); err != nil {
			return nil, err
		}
		n = max(n, len(matches))
	}
	if len(matches) == 0 {
		return &Result{Decision: Decision{Kind: NoMatch, Reason: "empty gallery"}}, nil
	}
	in := Input{GallerySize: n, Policy: pol, PINGiven: r.PIN != ""}
	t := ThresholdsFor(n, pol)
	now := s.now()
	for i, m := range matches {
		c := Candidate{FacialID: m.FacialID, Similarity: m.Similarity}
		if m.Similarity >= t.Candidate && i < MaxCandidates {
			until, err := s.store.Lockout(ctx, r.AppID, m.FacialID)
			if err != nil {
				return nil, err
			}
			c.Locked = until.After(now)
			x, err := s.store.FaceExtras(ctx, r.AppID, m.FacialID)
			if err != nil && likeness.ErrorCode(err) != likeness.ENOTFOUND {
				return nil, err
			}
			c.HasPIN = x != nil && x.HasPIN
		}
		in.Candidates = append(in.Candidates, c)
	}
	d := Decide(in)
	if d.Kind != SecondFactor || r.PIN == "" {
		return &Result{Decision: d}, nil
	}
	return s.checkPIN(ctx, r, d)
}

// checkPIN completes a SecondFactor decision with the given PIN.
func (s *Service) checkPIN(ctx context.Context, r Request, d Decision) (*Result, error) {
	pinFor := d.PINFor
	if r.PINCandidates != nil {
		pinFor = slices.DeleteFunc(slices.Clone(d.PINFor), func(id string) bool { return !slices.Contains(r.PINCandidates, id) })
	}
	if likeness.ValidPIN(r.PIN, r.Settings.PINMinLength) {
		for _, id := range pinFor {
			ok, err := s.store.CheckPIN(ctx, r.AppID, id, r.PIN)
			if err != nil {
				return nil, err
			}
			if ok {
				return &Result{Decision: Decision{Kind: Match, FacialID: id, Reason: "face and PIN"}}, nil
			}
		}
	}
	res := &Result{Decision: Decision{Kind: NoMatch, Reason: "wrong PIN"}, WrongPIN: true}
	lock := time.Duration(r.Settings.LockoutMinutes) * time.Minute
	for _, id := range pinFor {
		locked, err := s.store.RecordAuthFailure(ctx, r.AppID, id, r.Settings.MaxFailedAuth, lock)
		if err != nil {
			return nil, err
		}
		res.Locked = res.Locked || locked
	}
	return res, nil
}
