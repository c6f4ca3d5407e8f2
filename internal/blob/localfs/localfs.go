package localfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/bufpool"
	"github.com/coffer/coffer/internal/clock"
)

// tempPrefix starts the name of every temp file. "~" is not allowed in
// object names, so no temp file is ever mistaken for an object.
const tempPrefix = ".coffer-tmp~"

// DefaultTempMaxAge is the default for Options.TempMaxAge.
const DefaultTempMaxAge = 15 * time.Minute

// Options configure a Store.
type Options struct {
	// Root is the directory that holds the objects. Required.
	Root string
	// Create makes New create Root (and its parents) when it is missing.
	// Without it a missing Root is an error, which catches a typo or an
	// unmounted disk before anything is written to the wrong place.
	Create bool
	// FileMode and DirMode are the permissions of new files and directories
	// (before the umask for directories). Defaults 0o600 and 0o700.
	FileMode, DirMode fs.FileMode
	// TempMaxAge is how old a temp file must be before Sweep removes it.
	// Default DefaultTempMaxAge. It must exceed the longest write.
	TempMaxAge time.Duration
	// SkipSweep stops New from starting a background Sweep.
	SkipSweep bool
	// NoSync skips every fsync. Writes stay atomic but are not durable
	// across a power loss. For tests on throwaway directories only.
	NoSync bool
	// Clock is the time source for Sweep. Default clock.Real{}.
	Clock clock.Clock
	// Logger receives sweep results. Default: discard.
	Logger *slog.Logger
}

// Validate checks the options and reports the first problem.
func (o Options) Validate() error {
	if o.Root == "" {
		return errors.New("localfs: Options.Root is empty")
	}
	if o.TempMaxAge < 0 {
		return fmt.Errorf("localfs: Options.TempMaxAge is negative (%v)", o.TempMaxAge)
	}
	if o.FileMode&^fs.ModePerm != 0 || o.DirMode&^fs.ModePerm != 0 {
		return fmt.Errorf("localfs: Options.FileMode %v and DirMode %v may only hold permission bits", o.FileMode, o.DirMode)
	}
	return nil
}

func (o *Options) setDefaults() {
	if o.FileMode == 0 {
		o.FileMode = 0o600
	}
	if o.DirMode == 0 {
		o.DirMode = 0o700
	}
	if o.TempMaxAge == 0 {
		o.TempMaxAge = DefaultTempMaxAge
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Store is a blob.Store in a directory. Use New.
type Store struct {
	root string // absolute, cleaned
	opts Options

	// publishNoReplace moves a temp file to its final name unless the name
	// is taken; a field so that tests can force the link(2) fallback.
	publishNoReplace func(tmp, final string) error

	stop context.CancelFunc
	wg   sync.WaitGroup
}

var _ blob.Store = (*Store)(nil)

// New opens (or, with Options.Create, creates) the store at opts.Root and,
// unless opts.SkipSweep, starts a background Sweep that Close waits for.
func New(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("localfs: root %q: %w", opts.Root, err)
	}
	s := &Store{root: root, opts: opts, publishNoReplace: renameNoReplace}
	if opts.Create {
		if err := s.mkdirs(root); err != nil {
			return nil, translate("create root", root, err)
		}
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, translate("open root", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("localfs: root %s is not a directory", root)
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	if !opts.SkipSweep {
		s.wg.Go(func() {
			if _, err := s.Sweep(bg); err != nil && bg.Err() == nil {
				s.opts.Logger.Warn("localfs: sweeping stale temp files failed", "root", s.root, "err", err)
			}
		})
	}
	return s, nil
}

// Location returns the root directory.
func (s *Store) Location() string { return s.root }

// Close stops a running background Sweep and waits for it.
func (s *Store) Close() error {
	s.stop()
	s.wg.Wait()
	return nil
}

func (s *Store) path(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(name))
}

func check(ctx context.Context, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localfs: %s %q: %w", op, name, err)
	}
	if err := blob.ValidName(name); err != nil {
		return fmt.Errorf("localfs: %s: %w", op, err)
	}
	return nil
}

// Put writes data to a temp file and renames it over name.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "put", name); err != nil {
		return err
	}
	return s.write(ctx, "put", name, data, os.Rename)
}

// streamBuf is the size of PutStream's buffer, taken from bufpool. A
// buffer made per call came back from the garbage collector as fresh
// pages, and on the development VM a page fault costs enough that copying
// the read bytes into it took six times as long as copying them out (perf
// of adopting 47 packs: _copy_to_iter 31% of the CPU, against 5% for the
// writes; 15% with a pool). A first copy job's data phase: 623-716 ms
// instead of 696-788 ms in five alternating pairs.
const streamBuf = 256 << 10

