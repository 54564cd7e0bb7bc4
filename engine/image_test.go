package engine

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/likeness/likeness"
)

// testJPEG encodes a w×h image whose top-left quadrant is red and the rest
// blue, so orientation can be read back.
func testJPEG(tb testing.TB, w, h int) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{0, 0, 255, 255}
			if x < w/2 && y < h/2 {
				c = color.RGBA{255, 0, 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// withEXIFOrientation inserts an APP1 Exif segment with the orientation tag
// right after the SOI marker.
func withEXIFOrientation(j []byte, o uint16) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("MM\x00\x2a")
	binary.Write(&tiff, binary.BigEndian, uint32(8))
	binary.Write(&tiff, binary.BigEndian, uint16(1))           // one entry
	binary.Write(&tiff, binary.BigEndian, []uint16{0x0112, 3}) // tag, SHORT
	binary.Write(&tiff, binary.BigEndian, uint32(1))           // count
	binary.Write(&tiff, binary.BigEndian, []uint16{o, 0})      // value
	binary.Write(&tiff, binary.BigEndian, uint32(0))           // next IFD
	seg := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	out := append([]byte{}, j[:2]...)
	out = append(out, 0xFF, 0xE1, byte((len(seg)+2)>>8), byte(len(seg)+2))
	out = append(out, seg...)
	return append(out, j[2:]...)
}

// pngHeader makes a PNG with a valid IHDR claiming w×h and no pixel data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// jpegHugeHeader patches the SOF0 dimensions of a valid JPEG.
func jpegHugeHeader(tb testing.TB) []byte {
	j := testJPEG(tb, 16, 16)
	i := bytes.Index(j, []byte{0xFF, 0xC0})
	if i < 0 {
		tb.Fatal("no SOF0")
	}
	out := append([]byte{}, j...)
	binary.BigEndian.PutUint16(out[i+5:], 60000) // height
	binary.BigEndian.PutUint16(out[i+7:], 60000) // width
	return out
}

func TestDecodeRefusesBadInput(t *testing.T) {
	good := testJPEG(t, 64, 48)
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 8, 8)))
	for _, tc := range []struct {
		name string
		data []byte
		lim  Limits
		code string
	}{
		{"empty", nil, Limits{}, likeness.EINVALID},
		{"truncated jpeg", good[:len(good)/2], Limits{}, likeness.EINVALID},
		{"header only jpeg", good[:20], Limits{}, likeness.EINVALID},
		{"huge jpeg header (pixel bomb)", jpegHugeHeader(t), Limits{}, likeness.ETOOLARGE},
		{"huge png header (pixel bomb)", pngHeader(100000, 100000), Limits{}, likeness.ETOOLARGE},
		{"png with no pixel data", pngHeader(64, 64), Limits{}, likeness.EINVALID},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), Limits{}, likeness.EUNSUPPORTED},
		{"text", []byte(`{"image":"not really"}`), Limits{}, likeness.EUNSUPPORTED},
		{"too many bytes", good, Limits{MaxBytes: 100}, likeness.ETOOLARGE},
		{"too many pixels", good, Limits{MaxPixels: 64*48 - 1}, likeness.ETOOLARGE},
		{"side too long", good, Limits{MaxSide: 60}, likeness.ETOOLARGE},
		{"corrupt webp", []byte("RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00junk"), Limits{}, likeness.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Decode(tc.data, tc.lim)
			if img != nil {
				t.Fatal("returned an image for bad input")
			}
			if got := likeness.ErrorCode(err); got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, err)
			}
			msg := likeness.ErrorMessage(err)
			if msg == "" {
				t.Fatal("empty client message")
			}
			// The client message must not leak decoder internals.
			for _, leak := range []string{"unexpected EOF", "invalid JPEG", "png:", "webp:", "panic"} {
				if strings.Contains(msg, leak) {
					t.Errorf("client message %q leaks %q", msg, leak)
				}
			}
		})
	}
	if _, err := Decode(pngBuf.Bytes(), Limits{}); err != nil {
		t.Fatalf("a valid grey PNG was refused: %v", err)
	}
}

