//go:build amd64 && !purego

package vecindex

import "golang.org/x/sys/cpu"

// planesAVX512 is planesGo with AVX-512 (scan_amd64.s), 512 vectors at a
// time; cols holds the first word of each column.
//
//go:noescape
func planesAVX512(cols *[scanBits]*uint64, masks *[scanBits]uint64, bound *[7]uint64, words int, out *uint64)

// planesSIMD computes what planesGo does when the CPU has AVX-512, and
// reports whether it did.
func planesSIMD(cols *[scanBits][]uint64, masks *[scanBits]uint64, bound uint64, words int, out []uint64) bool {
	if !cpu.X86.HasAVX512F || words%8 != 0 || len(out) < 8*words {
		return false
	}
	var ptrs [scanBits]*uint64
	for j, col := range cols {
		if len(col) < words {
			return false
		}
		ptrs[j] = &col[0]
	}
	var sel [7]uint64
	for b := range sel {
		sel[b] = -(bound >> b & 1)
	}
	planesAVX512(&ptrs, masks, &sel, words, &out[0])
	return true
}