// PutStream writes size bytes from r to a temp file and renames it over
// name (blob.StreamPutter); 256 KiB is held at a time.
func (s *Store) PutStream(ctx context.Context, name string, size int64, r io.Reader) error {
	if err := check(ctx, "put", name); err != nil {
		return err
	}
	return s.writeFrom(ctx, "put", name, func(f *os.File) error {
		buf := bufpool.Get(streamBuf)[:streamBuf]
		defer bufpool.Put(buf)
		// Hide f's ReadFrom, which would copy in 32 KiB reads. Streams
		// go through the page cache: writing each buffer directly waits
		// for the disk buffer by buffer (a first copy job took 0.98-1.24 s
		// instead of 0.71 s).
		n, err := io.CopyBuffer(struct{ io.Writer }{f}, io.LimitReader(r, size), buf)
		if err == nil && n < size {
			err = fmt.Errorf("stream ended after %d of %d bytes", n, size)
		}
		if err == nil {
			err = blob.CheckEnd(r, size)
		}
		return err
	}, os.Rename)
}

// Objects of directMin bytes or more are written around the page cache
// (O_DIRECT, Linux) when the store syncs: they are fsync'd at once and not
// read back soon. On the development VM, writing a 16 MiB pack through the
// page cache and syncing it cost ~37 ms of CPU; direct, ~1 ms (and half
// the wall time). The unaligned tail goes through the page cache.
const (
	directMin   = 1 << 20
	directAlign = 4096
)

// direct reports whether an object of size bytes is written directly
// (Put and PutIfAbsent; PutStream never is).
func (s *Store) direct(size int64) bool { return !s.opts.NoSync && size >= directMin }

// writeData writes data at f's offset, directly if direct and possible.
func (s *Store) writeData(f *os.File, data []byte, direct bool) error {
	if direct {
		n, err := writeDirect(f, data)
		if err != nil {
			return err
		}
		data = data[n:]
	}
	_, err := f.Write(data)
	return err
}

// PutIfAbsent writes data to a temp file and renames it to name unless
// name exists, atomically.
func (s *Store) PutIfAbsent(ctx context.Context, name string, data []byte) error {
	if err := check(ctx, "put-if-absent", name); err != nil {
		return err
	}
	return s.write(ctx, "put-if-absent", name, data, s.publishNoReplace)
}

// write is the common body of Put and PutIfAbsent; publish moves the fsync'd
// temp file to its final path.
func (s *Store) write(ctx context.Context, op, name string, data []byte, publish func(tmp, final string) error) error {
	return s.writeFrom(ctx, op, name, func(f *os.File) error {
		return s.writeData(f, data, s.direct(int64(len(data))))
	}, publish)
}

// writeFrom is write with the temp file's content written by fill.
func (s *Store) writeFrom(ctx context.Context, op, name string, fill func(*os.File) error, publish func(tmp, final string) error) error {
	final := s.path(name)
	dir := filepath.Dir(final)
	if err := s.mkdirs(dir); err != nil {
		return translate(op, name, err)
	}
	tmp, err := s.writeTemp(dir, fill)
	if err != nil {
		return translate(op, name, err)
	}
	if err := ctx.Err(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("localfs: %s %q: %w", op, name, err)
	}
	if err := publish(tmp, final); err != nil {
		_ = os.Remove(tmp)
		if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) {
			if fi, serr := os.Lstat(final); serr == nil && fi.IsDir() {
				return fmt.Errorf("localfs: %s %q: the name is a directory holding other objects: %w", op, name, err)
			}
		}
		return translate(op, name, err)
	}
	if err := s.syncDir(dir); err != nil {
		return translate(op, name, err)
	}
	return nil
}

