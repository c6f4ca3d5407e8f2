package archive

import (
	"errors"
	"os"
	"path"
	"syscall"
	"unsafe"

	"github.com/coffer/coffer/internal/archive/tree"
	"golang.org/x/sys/unix"
)

// openBeneath opens rel (slash-separated, relative) under the directory
// rootfd without following any symlink on the way and without leaving the
// directory: openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a
// component-by-component O_NOFOLLOW walk on kernels without openat2.
func openBeneath(rootfd int, rel string, flags int, mode uint32) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	if flags&unix.O_CREAT != 0 {
		how.Mode = uint64(mode)
	}
	for {
		fd, err := unix.Openat2(rootfd, rel, how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err == unix.ENOSYS {
			return openWalk(rootfd, rel, flags, mode)
		}
		return fd, err
	}
}

func openWalk(rootfd int, rel string, flags int, mode uint32) (int, error) {
	dir, base := path.Split(rel)
	cur := rootfd
	owned := false
	for _, c := range splitNonEmpty(dir) {
		if c == ".." {
			return -1, unix.EXDEV
		}
		fd, err := unix.Openat(cur, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if owned {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur, owned = fd, true
	}
	if base == ".." {
		return -1, unix.EXDEV
	}
	fd, err := unix.Openat(cur, base, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if owned {
		unix.Close(cur)
	}
	return fd, err
}

func splitNonEmpty(p string) []string {
	var out []string
	for _, s := range splitSlash(p) {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}

func splitSlash(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

// futimens sets a file's atime and mtime through its descriptor.
func futimens(fd int, atime, mtime int64) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(atime), unix.NsecToTimespec(mtime)}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// applyMeta sets owner, mode, xattrs and times on an open file or
// directory.
func applyMeta(fd int, n *tree.Node, owners bool) error {
	var errs []error
	// A new file's group may come from a setgid directory, so even what we
	// created is chowned.
	if owners {
		if err := unix.Fchown(fd, int(n.UID), int(n.GID)); err != nil {
			errs = append(errs, &os.SyscallError{Syscall: "fchown", Err: err})
		}
	}
	if err := unix.Fchmod(fd, n.Mode&07777); err != nil {
		errs = append(errs, &os.SyscallError{Syscall: "fchmod", Err: err})
	}
	for _, x := range n.Xattrs {
		if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
			if errors.Is(err, syscall.ENOTSUP) || !owners && errors.Is(err, syscall.EPERM) {
				continue // not supported here, or a trusted.* name without privilege
			}
			errs = append(errs, &os.SyscallError{Syscall: "fsetxattr " + x.Name, Err: err})
		}
	}
	if err := futimens(fd, n.Atime, n.Mtime); err != nil {
		errs = append(errs, &os.SyscallError{Syscall: "utimensat", Err: err})
	}
	return errors.Join(errs...)
}

// applyLinkMeta sets owner, xattrs and times on a symlink (its mode cannot
// be changed on Linux).
func applyLinkMeta(dirfd int, name string, n *tree.Node, owners bool) error {
	var errs []error
	if owners {
		if err := unix.Fchownat(dirfd, name, int(n.UID), int(n.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
			errs = append(errs, &os.SyscallError{Syscall: "lchown", Err: err})
		}
	}
	if len(n.Xattrs) > 0 {
		// /proc/self/fd/N names the directory; the last element is not
		// followed by lsetxattr.
		p := "/proc/self/fd/" + itoa(dirfd) + "/" + name
		for _, x := range n.Xattrs {
			if err := unix.Lsetxattr(p, x.Name, x.Value, 0); err != nil {
				if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EPERM) {
					continue
				}
				errs = append(errs, &os.SyscallError{Syscall: "lsetxattr " + x.Name, Err: err})
			}
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(n.Atime), unix.NsecToTimespec(n.Mtime)}
	if err := unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		errs = append(errs, &os.SyscallError{Syscall: "utimensat", Err: err})
	}
	return errors.Join(errs...)
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b[p:])
}
