//go:build !unix

package sqlite

import "os"

// lockFile cannot take the ownership lock where flock is unavailable: the
// caller must make sure that only one Store opens the file.
func lockFile(path string) (*os.File, error) { return nil, nil }

func unlockFile(f *os.File) {}
