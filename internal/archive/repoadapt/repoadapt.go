package repoadapt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/tree"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/repo/chunker"
	"github.com/coffer/coffer/internal/repo/pack"
)

// Adapter is an archive.Repo over a *repo.Repository.
type Adapter struct {
	R        *repo.Repository
	params   chunker.Params
	chunkers sync.Pool // of *chunkerAdapter, with their buffers
}

var (
	_ archive.Repo           = (*Adapter)(nil)
	_ archive.RawCopier      = (*Adapter)(nil)
	_ archive.StoredCopier   = (*Adapter)(nil)
	_ archive.PackAdopter    = (*Adapter)(nil)
	_ archive.PackTreeLoader = (*Adapter)(nil)
)

// New wraps r.
func New(r *repo.Repository) *Adapter {
	return &Adapter{R: r, params: r.ChunkerParams()}
}

// TreeRefs decodes a tree blob's references for repo.CheckOptions and
// repo.GCOptions.
func TreeRefs(data []byte) ([]repo.Ref, error) {
	refs, err := tree.Refs(data)
	if err != nil {
		return nil, err
	}
	out := make([]repo.Ref, len(refs))
	for i, r := range refs {
		out[i] = repo.Ref{Type: repo.BlobType(r.Type), ID: repo.ID(r.ID)}
	}
	return out, nil
}

func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, repo.ErrBlobNotFound):
		return fmt.Errorf("%w: %w", archive.ErrBlobNotFound, err)
	case errors.Is(err, repo.ErrSnapshotNotFound):
		return fmt.Errorf("%w: %w", archive.ErrSnapshotNotFound, err)
	}
	return err
}

// Hash returns the repository's keyed hash of data.
func (a *Adapter) Hash(data []byte) archive.ID { return archive.ID(a.R.Hash(data)) }

// SaveBlob stores a blob.
func (a *Adapter) SaveBlob(ctx context.Context, t archive.BlobType, id archive.ID, data []byte) (bool, error) {
	return a.R.SaveBlob(ctx, repo.BlobType(t), repo.ID(id), data)
}

// HasBlob reports whether a blob is stored.
func (a *Adapter) HasBlob(t archive.BlobType, id archive.ID) bool {
	return a.R.HasBlob(repo.BlobType(t), repo.ID(id))
}

// LoadBlob loads a blob's plaintext.
func (a *Adapter) LoadBlob(ctx context.Context, t archive.BlobType, id archive.ID, buf []byte) ([]byte, error) {
	d, err := a.R.LoadBlob(ctx, repo.BlobType(t), repo.ID(id), buf)
	return d, translate(err)
}

func fromLoc(l repo.BlobLocation) archive.BlobLocation {
	return archive.BlobLocation{Type: archive.BlobType(l.Type), ID: archive.ID(l.ID), Pack: archive.ID(l.Pack), Offset: l.Offset, Length: l.Length}
}

// Lookup returns a blob's location.
func (a *Adapter) Lookup(t archive.BlobType, id archive.ID) (archive.BlobLocation, bool) {
	l, ok := a.R.Lookup(repo.BlobType(t), repo.ID(id))
	if !ok {
		return archive.BlobLocation{}, false
	}
	return fromLoc(l), true
}

// ReadPackBlobs reads blobs of one pack.
func (a *Adapter) ReadPackBlobs(ctx context.Context, pack archive.ID, blobs []archive.BlobLocation, fn func(archive.BlobLocation, []byte) error) error {
	locs := make([]repo.BlobLocation, 0, len(blobs))
	for _, b := range blobs {
		l, ok := a.R.Lookup(repo.BlobType(b.Type), repo.ID(b.ID))
		if !ok {
			return fmt.Errorf("%s blob %s: %w", b.Type, b.ID, archive.ErrBlobNotFound)
		}
		locs = append(locs, l)
	}
	return translate(a.R.ReadPackBlobs(ctx, repo.ID(pack), locs, func(l repo.BlobLocation, data []byte) error {
		return fn(fromLoc(l), data)
	}))
}

// Flush makes saved blobs durable.
func (a *Adapter) Flush(ctx context.Context) error { return a.R.Flush(ctx) }

func toSnap(s *archive.Snapshot) *repo.Snapshot {
	rs := &repo.Snapshot{Time: s.Time, Kind: s.Kind, Root: repo.ID(s.Root), Hostname: s.Hostname,
		Paths: s.Paths, Tags: s.Tags, Size: s.Size, Files: s.Files, Meta: s.Meta}
	if s.Parent != nil {
		p := repo.ID(*s.Parent)
		rs.Parent = &p
	}
	for _, x := range s.Extra {
		rs.Extra = append(rs.Extra, repo.Ref{Type: repo.BlobType(x.Type), ID: repo.ID(x.ID)})
	}
	return rs
}

