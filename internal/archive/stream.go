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
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer/coffer/internal/archive/tree"
	"github.com/coffer/coffer/internal/clock"
	"golang.org/x/sys/unix"
)

// VolumeBlockSize is the fixed block size of volume snapshots: 1 MiB. It
// matches the content-defined chunker's average, so per-blob overhead (index
// entry, tree extent, pack header: ~100 bytes) stays below 0.01% of the
// data, a 1 TiB volume is ~1 M blobs, and a scattered 4 KiB guest write
// costs at most 1 MiB of new data. Smaller blocks would dedup scattered
// writes better at the price of 4× the index for 256 KiB; larger ones
// amplify small changes.
const VolumeBlockSize = 1 << 20

// Snapshot Meta keys of stream snapshots.
const (
	MetaStreamKind  = "coffer.stream.kind" // "pipe" or "volume"
	MetaBlockSize   = "coffer.volume.block-size"
	MetaVolumeMtime = "coffer.volume.mtime" // ns, regular files only
	MetaVolumeCtime = "coffer.volume.ctime"
	MetaVolumeInode = "coffer.volume.inode"
)

// StreamOptions configure a stream or volume backup.
type StreamOptions struct {
	// Parent: for volumes, the previous snapshot of the same volume. An
	// image file whose size, mtime, ctime and inode are unchanged reuses
	// its block list without being read; otherwise every block is read and
	// hashed, and only blocks the repository lacks are stored.
	Parent           *ID
	Hostname         string
	Paths            []string
	Tags             map[string]string
	Meta             map[string]string
	Progress         func(Progress)
	ProgressInterval time.Duration
	Clock            clock.Clock
	Logger           *slog.Logger
	// BlockSize overrides VolumeBlockSize (tests).
	BlockSize int
}

func (o *StreamOptions) defaults() {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = time.Second
	}
	if o.BlockSize <= 0 {
		o.BlockSize = VolumeBlockSize
	}
}

