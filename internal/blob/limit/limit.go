package limit

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/coffer/coffer/internal/blob"
)

// Options configure a Store.
type Options struct {
	// Reads bounds concurrent Get (until the reader is closed) and Stat
	// calls; 0 means no bound.
	Reads int
	// Writes bounds concurrent Put, PutIfAbsent and Delete calls; 0 means
	// no bound.
	Writes int
	// OnRead, when set, is called with the byte count of every read that
	// returned data. It runs on the reader's goroutine and must be cheap.
	OnRead func(n int)
	// OnWrite, when set, is called with len(data) after every successful
	// Put or PutIfAbsent.
	OnWrite func(n int)
}

// Validate checks the options and reports the first problem.
func (o Options) Validate() error {
	if o.Reads < 0 || o.Writes < 0 {
		return fmt.Errorf("limit: Options.Reads (%d) and Writes (%d) must not be negative", o.Reads, o.Writes)
	}
	return nil
}

// Stats are the counters of a Store since New.
type Stats struct {
	BytesRead    int64 // bytes returned by readers from Get
	BytesWritten int64 // bytes stored by successful Put and PutIfAbsent
	Gets         int64 // Get calls that returned a reader
	Puts         int64 // successful Put and PutIfAbsent calls
	Stats        int64 // successful Stat calls
	Deletes      int64 // successful Delete calls
	Lists        int64 // successful List calls
}

// Store bounds and counts the operations on an inner Store. Use New.
type Store struct {
	inner         blob.Store
	opts          Options
	reads, writes chan struct{} // semaphores; nil means unbounded

	bytesRead, bytesWritten           atomic.Int64
	gets, puts, stats, deletes, lists atomic.Int64
}

var _ blob.Store = (*Store)(nil)

// New wraps inner.
func New(inner blob.Store, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Store{inner: inner, opts: opts}
	if opts.Reads > 0 {
		s.reads = make(chan struct{}, opts.Reads)
	}
	if opts.Writes > 0 {
		s.writes = make(chan struct{}, opts.Writes)
	}
	return s, nil
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{
		BytesRead:    s.bytesRead.Load(),
		BytesWritten: s.bytesWritten.Load(),
		Gets:         s.gets.Load(),
		Puts:         s.puts.Load(),
		Stats:        s.stats.Load(),
		Deletes:      s.deletes.Load(),
		Lists:        s.lists.Load(),
	}
}

// acquire takes a slot of sem, or fails with the context's error.
func acquire(ctx context.Context, sem chan struct{}, op, name string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("limit: %s %q: %w", op, name, err)
	}
	if sem == nil {
		return nil
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("limit: %s %q: waiting for a slot: %w", op, name, ctx.Err())
	}
}

func release(sem chan struct{}) {
	if sem != nil {
		<-sem
	}
}

// Location returns the inner store's location.
func (s *Store) Location() string { return s.inner.Location() }

// Close closes the inner store.
func (s *Store) Close() error { return s.inner.Close() }

// write runs put, which writes size bytes, in a write slot and counts it.
func (s *Store) write(ctx context.Context, op, name string, size int64, put func() error) error {
	if err := acquire(ctx, s.writes, op, name); err != nil {
		return err
	}
	defer release(s.writes)
	if err := put(); err != nil {
		return err
	}
	s.puts.Add(1)
	s.bytesWritten.Add(size)
	if s.opts.OnWrite != nil {
		s.opts.OnWrite(int(size))
	}
	return nil
}

// Put runs the inner Put in a write slot.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	return s.write(ctx, "put", name, int64(len(data)), func() error { return s.inner.Put(ctx, name, data) })
}

// PutStream runs the inner streamed Put in a write slot.
func (s *Store) PutStream(ctx context.Context, name string, size int64, r io.Reader) error {
	return s.write(ctx, "put", name, size, func() error { return blob.PutStream(ctx, s.inner, name, size, r) })
}

// PrepareDirs passes the preparation on (blob.DirPreparer).
func (s *Store) PrepareDirs(ctx context.Context, prefixes []string) error {
	return blob.PrepareDirs(ctx, s.inner, prefixes)
}

// PruneDirs passes the pruning on (blob.DirPruner).
func (s *Store) PruneDirs(ctx context.Context, prefix string) error {
	return blob.PruneDirs(ctx, s.inner, prefix)
}

// PutIfAbsent runs the inner PutIfAbsent in a write slot.
func (s *Store) PutIfAbsent(ctx context.Context, name string, data []byte) error {
	return s.write(ctx, "put-if-absent", name, int64(len(data)), func() error { return s.inner.PutIfAbsent(ctx, name, data) })
}

// Delete runs the inner Delete in a write slot.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := acquire(ctx, s.writes, "delete", name); err != nil {
		return err
	}
	defer release(s.writes)
	if err := s.inner.Delete(ctx, name); err != nil {
		return err
	}
	s.deletes.Add(1)
	return nil
}

// Stat runs the inner Stat in a read slot.
func (s *Store) Stat(ctx context.Context, name string) (blob.Info, error) {
	if err := acquire(ctx, s.reads, "stat", name); err != nil {
		return blob.Info{}, err
	}
	defer release(s.reads)
	info, err := s.inner.Stat(ctx, name)
	if err == nil {
		s.stats.Add(1)
	}
	return info, err
}

// List runs the inner List without a slot (see the package comment).
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	if err := s.inner.List(ctx, prefix, fn); err != nil {
		return err
	}
	s.lists.Add(1)
	return nil
}

// Get takes a read slot that the returned reader gives back on Close.
func (s *Store) Get(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	if err := acquire(ctx, s.reads, "get", name); err != nil {
		return nil, err
	}
	rc, err := s.inner.Get(ctx, name, offset, length)
	if err != nil {
		release(s.reads)
		return nil, err
	}
	s.gets.Add(1)
	return &reader{s: s, rc: rc}, nil
}

// reader counts bytes and releases its read slot on the first Close.
type reader struct {
	s    *Store
	rc   io.ReadCloser
	once sync.Once
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.s.bytesRead.Add(int64(n))
		if r.s.opts.OnRead != nil {
			r.s.opts.OnRead(n)
		}
	}
	return n, err
}

func (r *reader) Close() error {
	err := r.rc.Close()
	r.once.Do(func() { release(r.s.reads) })
	return err
}
