package fault

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/blobtest"
	"github.com/coffer/coffer/internal/blob/mem"
	"github.com/coffer/coffer/internal/clock"
)

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		// Rules that never change an outcome: the decorator must be
		// transparent.
		return New(mem.New(t.Name()), Options{Rules: []Rule{
			{Kind: Pass},
			{Ops: OpRead, Kind: FlipByte, Offset: -1},
		}})
	})
}

var data = []byte("0123456789")

func readAll(t *testing.T, s blob.Store, name string, off, n int64) ([]byte, error) {
	t.Helper()
	rc, err := s.Get(context.Background(), name, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestKinds(t *testing.T) {
	ctx := context.Background()
	errBoom := errors.New("boom")
	tests := []struct {
		name     string
		rule     Rule
		op       func(s blob.Store) error
		wantErr  error  // errors.Is, nil for success
		wantData []byte // stored object afterwards; nil for none
	}{
		{"fail put", Rule{Ops: OpPut, Kind: Fail},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, blob.ErrUnavailable, nil},
		{"fail put custom error", Rule{Ops: OpPut, Kind: Fail, Err: blob.ErrNoSpace},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, blob.ErrNoSpace, nil},
		{"fail after put", Rule{Ops: OpPut, Kind: FailAfter},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, blob.ErrUnavailable, data},
		{"torn put", Rule{Ops: OpPut, Kind: TornWrite, Keep: 4},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, blob.ErrUnavailable, data[:4]},
		{"torn put-if-absent", Rule{Ops: OpPutIfAbsent, Kind: TornWrite, Keep: 100, Err: errBoom},
			func(s blob.Store) error { return s.PutIfAbsent(ctx, "o", data) }, errBoom, data},
		{"truncate write", Rule{Ops: OpPut, Kind: TruncateWrite, Keep: 3},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, nil, data[:3]},
		{"corrupt write", Rule{Ops: OpPut, Kind: CorruptWrite, Offset: 2},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, nil, []byte("01\xcd3456789")},
		{"corrupt write past end", Rule{Ops: OpPut, Kind: CorruptWrite, Offset: 99},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, nil, []byte("012345678\xc6")},
		{"fail delete", Rule{Ops: OpDelete, Kind: Fail},
			func(s blob.Store) error { return s.Delete(ctx, "x") }, blob.ErrUnavailable, nil},
		{"fail stat", Rule{Ops: OpStat, Kind: Fail},
			func(s blob.Store) error { _, err := s.Stat(ctx, "x"); return err }, blob.ErrUnavailable, nil},
		{"fail list", Rule{Ops: OpList, Kind: Fail},
			func(s blob.Store) error { return s.List(ctx, "", func(blob.Info) error { return nil }) }, blob.ErrUnavailable, nil},
		{"pass", Rule{Kind: Pass},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, nil, data},
		{"other op", Rule{Ops: OpGet, Kind: Fail},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, nil, data},
		{"other prefix", Rule{Prefix: "p/", Kind: Fail},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, nil, data},
		{"match false", Rule{Match: func(string) bool { return false }, Kind: Fail},
			func(s blob.Store) error { return s.Put(ctx, "o", data) }, nil, data},
		{"invalid name first", Rule{Kind: Fail},
			func(s blob.Store) error { return s.Put(ctx, "../o", data) }, blob.ErrInvalidName, nil},
	}
	for _, tt := range tests {
		inner := mem.New("t")
		s := New(inner, Options{Rules: []Rule{tt.rule}})
		err := tt.op(s)
		if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.wantErr)
		}
		got, gerr := blob.ReadAll(ctx, inner, "o")
		if tt.wantData == nil {
			if !errors.Is(gerr, blob.ErrNotFound) {
				t.Errorf("%s: stored object: got %q, %v, want none", tt.name, got, gerr)
			}
		} else if !bytes.Equal(got, tt.wantData) {
			t.Errorf("%s: stored object: got %q, %v, want %q", tt.name, got, gerr, tt.wantData)
		}
	}
}

