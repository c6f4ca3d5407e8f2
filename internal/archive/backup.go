package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer/coffer/internal/archive/tree"
	"github.com/coffer/coffer/internal/clock"
	"github.com/pkg/xattr"
	"golang.org/x/sys/unix"
)

// Snapshot Meta keys of tree snapshots: the backed-up root directory's own
// metadata (its entries are in the root tree).
const (
	MetaRootMode  = "coffer.root.mode"  // octal permission bits
	MetaRootOwner = "coffer.root.owner" // "uid:gid"
	MetaRootMtime = "coffer.root.mtime" // Unix ns
)

// Options configure a backup.
type Options struct {
	// Parent is the snapshot to compare with: files whose size, mtime,
	// ctime, inode and mode are unchanged reuse its content without being
	// read. Nil means a full backup.
	Parent *ID
	// Hostname, Tags and Meta are recorded in the snapshot.
	Hostname string
	Tags     map[string]string
	Meta     map[string]string
	// SkipUnreadable turns an unreadable file or directory into a Warning
	// (the entry is left out) instead of failing the backup.
	SkipUnreadable bool
	// Concurrency is the number of small files read at once (default
	// 2×CPUs); large files are read by one more worker per CPU.
	Concurrency int
	// Progress, if set, is called every ProgressInterval (default 1 s) and
	// once at the end, from a goroutine the backup owns.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// Clock stamps the snapshot (default clock.Real{}).
	Clock clock.Clock
	// Logger (default: discard).
	Logger *slog.Logger
	// BeforeOpen, if set, is called with the absolute path of every file
	// and directory before it is opened for reading; an error is treated
	// like an open error. It lets tests count reads and inject failures.
	BeforeOpen func(path string) error
}

// Progress is a backup's or restore's live state.
type Progress struct {
	FilesDone  int64 // files finished (read, reused or restored)
	BytesDone  int64 // their content bytes
	FilesTotal int64 // files discovered so far (the total once ScanDone)
	BytesTotal int64
	ScanDone   bool
	BytesRead  int64 // bytes actually read from the source or repository
	BytesNew   int64 // plaintext bytes of blobs the repository did not have
}

// Warning is something a backup could not capture exactly.
type Warning struct {
	Path    string // relative to the backup root
	Message string
}

func (w Warning) String() string { return quote(w.Path) + ": " + w.Message }

// Stats count what a backup did.
type Stats struct {
	Files, Dirs, Symlinks, Hardlinks int64
	FilesNew                         int64 // not in the parent
	FilesChanged                     int64 // in the parent, re-read
	FilesUnchanged                   int64 // reused from the parent without reading
	Size                             int64 // content bytes of all files
	BytesRead                        int64 // content bytes read from the source
	DataBlobsNew, TreeBlobsNew       int64
	BytesNew                         int64 // plaintext bytes of new data blobs
}

// Result is a committed backup.
type Result struct {
	ID       ID
	Snapshot *Snapshot
	Warnings []Warning
	Stats    Stats
}

type devIno struct{ dev, ino uint64 }

type backup struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	r      Repo
	opts   Options
	log    *slog.Logger
	names  nameCache

	minChunk int
	// The walk queues small files on fileCh, up to walkAhead ahead of the
	// readers; prefetcher moves them to readyCh, starting their reads,
	// for the workers. Large files go to bigCh and workers of their own,
	// so that they do not wait behind thousands of small files and their
	// reading and writing (bound by the disk) overlap the compression of
	// small files (bound by the CPU). The walk used to reach the engine
	// data set's large files only for the backup's last second, with half
	// the CPU idle; this saved about 0.2 s (4%) of a cold first backup.
	fileCh, readyCh, bigCh chan fileJob

	errOnce sync.Once
	err     error

	warnMu   sync.Mutex
	warnings []Warning

	hlMu    sync.Mutex
	hlCands map[devIno][]hlCand // regular files with more than one link

	qmu         sync.Mutex
	qcond       *sync.Cond
	queue       []dirTask     // directories waiting to be listed (a stack: depth first)
	outstanding int           // queued or being listed
	smallBufs   sync.Pool     // of *[]byte, for files read whole
	bigSem      chan struct{} // bounds concurrent chunkers

	st struct {
		files, dirs, symlinks, hardlinks       atomic.Int64
		filesNew, filesChanged, filesUnchanged atomic.Int64
		size, read, dataNew, treeNew, bytesNew atomic.Int64
		filesDone, bytesDone                   atomic.Int64
		filesTotal, bytesTotal                 atomic.Int64
		scanDone                               atomic.Bool
	}

	rootID   ID
	rootDone chan struct{}
}

