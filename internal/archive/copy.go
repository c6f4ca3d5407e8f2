package archive

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer/coffer/internal/archive/tree"
	"github.com/coffer/coffer/internal/clock"
)

// Snapshot Meta keys written by CopySnapshot.
const (
	MetaCopySourceKey      = "coffer.copy.source-key"      // identity of the source repository's key
	MetaCopySourceSnapshot = "coffer.copy.source-snapshot" // source snapshot ID
	MetaCopyMap            = "coffer.copy.map"             // data blob holding the translation map
)

// CopyOptions configure CopySnapshot.
type CopyOptions struct {
	// Meta is added to the copied snapshot's Meta (after the source's).
	Meta map[string]string
	// Full ignores earlier translation maps (every source blob is read).
	Full bool
	// Concurrency is the number of source packs (or, without RawCopier,
	// blobs) read at once (default max(8, 2×CPUs)). Copies are bound by
	// storage latency more than by CPU (a pack adopted whole costs one
	// BLAKE3 pass): on local disk, eight 16 MiB packs written and fsync'd
	// at once move twice the bytes per second of four. Each pack adopted
	// whole holds a buffer of its size while in flight.
	Concurrency int
	Logger      *slog.Logger
	// Progress, if set, is called with running totals at most every
	// ProgressInterval (default 1 s) while data moves, after every tree,
	// and once at the end.
	Progress         func(CopyStats)
	ProgressInterval time.Duration
	// Clock paces Progress (default clock.Real{}).
	Clock clock.Clock
}

// CopyStats count what a copy did.
type CopyStats struct {
	TreesRead     int64 // source trees loaded
	TreesMapped   int64 // source subtrees found in the translation map (not read)
	TreesNew      int64 // tree blobs the destination did not have
	BlobsRead     int64 // source data blobs loaded
	BlobsMapped   int64 // data blobs found in the translation map (not read)
	BlobsCopied   int64 // data blobs stored in the destination
	BlobsKnown    int64 // data blobs the destination already had
	BytesRead     int64 // plaintext bytes of source data blobs loaded
	BytesCopied   int64 // plaintext bytes stored in the destination
	BytesDone     int64 // plaintext bytes of content covered so far: read, already there, or mapped (with mapped subtrees)
	MapEntries    int64 // entries of the translation map written
	PacksAdopted  int64 // source packs copied whole (PackAdopter); their blobs count in BlobsCopied
	MapFromParent bool  // an earlier translation map was used
	// SharedIDs: source and destination name blobs alike (one
	// deduplication domain); blobs kept their IDs, and BlobsMapped and
	// TreesMapped count what the destination already held, not read.
	SharedIDs bool
}

type mapKey struct {
	t  BlobType
	id ID
}

type copier struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	src, dst Repo
	opts     CopyOptions
	log      *slog.Logger
	srcSnap  ID

	old    map[mapKey]ID // source → destination from an earlier copy
	oldInv map[mapKey]ID // destination → source
	newMap map[mapKey]ID
	// sameIDs: src and dst name blobs alike (SourceKey equal: members of
	// one deduplication domain). Blobs keep their IDs, and are moved as
	// stored when src is a StoredCopier. identity: sameIDs and not
	// opts.Full, so what dst already holds is not read again (the
	// translation map is the identity and is not stored).
	sameIDs, identity bool

	// The walk loads trees concurrently: walkMu guards tasks, list, order
	// and newMap while it runs; treeSem bounds the tree loads in flight.
	// With identity, treeCache keeps each decoded tree and its encoding
	// by ID (source and destination name trees alike, so the adoption
	// check and the walk share loads).
	walkMu       sync.Mutex
	treeSem      chan struct{}
	walkers      chan struct{} // bounds the walk's extra goroutines
	treeCache    sync.Map      // ID → *loadedTree
	treePrefetch sync.Map      // prefetchKey → *sync.Once of the pack's prefetch (identity)
	treeRaw      sync.Map      // ID → func() ([]byte, error): a prefetched tree not yet decoded

	tasks map[ID]*dataTask
	list  []*dataTask // tasks in the order the walk found them

	order []*treeTask // post-order

	st struct {
		treesRead, treesMapped, treesNew                atomic.Int64
		blobsRead, blobsMapped, blobsCopied, blobsKnown atomic.Int64
		bytesRead, bytesCopied, bytesDone               atomic.Int64
		packsAdopted                                    atomic.Int64
	}
	errOnce sync.Once
	err     error

	progMu       sync.Mutex
	lastProgress time.Time
}

