package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/clock"
)

// Defaults for Options.
const (
	DefaultMaxAttempts    = 6
	DefaultMaxElapsed     = 2 * time.Minute
	DefaultInitialBackoff = 200 * time.Millisecond
	DefaultMaxBackoff     = 20 * time.Second
	DefaultMultiplier     = 2.0
	DefaultJitter         = 0.5
)

// Options configure a Store. Zero fields take the defaults above.
type Options struct {
	// MaxAttempts bounds the attempts per operation, the first included.
	MaxAttempts int
	// MaxElapsed bounds the time from the first attempt to the start of
	// the last one.
	MaxElapsed time.Duration
	// InitialBackoff is the first wait; each later wait is Multiplier
	// times longer, up to MaxBackoff.
	InitialBackoff, MaxBackoff time.Duration
	Multiplier                 float64
	// Jitter is the fraction of each wait that is randomized, in [0, 1].
	// Set NoJitter for none (0 means the default).
	Jitter   float64
	NoJitter bool
	// Seed seeds the jitter's random source; 0 picks a random seed.
	Seed uint64
	// Retryable decides whether an error is transient. Default IsTransient.
	// It is never asked about context errors: those are never retried.
	Retryable func(error) bool
	// OnRetry, when set, is called before each wait (for statistics).
	OnRetry func(op, name string, attempt int, err error, wait time.Duration)
	// Clock is waited on. Default clock.Real{}.
	Clock clock.Clock
	// Logger receives a debug record per retry and a warning when an
	// operation gives up. Default: discard.
	Logger *slog.Logger
}

// Validate checks the options and reports the first problem.
func (o Options) Validate() error {
	switch {
	case o.MaxAttempts < 0:
		return fmt.Errorf("retry: Options.MaxAttempts is negative (%d)", o.MaxAttempts)
	case o.MaxElapsed < 0, o.InitialBackoff < 0, o.MaxBackoff < 0:
		return errors.New("retry: Options.MaxElapsed, InitialBackoff and MaxBackoff must not be negative")
	case o.Multiplier != 0 && o.Multiplier < 1:
		return fmt.Errorf("retry: Options.Multiplier %v is below 1", o.Multiplier)
	case o.Jitter < 0 || o.Jitter > 1:
		return fmt.Errorf("retry: Options.Jitter %v is outside [0, 1]", o.Jitter)
	case o.MaxBackoff != 0 && o.InitialBackoff > o.MaxBackoff:
		return fmt.Errorf("retry: Options.InitialBackoff %v exceeds MaxBackoff %v", o.InitialBackoff, o.MaxBackoff)
	}
	return nil
}

