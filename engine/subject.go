package engine

import "github.com/likeness/likeness"

// BackgroundRatio decides which faces are background: in an image with
// several faces, the largest is the subject when every other face's box is
// at most this fraction of its height (a person standing behind, a face on
// a poster). Faces of comparable size (a second person beside the first)
// make the image ambiguous: EMANYFACES.
//
// How it was chosen: 645 of the 6,410 press photos of ../shared/lfw show a
// second face. Their height ratio to the largest face spreads from 0.1 to
// 1.2 (median 0.74): the subject of a press photo stands closest to the
// camera, a second person at the same distance is within 20% of its
// height. At 0.8 (a second face of at most 64% of the subject's area) 63%
// of those photos are read as one subject, and every photo of two people
// side by side in the development set (controls/two_people.jpg: 0.88) is
// still refused.
const BackgroundRatio = 0.8

// Subject returns the face an image is about: the only face, or the largest
// when every other face is background (BackgroundRatio). ENOFACE when there
// is none, EMANYFACES when several faces are of comparable size. faces must
// be largest first, as Analyze returns them.
func Subject(faces []Face) (*Face, error) {
	switch {
	case len(faces) == 0:
		return nil, likeness.Errorf(likeness.ENOFACE, "No face was found in the image.")
	case len(faces) > 1 && Comparable(faces[0], faces[1]):
		return nil, likeness.Errorf(likeness.EMANYFACES, "Several faces of similar size were found in the image; exactly one is required.")
	}
	return &faces[0], nil
}

// Comparable reports whether the smaller face b is large enough next to a
// to be a second subject rather than background.
func Comparable(a, b Face) bool { return b.Box.H() > BackgroundRatio*a.Box.H() }
