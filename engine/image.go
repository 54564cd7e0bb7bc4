package engine

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/webp"

	"github.com/likeness/likeness"
)

// Image is a decoded picture in packed 8-bit RGB, upright (EXIF orientation
// applied).
type Image struct {
	W, H int
	Pix  []uint8 // len 3*W*H, row-major RGB
}

// Limits bound what Decode accepts. Zero fields take the defaults.
type Limits struct {
	MaxBytes  int // encoded size; default 10 MiB
	MaxPixels int // width*height; default 25 megapixels
	MaxSide   int // longest side; default 8192
	WorkSide  int // images larger than this are downscaled after decoding; default 1600
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 10 << 20
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = 25_000_000
	}
	if l.MaxSide <= 0 {
		l.MaxSide = 8192
	}
	if l.WorkSide <= 0 {
		l.WorkSide = 1600
	}
	return l
}

// Decode errors are *likeness.Error values with these codes.
var (
	errEmpty       = likeness.Errorf(likeness.EINVALID, "The image is empty.")
	errUnsupported = likeness.Errorf(likeness.EUNSUPPORTED, "The image format is not supported: use JPEG, PNG or WebP.")
)

// Decode decodes a JPEG, PNG or WebP image, refusing oversized input before
// decoding pixels, applies its EXIF orientation and downscales very large
// images to the working size. It never panics on hostile input.
func Decode(data []byte, lim Limits) (img *Image, err error) {
	lim = lim.withDefaults()
	if len(data) == 0 {
		return nil, errEmpty
	}
	if len(data) > lim.MaxBytes {
		return nil, likeness.Errorf(likeness.ETOOLARGE, "The image is larger than %d bytes.", lim.MaxBytes)
	}
	format := sniff(data)
	if format == "" {
		return nil, errUnsupported
	}
	var cfg image.Config
	switch format {
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case "png":
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case "webp":
		cfg, err = webp.DecodeConfig(bytes.NewReader(data))
	}
	if err != nil {
		return nil, likeness.Wrap(err, likeness.EINVALID, "The image is corrupt or truncated.")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, likeness.Errorf(likeness.EINVALID, "The image has no pixels.")
	}
	if cfg.Width > lim.MaxSide || cfg.Height > lim.MaxSide || cfg.Width*cfg.Height > lim.MaxPixels {
		return nil, likeness.Errorf(likeness.ETOOLARGE, "The image is %dx%d pixels; the limit is %d pixels and %d on a side.",
			cfg.Width, cfg.Height, lim.MaxPixels, lim.MaxSide)
	}
	// The standard decoders are written not to panic, but a decoder bug must
	// not take the server down with it.
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, likeness.Wrap(errors.New("decoder panic"), likeness.EINVALID, "The image is corrupt or truncated.")
		}
	}()
	if format == "jpeg" {
		img, err = decodeJPEG(data, cfg.Width, cfg.Height, lim.WorkSide)
		if errors.Is(err, errCorruptJPEG) {
			return nil, likeness.Wrap(err, likeness.EINVALID, "The image is corrupt or truncated.")
		}
	}
	if img == nil {
		var src image.Image
		switch format {
		case "jpeg": // CMYK, which libjpeg does not convert to RGB
			src, err = jpeg.Decode(bytes.NewReader(data))
		case "png":
			src, err = png.Decode(bytes.NewReader(data))
		case "webp":
			src, err = webp.Decode(bytes.NewReader(data))
		}
		if err != nil {
			return nil, likeness.Wrap(err, likeness.EINVALID, "The image is corrupt or truncated.")
		}
		img = toRGB(src)
	}
	for max(img.W, img.H) > lim.WorkSide {
		img = img.half()
	}
	if o := orientation(format, data); o > 1 {
		img = img.orient(o)
	}
	return img, nil
}

// sniff names the format from the magic bytes ("" when unknown).
func sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg"
	case len(b) >= 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		return "png"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	}
	return ""
}

