package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"golang.org/x/sync/errgroup"
)

// Run runs every case of the conformance suite against stores returned by
// newStore, each case in its own parallel subtest with its own Store.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"Location", testLocation},
		{"RoundTrip", testRoundTrip},
		{"PutDoesNotRetainData", testPutDoesNotRetain},
		{"Overwrite", testOverwrite},
		{"Ranges", testRanges},
		{"RangesEmptyObject", testRangesEmpty},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"List", testList},
		{"ListStopsOnCallbackError", testListStop},
		{"ListMany", testListMany},
		{"ListInvalidPrefix", testListInvalidPrefix},
		{"PutStream", testPutStream},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentRace", testPutIfAbsentRace},
		{"InvalidNames", testInvalidNames},
		{"AllowedCharacters", testAllowedCharacters},
		{"Concurrent", testConcurrent},
		{"ContextCancelled", testContextCancelled},
		{"ContextCancelledDuringRead", testContextCancelledDuringRead},
		{"ContextCancelledDuringList", testContextCancelledDuringList},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			c.fn(t, s)
		})
	}
}

// Data returns n deterministic pseudo-random bytes derived from seed.
func Data(seed uint64, n int) []byte {
	b := make([]byte, n)
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

func mustPut(t *testing.T, s blob.Store, name string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), name, data); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", name, len(data), err)
	}
}

func mustGet(t *testing.T, s blob.Store, name string) []byte {
	t.Helper()
	got, err := blob.ReadAll(context.Background(), s, name)
	if err != nil {
		t.Fatalf("ReadAll(%q): %v", name, err)
	}
	return got
}

func checkContent(t *testing.T, s blob.Store, name string, want []byte) {
	t.Helper()
	got := mustGet(t, s, name)
	if !bytes.Equal(got, want) {
		t.Fatalf("ReadAll(%q): got %d bytes (%s), want %d bytes (%s)", name, len(got), summary(got), len(want), summary(want))
	}
	info, err := s.Stat(context.Background(), name)
	if err != nil {
		t.Fatalf("Stat(%q): %v", name, err)
	}
	if info.Name != name || info.Size != int64(len(want)) {
		t.Fatalf("Stat(%q): got %+v, want {Name:%s Size:%d}", name, info, name, len(want))
	}
}

func summary(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%x...", b[:16])
	}
	return fmt.Sprintf("%x", b)
}

func listAll(t *testing.T, s blob.Store, prefix string) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.List(context.Background(), prefix, func(i blob.Info) error {
		if _, dup := got[i.Name]; dup {
			return fmt.Errorf("%q listed twice", i.Name)
		}
		got[i.Name] = i.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return got
}

func testLocation(t *testing.T, s blob.Store) {
	if s.Location() == "" {
		t.Error("Location() is empty, want a description of the store")
	}
}

func testRoundTrip(t *testing.T, s blob.Store) {
	sizes := []int{0, 1, 100, 64 << 10, 5<<20 + 3}
	for i, n := range sizes {
		name := fmt.Sprintf("roundtrip/obj-%d", n)
		data := Data(uint64(i), n)
		mustPut(t, s, name, data)
		checkContent(t, s, name, data)
	}
}

func testPutDoesNotRetain(t *testing.T, s blob.Store) {
	data := Data(1, 4096)
	orig := bytes.Clone(data)
	mustPut(t, s, "retain", data)
	for i := range data {
		data[i] ^= 0xff
	}
	checkContent(t, s, "retain", orig)
	got := mustGet(t, s, "retain")
	got[0] ^= 0xff // the caller may modify what it read
	checkContent(t, s, "retain", orig)
}

func testOverwrite(t *testing.T, s blob.Store) {
	for i, n := range []int{1000, 10, 0, 2000} {
		data := Data(uint64(100+i), n)
		mustPut(t, s, "over/write", data)
		checkContent(t, s, "over/write", data)
	}
}

func getRange(ctx context.Context, s blob.Store, name string, off, n int64) ([]byte, error) {
	rc, err := s.Get(ctx, name, off, n)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return b, err
}

type rangeCase struct {
	off, n   int64
	from, to int   // want data[from:to]
	err      error // or this error
}

func checkRanges(t *testing.T, s blob.Store, name string, data []byte, cases []rangeCase) {
	t.Helper()
	for _, c := range cases {
		got, err := getRange(context.Background(), s, name, c.off, c.n)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Get(%q, %d, %d): got error %v, want %v", name, c.off, c.n, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Get(%q, %d, %d): %v", name, c.off, c.n, err)
			continue
		}
		if want := data[c.from:c.to]; !bytes.Equal(got, want) {
			t.Errorf("Get(%q, %d, %d): got %d bytes (%s), want %d bytes data[%d:%d] (%s)",
				name, c.off, c.n, len(got), summary(got), len(want), c.from, c.to, summary(want))
		}
	}
}