type dirState struct {
	rel     string
	nodes   []tree.Node
	pending atomic.Int64
	parent  *dirState
	idx     int
}

// dirTask is a directory for a walker to list.
type dirTask struct {
	d    *dirState
	abs  string
	rel  string
	prev *ID
	root bool
}

// hlCand is a regular file with several links; which of its names is the
// first in depth-first name order (and holds the content) is decided when
// the walk is complete.
type hlCand struct {
	d    *dirState
	idx  int
	abs  string
	rel  string
	prev *tree.Node // the file in the parent snapshot, if any
}

type fileJob struct {
	dir *dirState
	idx int
	abs string
	rel string
}

// BackupDir backs up the directory tree at root into r and commits a
// snapshot of kind "tree". It returns the result, with warnings for what it
// skipped; an error means nothing was committed.
func BackupDir(ctx context.Context, r Repo, root string, opts Options) (*Result, error) {
	given, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	// The root may be a symlink to the directory to back up; below it,
	// nothing is followed.
	abs, err := filepath.EvalSymlinks(given)
	if err != nil {
		return nil, &PathError{Op: "backup", Path: given, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Stat(abs, &st); err != nil {
		return nil, &PathError{Op: "backup", Path: abs, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, &PathError{Op: "backup", Path: abs, Err: errors.New("not a directory")}
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = time.Second
	}
	start := opts.Clock.Now()

	var parentRoot *ID
	if opts.Parent != nil {
		ps, err := r.LoadSnapshot(ctx, *opts.Parent)
		if err != nil {
			return nil, fmt.Errorf("load parent snapshot %s: %w", opts.Parent.Short(), err)
		}
		if ps.Kind != KindTree {
			return nil, fmt.Errorf("parent snapshot %s: %w (kind %q)", opts.Parent.Short(), ErrWrongKind, ps.Kind)
		}
		parentRoot = &ps.Root
	}

	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b := &backup{
		ctx: cctx, cancel: cancel, r: r, opts: opts, log: opts.Logger,
		fileCh:   make(chan fileJob, walkAhead),
		readyCh:  make(chan fileJob, 4*opts.Concurrency),
		bigCh:    make(chan fileJob, walkAhead/4),
		hlCands:  make(map[devIno][]hlCand),
		rootDone: make(chan struct{}),
		minChunk: r.ChunkMinSize(),
	}
	b.bigSem = make(chan struct{}, runtime.GOMAXPROCS(0))
	b.smallBufs.New = func() any { buf := make([]byte, 0, 64<<10); return &buf }

	var workers sync.WaitGroup
	for i := 0; i < opts.Concurrency; i++ {
		workers.Add(1)
		go func() { defer workers.Done(); b.worker(b.readyCh) }()
	}
	for i := 0; i < cap(b.bigSem); i++ {
		workers.Add(1)
		go func() { defer workers.Done(); b.worker(b.bigCh) }()
	}
	workers.Add(1)
	go func() { defer workers.Done(); b.prefetcher() }()
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
					opts.Progress(b.progress())
				}
			}
		}()
	}

	// Walkers list directories concurrently; file content is read by the
	// workers; hard links are resolved when the walk is complete.
	b.qcond = sync.NewCond(&b.qmu)
	b.pushDir(dirTask{d: &dirState{}, abs: abs, prev: parentRoot, root: true})
	// Walkers mostly wait for the file system and, with a parent, for its
	// trees from the repository: two per CPU.
	var walkers sync.WaitGroup
	for i := 0; i < 2*runtime.GOMAXPROCS(0); i++ {
		walkers.Add(1)
		go func() { defer walkers.Done(); b.walker() }()
	}
	walkers.Wait()
	b.resolveHardlinks()
	b.st.scanDone.Store(true)
	close(b.fileCh)
	close(b.bigCh)
	workers.Wait()
	close(progDone)
	progWG.Wait()

	if b.err == nil {
		select {
		case <-b.rootDone:
		default:
			b.fail(errors.New("internal error: root tree not finalized"))
		}
	}
	if b.err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, b.err
	}
	if opts.Progress != nil {
		opts.Progress(b.progress())
	}

	meta := copyMeta(opts.Meta)
	meta[MetaRootMode] = strconv.FormatUint(uint64(st.Mode&07777), 8)
	meta[MetaRootOwner] = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
	meta[MetaRootMtime] = strconv.FormatInt(tsNano(st.Mtim), 10)
	snap := &Snapshot{
		Time: start, Kind: KindTree, Root: b.rootID, Parent: opts.Parent,
		Hostname: opts.Hostname, Paths: []string{given}, Tags: opts.Tags,
		Size: b.st.size.Load(), Files: b.st.files.Load(), Meta: meta,
	}
	id, err := r.SaveSnapshot(ctx, snap)
	if err != nil {
		return nil, fmt.Errorf("commit snapshot: %w", err)
	}
	res := &Result{ID: id, Snapshot: snap, Warnings: b.warnings, Stats: b.stats()}
	b.log.Info("backup committed", "snapshot", id.String(), "files", res.Stats.Files,
		"unchanged", res.Stats.FilesUnchanged, "bytes_read", res.Stats.BytesRead,
		"bytes_new", res.Stats.BytesNew, "warnings", len(res.Warnings))
	return res, nil
}

