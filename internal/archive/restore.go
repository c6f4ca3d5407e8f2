package archive

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer/coffer/internal/archive/tree"
	"github.com/coffer/coffer/internal/clock"
	"golang.org/x/sys/unix"
)

// RestoreOptions configure a restore.
type RestoreOptions struct {
	// Include lists paths (relative to the snapshot root, slash-separated)
	// of files or subtrees to restore, with their parent directories. Empty
	// means everything. Every path is resolved before anything is written.
	Include []string
	// Overwrite replaces existing files in the target; without it an
	// existing file fails the restore with ErrExists. Existing directories
	// are always merged into.
	Overwrite bool
	// RootMeta gives the target directory the backed-up root's mode, owner
	// and mtime (full restores of tree snapshots only: a restore into a new
	// file system).
	RootMeta bool
	// NoOwners skips restoring owners. Owners are restored only when the
	// process runs as root.
	NoOwners bool
	// Concurrency is the number of packs fetched at once (default 2×CPUs).
	Concurrency int
	// Progress, ProgressInterval, Clock and Logger as in Options.
	Progress         func(Progress)
	ProgressInterval time.Duration
	Clock            clock.Clock
	Logger           *slog.Logger
}

// RestoreStats count what a restore did.
type RestoreStats struct {
	Files, Dirs, Symlinks, Hardlinks int64
	Bytes                            int64 // content bytes written (holes excluded)
	Size                             int64 // content bytes of the restored files
	BlobsLoaded, PacksRead           int64
	TreesLoaded                      int64
}

type rfile struct {
	rel       string
	node      *tree.Node
	remaining atomic.Int64
	once      sync.Once
	createErr error
}

type blobTarget struct {
	f   *rfile
	off int64
	n   int64 // extent length: the blob's plaintext must be this long
}

type restorer struct {
	ctx    context.Context
	r      Repo
	opts   RestoreOptions
	rootfd int
	owners bool
	log    *slog.Logger

	tmu         sync.Mutex
	trees       map[ID]*treeFuture // loaded or being loaded
	prefetch    chan struct{}      // bounds concurrent prefetches
	pwg         sync.WaitGroup     // prefetch goroutines
	blobs       map[ID][]blobTarget
	dirs        []dirMeta
	links       []linkJob
	primary     map[string]string // hard-link target path in snapshot → restored rel path
	fds         *fdCache          // files being written
	dirfds      *fdCache          // their directories (O_PATH)
	stats       RestoreStats
	size        atomic.Int64
	total       atomic.Int64 // files planned
	dataTotal   atomic.Int64 // bytes to write (holes excluded)
	scanned     atomic.Bool  // all trees walked
	written     atomic.Int64
	treesLoaded atomic.Int64
	done        atomic.Int64
	loaded      atomic.Int64
	packs       atomic.Int64
	errMu       sync.Mutex
	errs        []error
	moreErrs    int
	cancel      context.CancelFunc // stops the restore (set by RestoreTree)
	rootTree    *tree.Tree
	root        ID
}

type dirMeta struct {
	rel  string
	node *tree.Node
}

type linkJob struct {
	rel    string
	target string // restored rel path of the first name
	node   *tree.Node
}

// resolved is one include path found in the snapshot.
type resolved struct {
	parts   []string
	parents []*tree.Node // directory nodes on the way, not including node
	node    *tree.Node
}

// ResolvePath finds one path in a tree snapshot, loading only the trees on
// the way. It returns ErrInvalidPath or ErrPathNotFound (in a *PathError)
// for a bad or missing path.
func ResolvePath(ctx context.Context, r Repo, root ID, p string) (*tree.Node, error) {
	rs := &restorer{ctx: ctx, r: r, trees: map[ID]*treeFuture{}}
	res, err := rs.resolve(root, p)
	if err != nil {
		return nil, err
	}
	return res.node, nil
}

