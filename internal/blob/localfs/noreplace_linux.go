package localfs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace moves tmp to final unless final exists, atomically. It
// uses renameat2(RENAME_NOREPLACE) and falls back to link+unlink on file
// systems that lack it (EINVAL) and on kernels older than 3.15 (ENOSYS).
func renameNoReplace(tmp, final string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return linkNoReplace(tmp, final)
	}
	return &os.LinkError{Op: "renameat2", Old: tmp, New: final, Err: err}
}