func (b *backup) progress() Progress {
	return Progress{
		FilesDone: b.st.filesDone.Load(), BytesDone: b.st.bytesDone.Load(),
		FilesTotal: b.st.filesTotal.Load(), BytesTotal: b.st.bytesTotal.Load(),
		ScanDone: b.st.scanDone.Load(), BytesRead: b.st.read.Load(), BytesNew: b.st.bytesNew.Load(),
	}
}

func (b *backup) stats() Stats {
	return Stats{
		Files: b.st.files.Load(), Dirs: b.st.dirs.Load(), Symlinks: b.st.symlinks.Load(), Hardlinks: b.st.hardlinks.Load(),
		FilesNew: b.st.filesNew.Load(), FilesChanged: b.st.filesChanged.Load(), FilesUnchanged: b.st.filesUnchanged.Load(),
		Size: b.st.size.Load(), BytesRead: b.st.read.Load(), DataBlobsNew: b.st.dataNew.Load(),
		TreeBlobsNew: b.st.treeNew.Load(), BytesNew: b.st.bytesNew.Load(),
	}
}

func (b *backup) fail(err error) {
	b.errOnce.Do(func() {
		b.err = err
		b.cancel(err)
	})
}

func (b *backup) warn(rel, msg string) {
	b.warnMu.Lock()
	b.warnings = append(b.warnings, Warning{Path: rel, Message: msg})
	b.warnMu.Unlock()
	b.log.Warn("backup warning", "path", rel, "msg", msg)
}

// unreadable reports an unreadable entry: a warning or the backup's error.
func (b *backup) unreadable(rel string, err error) {
	if b.opts.SkipUnreadable {
		b.warn(rel, "skipped, unreadable: "+err.Error())
		return
	}
	b.fail(&PathError{Op: "backup", Path: rel, Err: fmt.Errorf("%w: %w", ErrUnreadable, err)})
}

func (b *backup) openDir(abs string) (*os.File, error) {
	if b.opts.BeforeOpen != nil {
		if err := b.opts.BeforeOpen(abs); err != nil {
			return nil, err
		}
	}
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open(abs, flags|unix.O_NOATIME, 0)
	if err == unix.EPERM {
		fd, err = unix.Open(abs, flags, 0)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), abs), nil
}

