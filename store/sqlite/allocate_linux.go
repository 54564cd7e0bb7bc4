package sqlite

import (
	"os"
	"syscall"
)

// allocate gives f size bytes of real disk space (not a sparse file).
func allocate(f *os.File, size int64) error {
	return syscall.Fallocate(int(f.Fd()), 0, 0, size)
}
