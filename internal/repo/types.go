package repo

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/coffer/coffer/internal/repo/index"
	"github.com/coffer/coffer/internal/repo/pack"
)

// ID names a blob (keyed BLAKE3-256 of its plaintext), a snapshot or a pack.
type ID [32]byte

// String returns the ID as 64 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 hex digits, for messages.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsZero reports whether id is all zeros.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText encodes the ID as hex.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes a hex ID.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseID parses 64 hex digits.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 64 {
		return id, fmt.Errorf("repo: invalid ID %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("repo: invalid ID %q: %w", s, err)
	}
	return id, nil
}

// BlobType separates content from metadata. The same bytes saved as both
// types are two blobs.
type BlobType uint8

// Blob types.
const (
	DataBlob BlobType = 1 // file or stream content
	TreeBlob BlobType = 2 // metadata: directories, stream maps
)

// String returns "data", "tree" or "type(n)".
func (t BlobType) String() string {
	switch t {
	case DataBlob:
		return "data"
	case TreeBlob:
		return "tree"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

func (t BlobType) valid() bool { return t == DataBlob || t == TreeBlob }

// Ref names a blob: its type and ID.
type Ref struct {
	Type BlobType
	ID   ID
}

func (r Ref) String() string { return r.Type.String() + " blob " + r.ID.String() }

func (r Ref) key() index.Key { return index.Key{ID: r.ID, Type: uint8(r.Type)} }

// BlobLocation is where a blob is stored.
type BlobLocation struct {
	Type      BlobType
	ID        ID
	Pack      ID
	Offset    int64 // of the sealed blob (or its group record) in the pack
	Length    int64 // of the sealed blob or group record (what a read transfers)
	RawLength int64 // of the plaintext
	// Group is 0 for a blob sealed alone, or 1 + the offset of its
	// plaintext in the plaintext of the group record at Offset (see
	// pack.Entry.Group).
	Group uint32
}

func locationOf(e index.Entry) BlobLocation {
	return BlobLocation{Type: BlobType(e.Type), ID: e.ID, Pack: e.Pack, Offset: int64(e.Offset), Length: int64(e.Length), RawLength: int64(e.RawLength), Group: e.Group}
}

// entryLocation is the location of a trailer entry of pack p.
func entryLocation(p ID, e pack.Entry) BlobLocation {
	return BlobLocation{Type: BlobType(e.Type), ID: e.ID, Pack: p, Offset: int64(e.Offset), Length: int64(e.Length), RawLength: int64(e.RawLength), Group: e.Group}
}

// Snapshot is the commit record of one backup.
type Snapshot struct {
	Time     time.Time         `json:"time"`
	Kind     string            `json:"kind"` // "tree" | "stream"
	Root     ID                `json:"root"` // a TreeBlob
	Parent   *ID               `json:"parent,omitempty"`
	Hostname string            `json:"hostname,omitempty"`
	Paths    []string          `json:"paths,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
	Size     int64             `json:"size"`  // informational
	Files    int64             `json:"files"` // informational
	Meta     map[string]string `json:"meta,omitempty"`
	// Extra lists further blobs this snapshot keeps alive besides Root and
	// everything Root references, such as a copy's source-to-destination
	// translation map. GC marks them and Check verifies them as it does Root.
	Extra []Ref `json:"extra,omitempty"`
}

// Roots returns the blobs GC and Check start from for this snapshot: the
// root tree, then Extra.
func (sn *Snapshot) Roots() []Ref {
	return append([]Ref{{Type: TreeBlob, ID: sn.Root}}, sn.Extra...)
}

// TreeRefsFunc returns the blobs a tree blob's plaintext references. The
// layer above defines tree contents and passes its decoder to Check and GC.
type TreeRefsFunc func(tree []byte) ([]Ref, error)

// Sentinel errors.
var (
	// ErrWrongKey: the key-encryption key does not open this repository.
	ErrWrongKey = errors.New("repo: wrong key")
	// ErrNotRepository: the store holds no repository (no config).
	ErrNotRepository = errors.New("repo: no repository at this location")
	// ErrRepositoryExists: Init found an existing repository.
	ErrRepositoryExists = errors.New("repo: a repository already exists at this location")
	// ErrBlobNotFound: no blob with that type and ID is stored.
	ErrBlobNotFound = errors.New("repo: blob not found")
	// ErrSnapshotNotFound: no snapshot with that ID.
	ErrSnapshotNotFound = errors.New("repo: snapshot not found")
	// ErrCorrupt: stored data failed authentication or does not parse.
	// Blob-level damage is reported as *CorruptError, which wraps it.
	ErrCorrupt = errors.New("repo: corrupt data")
	// ErrUnsupportedFormat: the repository was written in a format version
	// this build does not read.
	ErrUnsupportedFormat = errors.New("repo: unsupported repository format")
	// ErrLastKey: RemoveKey would leave the repository with no key object
	// (its data would be lost).
	ErrLastKey = errors.New("repo: the repository's last key cannot be removed")
	// ErrKeyNotFound: the keystore has no key of that name.
	ErrKeyNotFound = errors.New("repo: key not found in keystore")
	// ErrReadOnly: a write on a repository opened with Options.ReadOnly.
	ErrReadOnly = errors.New("repo: repository opened read-only")
	// ErrClosed: the Repository was closed.
	ErrClosed = errors.New("repo: repository closed")
	// ErrWriteFailed: an earlier background write (a pack upload) failed, so
	// blobs reported as saved may be lost; this Repository refuses further
	// writes. Open the repository again and redo the work (what was uploaded
	// is reused).
	ErrWriteFailed = errors.New("repo: an earlier write failed; reopen the repository to retry")
	// ErrSessionExpired: garbage collection judged this writer dead (no
	// heartbeat for longer than its session timeout) and may have deleted
	// data it relied on; reopen the repository and redo the work.
	ErrSessionExpired = errors.New("repo: writer session expired")
	// ErrLocked: another garbage collection or index rebuild is running.
	ErrLocked = errors.New("repo: maintenance is locked by another process")
)

// CorruptError reports a damaged blob or pack. It wraps ErrCorrupt.
type CorruptError struct {
	Pack ID   // the pack holding the damage
	Blob *Ref // the damaged blob, nil for pack-level damage
	Err  error
}

func (e *CorruptError) Error() string {
	if e.Blob != nil {
		return fmt.Sprintf("repo: corrupt %s in pack %s: %v", e.Blob, e.Pack, e.Err)
	}
	return fmt.Sprintf("repo: corrupt pack %s: %v", e.Pack, e.Err)
}

// Unwrap returns both ErrCorrupt and the cause.
func (e *CorruptError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }
