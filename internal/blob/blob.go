package blob

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/coffer/coffer/internal/bufpool"
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
	// ErrInvalidRange: Get was asked for a range that starts before the
	// beginning or past the end of the object.
	ErrInvalidRange = errors.New("blob: range starts outside the object")
)

// Info describes a stored object.
type Info struct {
	Name string
	Size int64
}

// Store is one storage location. All methods are safe for concurrent use.
//
// Every method that takes a context honours it: when ctx is cancelled or its
// deadline passes before the method completes, the method returns an error
// for which errors.Is(err, ctx.Err()) holds (never ErrUnavailable), and a
// reader returned by Get fails its next Read the same way. A write cancelled
// this way either took effect completely or not at all.
//
// Names are checked with ValidName before any I/O; a bad name fails with
// ErrInvalidName.
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
	// stored under name. It is used for lock and claim objects: when several
	// callers race on one name, exactly one succeeds. On S3 it is a
	// conditional write (If-None-Match: *).
	PutIfAbsent(ctx context.Context, name string, data []byte) error

	// Get returns length bytes of the object starting at offset; length < 0
	// means "to the end". A range beyond the end of the object is truncated to
	// the object's size (like a short read). offset == size yields an empty
	// reader; offset < 0 or offset > size fails with ErrInvalidRange.
	// ErrNotFound if the object does not exist. The caller closes the reader.
	Get(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error)

	// Stat returns the object's Info, or ErrNotFound.
	Stat(ctx context.Context, name string) (Info, error)

	// Delete removes the object. Deleting a missing object is not an error
	// (Delete is idempotent).
	Delete(ctx context.Context, name string) error

	// List calls fn for every object whose name starts with prefix, in no
	// particular order. An error returned by fn stops the listing and is
	// returned by List. Objects created or deleted during the listing may or
	// may not be seen. The prefix is matched byte-wise, so "packs/3f/3f9"
	// matches "packs/3f/3f9a..."; a prefix that no valid name can start with
	// (see ValidPrefix) fails with ErrInvalidName. fn is called from one
	// goroutine at a time and may call other methods of the Store.
	List(ctx context.Context, prefix string, fn func(Info) error) error

	// Close releases the store's resources. It does not delete anything.
	// Calling methods after Close is not allowed.
	Close() error
}

// StreamPutter is an optional capability of a Store: Put from a reader,
// without the caller holding the object in memory. Decorators that can pass
// it on implement it and call PutStream on their inner store.
type StreamPutter interface {
	// PutStream is Put of exactly size bytes read from r: atomic and
	// durable like Put. If reading r fails, or r holds fewer or more than
	// size bytes, nothing is stored and the error is returned (wrapping
	// r's error).
	PutStream(ctx context.Context, name string, size int64, r io.Reader) error
}

// PutStream stores size bytes read from r under name, with s's PutStream
// when it has one, else by reading them into memory and calling Put.
func PutStream(ctx context.Context, s Store, name string, size int64, r io.Reader) error {
	if sp, ok := s.(StreamPutter); ok {
		return sp.PutStream(ctx, name, size, r)
	}
	if size < 0 {
		return fmt.Errorf("blob: put %q: negative size %d", name, size)
	}
	data := bufpool.Get(int(size))[:size] // whole-object buffers are pooled: see bufpool
	defer bufpool.Put(data)
	if err := ReadExactly(r, data); err != nil {
		return fmt.Errorf("blob: put %q: %w", name, err)
	}
	return s.Put(ctx, name, data) // Put does not retain data
}

// DirPreparer is an optional capability of stores whose names map to real
// directories (localfs): creating, ahead of time, the directories that
// objects under the given name prefixes will need, so that the first write
// under each does not pay for creating and syncing one. Decorators that
// can pass it on implement it.
type DirPreparer interface {
	// PrepareDirs creates the directory of each prefix (a name without
	// its last element, "packs/3f"), and their parents, durably.
	PrepareDirs(ctx context.Context, prefixes []string) error
}

// PrepareDirs calls s's PrepareDirs when it has one; otherwise there is
// nothing to prepare.
func PrepareDirs(ctx context.Context, s Store, prefixes []string) error {
	if p, ok := s.(DirPreparer); ok {
		return p.PrepareDirs(ctx, prefixes)
	}
	return nil
}

// DirPruner is an optional capability of stores whose names map to real
// directories (localfs): removing the directories left empty under a name
// prefix once its objects are deleted (object stores have none to
// remove). Decorators that can pass it on implement it.
type DirPruner interface {
	// PruneDirs removes every empty directory under prefix (a name
	// without its last element, "vaults/v/1"; "" for the whole store),
	// then prefix's own directory if it is left empty; never a parent of
	// prefix (another prefix may be creating it), never the store's root.
	// Nothing may write under prefix meanwhile.
	PruneDirs(ctx context.Context, prefix string) error
}

// PruneDirs calls s's PruneDirs when it has one; otherwise there is
// nothing to remove.
func PruneDirs(ctx context.Context, s Store, prefix string) error {
	if p, ok := s.(DirPruner); ok {
		return p.PruneDirs(ctx, prefix)
	}
	return nil
}

// ReadExactly fills dst from r and checks that r then ends: for
// PutStream implementations. A short or long stream is an error.
func ReadExactly(r io.Reader, dst []byte) error {
	if n, err := io.ReadFull(r, dst); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("stream ended after %d of %d bytes", n, len(dst))
		}
		return err
	}
	return CheckEnd(r, int64(len(dst)))
}

// CheckEnd checks that r holds no byte beyond the size already read; r's
// error at its end (other than io.EOF) is returned.
func CheckEnd(r io.Reader, size int64) error {
	var one [1]byte
	for {
		n, err := r.Read(one[:])
		if n > 0 {
			return fmt.Errorf("stream holds more than %d bytes", size)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
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