func testRanges(t *testing.T, s blob.Store) {
	data := Data(7, 1000)
	mustPut(t, s, "range/obj", data)
	checkRanges(t, s, "range/obj", data, []rangeCase{
		{off: 0, n: -1, from: 0, to: 1000},
		{off: 0, n: 1000, from: 0, to: 1000},
		{off: 0, n: 1, from: 0, to: 1},
		{off: 10, n: 20, from: 10, to: 30},
		{off: 10, n: -1, from: 10, to: 1000},
		{off: 10, n: -5, from: 10, to: 1000},
		{off: 999, n: -1, from: 999, to: 1000},
		{off: 999, n: 1, from: 999, to: 1000},
		{off: 990, n: 100, from: 990, to: 1000},  // past the end: truncated
		{off: 0, n: 1 << 40, from: 0, to: 1000},  // far past the end
		{off: 1000, n: -1, from: 1000, to: 1000}, // offset == size: empty
		{off: 1000, n: 5, from: 1000, to: 1000},
		{off: 0, n: 0, from: 0, to: 0},
		{off: 500, n: 0, from: 500, to: 500},
		{off: 1001, n: -1, err: blob.ErrInvalidRange},
		{off: 1001, n: 10, err: blob.ErrInvalidRange},
		{off: 1 << 40, n: 1, err: blob.ErrInvalidRange},
		{off: -1, n: 5, err: blob.ErrInvalidRange},
	})

	big := Data(8, 3<<20+17)
	mustPut(t, s, "range/big", big)
	checkRanges(t, s, "range/big", big, []rangeCase{
		{off: 1 << 20, n: 1 << 20, from: 1 << 20, to: 2 << 20},
		{off: 3 << 20, n: -1, from: 3 << 20, to: len(big)},
		{off: 12345, n: 1, from: 12345, to: 12346},
	})
}

func testRangesEmpty(t *testing.T, s blob.Store) {
	mustPut(t, s, "range/empty", nil)
	checkRanges(t, s, "range/empty", nil, []rangeCase{
		{off: 0, n: -1},
		{off: 0, n: 0},
		{off: 0, n: 10},
		{off: 1, n: -1, err: blob.ErrInvalidRange},
		{off: 1, n: 1, err: blob.ErrInvalidRange},
	})
}