// ValidateIncludes checks include paths against a tree snapshot without
// writing anything, as Restore does first: each must be well formed, must
// not pass through a symlink, and must exist. The first bad path is
// returned as a *PathError wrapping ErrInvalidPath or ErrPathNotFound.
func ValidateIncludes(ctx context.Context, r Repo, snapID ID, paths []string) error {
	snap, err := r.LoadSnapshot(ctx, snapID)
	if err != nil {
		return fmt.Errorf("load snapshot %s: %w", snapID.Short(), err)
	}
	if snap.Kind != KindTree {
		return fmt.Errorf("snapshot %s: %w: kind %q, want %q", snapID.Short(), ErrWrongKind, snap.Kind, KindTree)
	}
	rs := &restorer{ctx: ctx, r: r, trees: map[ID]*treeFuture{}}
	for _, p := range paths {
		if _, err := rs.resolve(snap.Root, p); err != nil {
			return err
		}
	}
	return nil
}

// treeFuture is a tree blob being loaded.
type treeFuture struct {
	done chan struct{}
	t    *tree.Tree
	err  error
}

// tree returns a decoded tree blob, loading it (once) if needed.
func (rs *restorer) tree(id ID, p string) (*tree.Tree, error) {
	rs.tmu.Lock()
	f, ok := rs.trees[id]
	if !ok {
		f = &treeFuture{done: make(chan struct{})}
		rs.trees[id] = f
	}
	rs.tmu.Unlock()
	if !ok {
		rs.load(f, id, p)
	}
	select {
	case <-f.done:
		return f.t, f.err
	case <-rs.ctx.Done():
		return nil, rs.ctx.Err()
	}
}

func (rs *restorer) load(f *treeFuture, id ID, p string) {
	f.t, f.err = loadTree(rs.ctx, rs.r, id, p)
	if f.err == nil {
		rs.treesLoaded.Add(1)
	}
	close(f.done)
}

// prefetchTrees starts loading the subtrees of t in the background (at
// most cap(rs.prefetch) at once), so that walking a large tree from slow
// storage does not wait for one tree at a time.
func (rs *restorer) prefetchTrees(t *tree.Tree, rel string) {
	if rs.prefetch == nil {
		return
	}
	for i := range t.Nodes {
		n := &t.Nodes[i]
		if n.Type != tree.Dir {
			continue
		}
		rs.tmu.Lock()
		_, ok := rs.trees[n.Subtree]
		var f *treeFuture
		if !ok {
			f = &treeFuture{done: make(chan struct{})}
			rs.trees[n.Subtree] = f
		}
		rs.tmu.Unlock()
		if ok {
			continue
		}
		id, p := n.Subtree, joinPath(rel, n.Name)
		rs.pwg.Add(1)
		go func() {
			defer rs.pwg.Done()
			select {
			case rs.prefetch <- struct{}{}:
				rs.load(f, id, p)
				<-rs.prefetch
			case <-rs.ctx.Done():
				f.err = rs.ctx.Err()
				close(f.done)
			}
		}()
	}
}

func (rs *restorer) resolve(root ID, p string) (*resolved, error) {
	parts, err := tree.SplitPath(p)
	if err != nil {
		return nil, &PathError{Op: "resolve", Path: p, Err: fmt.Errorf("%w: %w", ErrInvalidPath, err)}
	}
	res := &resolved{parts: parts}
	cur := root
	for i, name := range parts {
		t, err := rs.tree(cur, strings.Join(parts[:i], "/"))
		if err != nil {
			return nil, &PathError{Op: "resolve", Path: p, Err: err}
		}
		n, ok := t.Find(name)
		if !ok {
			return nil, &PathError{Op: "resolve", Path: p, Err: ErrPathNotFound}
		}
		if i == len(parts)-1 {
			res.node = n
			break
		}
		switch n.Type {
		case tree.Dir:
			res.parents = append(res.parents, n)
			cur = n.Subtree
		case tree.Symlink:
			return nil, &PathError{Op: "resolve", Path: p, Err: fmt.Errorf("%w: %q is a symlink; paths must not pass through symlinks", ErrInvalidPath, strings.Join(parts[:i+1], "/"))}
		default:
			return nil, &PathError{Op: "resolve", Path: p, Err: fmt.Errorf("%w: %q is not a directory", ErrPathNotFound, strings.Join(parts[:i+1], "/"))}
		}
	}
	return res, nil
}

