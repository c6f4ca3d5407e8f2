package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/coffer/coffer/internal/repo/index"
	"github.com/coffer/coffer/internal/repo/pack"
	"golang.org/x/sync/errgroup"
)

// CheckOptions configure Check.
type CheckOptions struct {
	// ReadData reads every pack: checks its hash against its name,
	// authenticates its trailer and every blob, decompresses and re-hashes
	// every blob, and compares the trailer with the index. Without it, Check
	// compares the index with the packs' presence and sizes.
	ReadData bool
	// TreeRefs, when set, lets Check walk every snapshot's blob graph and
	// name the snapshots that reference missing or damaged blobs (tree blobs
	// are read in both modes). Without it only snapshot roots are checked.
	TreeRefs TreeRefsFunc
	// Workers is the number of packs read concurrently (default 2).
	Workers int
}

// ProblemKind classifies a Problem.
type ProblemKind string

// Kinds of problems. Notices (harmless) are PackUnindexed and GCPending.
const (
	PackMissing     ProblemKind = "pack-missing"     // an indexed pack is not in storage
	PackSize        ProblemKind = "pack-size"        // a pack's size differs from the index
	PackUnreadable  ProblemKind = "pack-unreadable"  // reading a pack failed
	PackHash        ProblemKind = "pack-hash"        // a pack's content does not match its name
	PackTrailer     ProblemKind = "pack-trailer"     // a pack's trailer is damaged
	PackHeader      ProblemKind = "pack-header"      // a pack's header (its sealed key) is damaged: none of its blobs opens
	BlobCorrupt     ProblemKind = "blob-corrupt"     // a blob fails authentication, decompression or its ID
	BlobMissing     ProblemKind = "blob-missing"     // a snapshot references a blob absent from the index
	BlobDamaged     ProblemKind = "blob-damaged"     // a snapshot references a blob that is damaged or in a damaged pack
	IndexMismatch   ProblemKind = "index-mismatch"   // a pack's trailer and the index disagree
	IndexCorrupt    ProblemKind = "index-corrupt"    // an index object is damaged
	SnapshotCorrupt ProblemKind = "snapshot-corrupt" // a snapshot object is damaged
	GCPlanCorrupt   ProblemKind = "gc-plan-corrupt"  // a garbage collection plan is damaged (GC refuses to run)
	PackUnindexed   ProblemKind = "pack-unindexed"   // notice: a pack no index lists (garbage, or a backup in progress)
	GCPending       ProblemKind = "gc-pending"       // notice: a garbage collection plan waits
)

// Problem is one finding of Check.
type Problem struct {
	Kind     ProblemKind
	Pack     *ID
	Blob     *Ref
	Snapshot *ID
	Detail   string
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(string(p.Kind))
	if p.Snapshot != nil {
		fmt.Fprintf(&b, " snapshot %s", p.Snapshot)
	}
	if p.Blob != nil {
		fmt.Fprintf(&b, " %s", p.Blob)
	}
	if p.Pack != nil {
		fmt.Fprintf(&b, " pack %s", p.Pack)
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	return b.String()
}

// maxProblems bounds the report.
const maxProblems = 10000

// CheckReport is the result of Check.
type CheckReport struct {
	Packs     int   // indexed packs
	Blobs     int   // index entries
	Snapshots int   // snapshots examined
	BytesRead int64 // pack bytes read (ReadData)
	Problems  []Problem
	Notices   []Problem
	Truncated bool // more than maxProblems problems; the rest are counted only
	Dropped   int
}

// OK reports whether Check found no damage.
func (c *CheckReport) OK() bool { return len(c.Problems) == 0 && c.Dropped == 0 }

// Error summarizes the problems (nil if OK).
func (c *CheckReport) Error() error {
	if c.OK() {
		return nil
	}
	var s []string
	for _, p := range c.Problems[:min(len(c.Problems), 5)] {
		s = append(s, p.String())
	}
	more := len(c.Problems) + c.Dropped - len(s)
	msg := strings.Join(s, "; ")
	if more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return fmt.Errorf("%w: %s", ErrCorrupt, msg)
}

type checker struct {
	r    *Repository
	opts CheckOptions
	v    *view
	ids  []ID

	mu       sync.Mutex
	rep      *CheckReport
	damagedP []bool // by pack number: every blob in it is unusable
	bad      bitset // by entry: damaged blob
	visited  bitset // trees walked
	under    map[int][]badRef
	idxCount []int
	matched  []int
	seen     bitset
	bufPool  sync.Pool
}

type badRef struct {
	kind ProblemKind
	ref  Ref
	pack *ID
	why  string
}

func (c *checker) problem(p Problem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rep.Problems) >= maxProblems {
		c.rep.Truncated = true
		c.rep.Dropped++
		return
	}
	c.rep.Problems = append(c.rep.Problems, p)
}