func testNotFound(t *testing.T, s blob.Store) {
	ctx := context.Background()
	mustPut(t, s, "nf/other", []byte("x"))
	for _, name := range []string{"missing", "nf/missing", "nf/other/below", "nf"} {
		if _, err := s.Stat(ctx, name); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat(%q): got %v, want ErrNotFound", name, err)
		}
		for _, r := range [][2]int64{{0, -1}, {0, 10}, {5, 1}, {5, -1}} {
			if _, err := getRange(ctx, s, name, r[0], r[1]); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Get(%q, %d, %d): got %v, want ErrNotFound", name, r[0], r[1], err)
			}
		}
	}
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := context.Background()
	mustPut(t, s, "del/a", []byte("a"))
	mustPut(t, s, "del/b", []byte("b"))
	if err := s.Delete(ctx, "del/a"); err != nil {
		t.Fatalf("Delete(del/a): %v", err)
	}
	if _, err := s.Stat(ctx, "del/a"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat(del/a) after Delete: got %v, want ErrNotFound", err)
	}
	if _, err := blob.ReadAll(ctx, s, "del/a"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("ReadAll(del/a) after Delete: got %v, want ErrNotFound", err)
	}
	for _, name := range []string{"del/a", "del/never", "never/deep/name"} {
		if err := s.Delete(ctx, name); err != nil {
			t.Errorf("Delete(%q) of a missing object: got %v, want nil", name, err)
		}
	}
	checkContent(t, s, "del/b", []byte("b"))
	if got, want := listAll(t, s, ""), map[string]int64{"del/b": 1}; !maps.Equal(got, want) {
		t.Errorf("List after Delete: got %v, want %v", got, want)
	}
	// A deleted name can be written again.
	mustPut(t, s, "del/a", []byte("again"))
	checkContent(t, s, "del/a", []byte("again"))
}

func testList(t *testing.T, s blob.Store) {
	objects := map[string]int64{
		"data/00/x1":       1,
		"data/01/x2":       2,
		"data/01/y3":       3,
		"data2/z":          4,
		"index/i1":         5,
		"keys/k":           0,
		"top":              7,
		"deep/a/b/c/d/e/f": 8,
	}
	if got := listAll(t, s, ""); len(got) != 0 {
		t.Fatalf("List of an empty store: got %v, want nothing", got)
	}
	for name, size := range objects {
		mustPut(t, s, name, Data(uint64(size), int(size)))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", slices.Collect(maps.Keys(objects))},
		{"data/", []string{"data/00/x1", "data/01/x2", "data/01/y3"}},
		{"data", []string{"data/00/x1", "data/01/x2", "data/01/y3", "data2/z"}},
		{"data/0", []string{"data/00/x1", "data/01/x2", "data/01/y3"}},
		{"data/01/", []string{"data/01/x2", "data/01/y3"}},
		{"data/01/x", []string{"data/01/x2"}},
		{"data/01/x2", []string{"data/01/x2"}},
		{"data/01/x23", nil},
		{"ind", []string{"index/i1"}},
		{"to", []string{"top"}},
		{"top", []string{"top"}},
		{"top/", nil},
		{"deep/a/b/", []string{"deep/a/b/c/d/e/f"}},
		{"nope/", nil},
		{"nope", nil},
		{"k", []string{"keys/k"}},
	}
	for _, tt := range tests {
		got := listAll(t, s, tt.prefix)
		want := map[string]int64{}
		for _, n := range tt.want {
			want[n] = objects[n]
		}
		if !maps.Equal(got, want) {
			t.Errorf("List(%q): got %v, want %v", tt.prefix, got, want)
		}
	}
}

func testListStop(t *testing.T, s blob.Store) {
	for i := range 5 {
		mustPut(t, s, fmt.Sprintf("stop/%d", i), []byte{byte(i)})
	}
	errStop := errors.New("stop here")
	calls := 0
	err := s.List(context.Background(), "stop/", func(blob.Info) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Errorf("List with a failing callback: got %v, want the callback's error", err)
	}
	if calls != 1 {
		t.Errorf("List with a failing callback: got %d calls, want 1", calls)
	}
}