type dataTask struct {
	src    ID
	dst    ID
	path   string
	length int64 // plaintext length, from the extent
}

type treeTask struct {
	src  ID
	path string
	t    *tree.Tree
	raw  []byte // t's encoding, kept with identity (stored as is)
	dst  ID     // set when mapped or rewritten
	done bool
}

type loadedTree struct {
	t   *tree.Tree
	raw []byte
}

// walkConcurrency is the number of tree loads in flight during a copy's
// walk (cold storage: each is a read, a decryption and a decompression).
const walkConcurrency = 8

// maxWalkers bounds the goroutines a copy's walk starts (each waits for its
// subdirectories; beyond the bound, subdirectories are walked inline).
const maxWalkers = 64

// SourceKey returns the identity of a repository's key used to find
// translation maps: a keyed hash of a fixed string, equal for repositories
// that share a key (whose blob IDs then agree too).
func SourceKey(r Repo) string {
	id := r.Hash([]byte("coffer copy: source key identity"))
	return hex.EncodeToString(id[:16])
}

// CopySnapshot copies one snapshot from src into dst, whose key differs:
// every blob read from src is authenticated, re-identified with dst's key,
// and stored only if dst lacks it; trees are rewritten with the new IDs.
// When an earlier copy from the same source left a translation map in
// dst, unchanged subtrees and chunks map straight to their destination IDs
// without being read (after checking that dst still holds them). When src
// and dst name blobs alike (SourceKey equal), IDs are kept: what dst holds
// is not read, and the rest moves as stored (StoredCopier) without being
// decompressed or re-hashed. The new
// snapshot carries the source's Time, Kind, Paths, Tags and Meta plus
// opts.Meta. On error no snapshot is written in dst.
func CopySnapshot(ctx context.Context, src, dst Repo, snapID ID, opts CopyOptions) (ID, *CopyStats, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = max(8, 2*runtime.GOMAXPROCS(0))
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = time.Second
	}
	fail := func(err error) (ID, *CopyStats, error) {
		return ID{}, nil, fmt.Errorf("copy snapshot %s: %w", snapID.String(), err)
	}
	snap, err := src.LoadSnapshot(ctx, snapID)
	if err != nil {
		return fail(err)
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c := &copier{
		ctx: cctx, cancel: cancel, src: src, dst: dst, opts: opts, log: opts.Logger, srcSnap: snapID,
		newMap: map[mapKey]ID{}, tasks: map[ID]*dataTask{}, treeSem: make(chan struct{}, walkConcurrency),
		walkers: make(chan struct{}, maxWalkers),
	}
	srcKey := SourceKey(src)
	c.sameIDs = srcKey == SourceKey(dst)
	c.identity = c.sameIDs && !opts.Full
	stats := &CopyStats{}
	if !opts.Full && !c.sameIDs {
		c.old, c.oldInv = c.loadMap(srcKey)
		stats.MapFromParent = c.old != nil
	}

	t0 := opts.Clock.Now()
	rootTask := c.walk(snap.Root, "")
	tWalk := opts.Clock.Now()
	if c.err == nil {
		c.copyData()
	}
	tData := opts.Clock.Now()
	if c.err != nil {
		return fail(c.err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	// Rewrite trees, children first.
	for _, tt := range c.order {
		if tt.done {
			continue
		}
		if err := c.rewrite(tt); err != nil {
			return fail(err)
		}
	}

	// The translation map, then the snapshot (the commit point).
	meta := copyMeta(snap.Meta)
	for k, v := range opts.Meta {
		meta[k] = v
	}
	meta[MetaCopySourceKey] = srcKey
	meta[MetaCopySourceSnapshot] = snapID.String()
	ns := &Snapshot{
		Time: snap.Time, Kind: snap.Kind, Root: rootTask.dst, Hostname: snap.Hostname,
		Paths: snap.Paths, Tags: snap.Tags, Size: snap.Size, Files: snap.Files, Meta: meta,
	}
	if !c.sameIDs {
		mapData := encodeMap(c.newMap)
		mapID := dst.Hash(mapData)
		if _, err := dst.SaveBlob(ctx, tree.DataBlob, mapID, mapData); err != nil {
			return fail(fmt.Errorf("save translation map: %w", err))
		}
		meta[MetaCopyMap] = mapID.String()
		// The translation map is referenced from the snapshot so that GC keeps it.
		ns.Extra = []tree.Ref{{Type: tree.DataBlob, ID: mapID}}
	}
	tTrees := opts.Clock.Now()
	newID, err := dst.SaveSnapshot(ctx, ns)
	if err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	c.log.Debug("copy phases", "walk", tWalk.Sub(t0), "data", tData.Sub(tWalk), "trees", tTrees.Sub(tData), "commit", opts.Clock.Now().Sub(tTrees))
	*stats = c.stats(stats.MapFromParent)
	if !c.sameIDs {
		stats.MapEntries = int64(len(c.newMap))
	}
	if opts.Progress != nil {
		opts.Progress(*stats)
	}
	c.log.Info("snapshot copied", "source", snapID.String(), "destination", newID.String(),
		"blobs_copied", stats.BlobsCopied, "packs_adopted", stats.PacksAdopted, "blobs_mapped", stats.BlobsMapped, "trees_mapped", stats.TreesMapped)
	return newID, stats, nil
}

func (c *copier) stats(fromParent bool) CopyStats {
	return CopyStats{
		TreesRead: c.st.treesRead.Load(), TreesMapped: c.st.treesMapped.Load(), TreesNew: c.st.treesNew.Load(),
		BlobsRead: c.st.blobsRead.Load(), BlobsMapped: c.st.blobsMapped.Load(), BlobsCopied: c.st.blobsCopied.Load(),
		BlobsKnown: c.st.blobsKnown.Load(), BytesRead: c.st.bytesRead.Load(), BytesCopied: c.st.bytesCopied.Load(),
		BytesDone:     c.st.bytesDone.Load(),
		PacksAdopted:  c.st.packsAdopted.Load(),
		MapFromParent: fromParent,
		SharedIDs:     c.sameIDs,
	}
}

func (c *copier) fail(err error) {
	c.errOnce.Do(func() {
		c.err = err
		c.cancel(err)
	})
}

// walk loads the source tree (unless mapped) and schedules its data;
// subdirectories are walked concurrently, and each tree task is appended
// to c.order after its children's (post-order).
func (c *copier) walk(srcTree ID, path string) *treeTask {
	tt := &treeTask{src: srcTree, path: path}
	if c.ctx.Err() != nil {
		return tt
	}
	c.treeSem <- struct{}{}
	if d, ok := c.mapped(tree.TreeBlob, srcTree); ok && c.adopt(srcTree, d) {
		<-c.treeSem
		tt.dst, tt.done = d, true
		c.st.treesMapped.Add(1)
		return tt
	}
	lt, err := c.loadTree(c.src, srcTree, path)
	<-c.treeSem
	if err != nil {
		c.fail(err)
		return tt
	}
	c.st.treesRead.Add(1)
	tt.t = lt.t
	if c.identity {
		tt.raw = lt.raw
	}
	var subdirs []int
	c.walkMu.Lock()
	for i := range tt.t.Nodes {
		n := &tt.t.Nodes[i]
		switch n.Type {
		case tree.Dir:
			subdirs = append(subdirs, i)
		case tree.File:
			p := joinPath(path, n.Name)
			for _, e := range n.Content {
				if e.Hole {
					continue
				}
				if _, ok := c.tasks[e.ID]; ok {
					continue
				}
				task := &dataTask{src: e.ID, path: p, length: e.Length}
				c.tasks[e.ID] = task
				c.list = append(c.list, task)
			}
		}
	}
	c.walkMu.Unlock()
	// Subdirectories on new goroutines while walkers are available, in
	// this one otherwise: the number of goroutines stays bounded however
	// wide the tree.
	var wg sync.WaitGroup
	for _, i := range subdirs {
		n := &tt.t.Nodes[i]
		p := joinPath(path, n.Name)
		select {
		case c.walkers <- struct{}{}:
			wg.Go(func() {
				defer func() { <-c.walkers }()
				c.walk(n.Subtree, p)
			})
		default:
			c.walk(n.Subtree, p)
		}
	}
	wg.Wait()
	c.walkMu.Lock()
	c.order = append(c.order, tt)
	c.walkMu.Unlock()
	return tt
}

// loadTree loads and decodes a tree of r (src or dst); with identity the
// result is cached by ID for both.
func (c *copier) loadTree(r Repo, id ID, path string) (*loadedTree, error) {
	if c.identity {
		if v, ok := c.treeCache.Load(id); ok {
			return v.(*loadedTree), nil
		}
	}
	if c.identity {
		if lt := c.prefetchTrees(r, id); lt != nil {
			return lt, nil
		}
	}
	data, err := r.LoadBlob(c.ctx, tree.TreeBlob, id, nil)
	if err != nil {
		return nil, &BlobError{Path: path, Type: tree.TreeBlob, ID: id, Err: err}
	}
	t, err := tree.Decode(data)
	if err != nil {
		return nil, &BlobError{Path: path, Type: tree.TreeBlob, ID: id, Err: err}
	}
	lt := &loadedTree{t: t, raw: data}
	if c.identity {
		c.treeCache.Store(id, lt)
	}
	return lt, nil
}

// prefetchKey names a pack of the source or of the destination.
type prefetchKey struct {
	dst  bool
	pack ID
}

// prefetchTrees reads, once per pack of r (source or destination:
// PackTreeLoader), every tree of the pack holding tree id, and returns
// id's, decoded (with identity both name trees alike, so one cache serves
// the walk and the check of what the destination holds); nil when the
// repository cannot, the pack read failed or the tree does not decode (the
// caller then loads the tree by itself, and reports damage naming its
// path). Trees are decompressed and decoded by the walkers that need them.
func (c *copier) prefetchTrees(r Repo, id ID) *loadedTree {
	ptl, ok := r.(PackTreeLoader)
	if !ok {
		return nil
	}
	loc, ok := r.Lookup(tree.TreeBlob, id)
	if !ok {
		return nil
	}
	v, _ := c.treePrefetch.LoadOrStore(prefetchKey{dst: r != c.src, pack: loc.Pack}, &sync.Once{})
	v.(*sync.Once).Do(func() {
		err := ptl.LoadPackTrees(c.ctx, loc.Pack, func(tid ID, plain func() ([]byte, error)) {
			c.treeRaw.Store(tid, plain)
		})
		if err != nil && c.ctx.Err() == nil {
			c.log.Debug("reading a pack of trees failed; its trees load one by one", "pack", loc.Pack.Short(), "err", err)
		}
	})
	if v, ok := c.treeCache.Load(id); ok {
		return v.(*loadedTree)
	}
	p, ok := c.treeRaw.LoadAndDelete(id)
	if !ok {
		return nil
	}
	data, err := p.(func() ([]byte, error))()
	if err != nil {
		return nil
	}
	t, err := tree.Decode(data)
	if err != nil {
		return nil
	}
	lt, _ := c.treeCache.LoadOrStore(id, &loadedTree{t: t, raw: data})
	return lt.(*loadedTree)
}

// adopt checks that the destination tree d (mapped from source tree s) is
// complete in dst — every tree and data blob under it present — and adds
// its entries to the new map. It reads only destination trees.
func (c *copier) adopt(s, d ID) bool {
	added := map[mapKey]ID{}
	var covered int64
	var check func(d ID) bool
	check = func(d ID) bool {
		if !c.dst.HasBlob(tree.TreeBlob, d) {
			return false
		}
		lt, err := c.loadTree(c.dst, d, "")
		if err != nil {
			return false
		}
		t := lt.t
		for i := range t.Nodes {
			n := &t.Nodes[i]
			if n.Type == tree.Dir {
				if !check(n.Subtree) {
					return false
				}
				if sid, ok := c.sourceOf(tree.TreeBlob, n.Subtree); ok {
					added[mapKey{tree.TreeBlob, sid}] = n.Subtree
				}
			}
			for _, e := range n.Content {
				if e.Hole {
					continue
				}
				if !c.dst.HasBlob(tree.DataBlob, e.ID) {
					return false
				}
				covered += e.Length
				if sid, ok := c.sourceOf(tree.DataBlob, e.ID); ok {
					added[mapKey{tree.DataBlob, sid}] = e.ID
				}
			}
		}
		return true
	}
	if !check(d) {
		return false
	}
	c.walkMu.Lock()
	for k, v := range added {
		c.newMap[k] = v
	}
	c.newMap[mapKey{tree.TreeBlob, s}] = d
	c.walkMu.Unlock()
	c.st.bytesDone.Add(covered)
	return true
}

// mapped returns the destination ID that an earlier copy's translation
// map (or, with identity, the ID itself) gives a source blob; the caller
// still checks that dst holds it.
func (c *copier) mapped(t BlobType, src ID) (ID, bool) {
	if c.identity {
		return src, true
	}
	d, ok := c.old[mapKey{t, src}]
	return d, ok
}

// sourceOf is the inverse of mapped.
func (c *copier) sourceOf(t BlobType, dst ID) (ID, bool) {
	if c.identity {
		return dst, true
	}
	s, ok := c.oldInv[mapKey{t, dst}]
	return s, ok
}

// packRun is a run of data blobs of one source pack read with one ranged
// read.
type packRun struct {
	pack  ID
	locs  []BlobLocation
	tasks []*dataTask // parallel to locs
}

// maxRunGap is the largest stretch of unneeded bytes a pack run reads
// through rather than starting a new run.
const maxRunGap = 1 << 20

// copyData maps or moves every data task. Tasks mapped by an earlier copy
// are settled first; with a RawCopier source the others are grouped by
// source pack and read one pack range per request, packs in the order the
// walk first needed them, opts.Concurrency packs in flight.
func (c *copier) copyData() {
	rc, rawOK := c.src.(RawCopier)
	var singles []*dataTask
	byPack := map[ID]int{}
	var locsOf [][]BlobLocation
	var tasksOf [][]*dataTask
	for _, task := range c.list {
		if d, ok := c.mapped(tree.DataBlob, task.src); ok && c.dst.HasBlob(tree.DataBlob, d) {
			task.dst = d
			c.st.blobsMapped.Add(1)
			c.st.bytesDone.Add(task.length)
			continue
		}
		var loc BlobLocation
		ok := false
		if rawOK {
			loc, ok = c.src.Lookup(tree.DataBlob, task.src)
		}
		if !ok { // not raw-capable, or pending / missing: one by one
			singles = append(singles, task)
			continue
		}
		i, seen := byPack[loc.Pack]
		if !seen {
			i = len(locsOf)
			byPack[loc.Pack] = i
			locsOf = append(locsOf, nil)
			tasksOf = append(tasksOf, nil)
		}
		locsOf[i] = append(locsOf[i], loc)
		tasksOf[i] = append(tasksOf[i], task)
	}
	c.maybeProgress()

	work := make(chan func() error)
	var wg sync.WaitGroup
	for i := 0; i < c.opts.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if c.ctx.Err() != nil {
					continue
				}
				if err := f(); err != nil {
					c.fail(err)
				}
			}
		}()
	}
	send := func(f func() error) bool {
		select {
		case work <- f:
			return true
		case <-c.ctx.Done():
			return false
		}
	}
	ad, adoptOK := c.src.(PackAdopter)
	adoptOK = adoptOK && c.sameIDs
	if adoptOK && c.identity {
		// Packs of directory trees the destination lacks, adopted with
		// the data; trees in packs not adopted whole are stored by
		// rewrite.
		for p, locs := range c.treePacks() {
			if !send(func() error { c.adoptTrees(ad, p, locs); return nil }) {
				break
			}
		}
	}
