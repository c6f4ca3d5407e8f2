package retry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/blobtest"
	"github.com/coffer/coffer/internal/blob/fault"
	"github.com/coffer/coffer/internal/blob/mem"
	"github.com/coffer/coffer/internal/clock"
)

// instantClock fires every timer at once and moves its time forward by the
// waited duration, recording the waits.
type instantClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newInstant() *instantClock { return &instantClock{now: time.Unix(1_700_000_000, 0)} }

func (c *instantClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *instantClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *instantClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

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
		return mustNew(t, mem.New(t.Name()), Options{Clock: newInstant()})
	})
}

// TestConformanceUnderFaults runs the suite through the retry decorator
// over a store that fails a third of all calls transiently, loses
// acknowledgements of writes and breaks reads in the middle: the retries
// must hide every one of those faults.
func TestConformanceUnderFaults(t *testing.T) {
	var (
		mu     sync.Mutex
		seed   uint64
		faults []*fault.Store
	)
	t.Cleanup(func() { // after all parallel subtests
		fired := 0
		for _, f := range faults {
			for _, n := range f.Fired() {
				fired += n
			}
		}
		if fired < 100 {
			t.Errorf("faults injected during the suite: got %d, want many", fired)
		}
		t.Logf("%d faults injected and hidden by retries", fired)
	})
	blobtest.Run(t, func(t *testing.T) blob.Store {
		mu.Lock()
		defer mu.Unlock()
		seed++
		f := fault.New(mem.New(t.Name()), fault.Options{Seed: seed, Rules: []fault.Rule{
			{Probability: 0.2, Kind: fault.Fail},
			{Ops: fault.OpWrite, Probability: 0.1, Kind: fault.FailAfter},
			{Ops: fault.OpRead, Probability: 0.3, Kind: fault.ReadFail, Keep: 64 << 10},
		}})
		faults = append(faults, f)
		return mustNew(t, f, Options{Clock: newInstant(), MaxAttempts: 40, MaxElapsed: time.Hour, Seed: seed})
	})
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		opts Options
		ok   bool
	}{
		{Options{}, true},
		{Options{MaxAttempts: -1}, false},
		{Options{MaxElapsed: -1}, false},
		{Options{Multiplier: 0.5}, false},
		{Options{Jitter: 1.5}, false},
		{Options{InitialBackoff: time.Minute, MaxBackoff: time.Second}, false},
		{Options{InitialBackoff: time.Second, MaxBackoff: time.Minute, Multiplier: 3, Jitter: 1}, true},
	}
	for _, tt := range tests {
		if err := tt.opts.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tt.opts, err, tt.ok)
		}
	}
}

// failing is a Store whose every operation fails with err and counts calls.
type failing struct {
	blob.Store
	err   error
	mu    sync.Mutex
	calls int
}

func (f *failing) count() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.err
}

func (f *failing) Put(context.Context, string, []byte) error         { return f.count() }
func (f *failing) PutIfAbsent(context.Context, string, []byte) error { return f.count() }
func (f *failing) Delete(context.Context, string) error              { return f.count() }
func (f *failing) Stat(context.Context, string) (blob.Info, error)   { return blob.Info{}, f.count() }
func (f *failing) Get(context.Context, string, int64, int64) (io.ReadCloser, error) {
	return nil, f.count()
}
func (f *failing) List(context.Context, string, func(blob.Info) error) error { return f.count() }

func TestWhatIsRetried(t *testing.T) {
	ops := map[string]func(blob.Store) error{
		"put":           func(s blob.Store) error { return s.Put(context.Background(), "x", nil) },
		"put-if-absent": func(s blob.Store) error { return s.PutIfAbsent(context.Background(), "x", nil) },
		"delete":        func(s blob.Store) error { return s.Delete(context.Background(), "x") },
		"stat":          func(s blob.Store) error { _, err := s.Stat(context.Background(), "x"); return err },
		"get":           func(s blob.Store) error { _, err := s.Get(context.Background(), "x", 0, -1); return err },
		"list": func(s blob.Store) error {
			return s.List(context.Background(), "", func(blob.Info) error { return nil })
		},
	}
	tests := []struct {
		err       error
		wantCalls int
	}{
		{blob.ErrUnavailable, 4},
		{fmt.Errorf("s3: put: %w: connection refused", blob.ErrUnavailable), 4},
		{blob.ErrNotFound, 1},
		{blob.ErrExists, 1},
		{blob.ErrNoSpace, 1},
		{blob.ErrInvalidName, 1},
		{blob.ErrInvalidRange, 1},
		{context.Canceled, 1},
		{context.DeadlineExceeded, 1},
		{fmt.Errorf("%w: %w", blob.ErrUnavailable, context.Canceled), 1},
		{fmt.Errorf("%w: %w", blob.ErrUnavailable, blob.ErrNoSpace), 1},
		{errors.New("permission denied"), 1},
	}
	for _, tt := range tests {
		for name, op := range ops {
			inner := &failing{err: tt.err}
			s := mustNew(t, inner, Options{MaxAttempts: 4, Clock: newInstant()})
			err := op(s)
			if !errors.Is(err, tt.err) {
				t.Errorf("%s failing with %v: got %v, want it wrapped", name, tt.err, err)
			}
			if inner.calls != tt.wantCalls {
				t.Errorf("%s failing with %v: got %d attempts, want %d", name, tt.err, inner.calls, tt.wantCalls)
			}
			if tt.wantCalls > 1 && !strings.Contains(err.Error(), "giving up after 4 attempts") {
				t.Errorf("%s failing with %v: got %q, want it to say it gave up", name, tt.err, err)
			}
		}
	}
}

