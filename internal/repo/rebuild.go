package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/repo/index"
	"github.com/coffer/coffer/internal/repo/pack"
	"golang.org/x/sync/errgroup"
)

// RebuildOptions configure RebuildIndex.
type RebuildOptions struct {
	// Full reads the trailer of every pack and replaces all index objects.
	// Otherwise only packs the index does not list are read, and entries
	// of packs missing from storage are dropped.
	Full bool
	// SessionTimeout bounds how long a crashed rebuild or GC holds the
	// maintenance lock (default DefaultSessionTimeout).
	SessionTimeout time.Duration
}

// RebuildReport says what RebuildIndex did.
type RebuildReport struct {
	PacksRead      int      // trailers read
	BlobsIndexed   int      // entries written
	DamagedPacks   []ID     // packs whose trailer is unreadable (not indexed)
	DroppedPacks   []ID     // indexed packs absent from storage, dropped from the index
	ObjectsWritten int      // index objects written
	ObjectsRemoved []string // index objects replaced
}

// RebuildIndex reconstructs the index from the packs' trailers: storage
// alone (plus the key) is enough to recover from lost or damaged index
// objects. It takes the maintenance lock (not exclusive against writers).
func (r *Repository) RebuildIndex(ctx context.Context, opts RebuildOptions) (*RebuildReport, error) {
	if err := r.writable(); err != nil {
		return nil, err
	}
	if opts.SessionTimeout <= 0 {
		opts.SessionTimeout = DefaultSessionTimeout
	}
	unlock, err := r.lockMaintenance(ctx, "rebuild-index", opts.SessionTimeout)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := r.Flush(ctx); err != nil {
		return nil, err
	}
	rep := &RebuildReport{}
	stored, err := r.listPacks(ctx)
	if err != nil {
		return nil, err
	}
	var oldNames []string
	if err := r.st.List(ctx, indexPrefix, func(i blob.Info) error { oldNames = append(oldNames, i.Name); return nil }); err != nil {
		return nil, fmt.Errorf("repo: list index: %w", err)
	}
	// Which packs do readable index objects list, and which objects name
	// packs that are gone?
	indexed := map[ID]bool{}
	var replace []string
	if !opts.Full {
		for _, n := range oldNames {
			o, err := r.readIndexObject(ctx, n)
			if errors.Is(err, ErrCorrupt) {
				replace = append(replace, n) // its packs get re-read below
				continue
			}
			if err != nil && !errors.Is(err, blob.ErrNotFound) {
				return nil, err
			}
			if o == nil {
				continue
			}
			gone := false
			for _, p := range o.Packs {
				if _, ok := stored[p.ID]; ok {
					indexed[p.ID] = true
				} else {
					gone = true
				}
			}
			if gone {
				replace = append(replace, n)
			}
		}
	} else {
		replace = oldNames
	}
	// Keep the surviving packs of objects being replaced without re-reading
	// them; read the trailers of every pack nothing readable lists.
	var mu sync.Mutex
	out := &index.Object{}
	var written int
	wrote := map[string]bool{} // never delete what this run wrote (same content, same name)
	emit := func(op index.ObjectPack) error {
		mu.Lock()
		defer mu.Unlock()
		out.Packs = append(out.Packs, op)
		written += len(op.Blobs)
		if out.Entries() >= index.MaxObjectEntries {
			o := out
			out = &index.Object{}
			name, err := r.putIndexObject(ctx, o)
			if err != nil {
				return err
			}
			wrote[name] = true
			rep.ObjectsWritten++
		}
		return nil
	}
	keep := map[ID]bool{}
	if !opts.Full {
		for _, n := range replace {
			o, err := r.readIndexObject(ctx, n)
			if err != nil {
				continue // damaged: its packs are re-read
			}
			for _, p := range o.Packs {
				if _, ok := stored[p.ID]; !ok {
					rep.DroppedPacks = append(rep.DroppedPacks, p.ID)
					continue
				}
				if keep[p.ID] {
					continue
				}
				keep[p.ID] = true
				if err := emit(p); err != nil {
					return nil, err
				}
			}
		}
		// Packs listed only by replaced objects that were kept above count
		// as indexed; the rest of the replaced objects' packs are re-read.
		for id := range keep {
			indexed[id] = true
		}
		// A pack listed by a replaced object and also by a kept object is
		// fine either way (duplicates are harmless).
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for id, size := range stored {
		if indexed[id] && !opts.Full {
			continue
		}
		g.Go(func() error {
			entries, err := r.readTrailer(gctx, id, size)
			if err != nil {
				if errors.Is(err, ErrCorrupt) {
					mu.Lock()
					rep.DamagedPacks = append(rep.DamagedPacks, id)
					mu.Unlock()
					r.log.Error("rebuild-index: pack trailer unreadable; pack not indexed", "pack", id, "err", err)
					return nil
				}
				return err
			}
			mu.Lock()
			rep.PacksRead++
			mu.Unlock()
			return emit(index.ObjectPack{ID: id, Size: size, Blobs: entries})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if !opts.Full {
		// Let caches update in place (a full rebuild makes them rebuild).
		for _, n := range replace {
			id, _ := ParseID(strings.TrimPrefix(n, indexPrefix))
			out.Supersedes = append(out.Supersedes, id)
		}
		for _, p := range rep.DroppedPacks {
			out.Dropped = append(out.Dropped, p)
		}
	}
	if len(out.Packs) > 0 || len(out.Supersedes) > 0 {
		name, err := r.putIndexObject(ctx, out)
		if err != nil {
			return nil, err
		}
		wrote[name] = true
		rep.ObjectsWritten++
	}
	rep.BlobsIndexed = written
	for _, n := range replace {
		if wrote[n] {
			continue
		}
		if err := r.st.Delete(ctx, n); err != nil {
			return nil, fmt.Errorf("repo: rebuild-index: delete %s: %w", n, err)
		}
		rep.ObjectsRemoved = append(rep.ObjectsRemoved, strings.TrimPrefix(n, indexPrefix))
	}
	if err := r.syncIndex(ctx); err != nil {
		return rep, err
	}
	return rep, nil
}

// readTrailer reads and authenticates a pack's trailer with at most two
// range reads.
func (r *Repository) readTrailer(ctx context.Context, id ID, size int64) ([]pack.Entry, error) {
	tail, err := r.readTail(ctx, id, size)
	if err != nil {
		return nil, err
	}
	off := size - int64(len(tail))
	entries, err := pack.OpenTrailer(r.aead, tail[:len(tail)-pack.TailSize], off)
	if err != nil {
		return nil, &CorruptError{Pack: id, Err: err}
	}
	return entries, nil
}

// PackBlobs lists the blobs a pack holds, from its authenticated trailer.
func (r *Repository) PackBlobs(ctx context.Context, packID ID) ([]BlobLocation, error) {
	info, err := r.st.Stat(ctx, pack.Name(packID))
	if err != nil {
		return nil, readError(packID, nil, err)
	}
	entries, err := r.readTrailer(ctx, packID, info.Size)
	if err != nil {
		return nil, err
	}
	out := make([]BlobLocation, len(entries))
	for i, e := range entries {
		out[i] = entryLocation(packID, e)
	}
	return out, nil
}

// readTail reads the tail (sealed trailer, body sum, trailer length) of a
// pack of size bytes, with at most two range reads.
func (r *Repository) readTail(ctx context.Context, id ID, size int64) ([]byte, error) {
	const guess = 64 << 10
	start := max(0, size-guess)
	buf := make([]byte, size-start)
	if err := r.readRange(ctx, id, start, buf); err != nil {
		return nil, readError(id, nil, err)
	}
	n, _, err := pack.ParseEnd(buf[len(buf)-pack.TailSize:], size-pack.HeaderSize)
	if err != nil {
		return nil, &CorruptError{Pack: id, Err: err}
	}
	off := size - pack.TailSize - int64(n)
	if off >= start {
		return buf[off-start:], nil
	}
	tail := make([]byte, size-off)
	copy(tail[start-off:], buf)
	if err := r.readRange(ctx, id, off, tail[:start-off]); err != nil {
		return nil, readError(id, nil, err)
	}
	return tail, nil
}