// ticker calls progress(state()) every interval until stop is called; it
// does nothing when progress is nil.
func ticker(c clock.Clock, every time.Duration, progress func(Progress), state func() Progress) (stop func()) {
	if progress == nil {
		return func() {}
	}
	fn := func() { progress(state()) }
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-c.After(every):
				fn()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

func copyMeta(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// BackupStream stores everything read from rd (a database dump, a pipe) as
// content-defined chunks and commits a snapshot of kind "stream" whose root
// tree holds one File node called name.
func BackupStream(ctx context.Context, r Repo, rd io.Reader, name string, opts StreamOptions) (*Result, error) {
	opts.defaults()
	if !tree.ValidName(name) {
		return nil, fmt.Errorf("%w: stream name %q", ErrInvalidPath, name)
	}
	start := opts.Clock.Now()
	var read, newBytes, newBlobs atomic.Int64
	stop := ticker(opts.Clock, opts.ProgressInterval, opts.Progress, func() Progress {
		return Progress{BytesDone: read.Load(), BytesRead: read.Load(), BytesNew: newBytes.Load()}
	})
	defer stop()

	ch := r.NewChunker(rd)
	defer closeChunker(ch)
	var content []tree.Extent
	var size int64
	for {
		c, err := ch.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read stream: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		read.Add(int64(len(c)))
		size += int64(len(c))
		if isZero(c) {
			appendExtent(&content, ID{}, int64(len(c)), true)
			continue
		}
		id := r.Hash(c)
		known, err := r.SaveBlob(ctx, tree.DataBlob, id, c)
		if err != nil {
			return nil, err
		}
		if !known {
			newBlobs.Add(1)
			newBytes.Add(int64(len(c)))
		}
		appendExtent(&content, id, int64(len(c)), false)
	}
	stop()
	if opts.Progress != nil {
		opts.Progress(Progress{BytesDone: read.Load(), BytesRead: read.Load(), BytesNew: newBytes.Load(), ScanDone: true})
	}
	n := tree.Node{Name: name, Type: tree.File, Mode: 0o600, Mtime: start.UnixNano(), Atime: start.UnixNano(), Ctime: start.UnixNano()}
	n.Size, n.Content = size, content
	meta := copyMeta(opts.Meta)
	meta[MetaStreamKind] = "pipe"
	res, err := commitStream(ctx, r, &n, start, meta, opts)
	if err != nil {
		return nil, err
	}
	res.Stats.BytesRead = read.Load()
	res.Stats.BytesNew = newBytes.Load()
	res.Stats.DataBlobsNew = newBlobs.Load()
	return res, nil
}

// appendExtent adds an extent, merging adjacent holes.
func appendExtent(c *[]tree.Extent, id ID, n int64, hole bool) {
	if hole {
		if l := len(*c); l > 0 && (*c)[l-1].Hole {
			(*c)[l-1].Length += n
			return
		}
		*c = append(*c, tree.Extent{Length: n, Hole: true})
		return
	}
	*c = append(*c, tree.Extent{ID: id, Length: n})
}

func commitStream(ctx context.Context, r Repo, n *tree.Node, start time.Time, meta map[string]string, opts StreamOptions) (*Result, error) {
	rootID, isNew, err := saveTree(ctx, r, &tree.Tree{Nodes: []tree.Node{*n}})
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{
		Time: start, Kind: KindStream, Root: rootID, Parent: opts.Parent, Hostname: opts.Hostname,
		Paths: opts.Paths, Tags: opts.Tags, Size: n.Size, Files: 1, Meta: meta,
	}
	id, err := r.SaveSnapshot(ctx, snap)
	if err != nil {
		return nil, fmt.Errorf("commit snapshot: %w", err)
	}
	st := Stats{Files: 1, Size: n.Size}
	if isNew {
		st.TreeBlobsNew = 1
	}
	return &Result{ID: id, Snapshot: snap, Stats: st}, nil
}

// BackupVolume stores a volume image file or block device as fixed-size
// blocks (VolumeBlockSize); holes (SEEK_HOLE) and all-zero blocks are
// stored as holes. It commits a snapshot of kind "stream".
func BackupVolume(ctx context.Context, r Repo, path string, opts StreamOptions) (*Result, error) {
	opts.defaults()
	start := opts.Clock.Now()
	flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOFOLLOW
	fd, err := unix.Open(path, flags|unix.O_NOATIME, 0)
	if err == unix.EPERM {
		fd, err = unix.Open(path, flags, 0)
	}
	if err != nil {
		return nil, &PathError{Op: "backup", Path: path, Err: fmt.Errorf("%w: %w", ErrUnreadable, err)}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &PathError{Op: "backup", Path: path, Err: err}
	}
	regular := st.Mode&unix.S_IFMT == unix.S_IFREG
	var size int64
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		size = st.Size
	case unix.S_IFBLK:
		size, err = unix.Seek(fd, 0, io.SeekEnd)
		if err != nil {
			return nil, &PathError{Op: "backup", Path: path, Err: err}
		}
	default:
		return nil, &PathError{Op: "backup", Path: path, Err: errors.New("not a regular file or block device")}
	}
	bs := int64(opts.BlockSize)
	meta := copyMeta(opts.Meta)
	meta[MetaStreamKind] = "volume"
	meta[MetaBlockSize] = strconv.FormatInt(bs, 10)
	if regular {
		meta[MetaVolumeMtime] = strconv.FormatInt(tsNano(st.Mtim), 10)
		meta[MetaVolumeCtime] = strconv.FormatInt(tsNano(st.Ctim), 10)
		meta[MetaVolumeInode] = strconv.FormatUint(st.Ino, 10)
	}
	n := tree.Node{
		Name: filepath.Base(path), Type: tree.File, Mode: st.Mode & 07777, UID: st.Uid, GID: st.Gid,
		Mtime: tsNano(st.Mtim), Atime: tsNano(st.Atim), Ctime: tsNano(st.Ctim), Size: size,
	}
	if !tree.ValidName(n.Name) {
		n.Name = "volume"
	}
	if opts.Paths == nil {
		opts.Paths = []string{path}
	}

	// Unchanged image file: reuse the parent's blocks without reading.
	if opts.Parent != nil && regular {
		if pn, ps, err := StreamNode(ctx, r, *opts.Parent); err == nil &&
			ps.Meta[MetaStreamKind] == "volume" && ps.Meta[MetaBlockSize] == meta[MetaBlockSize] &&
			ps.Meta[MetaVolumeMtime] == meta[MetaVolumeMtime] && ps.Meta[MetaVolumeCtime] == meta[MetaVolumeCtime] &&
			ps.Meta[MetaVolumeInode] == meta[MetaVolumeInode] && pn.Size == size && allPresent(r, pn.Content) {
			n.Content = pn.Content
			return commitStream(ctx, r, &n, start, meta, opts)
		}
	}

	// Which blocks hold data at all.
	nblocks := (size + bs - 1) / bs
	dataBlock := make([]bool, nblocks)
	if regular && st.Blocks*512 < size {
		var off int64
		for off < size {
			d, err := unix.Seek(fd, off, unix.SEEK_DATA)
			if err == unix.ENXIO {
				break
			} else if err != nil {
				return nil, &PathError{Op: "backup", Path: path, Err: err}
			}
			h, err := unix.Seek(fd, d, unix.SEEK_HOLE)
			if err != nil {
				return nil, &PathError{Op: "backup", Path: path, Err: err}
			}
			if h > size {
				h = size
			}
			for b := d / bs; b*bs < h && b < nblocks; b++ {
				dataBlock[b] = true
			}
			off = h
		}
	} else {
		for i := range dataBlock {
			dataBlock[i] = true
		}
	}

	type blk struct {
		id   ID
		hole bool
	}
	blocks := make([]blk, nblocks)
	var read, newBytes, newBlobs, done atomic.Int64
	stop := ticker(opts.Clock, opts.ProgressInterval, opts.Progress, func() Progress {
		return Progress{BytesDone: done.Load(), BytesTotal: size, ScanDone: true, BytesRead: read.Load(), BytesNew: newBytes.Load()}
	})
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for w := 0; w < runtime.GOMAXPROCS(0)+1; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, bs)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= nblocks {
					return
				}
				off := i * bs
				l := bs
				if off+l > size {
					l = size - off
				}
				if !dataBlock[i] {
					blocks[i].hole = true
					done.Add(l)
					continue
				}
				got, err := f.ReadAt(buf[:l], off)
				if err != nil && !(err == io.EOF && int64(got) == l) {
					errOnce.Do(func() { firstErr = &PathError{Op: "backup", Path: path, Err: err}; cancel(firstErr) })
					return
				}
				read.Add(l)
				data := buf[:l]
				if isZero(data) {
					blocks[i].hole = true
					done.Add(l)
					continue
				}
				id := r.Hash(data)
				blocks[i].id = id
				if !r.HasBlob(tree.DataBlob, id) {
					known, err := r.SaveBlob(ctx, tree.DataBlob, id, data)
					if err != nil {
						errOnce.Do(func() { firstErr = err; cancel(err) })
						return
					}
					if !known {
						newBlobs.Add(1)
						newBytes.Add(l)
					}
				}
				done.Add(l)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	stop()
	if opts.Progress != nil {
		opts.Progress(Progress{BytesDone: done.Load(), BytesTotal: size, ScanDone: true, BytesRead: read.Load(), BytesNew: newBytes.Load()})
	}
	for i, b := range blocks {
		l := bs
		if int64(i)*bs+l > size {
			l = size - int64(i)*bs
		}
		appendExtent(&n.Content, b.id, l, b.hole)
	}
	var warnings []Warning
	if regular {
		var after unix.Stat_t
		if err := unix.Fstat(fd, &after); err == nil && (after.Size != st.Size || tsNano(after.Mtim) != tsNano(st.Mtim)) {
			warnings = append(warnings, Warning{Path: path, Message: "volume changed during backup; the image is not crash-consistent"})
		}
	}
	res, err := commitStream(ctx, r, &n, start, meta, opts)
	if err != nil {
		return nil, err
	}
	res.Warnings = warnings
	res.Stats.BytesRead = read.Load()
	res.Stats.BytesNew = newBytes.Load()
	res.Stats.DataBlobsNew = newBlobs.Load()
	return res, nil
}