func TestBackoff(t *testing.T) {
	clk := newInstant()
	s := mustNew(t, &failing{err: blob.ErrUnavailable}, Options{
		MaxAttempts: 7, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
		NoJitter: true, MaxElapsed: time.Hour, Clock: clk,
	})
	_ = s.Put(context.Background(), "x", nil)
	ms := time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}
	if got := clk.Waits(); !slices.Equal(got, want) {
		t.Errorf("waits without jitter: got %v, want %v", got, want)
	}

	clk = newInstant()
	s = mustNew(t, &failing{err: blob.ErrUnavailable}, Options{
		MaxAttempts: 7, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second,
		Jitter: 0.5, Seed: 42, MaxElapsed: time.Hour, Clock: clk,
	})
	_ = s.Put(context.Background(), "x", nil)
	got := clk.Waits()
	if len(got) != len(want) {
		t.Fatalf("waits with jitter: got %v, want %d waits", got, len(want))
	}
	for i, d := range got {
		if d < want[i]/2 || d > want[i] {
			t.Errorf("wait %d with jitter 0.5: got %v, want within [%v, %v]", i, d, want[i]/2, want[i])
		}
	}
	if slices.Equal(got, want) {
		t.Errorf("waits with jitter: got exactly the unjittered waits %v", got)
	}
}

func TestMaxElapsed(t *testing.T) {
	clk := newInstant()
	inner := &failing{err: blob.ErrUnavailable}
	s := mustNew(t, inner, Options{
		MaxAttempts: 100, InitialBackoff: time.Second, NoJitter: true, MaxElapsed: 3 * time.Second, Clock: clk,
	})
	err := s.Put(context.Background(), "x", nil)
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("got %v, want ErrUnavailable", err)
	}
	// Waits 1 s and 2 s fit in 3 s; the next (4 s) would not.
	if inner.calls != 3 {
		t.Errorf("attempts within MaxElapsed 3 s: got %d, want 3", inner.calls)
	}
}