// walkDir lists one directory, dispatches its files, recurses into its
// subdirectories and arranges for its tree to be saved when all of them are
// done. prevID is the directory's tree in the parent snapshot, if any.
func (b *backup) pushDir(t dirTask) {
	b.qmu.Lock()
	b.queue = append(b.queue, t)
	b.outstanding++
	b.qcond.Signal()
	b.qmu.Unlock()
}

// walker lists queued directories until none is queued or being listed.
func (b *backup) walker() {
	for {
		b.qmu.Lock()
		for len(b.queue) == 0 && b.outstanding > 0 {
			b.qcond.Wait()
		}
		if len(b.queue) == 0 {
			b.qmu.Unlock()
			return
		}
		t := b.queue[len(b.queue)-1]
		b.queue = b.queue[:len(b.queue)-1]
		b.qmu.Unlock()

		b.walkDir(t.d, t.abs, t.rel, t.prev, t.root)

		b.qmu.Lock()
		b.outstanding--
		if b.outstanding == 0 {
			b.qcond.Broadcast()
		}
		b.qmu.Unlock()
	}
}

func (b *backup) walkDir(d *dirState, abs, rel string, prevID *ID, isRoot bool) {
	d.pending.Store(1)
	defer b.release(d)
	if b.ctx.Err() != nil {
		return
	}
	f, err := b.openDir(abs)
	if err != nil {
		if isRoot {
			b.fail(&PathError{Op: "backup", Path: abs, Err: fmt.Errorf("%w: %w", ErrUnreadable, err)})
			return
		}
		b.unreadable(rel, err)
		d.nodes = nil
		if d.parent != nil {
			d.parent.nodes[d.idx].Type = 0 // leave the directory out
		}
		return
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		if isRoot {
			b.fail(&PathError{Op: "backup", Path: abs, Err: fmt.Errorf("%w: %w", ErrUnreadable, err)})
			return
		}
		b.unreadable(rel, err)
		if d.parent != nil {
			d.parent.nodes[d.idx].Type = 0
		}
		return
	}
	sort.Strings(names)
	dirfd := int(f.Fd())
	defer f.Close()

	var prev *tree.Tree
	if prevID != nil {
		prev, err = loadTree(b.ctx, b.r, *prevID, rel)
		if err != nil {
			b.log.Warn("parent tree unreadable, reading directory in full", "path", rel, "err", err)
			prev = nil
		}
	}

	d.nodes = make([]tree.Node, len(names))
	for i, name := range names {
		if b.ctx.Err() != nil {
			return
		}
		crel := joinPath(rel, name)
		cabs := abs + "/" + name
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				b.warn(crel, "vanished during backup")
				continue
			}
			b.unreadable(crel, err)
			continue
		}
		n := &d.nodes[i]
		b.fillNode(n, name, &st)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			n.Type = tree.Dir
			n.Size = 0
			n.Atime = n.Mtime // listing a directory may touch its atime
			b.xattrs(n, cabs, crel)
			b.st.dirs.Add(1)
			var sub *ID
			if prev != nil {
				if pn, ok := prev.Find(name); ok && pn.Type == tree.Dir {
					sub = &pn.Subtree
				}
			}
			child := &dirState{rel: crel, parent: d, idx: i}
			d.pending.Add(1)
			b.pushDir(dirTask{d: child, abs: cabs, rel: crel, prev: sub})
		case unix.S_IFLNK:
			n.Type = tree.Symlink
			target, err := readlinkat(dirfd, name, int(st.Size))
			if err != nil {
				b.unreadable(crel, err)
				n.Type = 0
				continue
			}
			n.Target = target
			n.Size = int64(len(target))
			n.Atime = n.Mtime // readlink touches a symlink's atime
			b.xattrs(n, cabs, crel)
			b.st.symlinks.Add(1)
		case unix.S_IFREG:
			n.Type = tree.File
			b.xattrs(n, cabs, crel)
			var pn *tree.Node
			if prev != nil {
				if p, ok := prev.Find(name); ok && p.Type == tree.File {
					pn = p
				}
			}
			if st.Nlink > 1 {
				// Decided after the walk; hold the directory until then.
				d.pending.Add(1)
				key := devIno{uint64(st.Dev), st.Ino}
				b.hlMu.Lock()
				b.hlCands[key] = append(b.hlCands[key], hlCand{d: d, idx: i, abs: cabs, rel: crel, prev: pn})
				b.hlMu.Unlock()
				continue
			}
			if !b.fileEntry(d, i, cabs, crel, pn) {
				return
			}
		case unix.S_IFIFO:
			b.warn(crel, "skipped: named pipe (FIFO)")
			n.Type = 0
		case unix.S_IFSOCK:
			b.warn(crel, "skipped: socket")
			n.Type = 0
		case unix.S_IFCHR, unix.S_IFBLK:
			b.warn(crel, "skipped: device node")
			n.Type = 0
		default:
			b.warn(crel, fmt.Sprintf("skipped: unknown file type %#o", st.Mode&unix.S_IFMT))
			n.Type = 0
		}
	}
}

