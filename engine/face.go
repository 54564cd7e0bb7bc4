package engine

import "math"

// Model input sizes.
const (
	lmkSize   = 64
	alignSize = 112
	liveSize  = 128
	eyeSize   = 24
	ageSize   = 64

	// EmbeddingDim is the length of a face embedding.
	EmbeddingDim = 512

	liveCropScale = 2.7 // the liveness model sees the face with context
	ageCropScale  = 1.4
	eyeCropScale  = 1.6 // eye crop side relative to the eye's width
)

// Point is a position in image pixels.
type Point struct{ X, Y float32 }

// Landmarks are the 68 iBUG face points.
type Landmarks [68]Point

func (l *Landmarks) mean(idx ...int) Point {
	var p Point
	for _, i := range idx {
		p.X += l[i].X
		p.Y += l[i].Y
	}
	n := float32(len(idx))
	return Point{p.X / n, p.Y / n}
}

// Five returns the eye centres, nose tip and mouth corners.
func (l *Landmarks) Five() [5]Point {
	return [5]Point{
		l.mean(37, 38, 40, 41), // subject's right eye (image left)
		l.mean(43, 44, 46, 47),
		l[30],
		l.mean(48, 60),
		l.mean(54, 64),
	}
}

// arcfaceRef is where the five points go in the 112×112 aligned face (the
// reference used to train ArcFace-family embedders, fr_feature.onnx among
// them).
var arcfaceRef = [5]Point{
	{38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041},
}

// FitSimilarity fits, by least squares, the similarity transform (rotation,
// uniform scale, translation; Umeyama without reflection) taking the points
// src onto dst (of the same length): d = [a -b; b a]·s + (tx, ty). spread is
// the sum of the squared distances of src from its mean; when it is 0 (all
// points at one place) a and b are 0.
func FitSimilarity(src, dst []Point) (a, b, tx, ty, spread float64) {
	var msx, msy, mdx, mdy float64
	for i := range src {
		msx += float64(src[i].X)
		msy += float64(src[i].Y)
		mdx += float64(dst[i].X)
		mdy += float64(dst[i].Y)
	}
	n := float64(len(src))
	msx, msy, mdx, mdy = msx/n, msy/n, mdx/n, mdy/n
	var num1, num2 float64
	for i := range src {
		sx, sy := float64(src[i].X)-msx, float64(src[i].Y)-msy
		dx, dy := float64(dst[i].X)-mdx, float64(dst[i].Y)-mdy
		num1 += sx*dx + sy*dy
		num2 += sx*dy - sy*dx
		spread += sx*sx + sy*sy
	}
	if spread > 0 {
		a, b = num1/spread, num2/spread
	}
	return a, b, mdx - (a*msx - b*msy), mdy - (b*msx + a*msy), spread
}

// similarity fits the similarity transform taking src onto dst
// (FitSimilarity) and returns its inverse as a sampling map (dst pixel →
// src pixel).
func similarity(src, dst [5]Point) affine {
	a, b, tx, ty, _ := FitSimilarity(src[:], dst[:])
	k := a*a + b*b
	if k == 0 {
		k = 1
	}
	// inverse: s = 1/k [a b; -b a] (d - t); the sampler works on pixel
	// centres, and both point sets are in centre-based coordinates already.
	ia, ib := a/k, b/k
	return affine{
		A: ia, B: ib, C: -(ia*tx + ib*ty),
		D: -ib, E: ia, F: -(-ib*tx + ia*ty),
	}
}

// Quality describes how usable a face is for recognition.
type Quality struct {
	Size       float32 // face box height in pixels
	Sharpness  float32 // variance of the Laplacian of the aligned face (higher is sharper)
	Brightness float32 // mean luma of the aligned face, 0–255
	Yaw        float32 // degrees, + is the subject turning to their left (image right)
	Pitch      float32 // degrees, + is looking up
	Roll       float32 // degrees
}