feed:
	for i := range locsOf { // packs in order of first need
		if adoptOK {
			if !send(func() error { return c.adoptPack(ad, rc, locsOf[i], tasksOf[i]) }) {
				break
			}
			continue
		}
		for _, r := range splitRuns(locsOf[i], tasksOf[i]) {
			if !send(func() error { return c.copyRun(rc, r) }) {
				break feed
			}
		}
	}
	for _, task := range singles {
		if !send(func() error { return c.copyOne(task) }) {
			break
		}
	}
	close(work)
	wg.Wait()
}

// splitRuns sorts one pack's blobs by offset and cuts them where more than
// maxRunGap unneeded bytes lie between two.
func splitRuns(locs []BlobLocation, tasks []*dataTask) []packRun {
	idx := make([]int, len(locs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(locs[a].Offset, locs[b].Offset) })
	var runs []packRun
	var cur packRun
	var end int64
	for _, i := range idx {
		l := locs[i]
		if len(cur.locs) > 0 && l.Offset-end > maxRunGap {
			runs = append(runs, cur)
			cur = packRun{}
		}
		cur.pack = l.Pack
		cur.locs = append(cur.locs, l)
		cur.tasks = append(cur.tasks, tasks[i])
		end = max(end, l.Offset+l.Length)
	}
	if len(cur.locs) > 0 {
		runs = append(runs, cur)
	}
	return runs
}