// fileEntry counts a regular file and either reuses the parent
// snapshot's content or queues it for reading. It returns false when the
// backup is cancelled.
func (b *backup) fileEntry(d *dirState, i int, abs, rel string, pn *tree.Node) bool {
	n := &d.nodes[i]
	b.st.files.Add(1)
	b.st.size.Add(n.Size)
	b.st.filesTotal.Add(1)
	b.st.bytesTotal.Add(n.Size)
	if pn != nil && b.unchanged(n, pn) {
		n.Content = pn.Content
		b.st.filesUnchanged.Add(1)
		b.st.filesDone.Add(1)
		b.st.bytesDone.Add(n.Size)
		return true
	}
	if pn != nil {
		b.st.filesChanged.Add(1)
	} else {
		b.st.filesNew.Add(1)
	}
	if n.Size == 0 {
		b.st.filesDone.Add(1)
		return true
	}
	d.pending.Add(1)
	ch := b.fileCh
	if n.Size > int64(b.minChunk) {
		ch = b.bigCh
	}
	select {
	case ch <- fileJob{dir: d, idx: i, abs: abs, rel: rel}:
		return true
	case <-b.ctx.Done():
		d.pending.Add(-1)
		return false
	}
}

// prefetch starts reading a small file into the page cache
// (POSIX_FADV_WILLNEED) a few files before a worker reads it, so that the
// worker finds it there: a thread blocked in a cold read holds
// its scheduler slot (P) until the runtime notices, and with two CPUs that
// left the compressors idle. A cold first backup of the engine data set
// (15,818 files) took 5.1 s with prefetching against 6.2 s without.
// Errors are ignored: the worker's own open reports them.
func (b *backup) prefetch(abs string) {
	f, err := openRead(abs)
	if err != nil {
		return
	}
	_ = unix.Fadvise(int(f), 0, 0, unix.FADV_WILLNEED)
	_ = f.Close()
}

// resolveHardlinks gives each multiply-linked inode's content to its first
// name in depth-first name order; its other names become Hardlink nodes
// pointing at it.
func (b *backup) resolveHardlinks() {
	for _, cands := range b.hlCands {
		sort.Slice(cands, func(i, j int) bool { return lessPath(cands[i].rel, cands[j].rel) })
		first := cands[0]
		if b.ctx.Err() == nil {
			b.fileEntry(first.d, first.idx, first.abs, first.rel, first.prev)
		}
		b.release(first.d)
		for _, c := range cands[1:] {
			n := &c.d.nodes[c.idx]
			n.Type = tree.Hardlink
			n.Target = first.rel
			n.Size = 0
			b.st.hardlinks.Add(1)
			b.release(c.d)
		}
	}
}

// lessPath orders slash-separated paths depth first by name.
func lessPath(a, b string) bool {
	for {
		ai, bi := strings.IndexByte(a, '/'), strings.IndexByte(b, '/')
		ae, be := a, b
		if ai >= 0 {
			ae = a[:ai]
		}
		if bi >= 0 {
			be = b[:bi]
		}
		if ae != be {
			return ae < be
		}
		if ai < 0 || bi < 0 {
			return ai < 0 && bi >= 0 // a is the prefix: it comes first
		}
		a, b = a[ai+1:], b[bi+1:]
	}
}