// Restore restores a tree snapshot (all of it, or opts.Include) into the
// directory target, creating it if needed. It never follows a symlink in the
// target while writing and never writes outside it. On error, whatever was
// written stays inside target.
func Restore(ctx context.Context, r Repo, snapID ID, target string, opts RestoreOptions) (*RestoreStats, error) {
	snap, err := r.LoadSnapshot(ctx, snapID)
	if err != nil {
		return nil, fmt.Errorf("load snapshot %s: %w", snapID.Short(), err)
	}
	if snap.Kind != KindTree {
		return nil, fmt.Errorf("snapshot %s: %w: kind %q, want %q", snapID.Short(), ErrWrongKind, snap.Kind, KindTree)
	}
	st, err := RestoreTree(ctx, r, snap.Root, target, opts)
	if err != nil || !opts.RootMeta || len(opts.Include) > 0 {
		return st, err
	}
	return st, applyRootMeta(target, snap.Meta, unix.Geteuid() == 0 && !opts.NoOwners)
}

// applyRootMeta gives target the recorded mode, owner and mtime of the
// backed-up root directory.
func applyRootMeta(target string, meta map[string]string, owners bool) error {
	n := &tree.Node{}
	mode, err := strconv.ParseUint(meta[MetaRootMode], 8, 32)
	if err != nil {
		return nil // an older snapshot without root metadata
	}
	n.Mode = uint32(mode)
	if uid, gid, ok := strings.Cut(meta[MetaRootOwner], ":"); ok {
		u, _ := strconv.ParseUint(uid, 10, 32)
		g, _ := strconv.ParseUint(gid, 10, 32)
		n.UID, n.GID = uint32(u), uint32(g)
	} else {
		owners = false
	}
	n.Mtime, _ = strconv.ParseInt(meta[MetaRootMtime], 10, 64)
	n.Atime = n.Mtime
	fd, err := unix.Open(target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &PathError{Op: "restore", Path: target, Err: err}
	}
	defer unix.Close(fd)
	if err := applyMeta(fd, n, owners); err != nil {
		return &PathError{Op: "restore", Path: target, Err: err}
	}
	return nil
}

