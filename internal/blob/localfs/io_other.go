//go:build !linux

package localfs

import "os"

// writeDirect writes nothing: direct I/O is only used on Linux.
func writeDirect(f *os.File, data []byte) (int, error) { return 0, nil }

// adviseSequential does nothing: the hint is only given on Linux.
func adviseSequential(f *os.File, offset, length int64) {}