// unchanged reports whether a file can reuse the parent snapshot's content.
func (b *backup) unchanged(n, p *tree.Node) bool {
	if n.Size != p.Size || n.Mtime != p.Mtime || n.Ctime != p.Ctime || n.Inode != p.Inode || n.Mode != p.Mode {
		return false
	}
	for _, e := range p.Content {
		if !e.Hole && !b.r.HasBlob(tree.DataBlob, e.ID) {
			return false
		}
	}
	return true
}

func (b *backup) fillNode(n *tree.Node, name string, st *unix.Stat_t) {
	n.Name = name
	n.Mode = st.Mode & 07777
	n.UID, n.GID = st.Uid, st.Gid
	n.User, n.Group = b.names.user(st.Uid), b.names.group(st.Gid)
	n.Mtime, n.Atime, n.Ctime = tsNano(st.Mtim), tsNano(st.Atim), tsNano(st.Ctim)
	n.Size = st.Size
	n.Dev, n.Inode, n.Links = uint64(st.Dev), st.Ino, uint64(st.Nlink)
}

func (b *backup) xattrs(n *tree.Node, abs, rel string) {
	names, err := xattr.LList(abs)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENOENT) {
			return
		}
		b.warn(rel, "extended attributes not read: "+err.Error())
		return
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := xattr.LGet(abs, name)
		if err != nil {
			if errors.Is(err, unix.ENODATA) {
				continue
			}
			b.warn(rel, "extended attribute "+name+" not read: "+err.Error())
			continue
		}
		n.Xattrs = append(n.Xattrs, tree.Xattr{Name: name, Value: v})
	}
}

func readlinkat(dirfd int, name string, size int) (string, error) {
	if size <= 0 {
		size = 256
	}
	for {
		buf := make([]byte, size+1)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n <= size {
			return string(buf[:n]), nil
		}
		size *= 2
	}
}

// release drops one pending reference of d; the last one saves d's tree.
func (b *backup) release(d *dirState) {
	for d != nil {
		if d.pending.Add(-1) != 0 {
			return
		}
		if b.ctx.Err() != nil {
			return
		}
		t := &tree.Tree{Nodes: d.nodes[:0:0]}
		for i := range d.nodes {
			if d.nodes[i].Type != 0 {
				t.Nodes = append(t.Nodes, d.nodes[i])
			}
		}
		id, isNew, err := saveTree(b.ctx, b.r, t)
		if err != nil {
			b.fail(fmt.Errorf("directory %s: %w", quote(d.rel), err))
			return
		}
		if isNew {
			b.st.treeNew.Add(1)
		}
		if d.parent == nil {
			b.rootID = id
			close(b.rootDone)
			return
		}
		d.parent.nodes[d.idx].Subtree = id
		d = d.parent
	}
}

// walkAhead bounds how many small files the walk queues ahead of the
// workers (and, with walkAhead/4 large ones, how many directories'
// entries are held for files not yet read).
const walkAhead = 4096

// prefetcher moves the walk's small files to the workers, prefetching
// each: it runs at most readyCh's capacity (4×Concurrency) files ahead of
// them. It closes readyCh when the walk is done and fileCh drained.
func (b *backup) prefetcher() {
	defer close(b.readyCh)
	for job := range b.fileCh {
		if b.ctx.Err() == nil {
			b.prefetch(job.abs)
		}
		b.readyCh <- job
	}
}

func (b *backup) worker(ch <-chan fileJob) {
	for job := range ch {
		if b.ctx.Err() != nil {
			b.release(job.dir)
			continue
		}
		n := &job.dir.nodes[job.idx]
		err := b.readFile(job, n)
		if err != nil {
			if b.ctx.Err() == nil {
				var pe *unreadableErr
				if errors.As(err, &pe) {
					b.unreadable(job.rel, pe.err)
					n.Type = 0
				} else {
					b.fail(&PathError{Op: "backup", Path: job.rel, Err: err})
				}
			}
		}
		b.st.filesDone.Add(1)
		b.st.bytesDone.Add(n.Size)
		b.release(job.dir)
	}
}