func TestReadKinds(t *testing.T) {
	tests := []struct {
		name    string
		rule    Rule
		off, n  int64
		want    []byte
		wantErr error
	}{
		{"flip", Rule{Ops: OpRead, Kind: FlipByte, Offset: 3}, 0, -1, []byte("012\xcc456789"), nil},
		{"flip in range", Rule{Ops: OpRead, Kind: FlipByte, Offset: 5}, 4, 3, []byte("4\xca6"), nil},
		{"flip outside range", Rule{Ops: OpRead, Kind: FlipByte, Offset: 1}, 4, 3, []byte("456"), nil},
		{"truncate", Rule{Ops: OpRead, Kind: Truncate, Keep: 4}, 0, -1, []byte("0123"), nil},
		{"read fail", Rule{Ops: OpRead, Kind: ReadFail, Keep: 6}, 0, -1, []byte("012345"), blob.ErrUnavailable},
		{"fail on read", Rule{Ops: OpRead, Kind: Fail}, 0, -1, []byte{}, blob.ErrUnavailable},
		{"get fail", Rule{Ops: OpGet, Kind: Fail}, 0, -1, nil, blob.ErrUnavailable},
		{"get fail after", Rule{Ops: OpGet, Kind: FailAfter}, 0, -1, nil, blob.ErrUnavailable},
		{"write kind on read", Rule{Ops: OpRead, Kind: CorruptWrite}, 0, -1, data, nil},
	}
	for _, tt := range tests {
		inner := mem.New("t")
		if err := inner.Put(context.Background(), "o", data); err != nil {
			t.Fatal(err)
		}
		s := New(inner, Options{Rules: []Rule{tt.rule}})
		got, err := readAll(t, s, "o", tt.off, tt.n)
		if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: got error %v, want %v", tt.name, err, tt.wantErr)
		}
		if tt.want != nil && !bytes.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAfterTimesFired(t *testing.T) {
	ctx := context.Background()
	s := New(mem.New("t"), Options{})
	i := s.AddRule(Rule{Ops: OpPut, Prefix: "p/", After: 2, Times: 3, Kind: Fail})
	var got []bool
	for range 8 {
		got = append(got, s.Put(ctx, "p/x", data) != nil)
		_ = s.Put(ctx, "q/x", data) // does not match: never counted
	}
	want := []bool{false, false, true, true, true, false, false, false}
	if !slices.Equal(got, want) {
		t.Errorf("failures of 8 Puts with After 2, Times 3: got %v, want %v", got, want)
	}
	if f := s.Fired(); f[i] != 3 {
		t.Errorf("Fired: got %v, want 3 for rule %d", f, i)
	}
	s.Clear()
	if err := s.Put(ctx, "p/x", data); err != nil || len(s.Fired()) != 0 {
		t.Errorf("after Clear: got %v, Fired %v, want no faults", err, s.Fired())
	}
}

func TestFirstRuleWins(t *testing.T) {
	s := New(mem.New("t"), Options{Rules: []Rule{
		{Ops: OpPut, Kind: Fail, Err: blob.ErrNoSpace, Times: 1},
		{Ops: OpPut, Kind: Fail},
	}})
	ctx := context.Background()
	if err := s.Put(ctx, "a", data); !errors.Is(err, blob.ErrNoSpace) {
		t.Errorf("first Put: got %v, want ErrNoSpace from the first rule", err)
	}
	if err := s.Put(ctx, "a", data); !errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("second Put: got %v, want ErrUnavailable from the second rule", err)
	}
	if got := s.Fired(); !slices.Equal(got, []int{1, 1}) {
		t.Errorf("Fired: got %v, want [1 1]", got)
	}
}

func pattern(seed uint64) []bool {
	s := New(mem.New("t"), Options{Seed: seed, Rules: []Rule{{Probability: 0.3, Kind: Fail}}})
	var out []bool
	for range 200 {
		out = append(out, s.Put(context.Background(), "x", nil) != nil)
	}
	return out
}

func TestProbabilityDeterministic(t *testing.T) {
	a, b, c := pattern(7), pattern(7), pattern(8)
	if !slices.Equal(a, b) {
		t.Errorf("same seed: got different fault patterns")
	}
	if slices.Equal(a, c) {
		t.Errorf("different seeds: got the same fault pattern")
	}
	n := 0
	for _, f := range a {
		if f {
			n++
		}
	}
	if n < 30 || n > 90 {
		t.Errorf("Probability 0.3 over 200 calls: got %d faults, want about 60", n)
	}
}

func TestLatency(t *testing.T) {
	clk := clock.NewFake(time.Unix(0, 0))
	s := New(mem.New("t"), Options{Clock: clk, Rules: []Rule{{Ops: OpStat, Latency: time.Minute}}})
	done := make(chan error, 1)
	go func() {
		_, err := s.Stat(context.Background(), "x")
		done <- err
	}()
	// The Stat waits until the clock passes one minute; advance the clock
	// in steps until it returns.
	var err error
	for waiting := true; waiting; {
		select {
		case err = <-done:
			waiting = false
		case <-time.After(time.Millisecond):
			clk.Advance(10 * time.Second)
		}
	}
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat after latency: got %v, want ErrNotFound from the inner store", err)
	}
	if clk.Now().Before(time.Unix(60, 0)) {
		t.Fatalf("Stat returned at %v, before its latency passed", clk.Now())
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := s.Stat(ctx, "x")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Stat cancelled during latency: got %v, want context.Canceled", err)
	}
}

func TestOpString(t *testing.T) {
	if got := (OpPut | OpRead).String(); got != "put|read" {
		t.Errorf("(OpPut|OpRead).String() = %q, want put|read", got)
	}
	if got := TornWrite.String(); got != "torn-write" {
		t.Errorf("TornWrite.String() = %q", got)
	}
}
