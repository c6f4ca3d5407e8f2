package localfs

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// writeDirect writes the longest prefix of data that it can with O_DIRECT,
// at f's current offset, and returns how many bytes it wrote; the caller
// writes the rest through the page cache. It needs f's offset and data's
// address aligned to directAlign. Where the file system refuses direct I/O
// (EINVAL: tmpfs, some FUSE and network file systems, an unexpected
// alignment) it writes nothing and reports no error. A real write error
// (ENOSPC, EIO) is returned.
func writeDirect(f *os.File, data []byte) (int, error) {
	n := len(data) &^ (directAlign - 1)
	if n == 0 || uintptr(unsafe.Pointer(&data[0]))%directAlign != 0 {
		return 0, nil
	}
	fd := int(f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return 0, nil
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags|unix.O_DIRECT); err != nil {
		return 0, nil
	}
	written := 0
	var werr error
	for written < n {
		w, err := unix.Write(fd, data[written:n])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if !errors.Is(err, unix.EINVAL) {
				werr = &os.PathError{Op: "write", Path: f.Name(), Err: err}
			}
			break
		}
		written += w
		if w%directAlign != 0 || w == 0 {
			break // a short, unaligned write: go on through the page cache
		}
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags); err != nil && werr == nil {
		werr = &os.PathError{Op: "fcntl", Path: f.Name(), Err: err}
	}
	return written, werr
}

// adviseSequential tells the kernel that length bytes of f from offset
// will be read in order (POSIX_FADV_SEQUENTIAL: a readahead window twice
// the default). A failure only loses the hint.
func adviseSequential(f *os.File, offset, length int64) {
	_ = unix.Fadvise(int(f.Fd()), offset, length, unix.FADV_SEQUENTIAL)
}