// writeTemp fills a new temp file in dir, fsyncs and closes it, and
// returns its path. On failure nothing is left behind.
func (s *Store) writeTemp(dir string, fill func(*os.File) error) (path string, err error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if s.opts.FileMode != 0o600 {
		if err := f.Chmod(s.opts.FileMode); err != nil {
			return "", err
		}
	}
	if err := fill(f); err != nil {
		return "", err
	}
	if !s.opts.NoSync {
		if err := f.Sync(); err != nil {
			return "", err
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// PrepareDirs creates the directories of the prefixes (blob.DirPreparer),
// syncing each parent once instead of once per new directory.
func (s *Store) PrepareDirs(ctx context.Context, prefixes []string) error {
	parents := map[string]bool{}
	for _, p := range prefixes {
		if err := check(ctx, "prepare", p+"/x"); err != nil {
			return err
		}
		dir := s.path(p + "/x")
		dir = filepath.Dir(dir)
		parent := filepath.Dir(dir)
		if err := s.mkdirs(parent); err != nil {
			return translate("prepare", p, err)
		}
		if err := os.Mkdir(dir, s.opts.DirMode); err != nil && !errors.Is(err, fs.ErrExist) {
			return translate("prepare", p, err)
		}
		parents[parent] = true
	}
	for parent := range parents {
		if err := s.syncDir(parent); err != nil {
			return translate("prepare", parent, err)
		}
	}
	return nil
}

// PruneDirs removes the empty directories under prefix, then prefix's
// own directory if it is empty (blob.DirPruner). The removals are not
// synced: a crash can only leave empty directories.
func (s *Store) PruneDirs(ctx context.Context, prefix string) error {
	dir := s.root
	if prefix != "" {
		if err := check(ctx, "prune", prefix+"/x"); err != nil {
			return err
		}
		dir = s.path(prefix)
	}
	if err := s.pruneUnder(ctx, dir); err != nil {
		return translate("prune", prefix, err)
	}
	if dir == s.root {
		return nil
	}
	if err := removeIfEmpty(dir); err != nil {
		return translate("prune", prefix, err)
	}
	return nil
}

// removeIfEmpty removes dir if it is an empty directory; a directory that
// holds something, or none at all, is not an error.
func removeIfEmpty(dir string) error {
	err := os.Remove(dir)
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}

// pruneUnder removes the empty directories below dir, deepest first.
func (s *Store) pruneUnder(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		sub := filepath.Join(dir, e.Name())
		if err := s.pruneUnder(ctx, sub); err != nil {
			return err
		}
		if err := removeIfEmpty(sub); err != nil {
			return err
		}
	}
	return nil
}

// mkdirs creates dir and its missing parents, fsyncing each new entry into
// its parent so that the path survives a power loss.
func (s *Store) mkdirs(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := s.mkdirs(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, s.opts.DirMode); err != nil {
		if errors.Is(err, fs.ErrExist) { // a concurrent Put created it
			if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
				return nil
			}
		}
		return err
	}
	return s.syncDir(parent)
}

func (s *Store) syncDir(dir string) error {
	if s.opts.NoSync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// seqMin is the length from which Get announces a sequential read. On the
// development VM (ext4, cold page cache), copying 16 MiB packs eight at a
// time took 0.65-0.68 s instead of 0.71-0.73 with the hint; in five
// alternating copy benchmarks the first copy job took 0.75-0.79 s instead
// of 0.75-0.97, and restores did not slow down. Reads of one blob keep the
// default readahead.
const seqMin = 1 << 20

// Get opens the file and returns a reader over the requested range.
func (s *Store) Get(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if err := check(ctx, "get", name); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(name))
	if err != nil {
		return nil, translate("get", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, translate("get", name, err)
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("localfs: get %q: not a regular file: %w", name, blob.ErrNotFound)
	}
	size := fi.Size()
	if offset < 0 || offset > size {
		_ = f.Close()
		return nil, fmt.Errorf("localfs: get %q: offset %d of a %d-byte object: %w", name, offset, size, blob.ErrInvalidRange)
	}
	n := size - offset
	if length >= 0 && length < n {
		n = length
	}
	if n >= seqMin {
		adviseSequential(f, offset, n)
	}
	return blob.ContextReader(ctx, &fileReader{
		r:    io.NewSectionReader(f, offset, n),
		f:    f,
		name: name,
	}), nil
}

// fileReader reads a section of an open file and translates read errors.
type fileReader struct {
	r    *io.SectionReader
	f    *os.File
	name string
}

func (r *fileReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = translate("read", r.name, err)
	}
	return n, err
}

func (r *fileReader) Close() error { return r.f.Close() }

// Stat returns the size of the file.
func (s *Store) Stat(ctx context.Context, name string) (blob.Info, error) {
	if err := check(ctx, "stat", name); err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(s.path(name))
	if err != nil {
		return blob.Info{}, translate("stat", name, err)
	}
	if !fi.Mode().IsRegular() {
		return blob.Info{}, fmt.Errorf("localfs: stat %q: not a regular file: %w", name, blob.ErrNotFound)
	}
	return blob.Info{Name: name, Size: fi.Size()}, nil
}

// Delete unlinks the file and fsyncs its directory. A missing file, or a
// directory under the name, is not an error: there is no object to delete.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := check(ctx, "delete", name); err != nil {
		return err
	}
	p := s.path(name)
	if err := syscall.Unlink(p); err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) {
			return nil
		}
		return translate("delete", name, &fs.PathError{Op: "unlink", Path: p, Err: err})
	}
	if err := s.syncDir(filepath.Dir(p)); err != nil {
		return translate("delete", name, err)
	}
	return nil
}