// RestoreTree is Restore given the root tree ID.
func RestoreTree(ctx context.Context, r Repo, root ID, target string, opts RestoreOptions) (*RestoreStats, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	rs := &restorer{
		ctx: ctx, r: r, opts: opts, log: opts.Logger,
		owners:   unix.Geteuid() == 0 && !opts.NoOwners,
		trees:    map[ID]*treeFuture{},
		prefetch: make(chan struct{}, 8),
		blobs:    map[ID][]blobTarget{},
		primary:  map[string]string{},
		root:     root,
	}
	rs.cancel = cancel
	defer func() { cancel(); rs.pwg.Wait() }()

	// 1. Resolve every include path before writing anything.
	var incs []*resolved
	for _, p := range opts.Include {
		res, err := rs.resolve(root, p)
		if err != nil {
			return nil, err
		}
		incs = append(incs, res)
	}
	incs = dropCovered(incs)
	rootTree, err := rs.tree(root, "")
	if err != nil {
		return nil, err
	}
	rs.rootTree = rootTree

	// 2. The target.
	if err := os.MkdirAll(target, 0o700); err != nil {
		return nil, fmt.Errorf("restore target: %w", err)
	}
	rootfd, err := unix.Open(target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("restore target %s: %w", target, err)
	}
	defer unix.Close(rootfd)
	rs.rootfd = rootfd
	rs.fds = newFDCache(rootfd, unix.O_WRONLY, 256)
	defer rs.fds.closeAll()
	rs.dirfds = newFDCache(rootfd, unix.O_PATH|unix.O_DIRECTORY, 64)
	defer rs.dirfds.closeAll()

	// Refuse early when a top-level entry already exists.
	if !opts.Overwrite {
		var tops []string
		if len(incs) == 0 {
			for i := range rootTree.Nodes {
				tops = append(tops, rootTree.Nodes[i].Name)
			}
		} else {
			for _, in := range incs {
				tops = append(tops, strings.Join(in.parts, "/"))
			}
		}
		for _, p := range tops {
			var st unix.Stat_t
			fd, err := openBeneath(rootfd, path.Dir(p), unix.O_PATH|unix.O_DIRECTORY, 0)
			if err != nil {
				continue // parent missing: nothing there
			}
			err = unix.Fstatat(fd, path.Base(p), &st, unix.AT_SYMLINK_NOFOLLOW)
			unix.Close(fd)
			if err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return nil, &PathError{Op: "restore", Path: p, Err: ErrExists}
			}
		}
	}

	progDone := make(chan struct{})
	var progWG sync.WaitGroup
	if opts.Progress != nil {
		progWG.Add(1)
		go func() {
			defer progWG.Done()
			for {
				select {
				case <-progDone:
					return
				case <-opts.Clock.After(opts.ProgressInterval):
					opts.Progress(rs.progress())
				}
			}
		}()
	}
	defer func() { close(progDone); progWG.Wait() }()

	// 3. Directories, symlinks and empty files; plan the data.
	if len(incs) == 0 {
		if err := rs.restoreDir("", rootfd, rootTree); err != nil {
			return &rs.stats, rs.firstErr(err)
		}
	} else {
		for _, in := range incs {
			if err := rs.restoreInclude(in); err != nil {
				return &rs.stats, rs.firstErr(err)
			}
		}
	}
	rs.scanned.Store(true)
	// 4. File content, packs fetched concurrently.
	if err := rs.fetchData(); err != nil {
		return &rs.stats, rs.firstErr(err)
	}
	// 5. Hard links, then directory metadata deepest first.
	for _, l := range rs.links {
		if err := rs.link(l); err != nil {
			rs.fail(err)
		}
	}
	sort.SliceStable(rs.dirs, func(i, j int) bool {
		return strings.Count(rs.dirs[i].rel, "/") > strings.Count(rs.dirs[j].rel, "/")
	})
	for _, d := range rs.dirs {
		fd, err := openBeneath(rootfd, d.rel, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			rs.fail(&PathError{Op: "restore", Path: d.rel, Err: err})
			continue
		}
		if err := applyMeta(fd, d.node, rs.owners); err != nil {
			rs.fail(&PathError{Op: "restore", Path: d.rel, Err: err})
		}
		unix.Close(fd)
	}
	rs.stats.Bytes = rs.written.Load()
	rs.stats.Size = rs.size.Load()
	rs.stats.BlobsLoaded = rs.loaded.Load()
	rs.stats.PacksRead = rs.packs.Load()
	rs.stats.TreesLoaded = rs.treesLoaded.Load()
	if opts.Progress != nil {
		opts.Progress(rs.progress())
	}
	if err := rs.err(); err != nil {
		return &rs.stats, err
	}
	return &rs.stats, ctx.Err()
}

func (rs *restorer) progress() Progress {
	return Progress{
		FilesDone: rs.done.Load(), BytesDone: rs.written.Load(),
		FilesTotal: rs.total.Load(), BytesTotal: rs.dataTotal.Load(), ScanDone: rs.scanned.Load(),
		BytesRead: rs.written.Load(),
	}
}

// maxErrors is how many restore errors are kept; the rest are counted (a
// full disk fails every later file). Every one is logged.
const maxErrors = 20

// fail records a failure. Each is logged as a warning, so that the log
// names every file a restore could not write even when the error (which
// keeps maxErrors of them) cannot: one damaged group record can fail many
// small files.
func (rs *restorer) fail(err error) {
	if rs.cancel != nil && (errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)) {
		rs.cancel() // a full target fails every later file: stop
	}
	if rs.log != nil {
		rs.log.Warn("restore: not restored", "err", err)
	}
	rs.errMu.Lock()
	if len(rs.errs) < maxErrors {
		rs.errs = append(rs.errs, err)
	} else {
		rs.moreErrs++
	}
	rs.errMu.Unlock()
}