func testListMany(t *testing.T, s blob.Store) {
	const n = 1100 // more than one S3 ListObjects page (1000)
	want := map[string]int64{}
	var names []string
	for i := range n {
		name := fmt.Sprintf("many/%02x/obj%04d", i%16, i)
		names = append(names, name)
		want[name] = int64(i % 7)
	}
	mustPut(t, s, "other/obj", []byte("not listed under many/"))
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(8)
	for i, name := range names {
		g.Go(func() error { return s.Put(ctx, name, make([]byte, i%7)) })
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("Put %d objects: %v", n, err)
	}
	got := listAll(t, s, "many/")
	if !maps.Equal(got, want) {
		var missing, extra []string
		for k := range want {
			if _, ok := got[k]; !ok {
				missing = append(missing, k)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				extra = append(extra, k)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		t.Errorf("List(many/): got %d objects, want %d; missing %d (first %v), extra %v",
			len(got), len(want), len(missing), first(missing, 3), first(extra, 3))
	}
	if got := listAll(t, s, ""); len(got) != n+1 {
		t.Errorf("List(\"\"): got %d objects, want %d", len(got), n+1)
	}
	if got := listAll(t, s, "many/0a/"); len(got) != (n+15-10)/16 {
		t.Errorf("List(many/0a/): got %d objects, want %d", len(got), (n+15-10)/16)
	}
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func testListInvalidPrefix(t *testing.T, s blob.Store) {
	mustPut(t, s, "x/y", []byte("y"))
	for _, prefix := range []string{"/", "/x", "../", "x//", "x/./", "a b", "x\\"} {
		called := false
		err := s.List(context.Background(), prefix, func(blob.Info) error { called = true; return nil })
		if !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("List(%q): got %v, want ErrInvalidName", prefix, err)
		}
		if called {
			t.Errorf("List(%q) called fn, want no calls", prefix)
		}
	}
}

// testPutStream checks blob.PutStream, natively (blob.StreamPutter) or
// through Put: a whole stream is stored; a short, long or failing one
// stores nothing and keeps what was there.
func testPutStream(t *testing.T, s blob.Store) {
	ctx := context.Background()
	data := Data(7, 600<<10)
	if err := blob.PutStream(ctx, s, "stream/ok", int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("PutStream: %v", err)
	}
	checkContent(t, s, "stream/ok", data)
	boom := errors.New("source failed")
	for _, c := range []struct {
		name string
		size int64
		r    io.Reader
		is   error
	}{
		{"short", int64(len(data)) + 1, bytes.NewReader(data), nil},
		{"long", int64(len(data)) - 1, bytes.NewReader(data), nil},
		{"failing", int64(len(data)), io.MultiReader(bytes.NewReader(data[:300<<10]), iotest{boom}), boom},
	} {
		err := blob.PutStream(ctx, s, "stream/bad", c.size, c.r)
		if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s stream: got %v, want an error (wrapping %v)", c.name, err, c.is)
		}
		if _, err := s.Stat(ctx, "stream/bad"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%s stream: Stat after the failed put: %v, want ErrNotFound", c.name, err)
		}
		if err := blob.PutStream(ctx, s, "stream/ok", c.size, bytes.NewReader(data)); err == nil && c.is == nil {
			t.Errorf("%s stream over an object: no error", c.name)
		}
		checkContent(t, s, "stream/ok", data)
	}
}

// iotest is a reader that fails with err.
type iotest struct{ err error }

func (r iotest) Read([]byte) (int, error) { return 0, r.err }

func testPutIfAbsent(t *testing.T, s blob.Store) {
	ctx := context.Background()
	if err := s.PutIfAbsent(ctx, "locks/one", []byte("first")); err != nil {
		t.Fatalf("PutIfAbsent on a free name: %v", err)
	}
	checkContent(t, s, "locks/one", []byte("first"))
	if err := s.PutIfAbsent(ctx, "locks/one", []byte("second")); !errors.Is(err, blob.ErrExists) {
		t.Errorf("PutIfAbsent on a taken name: got %v, want ErrExists", err)
	}
	checkContent(t, s, "locks/one", []byte("first"))
	// An object stored by Put also blocks PutIfAbsent.
	mustPut(t, s, "locks/two", nil)
	if err := s.PutIfAbsent(ctx, "locks/two", []byte("x")); !errors.Is(err, blob.ErrExists) {
		t.Errorf("PutIfAbsent over an empty object: got %v, want ErrExists", err)
	}
	checkContent(t, s, "locks/two", nil)
	// After Delete the name is free again.
	if err := s.Delete(ctx, "locks/one"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, "locks/one", []byte("third")); err != nil {
		t.Errorf("PutIfAbsent after Delete: got %v, want nil", err)
	}
	checkContent(t, s, "locks/one", []byte("third"))
	// Large objects too.
	big := Data(3, 2<<20)
	if err := s.PutIfAbsent(ctx, "locks/big", big); err != nil {
		t.Fatalf("PutIfAbsent of 2 MiB: %v", err)
	}
	checkContent(t, s, "locks/big", big)
	if got := listAll(t, s, "locks/"); len(got) != 3 {
		t.Errorf("List(locks/): got %v, want 3 objects", got)
	}
}

func testPutIfAbsentRace(t *testing.T, s blob.Store) {
	const racers, rounds = 8, 5
	for round := range rounds {
		name := fmt.Sprintf("race/%d", round)
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			errs    = make([]error, racers)
			payload = func(i int) []byte { return fmt.Appendf(nil, "racer %d round %d", i, round) }
		)
		for i := range racers {
			wg.Go(func() {
				<-start
				errs[i] = s.PutIfAbsent(context.Background(), name, payload(i))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("round %d: racers %d and %d both won PutIfAbsent(%q)", round, winner, i, name)
			case err == nil:
				winner = i
			case !errors.Is(err, blob.ErrExists):
				t.Errorf("round %d: racer %d: got %v, want nil or ErrExists", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no racer won PutIfAbsent(%q): %v", round, name, errs)
		}
		checkContent(t, s, name, payload(winner))
	}
}

// BadNames are names every Store must reject with ErrInvalidName.
var BadNames = []string{
	"", "/", "/abs", "../x", "..", ".", "a/", "a//b", "a/./b", "a/../b", "a/..", "./a",
	"a b", "a\\b", "a\x00b", "a\nb", "ä", "a:b", "a*b", "a?b", "a~b",
	strings.Repeat("a", blob.MaxElementLen+1),
	strings.Repeat("abc/", blob.MaxNameLen/4) + "a",
}

func testInvalidNames(t *testing.T, s blob.Store) {
	ctx := context.Background()
	for _, name := range BadNames {
		if err := s.Put(ctx, name, []byte("x")); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Put(%q): got %v, want ErrInvalidName", name, err)
		}
		if err := s.PutIfAbsent(ctx, name, []byte("x")); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("PutIfAbsent(%q): got %v, want ErrInvalidName", name, err)
		}
		if rc, err := s.Get(ctx, name, 0, -1); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Get(%q): got %v, want ErrInvalidName", name, err)
			if err == nil {
				rc.Close()
			}
		}
		if _, err := s.Stat(ctx, name); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Stat(%q): got %v, want ErrInvalidName", name, err)
		}
		if err := s.Delete(ctx, name); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Delete(%q): got %v, want ErrInvalidName", name, err)
		}
	}
	if got := listAll(t, s, ""); len(got) != 0 {
		t.Errorf("List after rejected Puts: got %v, want nothing", got)
	}
}