func TestDecodeAppliesEXIFOrientation(t *testing.T) {
	base := testJPEG(t, 64, 32) // red quadrant at top-left
	// Where the red quadrant ends up (as a corner) after each orientation.
	for _, tc := range []struct {
		o      uint16
		w, h   int
		corner [2]int // x, y of a pixel inside the red quadrant
	}{
		{1, 64, 32, [2]int{4, 4}},
		{2, 64, 32, [2]int{60, 4}},
		{3, 64, 32, [2]int{60, 28}},
		{4, 64, 32, [2]int{4, 28}},
		{5, 32, 64, [2]int{4, 4}},
		{6, 32, 64, [2]int{28, 4}},
		{7, 32, 64, [2]int{28, 60}},
		{8, 32, 64, [2]int{4, 60}},
	} {
		img, err := Decode(withEXIFOrientation(base, tc.o), Limits{})
		if err != nil {
			t.Fatalf("orientation %d: %v", tc.o, err)
		}
		if img.W != tc.w || img.H != tc.h {
			t.Fatalf("orientation %d: %dx%d, want %dx%d", tc.o, img.W, img.H, tc.w, tc.h)
		}
		i := 3 * (tc.corner[1]*img.W + tc.corner[0])
		if r, b := img.Pix[i], img.Pix[i+2]; r < 200 || b > 60 {
			t.Errorf("orientation %d: pixel %v is (%d,_,%d), want red", tc.o, tc.corner, r, b)
		}
	}
}

func TestDecodeDownscalesHugePhotos(t *testing.T) {
	// libjpeg's IDCT decodes it at 1/4 scale (3300 → 825 px), not at full
	// size first; the picture stays the same: red top-left, blue elsewhere.
	img, err := Decode(testJPEG(t, 3300, 1000), Limits{WorkSide: 1600})
	if err != nil {
		t.Fatal(err)
	}
	if img.W > 1600 || img.W < 800 {
		t.Fatalf("working width %d", img.W)
	}
	if r, _, b := img.at(img.W/4, img.H/4); r < 200 || b > 60 {
		t.Errorf("top-left is not red: r %d b %d", r, b)
	}
	if r, _, b := img.at(3*img.W/4, 3*img.H/4); r > 60 || b < 200 {
		t.Errorf("bottom-right is not blue: r %d b %d", r, b)
	}
}

// TestDecodeCMYKJPEG: libjpeg does not convert CMYK to RGB; such a JPEG
// (testdata/cmyk.jpg: 16×16 pure red written by libjpeg with an Adobe
// marker) goes through the standard decoder instead.
func TestDecodeCMYKJPEG(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "cmyk.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decode(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b := img.at(8, 8); img.W != 16 || img.H != 16 || r < 240 || g > 15 || b > 15 {
		t.Fatalf("%dx%d, centre (%d,%d,%d), want 16x16 red", img.W, img.H, r, g, b)
	}
}

// at returns the pixel at x, y.
func (m *Image) at(x, y int) (r, g, b uint8) {
	i := 3 * (y*m.W + x)
	return m.Pix[i], m.Pix[i+1], m.Pix[i+2]
}

func FuzzDecode(f *testing.F) {
	good := testJPEG(f, 32, 32)
	f.Add(good)
	f.Add(withEXIFOrientation(good, 6))
	f.Add(pngHeader(64, 64))
	f.Add([]byte("RIFF\x10\x00\x00\x00WEBPVP8 "))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, Limits{MaxPixels: 1 << 20})
		if err == nil && (img == nil || len(img.Pix) != 3*img.W*img.H) {
			t.Fatalf("inconsistent image for %d bytes", len(data))
		}
		if err != nil && likeness.ErrorCode(err) == likeness.EINTERNAL {
			t.Fatalf("untyped error: %v", err)
		}
	})
}

// TestFitSimilarity: a known rotation, scale and shift is recovered from
// the points it moved; points all at one place give no transform.
func TestFitSimilarity(t *testing.T) {
	src := []Point{{10, 20}, {50, 25}, {30, 60}, {12, 44}, {70, 70}}
	const wa, wb, wtx, wty = 1.2 * 0.8, 1.2 * 0.6, 15.0, -7.0 // scale 1.2, rotation 36.87°
	dst := make([]Point, len(src))
	for i, p := range src {
		x, y := float64(p.X), float64(p.Y)
		dst[i] = Point{X: float32(wa*x - wb*y + wtx), Y: float32(wb*x + wa*y + wty)}
	}
	a, b, tx, ty, spread := FitSimilarity(src, dst)
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"a", a, wa}, {"b", b, wb}, {"tx", tx, wtx}, {"ty", ty, wty},
	} {
		if math.Abs(c.got-c.want) > 1e-4 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if spread <= 0 {
		t.Errorf("spread %v", spread)
	}
	same := []Point{{5, 5}, {5, 5}, {5, 5}}
	if a, b, _, _, spread := FitSimilarity(same, src[:3]); a != 0 || b != 0 || spread != 0 {
		t.Errorf("points at one place: a %v, b %v, spread %v; want 0", a, b, spread)
	}
}
