package archive

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/coffer/coffer/internal/archive/tree"
)

// ID identifies a blob or a snapshot.
type ID = tree.ID

// BlobType is tree.DataBlob or tree.TreeBlob.
type BlobType = tree.BlobType

// Snapshot is the commit record of one backup. Its fields mirror the
// repository's snapshot record.
type Snapshot struct {
	Time     time.Time
	Kind     string // KindTree or KindStream
	Root     ID
	Parent   *ID
	Hostname string
	Paths    []string
	Tags     map[string]string
	Size     int64 // bytes of file or stream content
	Files    int64
	Meta     map[string]string
	// Extra names further blobs the snapshot keeps alive (garbage collection
	// marks them like Root): a copy's translation map.
	Extra []tree.Ref
}

// Snapshot kinds.
const (
	KindTree   = "tree"
	KindStream = "stream"
)

// BlobLocation is where a blob is stored: its pack and position.
type BlobLocation struct {
	Type   BlobType
	ID     ID
	Pack   ID
	Offset int64
	Length int64 // stored (encrypted) length
}

// Chunker cuts a stream into content-defined chunks.
type Chunker interface {
	// Next returns the next chunk's bytes, which stay valid until the next
	// call. At the end of the stream it returns io.EOF and no data.
	Next() ([]byte, error)
}

// Repo is the part of the repository engine the archive layer uses. All
// methods are safe for concurrent use.
type Repo interface {
	// Hash returns the ID that the repository gives data (a keyed hash).
	Hash(data []byte) ID
	// SaveBlob stores data under id (which is Hash(data)) unless a blob
	// with that type and ID is already stored or pending (known=true). It
	// does not keep data after it returns (the caller reuses the buffer);
	// compression and encryption may continue in the background. The blob
	// is durable after the next Flush or SaveSnapshot. Safe to call
	// concurrently, also with the same ID.
	SaveBlob(ctx context.Context, t BlobType, id ID, data []byte) (known bool, err error)
	// HasBlob reports whether the blob is stored or pending. It never does
	// I/O that can fail; a false negative only costs a redundant SaveBlob.
	HasBlob(t BlobType, id ID) bool
	// LoadBlob returns the authenticated plaintext of the blob, reusing buf
	// when large enough. A missing blob wraps ErrBlobNotFound; corrupt data
	// returns an error naming the pack and blob.
	LoadBlob(ctx context.Context, t BlobType, id ID, buf []byte) ([]byte, error)
	// Lookup returns where a blob is stored.
	Lookup(t BlobType, id ID) (BlobLocation, bool)
	// ReadPackBlobs reads the listed blobs of one pack (all with that Pack,
	// as returned by Lookup) and calls fn with each one's authenticated
	// plaintext, which is only valid during the call, in no guaranteed
	// order. An error from fn stops the read and is returned; a damaged blob
	// is an error after which the caller may retry the others one by one
	// with LoadBlob.
	ReadPackBlobs(ctx context.Context, pack ID, blobs []BlobLocation, fn func(BlobLocation, []byte) error) error
	// Flush makes every saved blob durable.
	Flush(ctx context.Context) error
	// SaveSnapshot flushes and then commits the snapshot, returning its ID.
	SaveSnapshot(ctx context.Context, s *Snapshot) (ID, error)
	// LoadSnapshot returns one snapshot; a missing one wraps
	// ErrSnapshotNotFound. The result is the caller's to modify.
	LoadSnapshot(ctx context.Context, id ID) (*Snapshot, error)
	// ListSnapshots calls fn for every snapshot, in no particular order.
	ListSnapshots(ctx context.Context, fn func(ID, *Snapshot) error) error
	// NewChunker returns the repository's content-defined chunker over r
	// (its cut points may depend on the repository's key). If the chunker
	// has a Close method, callers call it when done so buffers are reused.
	NewChunker(r io.Reader) Chunker
	// ChunkMinSize is the chunker's minimum chunk size: content no longer
	// than this is always one chunk, so small files skip the chunker.
	ChunkMinSize() int
}