// firstErr prefers the recorded errors (the cause) over err (often only
// the cancellation they caused).
func (rs *restorer) firstErr(err error) error {
	if e := rs.err(); e != nil {
		return e
	}
	return err
}

// err returns the restore's errors, or nil.
func (rs *restorer) err() error {
	rs.errMu.Lock()
	defer rs.errMu.Unlock()
	errs := rs.errs
	if rs.moreErrs > 0 {
		errs = append(errs[:len(errs):len(errs)], fmt.Errorf("... and %d more errors", rs.moreErrs))
	}
	return errors.Join(errs...)
}

// dropCovered removes include paths inside other include paths.
func dropCovered(incs []*resolved) []*resolved {
	sort.Slice(incs, func(i, j int) bool { return len(incs[i].parts) < len(incs[j].parts) })
	var out []*resolved
	for _, in := range incs {
		p := strings.Join(in.parts, "/")
		covered := false
		for _, o := range out {
			q := strings.Join(o.parts, "/")
			if p == q || strings.HasPrefix(p, q+"/") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, in)
		}
	}
	// Restore in the snapshot's depth-first name order, so that the first
	// name of a hard-linked inode comes before its other names.
	sort.Slice(out, func(i, j int) bool { return lessParts(out[i].parts, out[j].parts) })
	return out
}

func lessParts(a, b []string) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// restoreInclude creates the parent directories of one include path, then
// restores the node.
func (rs *restorer) restoreInclude(in *resolved) error {
	dirfd, err := unix.Dup(rs.rootfd)
	if err != nil {
		return err
	}
	rel := ""
	for i, pn := range in.parents {
		rel = joinPath(rel, in.parts[i])
		fd, err := rs.mkdir(dirfd, in.parts[i], rel)
		unix.Close(dirfd)
		if err != nil {
			return err
		}
		dirfd = fd
		if !rs.hasDir(rel) {
			rs.dirs = append(rs.dirs, dirMeta{rel: rel, node: pn})
		}
	}
	defer unix.Close(dirfd)
	return rs.restoreNode(dirfd, joinPath(rel, in.node.Name), in.node)
}

func (rs *restorer) hasDir(rel string) bool {
	for _, d := range rs.dirs {
		if d.rel == rel {
			return true
		}
	}
	return false
}

// mkdir creates (or reuses) a directory and opens it.
func (rs *restorer) mkdir(dirfd int, name, rel string) (int, error) {
	err := unix.Mkdirat(dirfd, name, 0o700)
	if err != nil && err != unix.EEXIST {
		return -1, &PathError{Op: "restore", Path: rel, Err: err}
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOTDIR || err == unix.ELOOP {
			return -1, &PathError{Op: "restore", Path: rel, Err: fmt.Errorf("%w: not a directory", ErrExists)}
		}
		return -1, &PathError{Op: "restore", Path: rel, Err: err}
	}
	return fd, nil
}

func (rs *restorer) restoreDir(rel string, dirfd int, t *tree.Tree) error {
	rs.prefetchTrees(t, rel)
	for i := range t.Nodes {
		if err := rs.ctx.Err(); err != nil {
			return err
		}
		n := &t.Nodes[i]
		if err := rs.restoreNode(dirfd, joinPath(rel, n.Name), n); err != nil {
			return err
		}
	}
	return nil
}