// List walks the directory that holds every name with the prefix (the
// prefix up to its last "/") and reports the regular files whose names are
// valid and start with prefix.
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("localfs: list %q: %w", prefix, err)
	}
	if err := blob.ValidPrefix(prefix); err != nil {
		return fmt.Errorf("localfs: list: %w", err)
	}
	base := s.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		base = s.path(prefix[:i])
	}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == base && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll // nothing stored under the prefix
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked
			}
			return translate("list", prefix, err)
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("localfs: list %q: %w", prefix, cerr)
		}
		if p == base {
			return nil
		}
		rel, rerr := filepath.Rel(s.root, p)
		if rerr != nil {
			return fmt.Errorf("localfs: list %q: %w", prefix, rerr)
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			// Prune directories that cannot hold a matching valid name.
			if blob.ValidPrefix(name+"/") != nil || !couldMatch(name+"/", prefix) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(name, prefix) || blob.ValidName(name) != nil {
			return nil
		}
		fi, ierr := d.Info()
		if ierr != nil {
			if errors.Is(ierr, fs.ErrNotExist) {
				return nil
			}
			return translate("list", prefix, ierr)
		}
		if err := fn(blob.Info{Name: name, Size: fi.Size()}); err != nil {
			return callbackError{err}
		}
		return nil
	})
	var cb callbackError
	if errors.As(err, &cb) {
		return cb.error
	}
	return err
}

// couldMatch reports whether a name under directory dir (ending in "/")
// could start with prefix.
func couldMatch(dir, prefix string) bool {
	return strings.HasPrefix(dir, prefix) || strings.HasPrefix(prefix, dir)
}

// callbackError marks an error returned by List's fn so that List returns
// it as it is, untranslated.
type callbackError struct{ error }

// Sweep removes temp files under Root older than Options.TempMaxAge, which
// a crash or kill in the middle of a write left behind, and returns how
// many it removed. It is safe to run while the store is in use.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	cutoff := s.opts.Clock.Now().Add(-s.opts.TempMaxAge)
	removed := 0
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !fi.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		removed++
		return nil
	})
	if removed > 0 {
		s.opts.Logger.Info("localfs: removed stale temp files", "root", s.root, "count", removed)
	}
	if err != nil {
		if ctx.Err() != nil {
			return removed, fmt.Errorf("localfs: sweep %s: %w", s.root, err)
		}
		return removed, translate("sweep", s.root, err)
	}
	return removed, nil
}

// translate is the one place that maps file-system errors to blob's
// sentinels; see the package comment for the table. op and name only
// decorate the message.
func translate(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("localfs: %s %q: %w: %w", op, name, blob.ErrNotFound, err)
		}
		return fmt.Errorf("localfs: %s %q: %w", op, name, err)
	}
	write := op == "put" || op == "put-if-absent" || op == "create root"
	switch errno {
	case syscall.ENOENT:
		if write {
			return fmt.Errorf("localfs: %s %q: a directory vanished during the write: %w", op, name, err)
		}
		return fmt.Errorf("localfs: %s %q: %w: %w", op, name, blob.ErrNotFound, err)
	case syscall.ENOTDIR:
		if write {
			return fmt.Errorf("localfs: %s %q: an element of the name is an object, not a directory: %w", op, name, err)
		}
		return fmt.Errorf("localfs: %s %q: %w: %w", op, name, blob.ErrNotFound, err)
	case syscall.EEXIST:
		if op == "put-if-absent" {
			return fmt.Errorf("localfs: %s %q: %w: %w", op, name, blob.ErrExists, err)
		}
	case syscall.ENOSPC, syscall.EDQUOT:
		return fmt.Errorf("localfs: %s %q: %w: %w", op, name, blob.ErrNoSpace, err)
	case syscall.ETIMEDOUT, syscall.ENOTCONN, syscall.EAGAIN, syscall.EINTR, syscall.EMFILE, syscall.ENFILE, syscall.ESTALE:
		return fmt.Errorf("localfs: %s %q: %w: %w", op, name, blob.ErrUnavailable, err)
	case syscall.EACCES, syscall.EPERM:
		return fmt.Errorf("localfs: %s %q: permission denied (check the owner and mode of the store's directories): %w", op, name, err)
	case syscall.EROFS:
		return fmt.Errorf("localfs: %s %q: the file system is mounted read-only: %w", op, name, err)
	case syscall.EIO:
		return fmt.Errorf("localfs: %s %q: I/O error from the disk (check the kernel log; the device may be failing): %w", op, name, err)
	case syscall.EISDIR:
		return fmt.Errorf("localfs: %s %q: the name is a directory holding other objects: %w", op, name, err)
	}
	return fmt.Errorf("localfs: %s %q: %w", op, name, err)
}
