package archivetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/tree"
	"github.com/zeebo/blake3"
)

// MemRepo is an in-memory archive.Repo for tests: keyed-BLAKE3 IDs, blobs
// grouped into fake packs of PackBlobs blobs, snapshots in a map, and
// counters and fault injection for assertions. It is safe for concurrent use.
type MemRepo struct {
	key []byte

	mu        sync.Mutex
	blobs     map[blobKey]*memBlob
	packs     map[archive.ID][]blobKey
	open      archive.ID // pack being filled
	openCount int
	snaps     map[archive.ID]*archive.Snapshot
	seq       int

	// Counters.
	Saves      atomic.Int64 // SaveBlob calls that stored new data
	SavedBytes atomic.Int64
	Loads      atomic.Int64 // blobs returned by LoadBlob and ReadPackBlobs
	LoadedData atomic.Int64 // plaintext bytes returned for data blobs
	PackReads  atomic.Int64

	// MinChunk, AvgChunk, MaxChunk size the chunker (defaults 16 KiB,
	// 64 KiB, 256 KiB: small so tests see many chunks).
	MinChunk, AvgChunk, MaxChunk int
}

type blobKey struct {
	t  archive.BlobType
	id archive.ID
}

type memBlob struct {
	data    []byte
	pack    archive.ID
	offset  int64
	corrupt bool
}

// PackBlobs is how many blobs a MemRepo puts into one fake pack.
const PackBlobs = 8

// NewMemRepo returns an empty repository with a random key.
func NewMemRepo() *MemRepo {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &MemRepo{
		key:      key,
		blobs:    make(map[blobKey]*memBlob),
		packs:    make(map[archive.ID][]blobKey),
		snaps:    make(map[archive.ID]*archive.Snapshot),
		MinChunk: 16 << 10, AvgChunk: 64 << 10, MaxChunk: 256 << 10,
	}
}

// Hash is keyed BLAKE3.
func (r *MemRepo) Hash(data []byte) archive.ID {
	h, _ := blake3.NewKeyed(r.key)
	_, _ = h.Write(data)
	var id archive.ID
	h.Sum(id[:0])
	return id
}

// SaveBlob stores a copy of data.
func (r *MemRepo) SaveBlob(ctx context.Context, t archive.BlobType, id archive.ID, data []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := blobKey{t, id}
	if _, ok := r.blobs[k]; ok {
		return true, nil
	}
	if r.openCount == 0 {
		_, _ = rand.Read(r.open[:])
	}
	b := &memBlob{data: append([]byte(nil), data...), pack: r.open, offset: int64(r.openCount)}
	r.blobs[k] = b
	r.packs[r.open] = append(r.packs[r.open], k)
	r.openCount = (r.openCount + 1) % PackBlobs
	r.Saves.Add(1)
	r.SavedBytes.Add(int64(len(data)))
	return false, nil
}

// HasBlob reports whether the blob is stored.
func (r *MemRepo) HasBlob(t archive.BlobType, id archive.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.blobs[blobKey{t, id}]
	return ok
}

func (r *MemRepo) get(t archive.BlobType, id archive.ID) ([]byte, error) {
	r.mu.Lock()
	b, ok := r.blobs[blobKey{t, id}]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("memrepo: %s blob %s: %w", t, id.Short(), archive.ErrBlobNotFound)
	}
	if b.corrupt {
		return nil, fmt.Errorf("memrepo: pack %s: %s blob %s: authentication failed (corrupt)", b.pack.Short(), t, id.Short())
	}
	r.Loads.Add(1)
	if t == tree.DataBlob {
		r.LoadedData.Add(int64(len(b.data)))
	}
	return b.data, nil
}

// LoadBlob returns a copy of the blob.
func (r *MemRepo) LoadBlob(ctx context.Context, t archive.BlobType, id archive.ID, buf []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := r.get(t, id)
	if err != nil {
		return nil, err
	}
	return append(buf[:0], d...), nil
}

// Lookup returns the fake pack location.
func (r *MemRepo) Lookup(t archive.BlobType, id archive.ID) (archive.BlobLocation, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.blobs[blobKey{t, id}]
	if !ok {
		return archive.BlobLocation{}, false
	}
	return archive.BlobLocation{Type: t, ID: id, Pack: b.pack, Offset: b.offset, Length: int64(len(b.data))}, true
}