// fnError marks an error of the copier itself inside a pack read.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }
func (e *fnError) Unwrap() error { return e.err }

// copyRun moves one pack run's blobs. If the read fails other than in the
// copier (damage, a pack repacked meanwhile), the blobs not yet delivered
// are retried one by one, so that damage is reported naming the blob and
// its file.
func (c *copier) copyRun(rc RawCopier, r packRun) error {
	byID := make(map[ID]*dataTask, len(r.tasks))
	for _, t := range r.tasks {
		byID[t.src] = t
	}
	done := make(map[ID]bool, len(r.tasks))
	var err error
	if sc, ok := rc.(StoredCopier); ok && c.sameIDs {
		err = sc.ReadPackStored(c.ctx, r.pack, r.locs, func(loc BlobLocation, length int64, raw any) error {
			task := byID[loc.ID]
			if task == nil || done[loc.ID] {
				return nil
			}
			done[loc.ID] = true
			save := func() (bool, error) { return sc.SaveStoredTo(c.ctx, c.dst, tree.DataBlob, task.src, raw) }
			if err := c.settle(task, length, task.src, save); err != nil {
				return &fnError{err}
			}
			return nil
		})
	} else {
		err = rc.ReadPackRaw(c.ctx, r.pack, r.locs, func(loc BlobLocation, plain []byte, raw any) error {
			task := byID[loc.ID]
			if task == nil || done[loc.ID] {
				return nil
			}
			done[loc.ID] = true
			if err := c.store(task, plain, raw, rc); err != nil {
				return &fnError{err}
			}
			return nil
		})
	}
	if err == nil {
		return nil
	}
	var fe *fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	if cerr := c.ctx.Err(); cerr != nil {
		return cerr
	}
	c.log.Debug("pack read failed; loading its blobs one by one", "pack", r.pack.Short(), "err", err)
	for _, task := range r.tasks {
		if done[task.src] {
			continue
		}
		if err := c.copyOne(task); err != nil {
			return err
		}
	}
	return nil
}