func (rs *restorer) restoreNode(dirfd int, rel string, n *tree.Node) error {
	switch n.Type {
	case tree.Dir:
		fd, err := rs.mkdir(dirfd, n.Name, rel)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		rs.stats.Dirs++
		rs.dirs = append(rs.dirs, dirMeta{rel: rel, node: n})
		t, err := rs.tree(n.Subtree, rel)
		if err != nil {
			return err
		}
		return rs.restoreDir(rel, fd, t)
	case tree.Symlink:
		err := unix.Symlinkat(n.Target, dirfd, n.Name)
		if err == unix.EEXIST && rs.opts.Overwrite {
			if err = unix.Unlinkat(dirfd, n.Name, 0); err == nil {
				err = unix.Symlinkat(n.Target, dirfd, n.Name)
			}
		}
		if err != nil {
			if err == unix.EEXIST {
				err = ErrExists
			}
			return &PathError{Op: "restore", Path: rel, Err: err}
		}
		rs.stats.Symlinks++
		if err := applyLinkMeta(dirfd, n.Name, n, rs.owners); err != nil {
			rs.fail(&PathError{Op: "restore", Path: rel, Err: err})
		}
		return nil
	case tree.Hardlink:
		if first, ok := rs.primary[n.Target]; ok {
			rs.links = append(rs.links, linkJob{rel: rel, target: first, node: n})
			return nil
		}
		// The first name is outside what is restored: restore this name as
		// the file, and link later names to it.
		pn, err := rs.resolve(rs.root, n.Target)
		if err != nil || pn.node.Type != tree.File {
			return &PathError{Op: "restore", Path: rel, Err: fmt.Errorf("hard link target %q not found in snapshot", n.Target)}
		}
		c := *pn.node
		c.Name = n.Name
		rs.primary[n.Target] = rel
		return rs.createFile(dirfd, rel, &c)
	case tree.File:
		rs.primary[rel] = rel
		return rs.createFile(dirfd, rel, n)
	default:
		return &PathError{Op: "restore", Path: rel, Err: fmt.Errorf("unknown node type %d", n.Type)}
	}
}

// createFile plans a file's content. A file with data is created by the
// first worker that writes to it (so that creating thousands of small
// files runs in parallel with fetching); an empty or all-hole file is
// created here.
func (rs *restorer) createFile(dirfd int, rel string, n *tree.Node) error {
	f := &rfile{rel: rel, node: n}
	var pending, off int64
	for _, e := range n.Content {
		if !e.Hole {
			pending++
			rs.blobs[e.ID] = append(rs.blobs[e.ID], blobTarget{f: f, off: off, n: e.Length})
			rs.dataTotal.Add(e.Length)
		}
		off += e.Length
	}
	f.remaining.Store(pending)
	rs.total.Add(1)
	rs.stats.Files++
	rs.size.Add(n.Size)
	if pending > 0 {
		return nil
	}
	fd, err := rs.create(dirfd, rel, n)
	if err != nil {
		return err
	}
	err = applyMeta(fd, n, rs.owners)
	unix.Close(fd)
	rs.done.Add(1)
	if err != nil {
		rs.fail(&PathError{Op: "restore", Path: rel, Err: err})
	}
	return nil
}

// create makes a new file of the node's size in the directory dirfd (never
// following a symlink, replacing an existing file only with Overwrite).
func (rs *restorer) create(dirfd int, rel string, n *tree.Node) (int, error) {
	name := path.Base(rel)
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, name, flags, 0o600)
	if err == unix.EEXIST && rs.opts.Overwrite {
		var st unix.Stat_t
		if e := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); e == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if e := unix.Unlinkat(dirfd, name, 0); e == nil {
				fd, err = unix.Openat(dirfd, name, flags, 0o600)
			}
		}
	}
	if err != nil {
		if err == unix.EEXIST {
			err = ErrExists
		}
		return -1, &PathError{Op: "restore", Path: rel, Err: err}
	}
	// The writes give the file its size unless it ends in a hole.
	if c := n.Content; len(c) == 0 || c[len(c)-1].Hole {
		if err := unix.Ftruncate(fd, n.Size); err != nil {
			unix.Close(fd)
			return -1, &PathError{Op: "restore", Path: rel, Err: err}
		}
	}
	return fd, nil
}

// errReported marks a file whose creation already failed (and was
// reported once).
var errReported = errors.New("already reported")

// ensureCreated creates a planned file on first use.
func (rs *restorer) ensureCreated(f *rfile) error {
	first := false
	f.once.Do(func() {
		first = true
		dir := path.Dir(f.rel)
		dirfd, err := rs.dirfds.get(dir)
		if err != nil {
			f.createErr = &PathError{Op: "restore", Path: f.rel, Err: err}
			return
		}
		defer rs.dirfds.release(dir)
		fd, err := rs.create(dirfd, f.rel, f.node)
		if err != nil {
			f.createErr = err
			return
		}
		rs.fds.put(f.rel, fd)
	})
	if f.createErr != nil && !first {
		return errReported
	}
	return f.createErr
}