// ReadPackBlobs returns the listed blobs in offset order.
func (r *MemRepo) ReadPackBlobs(ctx context.Context, pack archive.ID, blobs []archive.BlobLocation, fn func(archive.BlobLocation, []byte) error) error {
	r.PackReads.Add(1)
	sorted := append([]archive.BlobLocation(nil), blobs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Offset < sorted[j].Offset })
	for _, l := range sorted {
		if err := ctx.Err(); err != nil {
			return err
		}
		if l.Pack != pack {
			return fmt.Errorf("memrepo: blob %s is not in pack %s", l.ID.Short(), pack.Short())
		}
		d, err := r.get(l.Type, l.ID)
		if err != nil {
			return err
		}
		if err := fn(l, bytes.Clone(d)); err != nil {
			return err
		}
	}
	return nil
}

// Flush does nothing: memory is "durable".
func (r *MemRepo) Flush(ctx context.Context) error { return ctx.Err() }

// SaveSnapshot stores a copy of s.
func (r *MemRepo) SaveSnapshot(ctx context.Context, s *archive.Snapshot) (archive.ID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	id := r.Hash([]byte(fmt.Sprintf("snapshot %d %s", r.seq, s.Root)))
	c := *s
	r.snaps[id] = &c
	return id, nil
}

// LoadSnapshot returns a copy of the snapshot.
func (r *MemRepo) LoadSnapshot(ctx context.Context, id archive.ID) (*archive.Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.snaps[id]
	if !ok {
		return nil, fmt.Errorf("memrepo: snapshot %s: %w", id.Short(), archive.ErrSnapshotNotFound)
	}
	c := *s
	return &c, nil
}

// ListSnapshots calls fn for each snapshot.
func (r *MemRepo) ListSnapshots(ctx context.Context, fn func(archive.ID, *archive.Snapshot) error) error {
	r.mu.Lock()
	ids := make([]archive.ID, 0, len(r.snaps))
	snaps := make([]archive.Snapshot, 0, len(r.snaps))
	for id, s := range r.snaps {
		ids = append(ids, id)
		snaps = append(snaps, *s)
	}
	r.mu.Unlock()
	for i := range ids {
		if err := fn(ids[i], &snaps[i]); err != nil {
			return err
		}
	}
	return nil
}

// DeleteSnapshot removes a snapshot (blobs stay).
func (r *MemRepo) DeleteSnapshot(id archive.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.snaps, id)
}

// Corrupt makes every later load of the blob fail authentication.
func (r *MemRepo) Corrupt(t archive.BlobType, id archive.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.blobs[blobKey{t, id}]
	if ok {
		b.corrupt = true
	}
	return ok
}

// DataBlobs returns the IDs of all data blobs.
func (r *MemRepo) DataBlobs() []archive.ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []archive.ID
	for k := range r.blobs {
		if k.t == tree.DataBlob {
			ids = append(ids, k.id)
		}
	}
	return ids
}

// NewChunker returns a gear-hash content-defined chunker.
func (r *MemRepo) NewChunker(rd io.Reader) archive.Chunker {
	return NewGearChunker(rd, r.MinChunk, r.AvgChunk, r.MaxChunk)
}

var gear [256]uint64

func init() {
	// Fixed pseudo-random table (splitmix64) so tests are deterministic.
	x := uint64(0x9E3779B97F4A7C15)
	for i := range gear {
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		gear[i] = z ^ (z >> 31)
	}
}

// GearChunker is a simple content-defined chunker for tests.
type GearChunker struct {
	r          io.Reader
	min, max   int
	mask       uint64
	buf        []byte
	start, end int
	eof        bool
}

// NewGearChunker returns a chunker with the given sizes (avg a power of two).
func NewGearChunker(r io.Reader, min, avg, max int) *GearChunker {
	bits := 0
	for 1<<bits < avg {
		bits++
	}
	return &GearChunker{r: r, min: min, max: max, mask: (1<<bits - 1) << (64 - bits), buf: make([]byte, 2*max)}
}

// Next returns the next chunk.
func (c *GearChunker) Next() ([]byte, error) {
	if c.end-c.start < c.max && !c.eof {
		copy(c.buf, c.buf[c.start:c.end])
		c.end -= c.start
		c.start = 0
		for c.end < len(c.buf) && !c.eof {
			n, err := c.r.Read(c.buf[c.end:])
			c.end += n
			if err == io.EOF {
				c.eof = true
			} else if err != nil {
				return nil, err
			}
		}
	}
	avail := c.buf[c.start:c.end]
	if len(avail) == 0 {
		return nil, io.EOF
	}
	cut := len(avail)
	if cut > c.max {
		cut = c.max
	}
	if len(avail) > c.min {
		var h uint64
		for i := c.min; i < cut; i++ {
			h = (h << 1) + gear[avail[i]]
			if h&c.mask == 0 {
				cut = i + 1
				break
			}
		}
	}
	c.start += cut
	return avail[:cut], nil
}

// ChunkMinSize returns MinChunk.
func (r *MemRepo) ChunkMinSize() int { return r.MinChunk }