// pose estimates yaw, pitch and roll from the landmarks. It is a geometric
// approximation (no 3D model), good to a few degrees near frontal, which is
// what guidance and quality gates need.
func pose(l *Landmarks) (yaw, pitch, roll float32) {
	f := l.Five()
	le, re, nose := f[0], f[1], f[2]
	mouth := Point{(f[3].X + f[4].X) / 2, (f[3].Y + f[4].Y) / 2}
	ex, ey := float64(re.X-le.X), float64(re.Y-le.Y)
	iod := math.Hypot(ex, ey)
	if iod < 1 {
		return 0, 0, 0
	}
	roll = float32(math.Atan2(ey, ex) * 180 / math.Pi)
	// Work in the face frame: u along the eye line, v perpendicular (down).
	ux, uy := ex/iod, ey/iod
	vx, vy := -uy, ux
	rel := func(p Point) (float64, float64) {
		dx, dy := float64(p.X-le.X), float64(p.Y-le.Y)
		return dx*ux + dy*uy, dx*vx + dy*vy
	}
	nu, nv := rel(nose)
	_, mv := rel(mouth)
	// Yaw: where the nose tip sits between the eyes (0.5 when frontal).
	r := (nu/iod*2 - 1) / 1.2 // the nose tip stands ~0.6 eye distances out
	yaw = float32(math.Asin(math.Max(-1, math.Min(1, r))) * 180 / math.Pi)
	// Pitch: the nose tip's height between the eye line and the mouth; about
	// 0.55 of the way down on a frontal face.
	if mv > 1 {
		q := (nv/mv - 0.55) / 0.6 // the nose tip stands ~0.6 eye–mouth heights out
		pitch = float32(-math.Asin(math.Max(-1, math.Min(1, q))) * 180 / math.Pi)
	}
	return yaw, pitch, roll
}

// sharpBright returns the variance of the 4-neighbour Laplacian and the mean
// of a grey square image.
func sharpBright(g []float32, n int) (sharp, bright float32) {
	var sum, sum2, mean float64
	for _, v := range g {
		mean += float64(v)
	}
	mean /= float64(len(g))
	cnt := 0
	for y := 1; y < n-1; y++ {
		for x := 1; x < n-1; x++ {
			i := y*n + x
			lap := float64(4*g[i] - g[i-1] - g[i+1] - g[i-n] - g[i+n])
			sum += lap
			sum2 += lap * lap
			cnt++
		}
	}
	m := sum / float64(cnt)
	return float32(sum2/float64(cnt) - m*m), float32(mean)
}

func softmax(v []float32) []float32 {
	out := make([]float32, len(v))
	mx := v[0]
	for _, x := range v {
		mx = max(mx, x)
	}
	var s float64
	for i, x := range v {
		e := math.Exp(float64(x - mx))
		out[i] = float32(e)
		s += e
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / s)
	}
	return out
}

// l2normalize scales v to unit length in place and returns its former norm.
func l2normalize(v []float32) float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	n := math.Sqrt(s)
	if n == 0 {
		return 0
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return float32(n)
}

// mergeAge decodes the SSR-Net outputs of fr_age.onnx (three stages of three
// bins, each with a scale delta and index offsets) into years.
func mergeAge(x []float32) float32 {
	const V = 101
	s1 := 3 * (1 + float64(x[9]))
	s2 := 3 * (1 + float64(x[10]))
	s3 := 3 * (1 + float64(x[11]))
	var a, b, c float64
	for i := 0; i < 3; i++ {
		a += (float64(i) + float64(x[12+i])) * float64(x[i])
		b += (float64(i) + float64(x[15+i])) * float64(x[3+i])
		c += (float64(i) + float64(x[18+i])) * float64(x[6+i])
	}
	a /= s1
	b = b / s1 / s2
	c = c / s1 / s2 / s3
	return float32((a + b + c) * V)
}

// Similarity is the cosine similarity of two L2-normalised embeddings.
func Similarity(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