// FromSnap converts an engine snapshot record.
func FromSnap(s *repo.Snapshot) *archive.Snapshot {
	as := &archive.Snapshot{Time: s.Time, Kind: s.Kind, Root: archive.ID(s.Root), Hostname: s.Hostname,
		Paths: s.Paths, Tags: s.Tags, Size: s.Size, Files: s.Files, Meta: s.Meta}
	if s.Parent != nil {
		p := archive.ID(*s.Parent)
		as.Parent = &p
	}
	for _, x := range s.Extra {
		as.Extra = append(as.Extra, tree.Ref{Type: tree.BlobType(x.Type), ID: tree.ID(x.ID)})
	}
	return as
}

// SaveSnapshot commits a snapshot.
func (a *Adapter) SaveSnapshot(ctx context.Context, s *archive.Snapshot) (archive.ID, error) {
	id, err := a.R.SaveSnapshot(ctx, toSnap(s))
	return archive.ID(id), err
}

// LoadSnapshot loads a snapshot.
func (a *Adapter) LoadSnapshot(ctx context.Context, id archive.ID) (*archive.Snapshot, error) {
	s, err := a.R.LoadSnapshot(ctx, repo.ID(id))
	if err != nil {
		return nil, translate(err)
	}
	return FromSnap(s), nil
}

// ListSnapshots lists snapshots.
func (a *Adapter) ListSnapshots(ctx context.Context, fn func(archive.ID, *archive.Snapshot) error) error {
	return a.R.ListSnapshots(ctx, func(id repo.ID, s *repo.Snapshot) error {
		return fn(archive.ID(id), FromSnap(s))
	})
}

// NewChunker returns the repository's FastCDC chunker over r.
func (a *Adapter) NewChunker(r io.Reader) archive.Chunker {
	if c, ok := a.chunkers.Get().(*chunkerAdapter); ok {
		c.c.Reset(r)
		return c
	}
	return &chunkerAdapter{c: chunker.New(r, a.params), pool: &a.chunkers}
}

// ChunkMinSize is the chunker's minimum chunk size.
func (a *Adapter) ChunkMinSize() int { return a.params.MinSize }

type chunkerAdapter struct {
	c    *chunker.Chunker
	buf  []byte
	pool *sync.Pool
}

// Close returns the chunker and its buffer for reuse.
func (c *chunkerAdapter) Close() {
	c.c.Reset(nil)
	c.pool.Put(c)
}

func (c *chunkerAdapter) Next() ([]byte, error) {
	ch, err := c.c.Next(c.buf[:0])
	if err != nil {
		return nil, err
	}
	c.buf = ch.Data
	return ch.Data, nil
}

// LoadRaw loads a blob as stored and decodes its plaintext.
func (a *Adapter) LoadRaw(ctx context.Context, t archive.BlobType, id archive.ID) ([]byte, any, error) {
	raw, err := a.R.LoadBlobRaw(ctx, repo.BlobType(t), repo.ID(id))
	if err != nil {
		return nil, nil, translate(err)
	}
	plain, err := a.R.DecodeRaw(raw, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s blob %s: %w", t, id, err)
	}
	return plain, raw, nil
}

// SaveRawTo stores a blob from LoadRaw in dst, re-encrypted but not
// recompressed when dst is an Adapter.
func (a *Adapter) SaveRawTo(ctx context.Context, dst archive.Repo, t archive.BlobType, dstID archive.ID, raw any, plain []byte) (bool, error) {
	d, ok := repositoryOf(dst)
	rb, ok2 := raw.(repo.RawBlob)
	if !ok || !ok2 {
		return dst.SaveBlob(ctx, t, dstID, plain)
	}
	rb.Verified = true // dstID is dst.Hash(plain), computed by the caller
	rb.Length = int64(len(plain))
	return d.SaveBlobRaw(ctx, repo.BlobType(t), repo.ID(dstID), rb)
}

// ReadPackStored reads blobs of one pack as stored, with one ranged read,
// without decompressing them: fn gets each blob's plaintext length and a
// repo.RawBlob for SaveStoredTo.
func (a *Adapter) ReadPackStored(ctx context.Context, pack archive.ID, blobs []archive.BlobLocation, fn func(archive.BlobLocation, int64, any) error) error {
	locs, err := a.locations(blobs)
	if err != nil {
		return err
	}
	return translate(a.R.ReadPackBlobsRaw(ctx, repo.ID(pack), locs, func(l repo.BlobLocation, rb repo.RawBlob) error {
		return fn(fromLoc(l), rb.Length, rb)
	}))
}

// SaveStoredTo stores a blob from ReadPackStored in dst under the same ID
// (dst names blobs as a does: archive.SourceKey equal), re-encrypted under
// dst's key and neither decompressed nor re-hashed: the source's
// authenticated decryption bound the payload to this ID. When dst is not an
// Adapter the plaintext is decoded and saved with dst.SaveBlob.
func (a *Adapter) SaveStoredTo(ctx context.Context, dst archive.Repo, t archive.BlobType, id archive.ID, raw any) (bool, error) {
	rb, ok := raw.(repo.RawBlob)
	if !ok {
		return false, fmt.Errorf("%s blob %s: not read by ReadPackStored", t, id)
	}
	d, ok := repositoryOf(dst)
	if !ok {
		plain, err := a.R.DecodeRaw(rb, nil)
		if err != nil {
			return false, fmt.Errorf("%s blob %s: %w", t, id, err)
		}
		return dst.SaveBlob(ctx, t, id, plain)
	}
	rb.Verified = true
	return d.SaveBlobRaw(ctx, repo.BlobType(t), repo.ID(id), rb)
}

