package fault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/clock"
)

// Op is a set of operations.
type Op uint16

// Operations a Rule can apply to.
const (
	OpPut Op = 1 << iota
	OpPutIfAbsent
	OpGet
	OpRead
	OpStat
	OpDelete
	OpList

	// OpWrite is every operation that changes the store.
	OpWrite = OpPut | OpPutIfAbsent | OpDelete
	// OpAll is every operation; a zero Op in a Rule means the same.
	OpAll = OpPut | OpPutIfAbsent | OpGet | OpRead | OpStat | OpDelete | OpList
)

var opNames = []string{"put", "put-if-absent", "get", "read", "stat", "delete", "list"}

// String returns the operation names joined with "|".
func (o Op) String() string {
	var parts []string
	for i, n := range opNames {
		if o&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Kind is the effect of a firing Rule; see the package comment.
type Kind int

// Kinds of faults.
const (
	Pass Kind = iota
	Fail
	FailAfter
	TornWrite
	TruncateWrite
	CorruptWrite
	FlipByte
	Truncate
	ReadFail
)

var kindNames = []string{"pass", "fail", "fail-after", "torn-write", "truncate-write", "corrupt-write", "flip-byte", "truncate", "read-fail"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Rule selects calls and says what happens to them; see the package comment.
type Rule struct {
	// Ops the rule applies to; zero means all.
	Ops Op
	// Prefix the object name (for List: the listing prefix) must start with.
	Prefix string
	// Match, when set, must also return true for the name.
	Match func(name string) bool
	// After lets this many matching calls pass before the rule can fire.
	After int
	// Times bounds how often the rule fires; zero means no bound.
	Times int
	// Probability of firing on an eligible call; 0 means always.
	Probability float64
	// Kind is the effect.
	Kind Kind
	// Err is the error of Fail, FailAfter, TornWrite and ReadFail; default
	// blob.ErrUnavailable. It is wrapped, so errors.Is(err, Err) holds.
	Err error
	// Keep is the number of bytes kept by TornWrite, TruncateWrite,
	// Truncate and ReadFail.
	Keep int64
	// Offset is the byte flipped by CorruptWrite (in the data) and FlipByte
	// (in the object).
	Offset int64
	// Latency is waited on the Clock before the call proceeds.
	Latency time.Duration
}

func (r *Rule) applies(op Op, name string) bool {
	ops := r.Ops
	if ops == 0 {
		ops = OpAll
	}
	if ops&op == 0 || !strings.HasPrefix(name, r.Prefix) {
		return false
	}
	return r.Match == nil || r.Match(name)
}

func (r *Rule) err(op Op, name string) error {
	e := r.Err
	if e == nil {
		e = blob.ErrUnavailable
	}
	return fmt.Errorf("fault: injected %s on %s %q: %w", r.Kind, op, name, e)
}

// Options configure a Store.
type Options struct {
	// Seed seeds the random source of Probability. The same Seed and call
	// sequence give the same faults.
	Seed uint64
	// Clock is waited on for Latency. Default clock.Real{}.
	Clock clock.Clock
	// Rules are the initial rules.
	Rules []Rule
}

// Store is a blob.Store that injects faults into calls to an inner Store.
// Use New.
type Store struct {
	inner blob.Store
	clock clock.Clock

	mu    sync.Mutex
	rng   *rand.Rand
	rules []Rule
	seen  []int // matching calls per rule
	fired []int // firings per rule
}

var _ blob.Store = (*Store)(nil)

// New wraps inner.
func New(inner blob.Store, opts Options) *Store {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	s := &Store{
		inner: inner,
		clock: opts.Clock,
		rng:   rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
	}
	s.SetRules(opts.Rules...)
	return s
}

// SetRules replaces all rules and resets their counters.
func (s *Store) SetRules(rules ...Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append([]Rule(nil), rules...)
	s.seen = make([]int, len(rules))
	s.fired = make([]int, len(rules))
}

// AddRule appends a rule and returns its index (for Fired).
func (s *Store) AddRule(r Rule) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, r)
	s.seen = append(s.seen, 0)
	s.fired = append(s.fired, 0)
	return len(s.rules) - 1
}

// Clear removes all rules: the Store passes every call through.
func (s *Store) Clear() { s.SetRules() }

// Fired returns how often each rule has fired, indexed like the rules.
func (s *Store) Fired() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.fired...)
}

// Inner returns the wrapped Store, to inspect or repair it behind the faults.
func (s *Store) Inner() blob.Store { return s.inner }

// pick returns a copy of the first rule that fires for the call, or nil.
func (s *Store) pick(op Op, name string) *Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.rules {
		r := &s.rules[i]
		if !r.applies(op, name) {
			continue
		}
		s.seen[i]++
		if s.seen[i] <= r.After || (r.Times > 0 && s.fired[i] >= r.Times) {
			continue
		}
		if r.Probability > 0 && r.Probability < 1 && s.rng.Float64() >= r.Probability {
			continue
		}
		s.fired[i]++
		c := *r
		return &c
	}
	return nil
}

// enter runs the contract checks, picks a rule and waits its latency.
func (s *Store) enter(ctx context.Context, op Op, name string) (*Rule, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fault: %s %q: %w", op, name, err)
	}
	if op == OpList {
		if err := blob.ValidPrefix(name); err != nil {
			return nil, fmt.Errorf("fault: %s: %w", op, err)
		}
	} else if err := blob.ValidName(name); err != nil {
		return nil, fmt.Errorf("fault: %s: %w", op, err)
	}
	r := s.pick(op, name)
	if r == nil {
		return nil, nil
	}
	if r.Latency > 0 {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("fault: %s %q: %w", op, name, ctx.Err())
		case <-s.clock.After(r.Latency):
		}
	}
	return r, nil
}

