package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Measurement is one timed child process.
type Measurement struct {
	Tool, Step    string
	Wall          time.Duration
	MaxRSS        int64 // bytes, from wait4 rusage
	CachesDropped bool
	Err           error
	Output        string // combined output, truncated
}

// DropCaches writes back dirty pages and drops the page cache, dentries and
// inodes (needs root and a writable /proc/sys/vm).
func DropCaches() error {
	syscall.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}

const timeBin = "/usr/bin/time"

// Command is a child process to measure.
type Command struct {
	Path string
	Args []string
	Env  []string // added to the environment
	Dir  string
}

// Run runs c, optionally dropping caches first, and measures it.
func Run(ctx context.Context, tool, step string, c Command, drop bool) Measurement {
	m := Measurement{Tool: tool, Step: step}
	if drop {
		m.CachesDropped = DropCaches() == nil
	}
	// Peak RSS comes from /usr/bin/time when available: the rusage of a
	// direct child also counts the pages of this (large) process at fork.
	path, args := c.Path, c.Args
	var rssFile string
	if _, err := os.Stat(timeBin); err == nil {
		f, err := os.CreateTemp("", "coffer-bench-rss-*")
		if err == nil {
			rssFile = f.Name()
			f.Close()
			defer os.Remove(rssFile)
			path, args = timeBin, append([]string{"-f", "%M", "-o", rssFile, c.Path}, c.Args...)
		}
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Dir = c.Dir
	var out bytes.Buffer
	cmd.Stdout = &limitWriter{w: &out, n: 64 << 10}
	cmd.Stderr = cmd.Stdout
	start := time.Now()
	err := cmd.Run()
	m.Wall = time.Since(start)
	if rssFile != "" {
		if b, err := os.ReadFile(rssFile); err == nil {
			fields := strings.Fields(string(b))
			if len(fields) > 0 {
				if kb, err := strconv.ParseInt(fields[len(fields)-1], 10, 64); err == nil {
					m.MaxRSS = kb * 1024
				}
			}
		}
	} else if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.MaxRSS = ru.Maxrss * 1024
		}
	}
	m.Output = out.String()
	if err != nil {
		m.Err = fmt.Errorf("%s %s: %w\n%s", tool, step, err, tail(m.Output, 2000))
	}
	return m
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// DirSize is the disk usage (allocated blocks) of a directory tree.
func DirSize(dir string) int64 {
	var total int64
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			}
		}
		return nil
	})
	return total
}

// ContentDigest hashes the relative paths and contents of the regular
// files under dir (what every tool must restore identically).
func ContentDigest(dir string) (string, int, error) {
	var files []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return "", 0, err
		}
		fh := sha256.New()
		_, err = io.Copy(fh, f)
		f.Close()
		if err != nil {
			return "", 0, err
		}
		fmt.Fprintf(h, "%q %x\n", rel, fh.Sum(nil))
	}
	return hex.EncodeToString(h.Sum(nil)), len(files), nil
}

// MinorFaults returns the minor page faults process pid has taken so far
// (Linux: /proc/PID/stat; an error elsewhere). A fault on a page the
// process had not touched is expensive on some virtual machines; the copy
// benchmark logs them per step.
func MinorFaults(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'. minflt is the tenth field, the seventh after it.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if f := strings.Fields(s[i+1:]); len(f) >= 8 {
			return strconv.ParseInt(f[7], 10, 64)
		}
	}
	return 0, fmt.Errorf("bench: /proc/%d/stat: unexpected format", pid)
}