// toRGB converts any decoded image to packed RGB, with fast paths for the
// types the standard decoders return.
func toRGB(src image.Image) *Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	out := &Image{W: w, H: h, Pix: make([]uint8, 3*w*h)}
	p := out.Pix
	switch s := src.(type) {
	case *image.YCbCr:
		ycbcrToRGB(s, b, p)
	case *image.Gray:
		for y := 0; y < h; y++ {
			src := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			row := p[3*w*y:]
			for x := 0; x < w; x++ {
				v := src[x]
				row[3*x], row[3*x+1], row[3*x+2] = v, v, v
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			src := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			row := p[3*w*y:]
			for x := 0; x < w; x++ {
				// Composite transparent pixels over white, as a viewer shows them.
				a := uint32(src[4*x+3])
				for c := 0; c < 3; c++ {
					row[3*x+c] = uint8((uint32(src[4*x+c])*a + 255*(255-a)) / 255)
				}
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			src := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			row := p[3*w*y:]
			for x := 0; x < w; x++ {
				a := uint32(src[4*x+3])
				for c := 0; c < 3; c++ {
					row[3*x+c] = uint8(min(255, uint32(src[4*x+c])+(255-a)))
				}
			}
		}
	default:
		i := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bb, a := src.At(x, y).RGBA()
				white := 0xFFFF - a
				p[i] = uint8((r + white) >> 8)
				p[i+1] = uint8((g + white) >> 8)
				p[i+2] = uint8((bb + white) >> 8)
				i += 3
			}
		}
	}
	return out
}

// ycbcrToRGB converts with the chroma terms of each row computed once per
// chroma sample (and once per pair of rows for 4:2:0), then added to luma.
func ycbcrToRGB(s *image.YCbCr, b image.Rectangle, p []uint8) {
	w, h := b.Dx(), b.Dy()
	hd, vd := chromaDivisors(s.SubsampleRatio)
	cw := (b.Max.X-1)/hd - b.Min.X/hd + 1
	cr := make([]int32, cw)
	cg := make([]int32, cw)
	cbb := make([]int32, cw)
	lastCrow := -1
	for y := 0; y < h; y++ {
		sy := b.Min.Y + y
		yrow := s.Y[(sy-s.Rect.Min.Y)*s.YStride+(b.Min.X-s.Rect.Min.X):]
		crow := (sy/vd-s.Rect.Min.Y/vd)*s.CStride + (b.Min.X/hd - s.Rect.Min.X/hd)
		if crow != lastCrow {
			for i := 0; i < cw; i++ {
				cb1 := int32(s.Cb[crow+i]) - 128
				cr1 := int32(s.Cr[crow+i]) - 128
				cr[i] = 91881 * cr1
				cg[i] = -22554*cb1 - 46802*cr1
				cbb[i] = 116130 * cb1
			}
			lastCrow = crow
		}
		row := p[3*w*y : 3*w*(y+1)]
		first := b.Min.X % hd // pixels of the first chroma sample already passed
		for x := 0; x < w; x++ {
			ci := (x + first) / hd
			yy := int32(yrow[x]) * 0x10101
			row[3*x] = clamp16(yy + cr[ci])
			row[3*x+1] = clamp16(yy + cg[ci])
			row[3*x+2] = clamp16(yy + cbb[ci])
		}
	}
}

// chromaDivisors returns the horizontal and vertical chroma subsampling.
func chromaDivisors(r image.YCbCrSubsampleRatio) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return 2, 1
	case image.YCbCrSubsampleRatio420:
		return 2, 2
	case image.YCbCrSubsampleRatio440:
		return 1, 2
	case image.YCbCrSubsampleRatio411:
		return 4, 1
	case image.YCbCrSubsampleRatio410:
		return 4, 2
	}
	return 1, 1
}

func clamp16(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	if v < 0 {
		return 0
	}
	return 255
}

// half returns the image downscaled by two with a 2×2 box filter.
func (m *Image) half() *Image {
	w, h := m.W/2, m.H/2
	out := &Image{W: w, H: h, Pix: make([]uint8, 3*w*h)}
	for y := 0; y < h; y++ {
		r0 := m.Pix[3*m.W*(2*y):]
		r1 := m.Pix[3*m.W*(2*y+1):]
		o := out.Pix[3*w*y:]
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				i := 6*x + c
				o[3*x+c] = uint8((uint32(r0[i]) + uint32(r0[i+3]) + uint32(r1[i]) + uint32(r1[i+3]) + 2) / 4)
			}
		}
	}
	return out
}

// orient applies an EXIF orientation (2–8) so the image is upright.
func (m *Image) orient(o int) *Image {
	w, h := m.W, m.H
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := &Image{W: ow, H: oh, Pix: make([]uint8, len(m.Pix))}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2:
				dx, dy = w-1-x, y
			case 3:
				dx, dy = w-1-x, h-1-y
			case 4:
				dx, dy = x, h-1-y
			case 5:
				dx, dy = y, x
			case 6:
				dx, dy = h-1-y, x
			case 7:
				dx, dy = h-1-y, w-1-x
			case 8:
				dx, dy = y, w-1-x
			default:
				dx, dy = x, y
			}
			copy(out.Pix[3*(dy*ow+dx):3*(dy*ow+dx)+3], m.Pix[3*(y*w+x):3*(y*w+x)+3])
		}
	}
	return out
}