func (rs *restorer) link(l linkJob) error {
	odir, err := openBeneath(rs.rootfd, path.Dir(l.target), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return &PathError{Op: "restore", Path: l.rel, Err: err}
	}
	defer unix.Close(odir)
	ndir, err := openBeneath(rs.rootfd, path.Dir(l.rel), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return &PathError{Op: "restore", Path: l.rel, Err: err}
	}
	defer unix.Close(ndir)
	err = unix.Linkat(odir, path.Base(l.target), ndir, path.Base(l.rel), 0)
	if err == unix.EEXIST && rs.opts.Overwrite {
		if err = unix.Unlinkat(ndir, path.Base(l.rel), 0); err == nil {
			err = unix.Linkat(odir, path.Base(l.target), ndir, path.Base(l.rel), 0)
		}
	}
	if err != nil {
		if err == unix.EEXIST {
			err = ErrExists
		}
		return &PathError{Op: "restore", Path: l.rel, Err: err}
	}
	rs.stats.Hardlinks++
	return nil
}

type packPlan struct {
	pack  ID
	blobs []BlobLocation
}

// fetchData reads every needed blob, grouped by pack, with
// opts.Concurrency packs in flight, and writes it to the files that need
// it.
func (rs *restorer) fetchData() error {
	if len(rs.blobs) == 0 {
		return nil
	}
	byPack := map[ID]*packPlan{}
	var order []*packPlan
	for id, targets := range rs.blobs {
		loc, ok := rs.r.Lookup(tree.DataBlob, id)
		if !ok {
			rs.fail(&BlobError{Path: targets[0].f.rel, Type: tree.DataBlob, ID: id, Err: ErrBlobNotFound})
			continue
		}
		p := byPack[loc.Pack]
		if p == nil {
			p = &packPlan{pack: loc.Pack}
			byPack[loc.Pack] = p
			order = append(order, p)
		}
		p.blobs = append(p.blobs, loc)
	}
	for _, p := range order {
		sort.Slice(p.blobs, func(i, j int) bool { return p.blobs[i].Offset < p.blobs[j].Offset })
	}
	sort.Slice(order, func(i, j int) bool { return order[i].blobs[0].Offset < order[j].blobs[0].Offset })

	ch := make(chan *packPlan)
	var wg sync.WaitGroup
	for i := 0; i < rs.opts.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ch {
				rs.fetchPack(p)
			}
		}()
	}
	for _, p := range order {
		if rs.ctx.Err() != nil {
			break
		}
		ch <- p
	}
	close(ch)
	wg.Wait()
	return rs.ctx.Err()
}

func (rs *restorer) fetchPack(p *packPlan) {
	rs.packs.Add(1)
	delivered := make(map[ID]bool, len(p.blobs))
	err := rs.r.ReadPackBlobs(rs.ctx, p.pack, p.blobs, func(loc BlobLocation, data []byte) error {
		delivered[loc.ID] = true
		rs.loaded.Add(1)
		rs.write(loc.ID, data)
		return nil
	})
	if err == nil || rs.ctx.Err() != nil {
		return
	}
	// Pinpoint the damage blob by blob; everything readable is still written.
	for _, loc := range p.blobs {
		if delivered[loc.ID] {
			continue
		}
		data, lerr := rs.r.LoadBlob(rs.ctx, tree.DataBlob, loc.ID, nil)
		if lerr != nil {
			targets := rs.blobs[loc.ID]
			for _, t := range targets {
				rs.fail(&BlobError{Path: t.f.rel, Type: tree.DataBlob, ID: loc.ID, Err: lerr})
				break
			}
			if len(targets) > 1 {
				rs.log.Warn("damaged blob is shared", "blob", loc.ID.String(), "files", len(targets))
			}
			continue
		}
		rs.loaded.Add(1)
		rs.write(loc.ID, data)
	}
}