func TestCancelDuringWait(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0)) // never advanced: waits never end
	s := mustNew(t, &failing{err: blob.ErrUnavailable}, Options{Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Put(ctx, "x", nil) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || errors.Is(err, blob.ErrUnavailable) {
			t.Errorf("Put cancelled while waiting: got %v, want context.Canceled and not ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Put did not return after its context was cancelled")
	}
}

func TestPutIfAbsentLostAck(t *testing.T) {
	ctx := context.Background()
	inner := mem.New("t")
	f := fault.New(inner, fault.Options{Rules: []fault.Rule{{Ops: fault.OpPutIfAbsent, Kind: fault.FailAfter, Times: 1}}})
	s := mustNew(t, f, Options{Clock: newInstant()})
	if err := s.PutIfAbsent(ctx, "lock", []byte("nonce-1")); err != nil {
		t.Errorf("PutIfAbsent whose acknowledgement was lost: got %v, want nil", err)
	}
	if err := s.PutIfAbsent(ctx, "lock", []byte("nonce-2")); !errors.Is(err, blob.ErrExists) {
		t.Errorf("second PutIfAbsent: got %v, want ErrExists", err)
	}
	if got := f.Fired(); got[0] != 1 {
		t.Errorf("fault fired %d times, want 1", got[0])
	}
}

func TestPutIfAbsentLostRace(t *testing.T) {
	// The first attempt fails without reaching the store; before the retry
	// another writer takes the name. The retry must report ErrExists.
	ctx := context.Background()
	inner := mem.New("t")
	f := fault.New(inner, fault.Options{Rules: []fault.Rule{{Ops: fault.OpPutIfAbsent, Kind: fault.Fail, Times: 1}}})
	s := mustNew(t, f, Options{Clock: newInstant(), OnRetry: func(string, string, int, error, time.Duration) {
		_ = inner.PutIfAbsent(ctx, "lock", []byte("other"))
	}})
	if err := s.PutIfAbsent(ctx, "lock", []byte("mine")); !errors.Is(err, blob.ErrExists) {
		t.Errorf("PutIfAbsent that lost the race during a retry: got %v, want ErrExists", err)
	}
	got, _ := blob.ReadAll(ctx, inner, "lock")
	if string(got) != "other" {
		t.Errorf("stored: got %q, want %q", got, "other")
	}
}

func TestResumableRead(t *testing.T) {
	ctx := context.Background()
	inner := mem.New("t")
	data := blobtest.Data(1, 10000)
	if err := inner.Put(ctx, "o", data); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		rule   fault.Rule
		off, n int64
	}{
		{"whole", fault.Rule{Ops: fault.OpRead, Kind: fault.ReadFail, Keep: 1000, Times: 3}, 0, -1},
		{"range", fault.Rule{Ops: fault.OpRead, Kind: fault.ReadFail, Keep: 7, Times: 5}, 100, 50},
		{"at the end", fault.Rule{Ops: fault.OpRead, Kind: fault.ReadFail, Keep: 10, Times: 1}, 9990, 10},
		{"reopen fails", fault.Rule{Ops: fault.OpRead | fault.OpGet, After: 1, Kind: fault.Fail, Times: 3}, 0, -1},
	}
	for _, tt := range tests {
		f := fault.New(inner, fault.Options{Rules: []fault.Rule{tt.rule}})
		s := mustNew(t, f, Options{Clock: newInstant()})
		rc, err := s.Get(ctx, "o", tt.off, tt.n)
		if err != nil {
			t.Fatalf("%s: Get: %v", tt.name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		end := int64(len(data))
		if tt.n >= 0 {
			end = tt.off + tt.n
		}
		if err != nil || !bytes.Equal(got, data[tt.off:end]) {
			t.Errorf("%s: got %d bytes, %v, want %d bytes", tt.name, len(got), err, end-tt.off)
		}
		if f.Fired()[0] == 0 {
			t.Errorf("%s: the read fault never fired", tt.name)
		}
	}
}

func TestReadGivesUp(t *testing.T) {
	ctx := context.Background()
	inner := mem.New("t")
	if err := inner.Put(ctx, "o", make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	f := fault.New(inner, fault.Options{Rules: []fault.Rule{{Ops: fault.OpRead, Kind: fault.ReadFail, Keep: 0}}})
	s := mustNew(t, f, Options{Clock: newInstant(), MaxAttempts: 3})
	rc, err := s.Get(ctx, "o", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, blob.ErrUnavailable) || !strings.Contains(err.Error(), "giving up") {
		t.Errorf("reads that always fail: got %v, want ErrUnavailable after giving up", err)
	}
	if _, err := rc.Read(make([]byte, 1)); err == nil {
		t.Errorf("Read after giving up: got nil error, want the same failure")
	}
}

// flakyList lists a, b, then fails once; the second attempt lists a, b, c.
type flakyList struct {
	blob.Store
	calls int
}

func (f *flakyList) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	f.calls++
	names := []string{"a", "b", "c"}
	if f.calls == 1 {
		names = names[:2]
	}
	for _, n := range names {
		if err := fn(blob.Info{Name: n}); err != nil {
			return err
		}
	}
	if f.calls == 1 {
		return fmt.Errorf("list: %w", blob.ErrUnavailable)
	}
	return nil
}

func TestListRetryNoDuplicates(t *testing.T) {
	s := mustNew(t, &flakyList{}, Options{Clock: newInstant()})
	var got []string
	err := s.List(context.Background(), "", func(i blob.Info) error { got = append(got, i.Name); return nil })
	if err != nil || !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("List retried after a failure: got %v, %v, want [a b c] once each", got, err)
	}
}

func TestListCallbackErrorNotRetried(t *testing.T) {
	inner := &flakyList{}
	s := mustNew(t, inner, Options{Clock: newInstant()})
	errFn := fmt.Errorf("callback: %w", blob.ErrUnavailable)
	err := s.List(context.Background(), "", func(blob.Info) error { return errFn })
	if err != errFn || inner.calls != 1 {
		t.Errorf("List whose callback fails transiently: got %v after %d calls, want the callback's error after 1", err, inner.calls)
	}
}

func TestCancelledTransientBecomesContextError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	inner := &failing{err: blob.ErrUnavailable}
	s := mustNew(t, inner, Options{Clock: newInstant()})
	cancel()
	err := s.Put(ctx, "x", nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("transient failure with a cancelled context: got %v, want context.Canceled and not ErrUnavailable", err)
	}
	if inner.calls != 1 {
		t.Errorf("attempts: got %d, want 1", inner.calls)
	}
	inner.err = blob.ErrNotFound
	if err := s.Put(ctx, "x", nil); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("permanent failure with a cancelled context: got %v, want it unchanged (ErrNotFound)", err)
	}
}
