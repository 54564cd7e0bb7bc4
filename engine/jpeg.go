package engine

/*
#cgo LDFLAGS: -ljpeg
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <jpeglib.h>

// likeness_err turns libjpeg's fatal errors into a longjmp back to the
// caller and counts its warnings (corrupt or truncated data), which the Go
// side treats as errors too.
struct likeness_err {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	int warnings;
};

static void likeness_error_exit(j_common_ptr c) {
	longjmp(((struct likeness_err *)c->err)->jb, 1);
}

static void likeness_emit(j_common_ptr c, int level) {
	if (level < 0) ((struct likeness_err *)c->err)->warnings++;
}

enum { LK_OK = 0, LK_CORRUPT = 1, LK_CMYK = 2, LK_SIZE = 3 };

// likeness_jpeg decodes buf to packed RGB at 1/denom scale (libjpeg's DCT
// scaling: denom 1, 2, 4 or 8). With out NULL it only reports the output
// size in *w, *h; otherwise out must hold exactly (*w)*(*h)*3 bytes.
static int likeness_jpeg(const unsigned char *buf, unsigned long n, int denom,
                         unsigned char *out, int *w, int *h) {
	struct jpeg_decompress_struct d;
	struct likeness_err e;
	d.err = jpeg_std_error(&e.pub);
	e.pub.error_exit = likeness_error_exit;
	e.pub.emit_message = likeness_emit;
	e.warnings = 0;
	if (setjmp(e.jb)) {
		jpeg_destroy_decompress(&d);
		return LK_CORRUPT;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, buf, n);
	jpeg_read_header(&d, TRUE);
	if (d.jpeg_color_space == JCS_CMYK || d.jpeg_color_space == JCS_YCCK) {
		jpeg_destroy_decompress(&d);
		return LK_CMYK;
	}
	d.out_color_space = JCS_RGB;
	d.scale_num = 1;
	d.scale_denom = denom;
	d.dct_method = JDCT_ISLOW;
	// Chroma replicated, not interpolated: the pixels the standard decoder
	// gave the models before (and libjpeg-turbo's fastest path).
	d.do_fancy_upsampling = FALSE;
	jpeg_calc_output_dimensions(&d);
	if (out == NULL) {
		*w = d.output_width;
		*h = d.output_height;
		jpeg_destroy_decompress(&d);
		return LK_OK;
	}
	if ((int)d.output_width != *w || (int)d.output_height != *h || d.output_components != 3) {
		jpeg_destroy_decompress(&d);
		return LK_SIZE;
	}
	jpeg_start_decompress(&d);
	size_t stride = (size_t)d.output_width * 3;
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = out + (size_t)d.output_scanline * stride;
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
	return e.warnings > 0 ? LK_CORRUPT : LK_OK;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// errCMYK says the JPEG is CMYK or YCCK, which libjpeg does not convert to
// RGB; Decode then uses the standard decoder.
var errCMYK = errors.New("cmyk jpeg")

// errCorruptJPEG is libjpeg's refusal (a fatal error or a warning about
// corrupt or truncated data).
var errCorruptJPEG = errors.New("corrupt jpeg")

// decodeJPEG decodes a w×h JPEG with libjpeg-turbo (SIMD IDCT and colour
// conversion straight to packed RGB) at the DCT scale 1/1, 1/2, 1/4 or 1/8
// that brings its longest side within maxSide (the working size): a large
// photo is never decoded at full size only to be halved afterwards.
func decodeJPEG(data []byte, w, h, maxSide int) (*Image, error) {
	denom := 1
	for denom < 8 && max(w, h)/denom > maxSide {
		denom *= 2
	}
	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	var cw, ch C.int
	switch C.likeness_jpeg(src, C.ulong(len(data)), C.int(denom), nil, &cw, &ch) {
	case C.LK_OK:
	case C.LK_CMYK:
		return nil, errCMYK
	default:
		return nil, errCorruptJPEG
	}
	// The size was checked against the limits on the standard decoder's
	// reading of the header; libjpeg must read the same one.
	if int(cw) != (w+denom-1)/denom || int(ch) != (h+denom-1)/denom {
		return nil, errCorruptJPEG
	}
	img := &Image{W: int(cw), H: int(ch), Pix: make([]uint8, 3*int(cw)*int(ch))}
	if len(img.Pix) == 0 {
		return nil, errCorruptJPEG
	}
	if C.likeness_jpeg(src, C.ulong(len(data)), C.int(denom), (*C.uchar)(unsafe.Pointer(&img.Pix[0])), &cw, &ch) != C.LK_OK {
		return nil, errCorruptJPEG
	}
	return img, nil
}