func allPresent(r Repo, c []tree.Extent) bool {
	for _, e := range c {
		if !e.Hole && !r.HasBlob(tree.DataBlob, e.ID) {
			return false
		}
	}
	return true
}

// StreamNode loads a stream snapshot and its one node.
func StreamNode(ctx context.Context, r Repo, snapID ID) (*tree.Node, *Snapshot, error) {
	snap, err := r.LoadSnapshot(ctx, snapID)
	if err != nil {
		return nil, nil, fmt.Errorf("load snapshot %s: %w", snapID.Short(), err)
	}
	if snap.Kind != KindStream {
		return nil, nil, fmt.Errorf("snapshot %s: %w: kind %q, want %q", snapID.Short(), ErrWrongKind, snap.Kind, KindStream)
	}
	t, err := loadTree(ctx, r, snap.Root, "")
	if err != nil {
		return nil, nil, err
	}
	if len(t.Nodes) != 1 || t.Nodes[0].Type != tree.File {
		return nil, nil, fmt.Errorf("snapshot %s: %w: stream root must hold one file node", snapID.Short(), tree.ErrFormat)
	}
	return &t.Nodes[0], snap, nil
}

// RestoreStream writes a stream snapshot's content to w in order (holes as
// zeros), loading up to 2×CPUs chunks ahead. It returns the bytes written.
func RestoreStream(ctx context.Context, r Repo, snapID ID, w io.Writer) (int64, error) {
	n, _, err := StreamNode(ctx, r, snapID)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		data []byte
		err  error
	}
	ahead := 2 * runtime.GOMAXPROCS(0)
	futures := make(chan chan result, ahead)
	go func() {
		defer close(futures)
		sem := make(chan struct{}, ahead)
		for _, e := range n.Content {
			ch := make(chan result, 1)
			if e.Hole {
				ch <- result{}
			} else {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				go func(id ID) {
					d, err := r.LoadBlob(ctx, tree.DataBlob, id, nil)
					<-sem
					if err != nil {
						err = &BlobError{Path: n.Name, Type: tree.DataBlob, ID: id, Err: err}
					}
					ch <- result{d, err}
				}(e.ID)
			}
			select {
			case futures <- ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	zero := make([]byte, 1<<20)
	var written int64
	i := 0
	for ch := range futures {
		e := n.Content[i]
		i++
		res := <-ch
		if res.err != nil {
			return written, res.err
		}
		if e.Hole {
			for left := e.Length; left > 0; {
				k := min(left, int64(len(zero)))
				m, err := w.Write(zero[:k])
				written += int64(m)
				if err != nil {
					return written, err
				}
				left -= k
			}
			continue
		}
		if int64(len(res.data)) != e.Length {
			return written, &BlobError{Path: n.Name, Type: tree.DataBlob, ID: e.ID, Err: fmt.Errorf("length %d, want %d", len(res.data), e.Length)}
		}
		m, err := w.Write(res.data)
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	if err := ctx.Err(); err != nil {
		return written, err
	}
	if i != len(n.Content) {
		return written, errors.New("restore stream: stopped early")
	}
	return written, nil
}

// RestoreVolume restores a stream snapshot into a new file at path (a
// volume image; holes stay sparse), fetching packs concurrently. An
// existing file is replaced only with opts.Overwrite. Block devices as
// targets are not supported yet.
func RestoreVolume(ctx context.Context, r Repo, snapID ID, path string, opts RestoreOptions) (*RestoreStats, error) {
	n, _, err := StreamNode(ctx, r, snapID)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
		return nil, fmt.Errorf("restore volume to block device %s: not implemented; restore to an image file", path)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if !tree.ValidName(base) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidPath, path)
	}
	dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("restore volume: %w", err)
	}
	defer unix.Close(dirfd)
	rs := &restorer{
		ctx: ctx, r: r, opts: opts, log: opts.Logger, rootfd: dirfd,
		owners: unix.Geteuid() == 0 && !opts.NoOwners,
		trees:  map[ID]*treeFuture{}, blobs: map[ID][]blobTarget{}, primary: map[string]string{},
		fds:    newFDCache(dirfd, unix.O_WRONLY, 16),
		dirfds: newFDCache(dirfd, unix.O_PATH|unix.O_DIRECTORY, 4),
	}
	defer rs.fds.closeAll()
	defer rs.dirfds.closeAll()
	c := *n
	c.Name = base
	if err := rs.createFile(dirfd, base, &c); err != nil {
		return &rs.stats, err
	}
	if err := rs.fetchData(); err != nil {
		return &rs.stats, rs.firstErr(err)
	}
	rs.stats.Bytes = rs.written.Load()
	rs.stats.Size = rs.size.Load()
	rs.stats.BlobsLoaded = rs.loaded.Load()
	rs.stats.PacksRead = rs.packs.Load()
	return &rs.stats, rs.err()
}
