package limit

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/blobtest"
	"github.com/coffer/coffer/internal/blob/mem"
)

func mustNew(t *testing.T, inner blob.Store, opts Options) *Store {
	t.Helper()
	s, err := New(inner, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		return mustNew(t, mem.New(t.Name()), Options{Reads: 2, Writes: 1})
	})
}

func TestConformanceUnbounded(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return mustNew(t, mem.New(t.Name()), Options{}) })
}

func TestValidate(t *testing.T) {
	if err := (Options{Reads: -1}).Validate(); err == nil {
		t.Error("Validate with Reads -1: got nil, want an error")
	}
	if err := (Options{Reads: 1, Writes: 2}).Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// gate is a Store whose Put and Stat block until released, recording the
// highest number of calls in flight.
type gate struct {
	blob.Store
	release           chan struct{}
	inFlight, maxSeen atomic.Int64
}

func (g *gate) enter() {
	n := g.inFlight.Add(1)
	for {
		m := g.maxSeen.Load()
		if n <= m || g.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	<-g.release
	g.inFlight.Add(-1)
}

func (g *gate) Put(ctx context.Context, name string, data []byte) error {
	g.enter()
	return g.Store.Put(ctx, name, data)
}

func (g *gate) Stat(ctx context.Context, name string) (blob.Info, error) {
	g.enter()
	return g.Store.Stat(ctx, name)
}

func TestBounds(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opts  Options
		op    func(s blob.Store) error
		limit int64
	}{
		{"writes", Options{Writes: 3, Reads: 1}, func(s blob.Store) error { return s.Put(context.Background(), "x", nil) }, 3},
		{"reads", Options{Writes: 1, Reads: 2}, func(s blob.Store) error {
			_, err := s.Stat(context.Background(), "x")
			if errors.Is(err, blob.ErrNotFound) {
				return nil
			}
			return err
		}, 2},
	} {
		g := &gate{Store: mem.New("t"), release: make(chan struct{})}
		s := mustNew(t, g, tt.opts)
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if err := tt.op(s); err != nil {
					t.Errorf("%s: %v", tt.name, err)
				}
			})
		}
		// Release the calls one at a time, each time after the gate holds
		// as many as the limit allows, so that the maximum is reached.
		for released := range int64(10) {
			want := min(tt.limit, 10-released)
			deadline := time.Now().Add(5 * time.Second)
			for g.inFlight.Load() < want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			g.release <- struct{}{}
		}
		wg.Wait()
		if got := g.maxSeen.Load(); got != tt.limit {
			t.Errorf("%s: got at most %d calls in flight, want %d", tt.name, got, tt.limit)
		}
	}
}

func TestGetHoldsSlotUntilClose(t *testing.T) {
	ctx := context.Background()
	s := mustNew(t, mem.New("t"), Options{Reads: 2})
	if err := s.Put(ctx, "o", []byte("data")); err != nil {
		t.Fatal(err)
	}
	r1, err := s.Get(ctx, "o", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Get(ctx, "o", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.Get(short, "o", 0, -1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("third Get with two readers open: got %v, want context.DeadlineExceeded", err)
	}
	r1.Close()
	r1.Close() // a second Close must not release a second slot
	r3, err := s.Get(ctx, "o", 0, -1)
	if err != nil {
		t.Fatalf("Get after a Close: %v", err)
	}
	short2, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	if _, err := s.Get(short2, "o", 0, -1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get after a double Close: got %v, want the slot count intact", err)
	}
	r2.Close()
	r3.Close()
	// A failed Get gives its slot back.
	for range 5 {
		if _, err := s.Get(ctx, "missing", 0, -1); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Get(missing): %v", err)
		}
	}
	if _, err := s.Stat(ctx, "o"); err != nil {
		t.Errorf("Stat after failed Gets: %v", err)
	}
}

func TestCounters(t *testing.T) {
	ctx := context.Background()
	var hookRead, hookWritten atomic.Int64
	s := mustNew(t, mem.New("t"), Options{
		OnRead:  func(n int) { hookRead.Add(int64(n)) },
		OnWrite: func(n int) { hookWritten.Add(int64(n)) },
	})
	_ = s.Put(ctx, "a", make([]byte, 100))
	_ = s.PutIfAbsent(ctx, "b", make([]byte, 50))
	_ = s.PutIfAbsent(ctx, "b", make([]byte, 50)) // ErrExists: not counted
	rc, _ := s.Get(ctx, "a", 10, 30)
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	_, _ = s.Stat(ctx, "a")
	_ = s.Delete(ctx, "a")
	_ = s.List(ctx, "", func(blob.Info) error { return nil })
	want := Stats{BytesRead: 30, BytesWritten: 150, Gets: 1, Puts: 2, Stats: 1, Deletes: 1, Lists: 1}
	if got := s.Stats(); got != want {
		t.Errorf("Stats: got %+v, want %+v", got, want)
	}
	if hookRead.Load() != 30 || hookWritten.Load() != 150 {
		t.Errorf("hooks: got read %d written %d, want 30 and 150", hookRead.Load(), hookWritten.Load())
	}
}