// AdoptPackTo copies a whole pack to dst with repo.AdoptPack when blobs
// fill it: they must lie end to end from the first blob's offset (members
// of a group record share its offset and length; checked
// before any read); the pack's trailer then decides, and a pack holding
// other blobs too is declined.
func (a *Adapter) AdoptPackTo(ctx context.Context, dst archive.Repo, p archive.ID, blobs []archive.BlobLocation) (bool, error) {
	d, ok := repositoryOf(dst)
	if !ok || len(blobs) == 0 {
		return false, nil
	}
	locs := slices.Clone(blobs)
	slices.SortFunc(locs, func(x, y archive.BlobLocation) int { return cmp.Compare(x.Offset, y.Offset) })
	if locs[0].Offset != pack.HeaderSize {
		return false, nil
	}
	type key struct {
		t  archive.BlobType
		id archive.ID
	}
	want := make(map[key]bool, len(locs))
	for i, l := range locs {
		sameRecord := i > 0 && l.Offset == locs[i-1].Offset && l.Length == locs[i-1].Length // group members
		if l.Pack != p || (i > 0 && !sameRecord && l.Offset != locs[i-1].Offset+locs[i-1].Length) {
			return false, nil
		}
		want[key{l.Type, l.ID}] = true
	}
	_, err := d.AdoptPack(ctx, a.R, repo.ID(p), func(t repo.BlobType, id repo.ID) bool {
		return want[key{archive.BlobType(t), archive.ID(id)}]
	})
	if errors.Is(err, repo.ErrNotAdoptable) {
		return false, nil
	}
	return err == nil, translate(err)
}

// LoadPackTrees reads a pack's trailer, then its tree blobs with one
// ranged read; each is decompressed when its plain function is called.
func (a *Adapter) LoadPackTrees(ctx context.Context, p archive.ID, fn func(archive.ID, func() ([]byte, error))) error {
	all, err := a.R.PackBlobs(ctx, repo.ID(p))
	if err != nil {
		return translate(err)
	}
	trees := all[:0]
	for _, l := range all {
		if l.Type == repo.TreeBlob {
			trees = append(trees, l)
		}
	}
	return translate(a.R.ReadPackBlobsRaw(ctx, repo.ID(p), trees, func(l repo.BlobLocation, rb repo.RawBlob) error {
		rb.Data = slices.Clone(rb.Data)
		fn(archive.ID(l.ID), func() ([]byte, error) { return a.R.DecodeRaw(rb, nil) })
		return nil
	}))
}

// Repository returns the wrapped repository; types that embed an Adapter
// inherit it, so they are recognised as one by repositoryOf.
func (a *Adapter) Repository() *repo.Repository { return a.R }

// repositoryOf returns the repository behind an Adapter (or a type
// embedding one).
func repositoryOf(r archive.Repo) (*repo.Repository, bool) {
	if w, ok := r.(interface{ Repository() *repo.Repository }); ok {
		return w.Repository(), true
	}
	return nil, false
}

// locations looks up the repository locations of blobs.
func (a *Adapter) locations(blobs []archive.BlobLocation) ([]repo.BlobLocation, error) {
	locs := make([]repo.BlobLocation, 0, len(blobs))
	for _, b := range blobs {
		l, ok := a.R.Lookup(repo.BlobType(b.Type), repo.ID(b.ID))
		if !ok {
			return nil, fmt.Errorf("%s blob %s: %w", b.Type, b.ID, archive.ErrBlobNotFound)
		}
		locs = append(locs, l)
	}
	return locs, nil
}

// ReadPackRaw reads blobs of one pack as stored, with one ranged read, and
// decodes each one's plaintext; raw is a repo.RawBlob for SaveRawTo.
func (a *Adapter) ReadPackRaw(ctx context.Context, pack archive.ID, blobs []archive.BlobLocation, fn func(archive.BlobLocation, []byte, any) error) error {
	locs, err := a.locations(blobs)
	if err != nil {
		return err
	}
	var buf []byte
	return translate(a.R.ReadPackBlobsRaw(ctx, repo.ID(pack), locs, func(l repo.BlobLocation, rb repo.RawBlob) error {
		plain := rb.Data
		if rb.Compressed {
			var err error
			if buf, err = a.R.DecodeRaw(rb, buf); err != nil {
				return fmt.Errorf("%s blob %s: %w", l.Type, l.ID, err)
			}
			plain = buf
		}
		return fn(fromLoc(l), plain, rb)
	}))
}