// testHookAfterRead, set by tests, runs after a file's content is read and
// before it is checked for changes.
var testHookAfterRead func(abs string)

type unreadableErr struct{ err error }

func (e *unreadableErr) Error() string { return e.err.Error() }

// rawFile reads a file through its descriptor without the runtime poller
// (os.File would try to register every descriptor with epoll).
type rawFile int

func (f rawFile) ReadAt(p []byte, off int64) (int, error) {
	total := 0
	for len(p) > 0 {
		n, err := unix.Pread(int(f), p, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.EOF
		}
		total += n
		p = p[n:]
		off += int64(n)
	}
	return total, nil
}

func (f rawFile) Fd() uintptr { return uintptr(f) }

func (f rawFile) Close() error { return unix.Close(int(f)) }

// aheadWindow is how far ahead of a large file's reads readAhead asks the
// kernel to read.
const aheadWindow = 8 << 20

// readAhead reads a large file, asking the kernel (POSIX_FADV_WILLNEED)
// for the next aheadWindow bytes whenever the reads come within half a
// window of what was asked: the kernel's own readahead (128 KiB, 256 KiB
// with FADV_SEQUENTIAL) left the chunker waiting for the disk. It saved
// about 0.2 s (4%) of a cold first backup of the engine data set.
type readAhead struct {
	f    rawFile
	next int64 // end of the range asked for so far
}

func (r *readAhead) ReadAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end+aheadWindow/2 > r.next {
		start := max(end, r.next)
		_ = unix.Fadvise(int(r.f), start, aheadWindow, unix.FADV_WILLNEED)
		r.next = start + aheadWindow
	}
	return r.f.ReadAt(p, off)
}

func (b *backup) openFile(abs string) (rawFile, error) {
	if b.opts.BeforeOpen != nil {
		if err := b.opts.BeforeOpen(abs); err != nil {
			return -1, err
		}
	}
	return openRead(abs)
}

// openRead opens a file to read its content: never following a symlink
// nor blocking on a FIFO swapped in, and without touching its atime where
// the file's owner allows it.
func openRead(abs string) (rawFile, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := unix.Open(abs, flags|unix.O_NOATIME, 0)
	if err == unix.EPERM {
		fd, err = unix.Open(abs, flags, 0)
	}
	if err != nil {
		return -1, err
	}
	return rawFile(fd), nil
}

// readFile reads one file's content into n.Content.
func (b *backup) readFile(job fileJob, n *tree.Node) error {
	f, err := b.openFile(job.abs)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			b.warn(job.rel, "vanished during backup")
			n.Type = 0
			return nil
		}
		return &unreadableErr{err}
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &unreadableErr{err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		b.warn(job.rel, "skipped: replaced by a non-regular file during backup")
		n.Type = 0
		return nil
	}
	if st.Size > int64(b.minChunk) {
		// Large file: ask for aggressive readahead.
		_ = unix.Fadvise(int(f), 0, 0, unix.FADV_SEQUENTIAL)
	}
	if st.Ino != n.Inode || st.Size != n.Size || tsNano(st.Mtim) != n.Mtime {
		// Replaced or modified between the scan and the open: describe the
		// file we are about to read.
		b.fillNode(n, n.Name, &st)
	}
	if st.Blocks*512 < st.Size {
		_, err = b.readSparse(f, n)
	} else {
		_, err = b.readRange(f, n, 0, -1)
	}
	if err != nil {
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
		return &unreadableErr{err}
	}
	if testHookAfterRead != nil {
		testHookAfterRead(job.abs)
	}
	var total int64
	for _, e := range n.Content {
		total += e.Length
	}
	var after unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &after); err == nil {
		if after.Size != st.Size || tsNano(after.Mtim) != tsNano(st.Mtim) || total != st.Size {
			b.warn(job.rel, fmt.Sprintf("changed during backup (size %d→%d, mtime changed %v); stored the %d bytes read",
				st.Size, after.Size, tsNano(after.Mtim) != tsNano(st.Mtim), total))
		}
	}
	n.Size = total
	return nil
}