func testAllowedCharacters(t *testing.T, s blob.Store) {
	names := []string{
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ/abcdefghijklmnopqrstuvwxyz/0123456789",
		"dots/..x/.hidden/x..",
		"dash-under_score.ext",
		"-leading-dash",
		"...",
		strings.Repeat("e", blob.MaxElementLen),
	}
	for i, name := range names {
		mustPut(t, s, name, []byte{byte(i)})
	}
	got := listAll(t, s, "")
	for i, name := range names {
		checkContent(t, s, name, []byte{byte(i)})
		if got[name] != 1 {
			t.Errorf("List: %q missing or wrong size in %v", name, got)
		}
	}
	if len(got) != len(names) {
		t.Errorf("List: got %d objects, want %d", len(got), len(names))
	}
}

func testConcurrent(t *testing.T, s blob.Store) {
	const workers, perWorker = 8, 10
	g, ctx := errgroup.WithContext(context.Background())
	for w := range workers {
		g.Go(func() error {
			for i := range perWorker {
				name := fmt.Sprintf("conc/%d/%d", w, i)
				data := Data(uint64(w*1000+i), 1000+w*100+i)
				if err := s.Put(ctx, name, data); err != nil {
					return fmt.Errorf("Put(%q): %w", name, err)
				}
				got, err := blob.ReadAll(ctx, s, name)
				if err != nil {
					return fmt.Errorf("ReadAll(%q): %w", name, err)
				}
				if !bytes.Equal(got, data) {
					return fmt.Errorf("ReadAll(%q): got %d bytes, want %d bytes written by this worker", name, len(got), len(data))
				}
				if i%2 == 1 {
					if err := s.Delete(ctx, name); err != nil {
						return fmt.Errorf("Delete(%q): %w", name, err)
					}
				}
			}
			return nil
		})
	}
	// Readers of one shared object while workers write.
	shared := Data(99, 100<<10)
	mustPut(t, s, "conc/shared", shared)
	for range 4 {
		g.Go(func() error {
			for range 10 {
				got, err := blob.ReadAll(ctx, s, "conc/shared")
				if err != nil {
					return fmt.Errorf("ReadAll(conc/shared): %w", err)
				}
				if !bytes.Equal(got, shared) {
					return fmt.Errorf("ReadAll(conc/shared): got %d bytes, want the %d bytes written", len(got), len(shared))
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(listAll(t, s, "conc/")), workers*perWorker/2+1; got != want {
		t.Errorf("List(conc/): got %d objects, want %d", got, want)
	}
}

func testContextCancelled(t *testing.T, s blob.Store) {
	mustPut(t, s, "ctx/exists", []byte("data"))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), -1)
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{{"cancelled", cancelled, context.Canceled}, {"deadline", expired, context.DeadlineExceeded}} {
		ctx := c.ctx
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, c.want) {
				t.Errorf("%s with a %s context: got %v, want %v", op, c.name, err, c.want)
			}
			if errors.Is(err, blob.ErrUnavailable) {
				t.Errorf("%s with a %s context: got %v, must not be ErrUnavailable (it is not transient)", op, c.name, err)
			}
		}
		check("Put", s.Put(ctx, "ctx/new", []byte("new")))
		check("PutIfAbsent", s.PutIfAbsent(ctx, "ctx/new2", []byte("new")))
		rc, err := s.Get(ctx, "ctx/exists", 0, -1)
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		check("Get", err)
		_, err = s.Stat(ctx, "ctx/exists")
		check("Stat", err)
		check("Delete", s.Delete(ctx, "ctx/exists"))
		check("List", s.List(ctx, "", func(blob.Info) error { return nil }))
	}
	// A cancelled write took effect completely or not at all.
	for _, name := range []string{"ctx/new", "ctx/new2"} {
		got, err := blob.ReadAll(context.Background(), s, name)
		if err != nil && !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("ReadAll(%q) after a cancelled write: %v", name, err)
		}
		if err == nil && string(got) != "new" {
			t.Errorf("ReadAll(%q) after a cancelled write: got %q, want nothing or %q", name, got, "new")
		}
	}
	checkContent(t, s, "ctx/exists", []byte("data"))
}

func testContextCancelledDuringRead(t *testing.T, s blob.Store) {
	data := Data(5, 4<<20)
	mustPut(t, s, "ctx/big", data)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc, err := s.Get(ctx, "ctx/big", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatalf("first read: %v", err)
	}
	if !bytes.Equal(buf, data[:1000]) {
		t.Fatalf("first read: got %s, want %s", summary(buf), summary(data[:1000]))
	}
	cancel()
	n, err := io.Copy(io.Discard, rc)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("reading after cancel: got %d more bytes and error %v, want context.Canceled", n, err)
	}
}

func testContextCancelledDuringList(t *testing.T, s blob.Store) {
	for i := range 20 {
		mustPut(t, s, fmt.Sprintf("ctxlist/%02d", i), nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := s.List(ctx, "ctxlist/", func(blob.Info) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List cancelled in its callback: got %v after %d calls, want context.Canceled", err, calls)
	}
	if calls != 1 {
		t.Errorf("List cancelled in its callback: got %d calls, want 1", calls)
	}
}
