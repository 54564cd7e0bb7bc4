//go:build !linux

package sqlite

import "os"

// allocate gives f size bytes of real disk space by writing zeros.
func allocate(f *os.File, size int64) error {
	buf := make([]byte, 64<<10)
	for n := int64(0); n < size; n += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Sync()
}