// readSparse walks data regions with SEEK_DATA/SEEK_HOLE and stores the gaps
// as holes.
func (b *backup) readSparse(f rawFile, n *tree.Node) (int64, error) {
	fd := int(f.Fd())
	size := n.Size
	var off, read int64
	for off < size {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			data = size // only a hole remains
		} else if err != nil {
			return read, err
		}
		if data > size {
			data = size
		}
		if data > off {
			n.Content = append(n.Content, tree.Extent{Length: data - off, Hole: true})
			off = data
		}
		if off >= size {
			break
		}
		hole, err := unix.Seek(fd, off, unix.SEEK_HOLE)
		if err != nil {
			return read, err
		}
		if hole > size {
			hole = size
		}
		got, err := b.readRange(f, n, off, hole-off)
		read += got
		if err != nil {
			return read, err
		}
		if got < hole-off {
			break // shrank while reading
		}
		off = hole
	}
	return read, nil
}

// readRange chunks length bytes at off (length < 0: to EOF) and appends the
// extents to n.Content.
func (b *backup) readRange(f rawFile, n *tree.Node, off, length int64) (int64, error) {
	var ra io.ReaderAt = f
	if n.Size > int64(b.minChunk) {
		ra = &readAhead{f: f}
	}
	var rd io.Reader
	if length < 0 {
		rd = io.NewSectionReader(ra, off, 1<<62)
	} else {
		rd = io.NewSectionReader(ra, off, length)
	}
	// Small content (no larger than the chunker's minimum, so the chunker
	// would return it whole): one blob, no chunker.
	small := length
	if length < 0 {
		small = n.Size
	}
	if small >= 0 && small <= int64(b.minChunk) {
		bp := b.smallBufs.Get().(*[]byte)
		defer b.smallBufs.Put(bp)
		if int64(cap(*bp)) < small+1 {
			*bp = make([]byte, small+1)
		}
		buf := (*bp)[:small+1] // one extra byte detects growth
		got, err := io.ReadFull(rd, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return int64(got), err
		}
		if int64(got) <= small {
			if got == 0 {
				return 0, nil
			}
			data := buf[:got]
			b.st.read.Add(int64(got))
			id := b.r.Hash(data)
			known, err := b.r.SaveBlob(b.ctx, tree.DataBlob, id, data)
			if err != nil {
				return int64(got), err
			}
			if !known {
				b.st.dataNew.Add(1)
				b.st.bytesNew.Add(int64(got))
			}
			n.Content = append(n.Content, tree.Extent{ID: id, Length: int64(got)})
			return int64(got), nil
		}
		// It grew while we read it: chunk it from the start.
		rd = io.NewSectionReader(f, off, 1<<62)
	}

	// Large content: at most one chunker per CPU at a time (each holds a
	// buffer of up to the maximum chunk size).
	select {
	case b.bigSem <- struct{}{}:
	case <-b.ctx.Done():
		return 0, b.ctx.Err()
	}
	defer func() { <-b.bigSem }()
	ch := b.r.NewChunker(rd)
	defer closeChunker(ch)
	var total int64
	for {
		c, err := ch.Next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		if err := b.ctx.Err(); err != nil {
			return total, err
		}
		total += int64(len(c))
		b.st.read.Add(int64(len(c)))
		// Hash here; the repository compresses and encrypts on its own
		// workers and does not keep c.
		id := b.r.Hash(c)
		known, err := b.r.SaveBlob(b.ctx, tree.DataBlob, id, c)
		if err != nil {
			return total, err
		}
		if !known {
			b.st.dataNew.Add(1)
			b.st.bytesNew.Add(int64(len(c)))
		}
		n.Content = append(n.Content, tree.Extent{ID: id, Length: int64(len(c))})
	}
}

// closeChunker returns a chunker's buffers when it supports that.
func closeChunker(c Chunker) {
	if cl, ok := c.(interface{ Close() }); ok {
		cl.Close()
	}
}
