//go:build !amd64 || purego

package vecindex

// planesSIMD reports false: there is no vector version on this platform.
func planesSIMD(cols *[scanBits][]uint64, masks *[scanBits]uint64, bound uint64, words int, out []uint64) bool {
	return false
}