// treePacks groups the source trees the walk loaded (not mapped) and the
// destination lacks by source pack.
func (c *copier) treePacks() map[ID][]BlobLocation {
	out := map[ID][]BlobLocation{}
	for _, tt := range c.order {
		if tt.done || tt.t == nil || c.dst.HasBlob(tree.TreeBlob, tt.src) {
			continue
		}
		if loc, ok := c.src.Lookup(tree.TreeBlob, tt.src); ok {
			out[loc.Pack] = append(out[loc.Pack], loc)
		}
	}
	return out
}

// adoptTrees adopts one pack of trees whole if it holds only trees the
// copy needs; otherwise (or on failure) rewrite stores them one by one.
func (c *copier) adoptTrees(ad PackAdopter, pack ID, locs []BlobLocation) {
	ok, err := ad.AdoptPackTo(c.ctx, c.dst, pack, locs)
	if ok {
		c.st.packsAdopted.Add(1)
		c.st.treesNew.Add(int64(len(locs)))
	} else if err != nil && c.ctx.Err() == nil {
		c.log.Debug("adopting a pack of trees failed; its trees are stored one by one", "pack", pack.Short(), "err", err)
	}
}

// adoptPack moves one source pack's blobs by adopting the whole pack
// (PackAdopter) when they are all it holds; otherwise, or when adopting
// fails other than by cancellation, it moves them run by run, which names
// a damaged blob and its file.
func (c *copier) adoptPack(ad PackAdopter, rc RawCopier, locs []BlobLocation, tasks []*dataTask) error {
	ok, err := ad.AdoptPackTo(c.ctx, c.dst, locs[0].Pack, locs)
	if ok {
		for _, task := range tasks {
			task.dst = task.src
			c.st.blobsRead.Add(1)
			c.st.bytesRead.Add(task.length)
			c.st.blobsCopied.Add(1)
			c.st.bytesCopied.Add(task.length)
			c.st.bytesDone.Add(task.length)
		}
		c.st.packsAdopted.Add(1)
		c.maybeProgress()
		return nil
	}
	if err != nil {
		if cerr := c.ctx.Err(); cerr != nil {
			return cerr
		}
		c.log.Debug("adopting a pack failed; moving its blobs one run at a time", "pack", locs[0].Pack.Short(), "err", err)
	}
	for _, r := range splitRuns(locs, tasks) {
		if err := c.copyRun(rc, r); err != nil {
			return err
		}
	}
	return nil
}