func (o *Options) setDefaults() {
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxElapsed == 0 {
		o.MaxElapsed = DefaultMaxElapsed
	}
	if o.InitialBackoff == 0 {
		o.InitialBackoff = DefaultInitialBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = max(DefaultMaxBackoff, o.InitialBackoff)
	}
	if o.Multiplier == 0 {
		o.Multiplier = DefaultMultiplier
	}
	if o.NoJitter {
		o.Jitter = 0
	} else if o.Jitter == 0 {
		o.Jitter = DefaultJitter
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	if o.Retryable == nil {
		o.Retryable = IsTransient
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// IsTransient reports whether err wraps blob.ErrUnavailable and none of the
// sentinels that retrying cannot fix.
func IsTransient(err error) bool {
	if !errors.Is(err, blob.ErrUnavailable) {
		return false
	}
	for _, permanent := range []error{
		blob.ErrNotFound, blob.ErrExists, blob.ErrNoSpace, blob.ErrInvalidName, blob.ErrInvalidRange,
		context.Canceled, context.DeadlineExceeded,
	} {
		if errors.Is(err, permanent) {
			return false
		}
	}
	return true
}

// Store retries transient failures of an inner Store. Use New.
type Store struct {
	inner blob.Store
	opts  Options

	mu  sync.Mutex
	rng *rand.Rand
}

var _ blob.Store = (*Store)(nil)

// New wraps inner.
func New(inner blob.Store, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	return &Store{
		inner: inner,
		opts:  opts,
		rng:   rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x2545f4914f6cdd1d)),
	}, nil
}

// backoff returns the wait after the given failed attempt (1-based).
func (s *Store) backoff(attempt int) time.Duration {
	o := &s.opts
	d := float64(o.InitialBackoff) * math.Pow(o.Multiplier, float64(attempt-1))
	d = min(d, float64(o.MaxBackoff))
	if o.Jitter > 0 {
		s.mu.Lock()
		r := s.rng.Float64()
		s.mu.Unlock()
		d = d*(1-o.Jitter) + d*o.Jitter*r
	}
	return time.Duration(d)
}

func (s *Store) retryable(ctx context.Context, err error) bool {
	return ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
		s.opts.Retryable(err)
}

// budget tracks the attempts of one operation (or one failure streak of a
// reader).
type budget struct {
	start    time.Time
	attempts int
}

// wait decides whether to try again after err, the failure of the
// budget's latest attempt, and if so waits. It returns nil to go on, or the
// error to return.
func (s *Store) wait(ctx context.Context, b *budget, op, name string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || !s.opts.Retryable(err) {
		return err // permanent: returned as it is
	}
	if cerr := ctx.Err(); cerr != nil {
		// A transient-looking failure caused by the cancellation: report
		// the cancellation, never ErrUnavailable.
		return fmt.Errorf("retry: %s %q: %w (last error: %v)", op, name, cerr, err)
	}
	b.attempts++
	d := s.backoff(b.attempts)
	if b.attempts >= s.opts.MaxAttempts || s.opts.Clock.Now().Add(d).Sub(b.start) > s.opts.MaxElapsed {
		s.opts.Logger.Warn("retry: giving up", "op", op, "name", name, "attempts", b.attempts, "err", err)
		return fmt.Errorf("retry: %s %q: giving up after %d attempts in %v: %w",
			op, name, b.attempts, s.opts.Clock.Now().Sub(b.start).Round(time.Millisecond), err)
	}
	s.opts.Logger.Debug("retry: transient failure", "op", op, "name", name, "attempt", b.attempts, "wait", d, "err", err)
	if s.opts.OnRetry != nil {
		s.opts.OnRetry(op, name, b.attempts, err, d)
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("retry: %s %q: %w (while waiting to retry: %v)", op, name, ctx.Err(), err)
	case <-s.opts.Clock.After(d):
		return nil
	}
}

// do runs f until it succeeds, fails permanently or the budget is spent.
func (s *Store) do(ctx context.Context, op, name string, f func() error) error {
	b := budget{start: s.opts.Clock.Now()}
	for {
		err := f()
		if err == nil {
			return nil
		}
		if err := s.wait(ctx, &b, op, name, err); err != nil {
			return err
		}
	}
}

// Location returns the inner store's location.
func (s *Store) Location() string { return s.inner.Location() }

// Close closes the inner store.
func (s *Store) Close() error { return s.inner.Close() }

// Put retries the inner Put.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	return s.do(ctx, "put", name, func() error { return s.inner.Put(ctx, name, data) })
}

// PutStream passes a streamed Put on once when the inner store streams
// (the stream cannot be read again; callers that can, fall back to Put);
// otherwise it reads the stream and retries Put.
func (s *Store) PutStream(ctx context.Context, name string, size int64, r io.Reader) error {
	if sp, ok := s.inner.(blob.StreamPutter); ok {
		return sp.PutStream(ctx, name, size, r)
	}
	return blob.PutStream(ctx, putOnly{s}, name, size, r)
}

// PrepareDirs passes the preparation on (blob.DirPreparer), once.
func (s *Store) PrepareDirs(ctx context.Context, prefixes []string) error {
	return blob.PrepareDirs(ctx, s.inner, prefixes)
}

// PruneDirs passes the pruning on (blob.DirPruner), once.
func (s *Store) PruneDirs(ctx context.Context, prefix string) error {
	return blob.PruneDirs(ctx, s.inner, prefix)
}

// putOnly hides a Store's PutStream, so blob.PutStream reads the stream
// and calls Put.
type putOnly struct{ blob.Store }

