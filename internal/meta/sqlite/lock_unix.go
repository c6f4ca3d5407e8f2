//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes the ownership lock of the database at path: an exclusive
// flock on path+"-lock" (created if needed, never removed). A second Store
// on the same file, in this process or another, fails with ErrInUse. The
// lock is on a file of its own because closing any descriptor of the
// database file would drop SQLite's POSIX locks on it.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path+"-lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: ownership lock: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlite: %s: %w", path, ErrInUse)
		}
		return nil, fmt.Errorf("sqlite: ownership lock %s-lock: %w", path, err)
	}
	return f, nil
}

// unlockFile releases the lock lockFile took.
func unlockFile(f *os.File) {
	if f == nil {
		return
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	f.Close()
}