func idp(id ID) *ID { return &id }

// Check verifies the repository and names exactly what is damaged. It
// returns an error only when it cannot run (ErrLocked while a GC runs);
// damage is in the report. It holds the maintenance lock unless the
// repository is read-only.
func (r *Repository) Check(ctx context.Context, opts CheckOptions) (*CheckReport, error) {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	// Hold the maintenance lock, so that a concurrent garbage collection
	// cannot delete packs between reading the index and reading the packs
	// (which would be reported as missing). Read-only repositories cannot
	// lock: run check there while no GC runs.
	if !r.opts.ReadOnly {
		unlock, err := r.lockMaintenance(ctx, "check", DefaultSessionTimeout)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	// Snapshots are listed before the index is read: everything a listed
	// snapshot references was indexed before it was written.
	snaps, err := r.snapshotIDs(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.syncIndex(ctx); err != nil {
		return nil, err
	}
	v, err := r.newView()
	if err != nil {
		return nil, err
	}
	defer v.close()
	c := &checker{r: r, opts: opts, v: v, ids: v.packIDs(), rep: &CheckReport{}, under: map[int][]badRef{}}
	np := v.seg.NumPacks()
	c.rep.Blobs = v.seg.Len()
	c.damagedP = make([]bool, np)
	c.bad = newBitset(v.seg.Len())
	c.visited = newBitset(v.seg.Len())

	if err := c.checkIndexObjects(ctx); err != nil {
		return nil, err
	}
	stored, err := r.listPacks(ctx)
	if err != nil {
		return nil, err
	}
	indexed := map[ID]bool{}
	counts := v.packEntries()
	for p, id := range c.ids {
		if counts[p] == 0 {
			continue // named in a pack table, no entries left: not indexed
		}
		indexed[id] = true
		c.rep.Packs++
		size, ok := stored[id]
		switch {
		case !ok:
			c.damagedP[p] = true
			c.problem(Problem{Kind: PackMissing, Pack: idp(id), Detail: "listed in the index, absent from storage"})
		case v.seg.Pack(p).Size > 0 && size != v.seg.Pack(p).Size:
			c.damagedP[p] = true
			c.problem(Problem{Kind: PackSize, Pack: idp(id), Detail: fmt.Sprintf("%d bytes in storage, %d in the index", size, v.seg.Pack(p).Size)})
		}
	}
	for id := range stored {
		if !indexed[id] {
			c.rep.Notices = append(c.rep.Notices, Problem{Kind: PackUnindexed, Pack: idp(id), Detail: "not in the index (removed by GC unless a backup is still writing it)"})
		}
	}
	if plans, err := r.loadPlans(ctx, true); err == nil {
		for _, p := range plans {
			c.rep.Notices = append(c.rep.Notices, Problem{Kind: GCPending, Detail: fmt.Sprintf("plan %s condemns %d packs", p.ID, len(p.Packs)+len(p.Orphans))})
		}
	} else if errors.Is(err, ErrCorrupt) {
		c.problem(Problem{Kind: GCPlanCorrupt, Detail: err.Error()})
	} else {
		return nil, err
	}
	if opts.ReadData {
		if err := c.readAll(ctx, stored); err != nil {
			return nil, err
		}
	}
	if err := c.checkSnapshots(ctx, snaps); err != nil {
		return nil, err
	}
	return c.rep, nil
}

func (c *checker) checkIndexObjects(ctx context.Context) error {
	var names []string
	if err := c.r.st.List(ctx, indexPrefix, func(i blob.Info) error { names = append(names, i.Name); return nil }); err != nil {
		return fmt.Errorf("repo: check: list index: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, n := range names {
		g.Go(func() error {
			_, err := c.r.readIndexObject(gctx, n)
			switch {
			case err == nil, errors.Is(err, blob.ErrNotFound):
				return nil
			case errors.Is(err, ErrCorrupt):
				c.problem(Problem{Kind: IndexCorrupt, Detail: fmt.Sprintf("%s: %v (run rebuild-index)", n, err)})
				return nil
			}
			return err
		})
	}
	return g.Wait()
}

// readAll reads every indexed pack that is present.
func (c *checker) readAll(ctx context.Context, stored map[ID]int64) error {
	np := len(c.ids)
	c.idxCount = make([]int, np)
	c.matched = make([]int, np)
	c.seen = newBitset(c.v.seg.Len())
	for i := 0; i < c.v.seg.Len(); i++ {
		c.idxCount[c.v.seg.PackNo(i)]++
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Workers)
	for p, id := range c.ids {
		if _, ok := stored[id]; !ok || c.idxCount[p] == 0 {
			continue
		}
		g.Go(func() error { return c.readPack(gctx, p) })
	}
	return g.Wait()
}

func (c *checker) readPack(ctx context.Context, p int) error {
	r := c.r
	id := c.ids[p]
	rc, err := r.st.Get(ctx, pack.Name(id), 0, -1)
	var data []byte
	if err == nil {
		buf, _ := c.bufPool.Get().(*[]byte)
		if buf == nil {
			buf = new([]byte)
		}
		defer c.bufPool.Put(buf)
		w := &sliceWriter{b: (*buf)[:0]}
		_, err = io.Copy(w, rc)
		rc.Close()
		*buf = w.b
		data = w.b
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		c.markPack(p)
		c.problem(Problem{Kind: PackUnreadable, Pack: idp(id), Detail: err.Error()})
		return nil
	}
	c.mu.Lock()
	c.rep.BytesRead += int64(len(data))
	c.mu.Unlock()
	if ID(pack.ID(data)) != id {
		c.problem(Problem{Kind: PackHash, Pack: idp(id), Detail: "content does not match the pack's name (bytes changed or truncated)"})
	}
	entries, terr := readTrailerFrom(r, data)
	if terr != nil {
		c.problem(Problem{Kind: PackTrailer, Pack: idp(id), Detail: terr.Error()})
		entries = c.indexEntriesOf(p) // check the blobs the index knows
	}
	var hdrErr error
	var pa *crypto.AEAD
	if len(data) < pack.HeaderSize {
		hdrErr = fmt.Errorf("%w: %d bytes", errTruncated, len(data))
	} else if pa, hdrErr = r.openPackHeader(id, data[:pack.HeaderSize]); hdrErr != nil {
		var ce *CorruptError
		if errors.As(hdrErr, &ce) {
			hdrErr = ce.Err
		}
	}
	if hdrErr != nil {
		c.problem(Problem{Kind: PackHeader, Pack: idp(id), Detail: hdrErr.Error()})
		hdrErr = fmt.Errorf("the pack's header is damaged: %w", hdrErr)
	}
	var plain []byte
	var group groupCache
	defer group.release()
	for _, e := range entries {
		ref := Ref{BlobType(e.Type), e.ID}
		j := c.entryIndex(p, e)
		if j < 0 && terr == nil {
			c.problem(Problem{Kind: IndexMismatch, Pack: idp(id), Blob: &ref, Detail: "in the pack's trailer but not in the index (run rebuild-index)"})
		}
		loc := entryLocation(id, e)
		var why error
		if end := int64(e.Offset) + int64(e.Length); end > int64(len(data)) {
			why = fmt.Errorf("%w: blob ends at %d, pack has %d bytes", errTruncated, end, len(data))
		} else if hdrErr != nil {
			why = hdrErr
		} else if p, err := group.open(r, pa, loc, data[e.Offset:end], nil); err != nil {
			why = err
		} else if plain, err = r.decode(loc, p, plain); err != nil {
			why = err
		} else if r.Hash(plain) != e.ID {
			why = errors.New("plaintext does not hash to the blob's ID")
		}
		if why != nil {
			var ce *CorruptError
			if errors.As(why, &ce) {
				why = ce.Err
			}
			c.problem(Problem{Kind: BlobCorrupt, Pack: idp(id), Blob: &ref, Detail: why.Error()})
			if j >= 0 {
				c.mu.Lock()
				c.bad.set(j)
				c.mu.Unlock()
			}
		}
	}
	if terr == nil {
		c.mu.Lock()
		short := c.matched[p] != c.idxCount[p]
		c.mu.Unlock()
		if short {
			for _, e := range c.indexEntriesOf(p) {
				j := c.findEntry(p, e)
				c.mu.Lock()
				unseen := j >= 0 && !c.seen.has(j)
				if unseen {
					c.bad.set(j)
				}
				c.mu.Unlock()
				if unseen {
					ref := Ref{BlobType(e.Type), e.ID}
					c.problem(Problem{Kind: IndexMismatch, Pack: idp(id), Blob: &ref, Detail: "in the index but not in the pack's trailer"})
				}
			}
		}
	}
	return nil
}

type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (c *checker) markPack(p int) {
	c.mu.Lock()
	c.damagedP[p] = true
	c.mu.Unlock()
}

// findEntry returns the view position of the entry for e in pack p, or -1.
func (c *checker) findEntry(p int, e pack.Entry) int {
	lo, hi := c.v.seg.Range(index.Key{ID: e.ID, Type: e.Type})
	for j := lo; j < hi; j++ {
		if c.v.seg.PackNo(j) != p {
			continue
		}
		if x, _ := c.v.seg.Entry(j); x.Offset == e.Offset {
			return j
		}
	}
	return -1
}

// entryIndex finds e's view position and records it as matched.
func (c *checker) entryIndex(p int, e pack.Entry) int {
	j := c.findEntry(p, e)
	if j >= 0 {
		c.mu.Lock()
		if !c.seen.has(j) {
			c.seen.set(j)
			c.matched[p]++
		}
		c.mu.Unlock()
	}
	return j
}

// indexEntriesOf lists the index entries of pack p (a scan; used only for
// damaged packs).
func (c *checker) indexEntriesOf(p int) []pack.Entry {
	var out []pack.Entry
	for i := 0; i < c.v.seg.Len(); i++ {
		if c.v.seg.PackNo(i) == p {
			e, _ := c.v.seg.Entry(i)
			out = append(out, pack.Entry{Type: e.Type, ID: e.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength, Group: e.Group})
		}
	}
	return out
}

// readTrailerFrom parses the trailer of a whole pack in memory.
func readTrailerFrom(r *Repository, data []byte) ([]pack.Entry, error) {
	_, _, tail, ok := pack.Split(data)
	if !ok {
		return nil, fmt.Errorf("%w: %d bytes do not end in a pack trailer", pack.ErrFormat, len(data))
	}
	off := len(data) - len(tail)
	return pack.OpenTrailer(r.aead, tail[:len(tail)-pack.TailSize], int64(off))
}

// usable reports whether entry j can be read (as far as Check knows).
func (c *checker) usable(j int) bool {
	return !c.bad.has(j) && !c.damagedP[c.v.seg.PackNo(j)]
}

// pick chooses a usable copy of a blob, else any.
func (c *checker) pick(k index.Key) (int, bool) {
	lo, hi := c.v.seg.Range(k)
	if lo == hi {
		return 0, false
	}
	for j := lo; j < hi; j++ {
		if c.usable(j) {
			return j, true
		}
	}
	return lo, true
}

func (c *checker) checkSnapshots(ctx context.Context, ids []ID) error {
	for _, id := range ids {
		sn, err := c.r.LoadSnapshot(ctx, id)
		if errors.Is(err, ErrSnapshotNotFound) {
			continue
		}
		c.rep.Snapshots++
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				return err
			}
			c.problem(Problem{Kind: SnapshotCorrupt, Snapshot: idp(id), Detail: err.Error()})
			continue
		}
		for _, root := range sn.Roots() {
			bad, err := c.walkRef(ctx, root)
			if err != nil {
				return err
			}
			for _, b := range bad {
				ref := b.ref
				c.problem(Problem{Kind: b.kind, Snapshot: idp(id), Blob: &ref, Pack: b.pack, Detail: b.why})
			}
		}
	}
	return nil
}

const maxBadPerTree = 20

// walkRef returns the missing or damaged blobs at or below ref. Trees are
// read even in a pack already known to be damaged (their bytes may be
// intact); a data blob in a damaged pack counts as damaged.
func (c *checker) walkRef(ctx context.Context, ref Ref) ([]badRef, error) {
	j, ok := c.pick(ref.key())
	if !ok {
		return []badRef{{kind: BlobMissing, ref: ref, why: "not in the index"}}, nil
	}
	pk := idp(c.ids[c.v.seg.PackNo(j)])
	isTree := ref.Type == TreeBlob && c.opts.TreeRefs != nil
	if !isTree {
		if !c.usable(j) {
			return []badRef{{kind: BlobDamaged, ref: ref, pack: pk, why: "stored in a damaged or missing pack"}}, nil
		}
		return nil, nil
	}
	if c.visited.has(j) {
		return c.under[j], nil
	}
	c.visited.set(j)
	if c.bad.has(j) {
		bad := []badRef{{kind: BlobDamaged, ref: ref, pack: pk, why: "the blob is damaged"}}
		c.under[j] = bad
		return bad, nil
	}
	e, _ := c.v.seg.Entry(j)
	plain, err := c.r.loadEntry(ctx, e, nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var ce *CorruptError
		if !errors.As(err, &ce) {
			return nil, err
		}
		c.bad.set(j)
		bad := []badRef{{kind: BlobDamaged, ref: ref, pack: pk, why: ce.Err.Error()}}
		c.under[j] = bad
		return bad, nil
	}
	refs, err := c.opts.TreeRefs(plain)
	if err != nil {
		bad := []badRef{{kind: BlobCorrupt, ref: ref, pack: pk, why: "tree does not decode: " + err.Error()}}
		c.under[j] = bad
		return bad, nil
	}
	var bad []badRef
	for _, child := range refs {
		b, err := c.walkRef(ctx, child)
		if err != nil {
			return nil, err
		}
		if room := maxBadPerTree - len(bad); room > 0 {
			bad = append(bad, b[:min(len(b), room)]...)
		}
	}
	if len(bad) > 0 {
		c.under[j] = bad
	}
	return bad, nil
}