// Location returns the inner store's location marked as faulty.
func (s *Store) Location() string { return "fault(" + s.inner.Location() + ")" }

// Put stores data unless a rule says otherwise.
func (s *Store) Put(ctx context.Context, name string, data []byte) error {
	return s.write(ctx, OpPut, name, data, s.inner.Put)
}

// PutIfAbsent stores data unless a rule says otherwise.
func (s *Store) PutIfAbsent(ctx context.Context, name string, data []byte) error {
	return s.write(ctx, OpPutIfAbsent, name, data, s.inner.PutIfAbsent)
}

func (s *Store) write(ctx context.Context, op Op, name string, data []byte, put func(context.Context, string, []byte) error) error {
	r, err := s.enter(ctx, op, name)
	if err != nil {
		return err
	}
	if r == nil {
		return put(ctx, name, data)
	}
	switch r.Kind {
	case Fail:
		return r.err(op, name)
	case FailAfter:
		if err := put(ctx, name, data); err != nil {
			return err
		}
		return r.err(op, name)
	case TornWrite:
		if err := put(ctx, name, data[:clampKeep(r.Keep, len(data))]); err != nil {
			return err
		}
		return r.err(op, name)
	case TruncateWrite:
		return put(ctx, name, data[:clampKeep(r.Keep, len(data))])
	case CorruptWrite:
		c := bytes.Clone(data)
		if len(c) > 0 {
			c[min(max(r.Offset, 0), int64(len(c)-1))] ^= 0xff
		}
		return put(ctx, name, c)
	}
	return put(ctx, name, data)
}

func clampKeep(keep int64, n int) int64 {
	return min(max(keep, 0), int64(n))
}

// Get returns the inner reader, possibly wrapped to corrupt or cut it.
func (s *Store) Get(ctx context.Context, name string, offset, length int64) (io.ReadCloser, error) {
	r, err := s.enter(ctx, OpGet, name)
	if err != nil {
		return nil, err
	}
	if r != nil && r.Kind == Fail {
		return nil, r.err(OpGet, name)
	}
	rc, err := s.inner.Get(ctx, name, offset, length)
	if err != nil {
		return nil, err
	}
	if r != nil && r.Kind == FailAfter {
		rc.Close()
		return nil, r.err(OpGet, name)
	}
	rr := s.pick(OpRead, name)
	if rr == nil {
		return rc, nil
	}
	if rr.Latency > 0 {
		select {
		case <-ctx.Done():
			rc.Close()
			return nil, fmt.Errorf("fault: %s %q: %w", OpRead, name, ctx.Err())
		case <-s.clock.After(rr.Latency):
		}
	}
	return &faultReader{rc: rc, rule: rr, name: name, start: offset}, nil
}

// faultReader applies a read rule to a stream that starts at object offset
// start.
type faultReader struct {
	rc    io.ReadCloser
	rule  *Rule
	name  string
	start int64
	pos   int64 // bytes returned so far
}

func (f *faultReader) Read(p []byte) (int, error) {
	r := f.rule
	if r.Kind == Truncate || r.Kind == ReadFail || r.Kind == Fail || r.Kind == FailAfter {
		left := max(r.Keep, 0) - f.pos
		if left <= 0 {
			if r.Kind == Truncate {
				return 0, io.EOF
			}
			return 0, r.err(OpRead, f.name)
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := f.rc.Read(p)
	if r.Kind == FlipByte {
		if i := r.Offset - f.start - f.pos; i >= 0 && i < int64(n) {
			p[i] ^= 0xff
		}
	}
	f.pos += int64(n)
	return n, err
}

func (f *faultReader) Close() error { return f.rc.Close() }

// Stat returns the inner Stat unless a rule says otherwise.
func (s *Store) Stat(ctx context.Context, name string) (blob.Info, error) {
	r, err := s.enter(ctx, OpStat, name)
	if err != nil {
		return blob.Info{}, err
	}
	if r != nil && r.Kind == Fail {
		return blob.Info{}, r.err(OpStat, name)
	}
	info, err := s.inner.Stat(ctx, name)
	if err == nil && r != nil && r.Kind == FailAfter {
		return blob.Info{}, r.err(OpStat, name)
	}
	return info, err
}

// Delete removes the object unless a rule says otherwise.
func (s *Store) Delete(ctx context.Context, name string) error {
	r, err := s.enter(ctx, OpDelete, name)
	if err != nil {
		return err
	}
	if r != nil && r.Kind == Fail {
		return r.err(OpDelete, name)
	}
	err = s.inner.Delete(ctx, name)
	if err == nil && r != nil && r.Kind == FailAfter {
		return r.err(OpDelete, name)
	}
	return err
}

// List lists the inner store unless a rule says otherwise. Rules match the
// listing prefix. With FailAfter the whole listing is delivered, then
// List fails.
func (s *Store) List(ctx context.Context, prefix string, fn func(blob.Info) error) error {
	r, err := s.enter(ctx, OpList, prefix)
	if err != nil {
		return err
	}
	if r != nil && r.Kind == Fail {
		return r.err(OpList, prefix)
	}
	err = s.inner.List(ctx, prefix, fn)
	if err == nil && r != nil && r.Kind == FailAfter {
		return r.err(OpList, prefix)
	}
	return err
}

// Close closes the inner store.
func (s *Store) Close() error { return s.inner.Close() }