// RawCopier is an optional capability of a Repo: moving blobs to another
// repository of the same implementation without recompressing them.
// CopySnapshot uses it when the source has it.
type RawCopier interface {
	// LoadRaw loads a blob as stored (authenticated, still compressed)
	// and returns it together with its plaintext.
	LoadRaw(ctx context.Context, t BlobType, id ID) (plain []byte, raw any, err error)
	// SaveRawTo stores a blob loaded with LoadRaw in dst under dstID,
	// which the caller computed as dst.Hash(plain); the blob is
	// re-encrypted under dst's key and its compression kept. When dst is
	// not of the same implementation it saves plain with dst.SaveBlob.
	SaveRawTo(ctx context.Context, dst Repo, t BlobType, dstID ID, raw any, plain []byte) (known bool, err error)
	// ReadPackRaw reads the listed blobs of one pack (all with that Pack,
	// as returned by Lookup) with one ranged read and calls fn with each
	// one's authenticated plaintext and its form as stored (for
	// SaveRawTo), both valid only during the call, in no guaranteed
	// order. An error from fn stops the read and is returned; a damaged
	// blob is an error after which the caller may retry the others one by
	// one with LoadRaw.
	ReadPackRaw(ctx context.Context, pack ID, blobs []BlobLocation, fn func(loc BlobLocation, plain []byte, raw any) error) error
}

// StoredCopier is an optional capability of a RawCopier: moving blobs to a
// repository that names blobs as this one does (SourceKey equal, as for
// members of one deduplication domain) without decoding them at all.
// CopySnapshot uses it when source and destination share their IDs.
type StoredCopier interface {
	// ReadPackStored is ReadPackRaw without decoding: fn gets each blob's
	// plaintext length (from the index) and its form as stored, valid
	// only during the call.
	ReadPackStored(ctx context.Context, pack ID, blobs []BlobLocation, fn func(loc BlobLocation, length int64, raw any) error) error
	// SaveStoredTo stores a blob read with ReadPackStored in dst under the
	// same ID, re-encrypted under dst's key. The caller guarantees that
	// dst names blobs as the source does.
	SaveStoredTo(ctx context.Context, dst Repo, t BlobType, id ID, raw any) (known bool, err error)
}

// PackAdopter is an optional capability of a StoredCopier: copying a whole
// pack, every blob of which the destination lacks, without touching its
// sealed blobs (the destination writes its own header and trailer around
// the same bytes). CopySnapshot uses it when source and destination share
// their IDs.
type PackAdopter interface {
	// AdoptPackTo copies pack into dst if blobs (all with that Pack, as
	// returned by Lookup) are every blob it holds. ok is false, with
	// nothing written, when they are not; an error (damage, dst failing)
	// also writes nothing, and the caller may move the blobs one by one
	// to find out which is damaged.
	AdoptPackTo(ctx context.Context, dst Repo, pack ID, blobs []BlobLocation) (ok bool, err error)
}

// PackTreeLoader is an optional capability of a Repo: loading every tree
// of one pack with one read, for walks that will need most of them (a
// copy's walk loads each of a snapshot's trees, which sit together in a
// few packs: one sequential read instead of hundreds of small ones).
type PackTreeLoader interface {
	// LoadPackTrees calls fn with the ID of each tree blob of pack, read
	// and authenticated, and a function that returns its plaintext
	// (decompressing it then, so callers can spread that work; it may be
	// called after LoadPackTrees returned, from any goroutine).
	LoadPackTrees(ctx context.Context, pack ID, fn func(id ID, plain func() ([]byte, error))) error
}

// Sentinel errors.
var (
	// ErrBlobNotFound: a referenced blob is not in the repository.
	ErrBlobNotFound = errors.New("archive: blob not found")
	// ErrSnapshotNotFound: no snapshot with that ID.
	ErrSnapshotNotFound = errors.New("archive: snapshot not found")
	// ErrPathNotFound: an include path does not exist in the snapshot.
	ErrPathNotFound = errors.New("archive: path not found in snapshot")
	// ErrInvalidPath: an include path is malformed or escapes the root.
	ErrInvalidPath = errors.New("archive: invalid path")
	// ErrExists: a restore would overwrite an existing file.
	ErrExists = errors.New("archive: restore target exists")
	// ErrUnreadable: a backup could not read a file or directory.
	ErrUnreadable = errors.New("archive: unreadable source")
	// ErrWrongKind: a tree operation on a stream snapshot or the reverse.
	ErrWrongKind = errors.New("archive: snapshot has the wrong kind")
)

// PathError names the include path or file an error is about.
type PathError struct {
	Op   string // "resolve", "restore", "backup"
	Path string
	Err  error
}

func (e *PathError) Error() string { return e.Op + " " + quote(e.Path) + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *PathError) Unwrap() error { return e.Err }

// BlobError names the blob (and the file needing it) when loading failed.
type BlobError struct {
	Path string // file path within the snapshot, "" if not about one file
	Type BlobType
	ID   ID
	Err  error
}

func (e *BlobError) Error() string {
	if e.Path != "" {
		return "file " + quote(e.Path) + ": " + e.Type.String() + " blob " + e.ID.String() + ": " + e.Err.Error()
	}
	return e.Type.String() + " blob " + e.ID.String() + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *BlobError) Unwrap() error { return e.Err }
