package engine

import (
	"bytes"
	"encoding/binary"
)

// orientation returns the EXIF orientation (1–8) of an encoded image, or 0
// when it has none or it cannot be read. Malformed metadata is ignored: the
// pixels still decode, only upright.
func orientation(format string, data []byte) int {
	var tiff []byte
	switch format {
	case "jpeg":
		tiff = jpegExif(data)
	case "png":
		tiff = chunk(data[8:], "eXIf", binary.BigEndian, 8, 4)
	case "webp":
		tiff = chunk(data[12:], "EXIF", binary.LittleEndian, 8, 0)
		tiff = bytes.TrimPrefix(tiff, []byte("Exif\x00\x00"))
	}
	return tiffOrientation(tiff)
}

// jpegExif returns the TIFF block of the first APP1 Exif segment.
func jpegExif(d []byte) []byte {
	i := 2
	for i+4 <= len(d) {
		if d[i] != 0xFF {
			return nil
		}
		marker := d[i+1]
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 {
			i += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan: no more metadata
			return nil
		}
		n := int(binary.BigEndian.Uint16(d[i+2:]))
		if n < 2 || i+2+n > len(d) {
			return nil
		}
		seg := d[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// chunk finds a chunk by type in a PNG (length, type, data, CRC) or RIFF
// (type, length, data, pad) stream. hdr is the header size, trailer the bytes
// after the data (PNG's CRC).
func chunk(d []byte, typ string, order binary.ByteOrder, hdr, trailer int) []byte {
	png := order == binary.BigEndian
	for len(d) >= hdr {
		var n int
		var t string
		if png {
			n, t = int(order.Uint32(d)), string(d[4:8])
		} else {
			t, n = string(d[:4]), int(order.Uint32(d[4:]))
		}
		if n < 0 || n > len(d)-hdr {
			return nil
		}
		if t == typ {
			return d[hdr : hdr+n]
		}
		skip := hdr + n + trailer
		if !png && n%2 == 1 {
			skip++
		}
		if skip > len(d) {
			return nil
		}
		d = d[skip:]
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF block.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 0
	}
	off := int(order.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	n := int(order.Uint16(t[off:]))
	for k := 0; k < n; k++ {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return 0
		}
		if order.Uint16(t[e:]) == 0x0112 {
			v := int(order.Uint16(t[e+8:]))
			if v >= 1 && v <= 8 {
				return v
			}
			return 0
		}
	}
	return 0
}