// copyOne loads one data blob by itself and moves it.
func (c *copier) copyOne(task *dataTask) error {
	rc, rawOK := c.src.(RawCopier)
	var (
		data []byte
		raw  any
		err  error
	)
	if rawOK {
		data, raw, err = rc.LoadRaw(c.ctx, tree.DataBlob, task.src)
	} else {
		data, err = c.src.LoadBlob(c.ctx, tree.DataBlob, task.src, nil)
	}
	if err != nil {
		return &BlobError{Path: task.path, Type: tree.DataBlob, ID: task.src, Err: err}
	}
	if !rawOK {
		rc = nil
	}
	return c.store(task, data, raw, rc)
}

// store re-identifies one loaded source blob with dst's key (unless they
// share IDs), stores it unless dst has it (raw through rc when not nil) and
// sets task.dst.
func (c *copier) store(task *dataTask, data []byte, raw any, rc RawCopier) error {
	dst := task.src
	if !c.sameIDs {
		dst = c.dst.Hash(data)
	}
	save := func() (bool, error) {
		if rc != nil {
			return rc.SaveRawTo(c.ctx, c.dst, tree.DataBlob, dst, raw, data)
		}
		return c.dst.SaveBlob(c.ctx, tree.DataBlob, dst, data)
	}
	return c.settle(task, int64(len(data)), dst, save)
}

