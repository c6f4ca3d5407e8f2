package archivetest

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/xattr"
	"golang.org/x/sys/unix"
)

// TreeOptions size the generated tree.
type TreeOptions struct {
	Files       int   // regular files with random content (default 60)
	MaxFileSize int   // default 300 KiB
	SparseSize  int64 // apparent size of the sparse file (default 64 MiB); <0: none
}

// MakeTree fills dir (which must exist and be empty) with an awkward tree:
// files of many sizes, empty files and directories, unicode and odd names
// (spaces, newline, invalid UTF-8, leading dash), deep nesting, symlinks
// (relative, absolute, dangling), hard links within and across
// directories, user.* xattrs, a large sparse file, unusual modes and
// nanosecond times. It is deterministic for a seed except inode numbers.
func MakeTree(dir string, seed int64, o TreeOptions) error {
	if o.Files == 0 {
		o.Files = 60
	}
	if o.MaxFileSize == 0 {
		o.MaxFileSize = 300 << 10
	}
	if o.SparseSize == 0 {
		o.SparseSize = 64 << 20
	}
	rng := rand.New(rand.NewSource(seed))
	must := func(err error) error { return err }
	dirs := []string{"", "a", "a/b", "a/b/c", "docs", "empty-dir", "unicode-äöü-日本", "sp ace", "x/" + strings.Repeat("deep/", 24)}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	names := []string{"plain.txt", "with space.txt", "new\nline", "-dash", "bad-\xff\xfe-utf8", "ünïcödé.md", "日本語.txt", "x.bin", ".hidden"}
	for i := 0; i < o.Files; i++ {
		d := dirs[rng.Intn(len(dirs))]
		if d == "empty-dir" {
			d = "a"
		}
		name := fmt.Sprintf("%s-%d", names[rng.Intn(len(names))], i)
		p := filepath.Join(dir, d, name)
		size := rng.Intn(o.MaxFileSize)
		if i%7 == 0 {
			size = rng.Intn(100)
		}
		data := make([]byte, size)
		if i%3 == 0 {
			rng.Read(data)
		} else {
			words := []string{"alpha ", "beta ", "gamma ", "delta\n", "coffer ", "backup "}
			for j := 0; j < size; {
				j += copy(data[j:], words[rng.Intn(len(words))])
			}
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	// Empty files, duplicate content, modes.
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "docs", "empty2"), nil, 0o644); err != nil {
		return err
	}
	dup := make([]byte, 200<<10)
	rng.Read(dup)
	for _, p := range []string{"dup1", "a/dup2", "docs/dup3"} {
		if err := os.WriteFile(filepath.Join(dir, p), dup, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "script.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dir, "script.sh"), 0o4755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "readonly"), []byte("ro"), 0o400); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Join(dir, "sp ace"), 0o1777); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "x", strings.Repeat("deep/", 24), "bottom.txt"), []byte("the bottom\n"), 0o644); err != nil {
		return err
	}
	// Symlinks.
	for _, l := range [][2]string{
		{"a/b/c/to-plain", "../../../dup1"},
		{"abs-link", "/etc/hostname"},
		{"dangling", "does/not/exist"},
		{"docs/link-to-dir", "../a"},
		{"unicode-äöü-日本/ссылка", "../dup1"},
	} {
		if err := os.Symlink(l[1], filepath.Join(dir, l[0])); err != nil {
			return err
		}
	}
	// Hard links: within a directory and across directories.
	if err := os.WriteFile(filepath.Join(dir, "a", "hl-orig"), []byte("hard linked content\n"), 0o640); err != nil {
		return err
	}
	for _, l := range []string{"a/hl-same-dir", "docs/hl-other-dir", "x/hl-third"} {
		if err := os.Link(filepath.Join(dir, "a", "hl-orig"), filepath.Join(dir, l)); err != nil {
			return err
		}
	}
	// Xattrs (user.* need a file system that supports them).
	if err := xattr.Set(filepath.Join(dir, "dup1"), "user.coffer.test", []byte("value-1")); err == nil {
		_ = must(xattr.Set(filepath.Join(dir, "dup1"), "user.binary", []byte{0, 1, 2, 255}))
		_ = must(xattr.Set(filepath.Join(dir, "docs"), "user.dir-attr", []byte("on a directory")))
	}
	// A large sparse file: data at the start, in the middle and at the end.
	if o.SparseSize > 0 {
		sp := filepath.Join(dir, "sparse.img")
		f, err := os.Create(sp)
		if err != nil {
			return err
		}
		chunk := make([]byte, 96<<10)
		rng.Read(chunk)
		for _, off := range []int64{0, o.SparseSize / 2, o.SparseSize - int64(len(chunk))} {
			if _, err := f.WriteAt(chunk, off); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	// Times with nanoseconds, deepest first so directory times stick.
	var all []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != dir {
			all = append(all, p)
		}
		return nil
	})
	base := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	for i := len(all) - 1; i >= 0; i-- {
		mt := base.Add(time.Duration(rng.Int63n(int64(1000 * time.Hour))))
		ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano() + 123), unix.NsecToTimespec(mt.UnixNano() + 456789)}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, all[i], ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	return nil
}

// MkFifo creates a named pipe (skipped by backups with a warning).
func MkFifo(p string) error { return syscall.Mkfifo(p, 0o644) }

// SetTimes sets a path's atime and mtime (not following symlinks).
func SetTimes(p string, t time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t.UnixNano()), unix.NsecToTimespec(t.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}
