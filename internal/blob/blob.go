// Package blob is Coffer's storage abstraction: a flat namespace of named,
// immutable objects ("blobs") on local disk or S3-compatible object storage.
//
// Vocabulary:
//   - Store: one storage location (a directory, or a bucket plus prefix).
//   - Name: a slash-separated object key relative to the Store's root, such as
//     "packs/3f/3f9a...". Names never start or end with "/", never contain
//     "." or ".." elements, and use only [A-Za-z0-9._/-].
//   - Object: the bytes stored under a Name. Objects are written whole and
//     atomically; there is no append and no partial overwrite.
//
// Everything above this package (the repository engine) treats a Store as
// untrusted, possibly unreliable storage: it authenticates what it reads and
// retries what fails. Drivers only translate their SDK's errors into the
// sentinels below, in one function each; cross-cutting behaviour (retries,
// concurrency limits, fault injection) lives in decorators that wrap a Store.
package blob

import (
	"context"
	"errors"
	"io"
)

// Sentinel errors. Drivers wrap them with %w so callers test with errors.Is.
var (
	// ErrNotFound: no object exists under the name.
	ErrNotFound = errors.New("blob: object not found")
	// ErrExists: PutIfAbsent found an object already stored under the name.
	ErrExists = errors.New("blob: object already exists")
	// ErrUnavailable: the storage could not be reached or answered with a
	// server-side failure; the operation may succeed if retried later.
	ErrUnavailable = errors.New("blob: storage unavailable")
	// ErrNoSpace: the storage is full (ENOSPC, EDQUOT, S3 quota errors).
	ErrNoSpace = errors.New("blob: no space left on storage")
	// ErrInvalidName: the name breaks the rules in the package comment.
	ErrInvalidName = errors.New("blob: invalid object name")
)

// Info describes a stored object.
type Info struct {
	Name string
	Size int64
}

// Store is one storage location. All methods are safe for concurrent use.
type Store interface {
	// Location returns a human-readable description of where the store keeps
	// its objects ("/var/lib/coffer/us-east-1", "s3://bucket/prefix"), for
	// messages only.
	Location() string

	// Put stores data under name, replacing any existing object. It is atomic
	// (readers see the old object, or nothing, or all of the new one, never a
	// part) and durable on return: a successful Put survives a crash or power
	// loss (local files are fsync'd together with their directory; S3 uploads
	// have completed). Put does not retain data after it returns.
	Put(ctx context.Context, name string, data []byte) error

	// PutIfAbsent is Put that fails with ErrExists when an object is already
	// stored under name. It is used for lock and claim objects. On S3 it is a
	// conditional write (If-None-Match: *).
	PutIfAbsent(ctx context.Context, name string, data []byte) error

	// Get returns length bytes of the object starting at offset; length < 0
	// means "to the end". A range beyond the end of the object is truncated to
	// the object's size (like a short read), never an error unless offset is
	// past the end. ErrNotFound if the object does not exist. The caller closes
	// the reader.
	Get(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error)

	// Stat returns the object's Info, or ErrNotFound.
	Stat(ctx context.Context, name string) (Info, error)

	// Delete removes the object. Deleting a missing object is not an error
	// (Delete is idempotent).
	Delete(ctx context.Context, name string) error

	// List calls fn for every object whose name starts with prefix, in no
	// particular order. An error returned by fn stops the listing and is
	// returned by List. Objects created or deleted during the listing may or
	// may not be seen.
	List(ctx context.Context, prefix string, fn func(Info) error) error

	// Close releases the store's resources. It does not delete anything.
	Close() error
}

// ReadAll reads a whole object.
func ReadAll(ctx context.Context, s Store, name string) ([]byte, error) {
	rc, err := s.Get(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