// settle checks one read source blob's length, stores it in dst under the
// ID dst with save unless dst has it, counts it and sets task.dst.
func (c *copier) settle(task *dataTask, length int64, dst ID, save func() (bool, error)) error {
	if length != task.length {
		return &BlobError{Path: task.path, Type: tree.DataBlob, ID: task.src,
			Err: fmt.Errorf("%d bytes, the snapshot says %d", length, task.length)}
	}
	c.st.blobsRead.Add(1)
	c.st.bytesRead.Add(length)
	defer func() {
		c.st.bytesDone.Add(task.length)
		c.maybeProgress()
	}()
	if c.dst.HasBlob(tree.DataBlob, dst) {
		c.st.blobsKnown.Add(1)
		task.dst = dst
		return nil
	}
	known, err := save()
	if err != nil {
		return fmt.Errorf("file %s: store data blob %s: %w", quote(task.path), dst.Short(), err)
	}
	task.dst = dst
	if known {
		c.st.blobsKnown.Add(1)
	} else {
		c.st.blobsCopied.Add(1)
		c.st.bytesCopied.Add(length)
	}
	return nil
}

// maybeProgress reports progress at most every ProgressInterval.
func (c *copier) maybeProgress() {
	if c.opts.Progress == nil || !c.progMu.TryLock() {
		return
	}
	defer c.progMu.Unlock()
	now := c.opts.Clock.Now()
	if now.Sub(c.lastProgress) < c.opts.ProgressInterval {
		return
	}
	c.lastProgress = now
	c.opts.Progress(c.stats(c.old != nil))
}

// rewrite translates one tree's IDs and stores it in dst. When every ID
// stays the same (identity), the source's encoding is stored as is.
func (c *copier) rewrite(tt *treeTask) error {
	if c.identity && tt.raw != nil {
		return c.keep(tt)
	}
	t := &tree.Tree{Nodes: make([]tree.Node, len(tt.t.Nodes))}
	copy(t.Nodes, tt.t.Nodes)
	for i := range t.Nodes {
		n := &t.Nodes[i]
		switch n.Type {
		case tree.Dir:
			d, ok := c.newMap[mapKey{tree.TreeBlob, n.Subtree}]
			if !ok {
				return fmt.Errorf("directory %s: subtree %s was not copied", quote(joinPath(tt.path, n.Name)), n.Subtree.Short())
			}
			n.Subtree = d
		case tree.File:
			if len(n.Content) > 0 {
				content := make([]tree.Extent, len(n.Content))
				for j, e := range n.Content {
					if !e.Hole {
						task := c.tasks[e.ID]
						if task == nil || task.dst.IsZero() {
							return fmt.Errorf("file %s: data blob %s was not copied", quote(joinPath(tt.path, n.Name)), e.ID.Short())
						}
						c.newMap[mapKey{tree.DataBlob, e.ID}] = task.dst
						e.ID = task.dst
					}
					content[j] = e
				}
				n.Content = content
			}
		}
	}
	data, err := tree.Encode(t)
	if err != nil {
		return fmt.Errorf("directory %s: %w", quote(tt.path), err)
	}
	return c.storeTree(tt, c.dst.Hash(data), data)
}

