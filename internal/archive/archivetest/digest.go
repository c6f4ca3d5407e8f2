package archivetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/xattr"
	"golang.org/x/sys/unix"
)

// DigestOptions select what Lines compares.
type DigestOptions struct {
	// IgnoreOwners leaves uid/gid out (for restores not run as root).
	IgnoreOwners bool
	// IgnoreDirTimes leaves directory mtimes out.
	IgnoreDirTimes bool
	// IgnoreSparse leaves the sparse flag out.
	IgnoreSparse bool
}

// Lines describes every entry under root (not root itself), one line per
// entry in path order: path, type, mode, owner, mtime (ns), size, content
// SHA-256, symlink target, xattrs, hard-link group (the first path of the
// inode) and whether a file is sparse.
func Lines(root string, o DigestOptions) ([]string, error) {
	var lines []string
	groups := map[[2]uint64]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%q type=%o mode=%o", rel, st.Mode&unix.S_IFMT, st.Mode&07777)
		if !o.IgnoreOwners {
			fmt.Fprintf(&b, " owner=%d:%d", st.Uid, st.Gid)
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if !isDir || !o.IgnoreDirTimes {
			fmt.Fprintf(&b, " mtime=%d", st.Mtim.Nano())
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			key := [2]uint64{uint64(st.Dev), st.Ino}
			if st.Nlink > 1 {
				if first, ok := groups[key]; ok {
					fmt.Fprintf(&b, " hardlink=%q", first)
				} else {
					groups[key] = rel
					fmt.Fprintf(&b, " links=%d", st.Nlink)
				}
			}
			sum, err := fileSum(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " size=%d sha256=%s", st.Size, sum)
			if !o.IgnoreSparse {
				fmt.Fprintf(&b, " sparse=%v", st.Blocks*512 < st.Size)
			}
		case unix.S_IFLNK:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " target=%q", t)
		}
		names, err := xattr.LList(p)
		if err == nil {
			sort.Strings(names)
			for _, n := range names {
				v, err := xattr.LGet(p, n)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, " xattr:%s=%q", n, v)
			}
		}
		lines = append(lines, b.String())
		return nil
	})
	return lines, err
}

func fileSum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Digest is a hash over Lines.
func Digest(root string, o DigestOptions) (string, error) {
	lines, err := Lines(root, o)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, l := range lines {
		io.WriteString(h, l+"\n")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Diff returns a readable difference between two Lines results, "" if equal.
func Diff(want, got []string) string {
	w := map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	g := map[string]bool{}
	for _, l := range got {
		g[l] = true
	}
	var b strings.Builder
	n := 0
	for _, l := range want {
		if !g[l] {
			if n < 20 {
				b.WriteString("- " + l + "\n")
			}
			n++
		}
	}
	for _, l := range got {
		if !w[l] {
			if n < 40 {
				b.WriteString("+ " + l + "\n")
			}
			n++
		}
	}
	if n > 40 {
		b.WriteString("... " + strconv.Itoa(n) + " differences in all\n")
	}
	return b.String()
}
