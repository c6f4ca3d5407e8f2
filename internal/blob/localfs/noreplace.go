package localfs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// linkNoReplace publishes tmp as final with link(2), which fails with EEXIST
// when final exists, then removes tmp. A crash between the two leaves a temp
// file that Sweep removes later; final is complete either way.
func linkNoReplace(tmp, final string) error {
	if err := os.Link(tmp, final); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EXDEV) {
			return fmt.Errorf("the file system supports neither renameat2(RENAME_NOREPLACE) nor hard links, so PutIfAbsent cannot be atomic here: %w", err)
		}
		return err
	}
	// The object is published; a temp file that cannot be removed now is
	// only litter, which Sweep removes once it is stale.
	_ = os.Remove(tmp)
	return nil
}