// PutIfAbsent retries the inner PutIfAbsent and resolves a lost
// acknowledgement by comparing contents (see the package comment).
func (s *Store) PutIfAbsent(ctx context.Context, name string, data []byte) error {
	ambiguous := false
	return s.do(ctx, "put-if-absent", name, func() error {
		err := s.inner.PutIfAbsent(ctx, name, data)
		if errors.Is(err, blob.ErrExists) && ambiguous {
			got, rerr := blob.ReadAll(ctx, s.inner, name)
			if rerr == nil && bytes.Equal(got, data) {
				return nil // our earlier attempt stored it
			}
			if rerr != nil && s.retryable(ctx, rerr) {
				return rerr // check again on the next attempt
			}
			return err
		}
		if err != nil && s.retryable(ctx, err) {
			ambiguous = true
		}
		return err
	})
}

// Stat retries the inner Stat.
func (s *Store) Stat(ctx context.Context, name string) (blob.Info, error) {
	var info blob.Info
	err := s.do(ctx, "stat", name, func() (err error) {
		info, err = s.inner.Stat(ctx, name)
		return err
	})
	return info, err
}

// Delete retries the inner Delete.
func (s *Store) Delete(ctx context.Context, name string) error {
	return s.do(ctx, "delete", name, func() error { return s.inner.Delete(ctx, name) })
}

// List retries the inner List, passing each name to fn once.
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	seen := map[string]struct{}{}
	err := s.do(ctx, "list", prefix, func() error {
		return s.inner.List(ctx, prefix, func(i blob.Info) error {
			if _, ok := seen[i.Name]; ok {
				return nil
			}
			seen[i.Name] = struct{}{}
			if err := fn(i); err != nil {
				return stopError{err}
			}
			return nil
		})
	})
	var stop stopError
	if errors.As(err, &stop) {
		return stop.err // fn's own error: never retried or decorated
	}
	return err
}

// stopError carries an error returned by List's fn through the inner List.
// It has no Unwrap, so that fn's error is never taken for a transient
// failure of the listing.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }

// Get retries the inner Get and returns a reader that re-opens the object
// after a transient read failure.
func (s *Store) Get(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	rc, err := s.get(ctx, name, offset, length)
	if err != nil {
		return nil, err
	}
	return &reader{s: s, ctx: ctx, name: name, rc: rc, off: offset, left: length}, nil
}

func (s *Store) get(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	var rc io.ReadCloser
	err := s.do(ctx, "get", name, func() (err error) {
		rc, err = s.inner.Get(ctx, name, offset, length)
		return err
	})
	return rc, err
}

// reader resumes a Get after transient read failures.
type reader struct {
	s    *Store
	ctx  context.Context
	name string
	rc   io.ReadCloser // nil after a failure, until re-opened
	off  int64         // object offset of the next byte
	left int64         // bytes still wanted; < 0: to the end
	b    *budget       // the current failure streak, nil while reads progress
	err  error         // sticky permanent error
}

func (r *reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for {
		if r.left == 0 {
			return 0, io.EOF
		}
		if r.rc == nil {
			rc, err := r.s.inner.Get(r.ctx, r.name, r.off, r.left)
			if err != nil {
				if werr := r.fail(err); werr != nil {
					return 0, werr
				}
				continue
			}
			r.rc = rc
		}
		if r.left > 0 && int64(len(p)) > r.left {
			p = p[:r.left]
		}
		n, err := r.rc.Read(p)
		r.off += int64(n)
		if r.left > 0 {
			r.left -= int64(n)
		}
		if n > 0 {
			r.b = nil // progress: a new failure starts a new streak
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		_ = r.rc.Close()
		r.rc = nil
		if werr := r.fail(err); werr != nil {
			return n, werr
		}
		if n > 0 {
			return n, nil // deliver what we have; re-open on the next Read
		}
	}
}

// fail records a failed attempt of the current streak and waits, or
// returns the permanent error.
func (r *reader) fail(err error) error {
	if r.b == nil {
		r.b = &budget{start: r.s.opts.Clock.Now()}
	}
	if werr := r.s.wait(r.ctx, r.b, "read", r.name, err); werr != nil {
		r.err = werr
		return werr
	}
	return nil
}

func (r *reader) Close() error {
	if r.rc == nil {
		return nil
	}
	err := r.rc.Close()
	r.rc = nil
	return err
}