// keep is rewrite with identity: every ID stays, so the source's encoding
// is stored as is once every child is in place.
func (c *copier) keep(tt *treeTask) error {
	for i := range tt.t.Nodes {
		n := &tt.t.Nodes[i]
		switch n.Type {
		case tree.Dir:
			if _, ok := c.newMap[mapKey{tree.TreeBlob, n.Subtree}]; !ok {
				return fmt.Errorf("directory %s: subtree %s was not copied", quote(joinPath(tt.path, n.Name)), n.Subtree.Short())
			}
		case tree.File:
			for _, e := range n.Content {
				if task := c.tasks[e.ID]; !e.Hole && (task == nil || task.dst != e.ID) {
					return fmt.Errorf("file %s: data blob %s was not copied", quote(joinPath(tt.path, n.Name)), e.ID.Short())
				}
			}
		}
	}
	return c.storeTree(tt, tt.src, tt.raw)
}

// storeTree stores a rewritten tree under id unless dst has it.
func (c *copier) storeTree(tt *treeTask, id ID, data []byte) error {
	known := c.dst.HasBlob(tree.TreeBlob, id)
	var err error
	if !known {
		known, err = c.dst.SaveBlob(c.ctx, tree.TreeBlob, id, data)
	}
	if err != nil {
		return fmt.Errorf("directory %s: store tree: %w", quote(tt.path), err)
	}
	if !known {
		c.st.treesNew.Add(1)
	}
	tt.dst, tt.done = id, true
	c.newMap[mapKey{tree.TreeBlob, tt.src}] = id
	if c.opts.Progress != nil {
		c.opts.Progress(c.stats(c.old != nil))
	}
	return nil
}

const mapMagic = "CMAP1"

func encodeMap(m map[mapKey]ID) []byte {
	b := make([]byte, 0, len(mapMagic)+binary.MaxVarintLen64+len(m)*65)
	b = append(b, mapMagic...)
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = append(b, byte(k.t))
		b = append(b, k.id[:]...)
		b = append(b, v[:]...)
	}
	return b
}

func decodeMap(b []byte) (map[mapKey]ID, error) {
	if !bytes.HasPrefix(b, []byte(mapMagic)) {
		return nil, errors.New("bad translation map magic")
	}
	b = b[len(mapMagic):]
	n, k := binary.Uvarint(b)
	if k <= 0 || n*65 != uint64(len(b)-k) {
		return nil, errors.New("bad translation map length")
	}
	b = b[k:]
	m := make(map[mapKey]ID, n)
	for i := uint64(0); i < n; i++ {
		var key mapKey
		var v ID
		key.t = BlobType(b[0])
		copy(key.id[:], b[1:33])
		copy(v[:], b[33:65])
		m[key] = v
		b = b[65:]
	}
	return m, nil
}

// loadMap finds the translation map of the newest snapshot in dst copied
// from a repository with this source key.
func (c *copier) loadMap(srcKey string) (map[mapKey]ID, map[mapKey]ID) {
	var best *Snapshot
	err := c.dst.ListSnapshots(c.ctx, func(id ID, s *Snapshot) error {
		if s.Meta[MetaCopySourceKey] != srcKey || s.Meta[MetaCopyMap] == "" {
			return nil
		}
		if best == nil || s.Time.After(best.Time) {
			best = s
		}
		return nil
	})
	if err != nil || best == nil {
		return nil, nil
	}
	mid, err := tree.ParseID(best.Meta[MetaCopyMap])
	if err != nil {
		return nil, nil
	}
	data, err := c.dst.LoadBlob(c.ctx, tree.DataBlob, mid, nil)
	if err != nil {
		c.log.Warn("translation map unreadable; copying in full", "map", mid.String(), "err", err)
		return nil, nil
	}
	m, err := decodeMap(data)
	if err != nil {
		c.log.Warn("translation map invalid; copying in full", "map", mid.String(), "err", err)
		return nil, nil
	}
	inv := make(map[mapKey]ID, len(m))
	for k, v := range m {
		inv[mapKey{k.t, v}] = k.id
	}
	return m, inv
}