// write puts one blob's data at every place that needs it.
func (rs *restorer) write(id ID, data []byte) {
	for _, t := range rs.blobs[id] {
		if int64(len(data)) != t.n {
			rs.fail(&BlobError{Path: t.f.rel, Type: tree.DataBlob, ID: id,
				Err: fmt.Errorf("%d bytes, the snapshot says %d", len(data), t.n)})
			continue
		}
		if err := rs.writeAt(t.f, data, t.off); err != nil {
			if err != errReported {
				rs.fail(err)
			}
			continue
		}
		if t.f.remaining.Add(-1) == 0 {
			rs.finish(t.f)
		}
	}
}

func (rs *restorer) writeAt(f *rfile, data []byte, off int64) error {
	if err := rs.ensureCreated(f); err != nil {
		return err
	}
	fd, err := rs.fds.get(f.rel)
	if err != nil {
		return &PathError{Op: "restore", Path: f.rel, Err: err}
	}
	defer rs.fds.release(f.rel)
	for len(data) > 0 {
		n, err := unix.Pwrite(fd, data, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &PathError{Op: "restore", Path: f.rel, Err: err}
		}
		data = data[n:]
		off += int64(n)
		rs.written.Add(int64(n))
	}
	return nil
}

func (rs *restorer) finish(f *rfile) {
	fd, err := rs.fds.get(f.rel)
	if err != nil {
		rs.fail(&PathError{Op: "restore", Path: f.rel, Err: err})
		return
	}
	if err := applyMeta(fd, f.node, rs.owners); err != nil {
		rs.fail(&PathError{Op: "restore", Path: f.rel, Err: err})
	}
	rs.fds.release(f.rel)
	rs.fds.drop(f.rel)
	rs.done.Add(1)
}

// fdCache keeps a bounded number of restored files open for writing.
type fdCache struct {
	rootfd int
	flags  int // how entries are opened
	max    int
	mu     sync.Mutex
	m      map[string]*list.Element
	lru    *list.List // of *fdEntry, front = most recent
}

type fdEntry struct {
	rel  string
	fd   int
	refs int
}

func newFDCache(rootfd, flags, max int) *fdCache {
	return &fdCache{rootfd: rootfd, flags: flags, max: max, m: map[string]*list.Element{}, lru: list.New()}
}

func (c *fdCache) put(rel string, fd int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[rel] = c.lru.PushFront(&fdEntry{rel: rel, fd: fd})
	c.evict()
}

func (c *fdCache) evict() {
	for e := c.lru.Back(); e != nil && c.lru.Len() > c.max; {
		prev := e.Prev()
		ent := e.Value.(*fdEntry)
		if ent.refs == 0 {
			unix.Close(ent.fd)
			c.lru.Remove(e)
			delete(c.m, ent.rel)
		}
		e = prev
	}
}

func (c *fdCache) get(rel string) (int, error) {
	c.mu.Lock()
	if e, ok := c.m[rel]; ok {
		ent := e.Value.(*fdEntry)
		ent.refs++
		c.lru.MoveToFront(e)
		c.mu.Unlock()
		return ent.fd, nil
	}
	c.mu.Unlock()
	fd, err := openBeneath(c.rootfd, rel, c.flags, 0)
	if err != nil {
		return -1, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[rel]; ok { // opened concurrently
		unix.Close(fd)
		ent := e.Value.(*fdEntry)
		ent.refs++
		return ent.fd, nil
	}
	c.m[rel] = c.lru.PushFront(&fdEntry{rel: rel, fd: fd, refs: 1})
	c.evict()
	return fd, nil
}

func (c *fdCache) release(rel string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[rel]; ok {
		e.Value.(*fdEntry).refs--
	}
}

func (c *fdCache) drop(rel string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[rel]; ok {
		ent := e.Value.(*fdEntry)
		if ent.refs == 0 {
			unix.Close(ent.fd)
			c.lru.Remove(e)
			delete(c.m, rel)
		}
	}
}

func (c *fdCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.lru.Front(); e != nil; e = e.Next() {
		unix.Close(e.Value.(*fdEntry).fd)
	}
	c.m = map[string]*list.Element{}
	c.lru.Init()
}
