package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/fault"
	"github.com/coffer/coffer/internal/clock"
)

func gcOpts() GCOptions { return GCOptions{TreeRefs: treeRefs} }

func mustGC(t testing.TB, r *Repository, o GCOptions) *GCReport {
	t.Helper()
	rep, err := r.GC(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func storedBytes(t testing.TB, st blob.Store) int64 {
	var n int64
	st.List(context.Background(), "packs/", func(i blob.Info) error { n += i.Size; return nil })
	return n
}

func TestGCFreesUnreferencedAndKeepsReferenced(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	r := initRepo(t, st, Options{PackSize: 64 << 10, Workers: 2, GroupMax: -1})
	var a, b [][]byte
	for i := 0; i < 5; i++ {
		a = append(a, randData(uint64(i), 40<<10))
		b = append(b, randData(uint64(100+i), 40<<10))
	}
	b = append(b, a[0], a[1]) // shared
	snapA, _ := writeSnapshot(t, r, a, nil)
	snapB, _ := writeSnapshot(t, r, b, nil)
	// The writer's own session holds dedup decisions: GC from it waits.
	r.DeleteSnapshot(ctx, snapA)
	if rep := mustGC(t, r, gcOpts()); !rep.Pending || rep.PacksDeleted != 0 {
		t.Fatalf("GC in the writing Repository: got %+v, want a plan waiting for its own session", rep)
	}
	r.Close()
	r = openRepo(t, st, Options{PackSize: 64 << 10, Workers: 2, GroupMax: -1})
	defer r.Close()
	before := storedBytes(t, st)
	rep := mustGC(t, r, gcOpts())
	if rep.Pending || rep.PacksDeleted < 3 || rep.BytesFreed < 3*40<<10 {
		t.Fatalf("GC: got %+v, want a3..a4 and A's tree freed", rep)
	}
	if after := storedBytes(t, st); after >= before {
		t.Fatalf("stored bytes: got %d after GC, %d before", after, before)
	}
	verifySnapshot(t, r, snapB, b)
	if c := mustCheck(t, r, true); !c.OK() {
		t.Fatalf("check after GC: %v", c.Error())
	}
	if n := countObjects(t, st, "gc/"); n != 0 {
		t.Fatalf("got %d gc plans left, want 0", n)
	}
	// Freed blobs are unknown again and are stored anew when needed.
	if r.HasBlob(DataBlob, r.Hash(a[4])) {
		t.Fatal("a freed blob is still reported stored")
	}
	// A fresh process sees the same.
	r2 := openRepo(t, st, Options{})
	defer r2.Close()
	verifySnapshot(t, r2, snapB, b)
	if r2.HasBlob(DataBlob, r2.Hash(a[4])) {
		t.Fatal("a freed blob is still indexed")
	}
}

func TestGCRepacksMostlyDeadPacks(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	r := initRepo(t, st, Options{PackSize: 1 << 20, Workers: 2})
	var c [][]byte
	for i := 0; i < 8; i++ {
		c = append(c, randData(uint64(i), 100<<10))
	}
	snapC, _ := writeSnapshot(t, r, c, nil)
	snapD, _ := writeSnapshot(t, r, c[:1], nil) // keeps 1/8 of the pack alive
	if err := r.DeleteSnapshot(ctx, snapC); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r = openRepo(t, st, Options{PackSize: 1 << 20, Workers: 2})
	defer r.Close()
	before := storedBytes(t, st)
	rep := mustGC(t, r, gcOpts())
	if rep.PacksRepacked != 1 || rep.BlobsRepacked != 1 || rep.PacksDeleted < 2 {
		t.Fatalf("GC: got %+v, want the data pack repacked and deleted", rep)
	}
	if after := storedBytes(t, st); after > before/3 {
		t.Fatalf("stored bytes: got %d after repack, %d before", after, before)
	}
	verifySnapshot(t, r, snapD, c[:1])
	if ck := mustCheck(t, r, true); !ck.OK() {
		t.Fatalf("check after repack: %v", ck.Error())
	}
	// Repacking disabled: only fully dead packs go.
	dry := mustGC(t, r, GCOptions{TreeRefs: treeRefs, DryRun: true})
	if dry.PacksCondemned != 0 {
		t.Fatalf("dry run after GC: got %+v, want nothing left", dry)
	}
}

// TestGCWaitsForWriterAndRescues: a writer that opened before GC's plan may
// reuse condemned blobs; GC waits for its session and keeps what it used.
func TestGCWaitsForWriterAndRescues(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	opts := Options{PackSize: 64 << 10, Workers: 2, GroupMax: -1} // each blob sealed alone
	r := initRepo(t, st, opts)
	var x [][]byte
	for i := 0; i < 4; i++ {
		x = append(x, randData(uint64(i), 40<<10))
	}
	s1, _ := writeSnapshot(t, r, x, nil)
	if err := r.DeleteSnapshot(ctx, s1); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r = openRepo(t, st, opts) // the collector: no dedup decisions of its own
	defer r.Close()
	w := openRepo(t, st, opts) // its view includes x
	defer w.Close()
	rep := mustGC(t, r, gcOpts())
	if !rep.Pending || rep.PacksDeleted != 0 || len(rep.WaitingFor) != 1 {
		t.Fatalf("GC with a live writer: got %+v, want a pending plan waiting for it", rep)
	}
	// The writer dedups against its older view and commits.
	y := randData(50, 40<<10)
	for _, d := range [][]byte{x[1], y} {
		known, err := w.SaveBlob(ctx, DataBlob, w.Hash(d), d)
		if err != nil {
			t.Fatal(err)
		}
		if want := slices.Equal(d, x[1]); known != want {
			t.Fatalf("writer SaveBlob: got known=%v, want %v", known, want)
		}
	}
	tree := encodeTree([]Ref{{DataBlob, w.Hash(x[1])}, {DataBlob, w.Hash(y)}})
	w.SaveBlob(ctx, TreeBlob, w.Hash(tree), tree)
	s2, err := w.SaveSnapshot(ctx, &Snapshot{Kind: "tree", Root: w.Hash(tree)})
	if err != nil {
		t.Fatal(err)
	}
	// The writer's session is still open: GC keeps waiting.
	if rep = mustGC(t, r, gcOpts()); !rep.Pending {
		t.Fatalf("GC with the writer still open: got %+v, want pending", rep)
	}
	// A writer opened after the plan excludes condemned packs: x[2] must be
	// stored again.
	w2 := openRepo(t, st, opts)
	if w2.HasBlob(DataBlob, w2.Hash(x[2])) {
		t.Fatal("a new writer dedups against a condemned pack")
	}
	w2.Close()
	w.Close()
	rep = mustGC(t, r, gcOpts())
	if rep.Pending || rep.PacksRescued != 1 || rep.PacksDeleted < 3 {
		t.Fatalf("GC after the writer's commit: got %+v, want x[1]'s pack rescued and the rest deleted", rep)
	}
	r3 := openRepo(t, st, Options{})
	defer r3.Close()
	verifySnapshot(t, r3, s2, [][]byte{x[1], y})
	if c := mustCheck(t, r3, true); !c.OK() {
		t.Fatalf("check: %v", c.Error())
	}
	// Once nothing references them, the rescued blobs go too (with no
	// other session open).
	if err := r3.DeleteSnapshot(ctx, s2); err != nil {
		t.Fatal(err)
	}
	r3.Close()
	mustGC(t, r, gcOpts())
	if n := countObjects(t, st, "packs/"); n != 0 {
		t.Fatalf("got %d packs after deleting everything, want 0", n)
	}
}

// TestGCConcurrentWriterLosesNothing runs a writer committing and deleting
// snapshots while GC runs in a loop; every surviving snapshot must be whole.
func TestGCConcurrentWriterLosesNothing(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	opts := Options{PackSize: 64 << 10, Workers: 2}
	g := initRepo(t, st, opts)
	defer g.Close()
	pool := make([][]byte, 40)
	for i := range pool {
		pool[i] = randData(uint64(i), 16<<10)
	}
	type snap struct {
		id    ID
		blobs [][]byte
	}
	var mu sync.Mutex
	var live []snap
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(done)
		w := openRepo(t, st, opts)
		defer w.Close()
		rng := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 30; i++ {
			var bs [][]byte
			for j := 0; j < 5; j++ {
				bs = append(bs, pool[rng.IntN(len(pool))])
			}
			bs = append(bs, randData(uint64(1000+i), 8<<10))
			id, _ := writeSnapshot(t, w, bs, nil)
			mu.Lock()
			live = append(live, snap{id, bs})
			if len(live) > 4 {
				k := rng.IntN(len(live) - 1)
				if err := w.DeleteSnapshot(ctx, live[k].id); err != nil {
					t.Error(err)
				}
				live = slices.Delete(live, k, k+1)
			}
			mu.Unlock()
		}
	})
	runs := 0
	for {
		select {
		case <-done:
		default:
			if _, err := g.GC(ctx, gcOpts()); err != nil {
				t.Fatal(err)
			}
			runs++
			continue
		}
		break
	}
	wg.Wait()
	for i := 0; i < 3; i++ {
		if rep := mustGC(t, g, gcOpts()); !rep.Pending {
			break
		}
	}
	t.Logf("%d GC runs during the writer", runs)
	r := openRepo(t, st, Options{})
	defer r.Close()
	for _, s := range live {
		verifySnapshot(t, r, s.id, s.blobs)
	}
	if c := mustCheck(t, r, true); !c.OK() {
		t.Fatalf("check: %v", c.Error())
	}
}

func TestTwoWriters(t *testing.T) {
	st := newMem()
	opts := Options{PackSize: 128 << 10, Workers: 2}
	initRepo(t, st, opts).Close()
	shared := [][]byte{randData(1, 50<<10), randData(2, 50<<10)}
	var wg sync.WaitGroup
	ids := make([]ID, 2)
	sets := make([][][]byte, 2)
	for w := 0; w < 2; w++ {
		sets[w] = append([][]byte{randData(uint64(10+w), 70<<10), textData(uint64(20+w), 90<<10)}, shared...)
		wg.Go(func() {
			r := openRepo(t, st, opts)
			defer r.Close()
			ids[w], _ = writeSnapshot(t, r, sets[w], nil)
		})
	}
	wg.Wait()
	r := openRepo(t, st, Options{})
	defer r.Close()
	for w := range 2 {
		verifySnapshot(t, r, ids[w], sets[w])
	}
	if c := mustCheck(t, r, true); !c.OK() {
		t.Fatalf("check: %v", c.Error())
	}
}

func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	clk := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	opts := Options{PackSize: 64 << 10, Clock: clk, HeartbeatInterval: 24 * time.Hour}
	g := initRepo(t, st, opts)
	s1, _ := writeSnapshot(t, g, [][]byte{randData(1, 1000)}, nil)
	g.DeleteSnapshot(ctx, s1)
	g.Close()
	g = openRepo(t, st, opts)
	defer g.Close()
	w := openRepo(t, st, opts)
	defer w.Close()
	d := randData(2, 1000)
	if _, err := w.SaveBlob(ctx, DataBlob, w.Hash(d), d); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour) // the writer "hangs": no heartbeat
	rep := mustGC(t, g, GCOptions{TreeRefs: treeRefs, SessionTimeout: time.Hour})
	if len(rep.ExpiredSessions) != 1 || rep.Pending {
		t.Fatalf("GC: got %+v, want the silent writer expired and the plan done", rep)
	}
	tree := encodeTree([]Ref{{DataBlob, w.Hash(d)}})
	w.SaveBlob(ctx, TreeBlob, w.Hash(tree), tree)
	if _, err := w.SaveSnapshot(ctx, &Snapshot{Kind: "tree", Root: w.Hash(tree)}); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("commit after expiry: got %v, want ErrSessionExpired", err)
	}
}

func TestMaintenanceLock(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	clk := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	r := initRepo(t, st, Options{Clock: clk})
	defer r.Close()
	unlock, err := r.lockMaintenance(ctx, "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.GC(ctx, gcOpts()); !errors.Is(err, ErrLocked) {
		t.Fatalf("GC while locked: got %v, want ErrLocked", err)
	}
	unlock()
	if _, err := r.GC(ctx, gcOpts()); err != nil {
		t.Fatalf("GC after unlock: %v", err)
	}
	// An abandoned lock (its holder crashed: no refresh) is taken over
	// after the timeout.
	rec, _ := json.Marshal(lockRecord{Host: "gone", PID: 1, Purpose: "gc", Time: clk.Now()})
	if err := st.Put(ctx, gcLockName, r.sealMeta("lock", rec)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GC(ctx, gcOpts()); !errors.Is(err, ErrLocked) {
		t.Fatalf("GC under a fresh foreign lock: got %v, want ErrLocked", err)
	}
	clk.Advance(2 * time.Hour)
	if _, err := r.GC(ctx, GCOptions{TreeRefs: treeRefs, SessionTimeout: time.Hour}); err != nil {
		t.Fatalf("GC over an abandoned lock: %v", err)
	}
}

func TestStorageFaults(t *testing.T) {
	ctx := context.Background()
	f := fault.New(newMem(), fault.Options{Seed: 1})
	opts := Options{PackSize: 64 << 10, Workers: 2}
	r := initRepo(t, f, opts)
	committed := [][]byte{randData(1, 50<<10)}
	s0, _ := writeSnapshot(t, r, committed, nil)
	next := [][]byte{randData(2, 50<<10), randData(3, 50<<10), textData(4, 80<<10)}
	save := func(r *Repository) (ID, error) {
		var refs []Ref
		for _, d := range next {
			if _, err := r.SaveBlob(ctx, DataBlob, r.Hash(d), d); err != nil {
				return ID{}, err
			}
			refs = append(refs, Ref{DataBlob, r.Hash(d)})
		}
		tree := encodeTree(refs)
		if _, err := r.SaveBlob(ctx, TreeBlob, r.Hash(tree), tree); err != nil {
			return ID{}, err
		}
		return r.SaveSnapshot(ctx, &Snapshot{Kind: "tree", Root: r.Hash(tree)})
	}

	// Disk full while a pack is written: clear error, nothing committed.
	f.AddRule(fault.Rule{Ops: fault.OpPut, Prefix: "packs/", Times: 1, Kind: fault.Fail, Err: blob.ErrNoSpace})
	_, err := save(r)
	if !errors.Is(err, blob.ErrNoSpace) || !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("save with a full disk: got %v, want ErrNoSpace and ErrWriteFailed", err)
	}
	if n := countObjects(t, f.Inner(), "snapshots/"); n != 1 {
		t.Fatalf("got %d snapshots, want only the committed one", n)
	}
	if _, err := r.SaveBlob(ctx, DataBlob, ID{1}, []byte("x")); !errors.Is(err, ErrWriteFailed) {
		t.Fatalf("write after a failed upload: got %v, want ErrWriteFailed", err)
	}
	verifySnapshot(t, r, s0, committed)
	r.Close()
	r = openRepo(t, f, opts)
	s1, err := save(r)
	if err != nil {
		t.Fatalf("retry after the disk was freed: %v", err)
	}
	verifySnapshot(t, r, s1, next)

	// Storage unavailable while writing the index: the same Repository can
	// retry (the packs are durable; only the index object is re-written).
	next = [][]byte{randData(5, 30<<10)}
	f.AddRule(fault.Rule{Ops: fault.OpPut, Prefix: "index/", Times: 1, Kind: fault.Fail})
	if _, err := save(r); !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("save with index write failing: got %v, want ErrUnavailable", err)
	}
	s2, err := save(r)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	// Snapshot write failing: nothing committed, retry works.
	next = [][]byte{randData(6, 30<<10)}
	f.AddRule(fault.Rule{Ops: fault.OpPut, Prefix: "snapshots/", Times: 1, Kind: fault.Fail})
	if _, err := save(r); !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("save with snapshot write failing: got %v", err)
	}
	s3, err := save(r)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	r = openRepo(t, f, opts)
	defer r.Close()
	verifySnapshot(t, r, s0, committed)
	verifySnapshot(t, r, s2, [][]byte{randData(5, 30<<10)})
	verifySnapshot(t, r, s3, next)
	if c := mustCheck(t, r, true); !c.OK() {
		t.Fatalf("check: %v", c.Error())
	}
	// GC cleans up what the failed attempts left behind.
	rep := mustGC(t, r, gcOpts())
	if rep.OrphanPacks+rep.PacksCondemned == 0 {
		t.Logf("GC after faults: %+v", rep)
	}
	if c := mustCheck(t, r, false); len(c.Notices) != 0 {
		for _, n := range c.Notices {
			if n.Kind == PackUnindexed {
				t.Fatalf("unindexed packs remain after GC: %v", c.Notices)
			}
		}
	}
}

// TestIdleRotation: an open but idle Repository rotates its session, so it
// does not hold garbage collection back.
func TestIdleRotation(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	clk := clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	opts := Options{PackSize: 64 << 10, Clock: clk, HeartbeatInterval: time.Minute}
	g := initRepo(t, st, opts)
	defer g.Close()
	s1, _ := writeSnapshot(t, g, [][]byte{randData(1, 1000)}, nil)
	g.DeleteSnapshot(ctx, s1)
	w := openRepo(t, st, opts)
	defer w.Close()
	if rep := mustGC(t, g, GCOptions{TreeRefs: treeRefs, SessionTimeout: 24 * time.Hour}); !rep.Pending {
		t.Fatalf("GC with an open writer: got %+v, want pending", rep)
	}
	old := w.sess.ID()
	deadline := time.Now().Add(10 * time.Second)
	for w.sess.ID() == old {
		if time.Now().After(deadline) {
			t.Fatal("idle repository never rotated its session")
		}
		clk.Advance(time.Minute)
		time.Sleep(5 * time.Millisecond)
	}
	var rep *GCReport
	for {
		rep = mustGC(t, g, GCOptions{TreeRefs: treeRefs, SessionTimeout: 24 * time.Hour})
		if !rep.Pending || time.Now().After(deadline) {
			break
		}
		clk.Advance(time.Minute) // the old marker's deletion may lag the new ID
		time.Sleep(5 * time.Millisecond)
	}
	if rep.Pending || rep.PacksDeleted == 0 {
		t.Fatalf("GC after the writer went idle: got %+v, want completed", rep)
	}
}

// TestCacheSurvivesGC: after GC rewrites index objects, a writer's
// persistent cache is updated in place (tombstones), not rebuilt.
func TestCacheSurvivesGC(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	opts := Options{PackSize: 64 << 10, CacheDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logBuf}, nil))}
	w := initRepo(t, st, opts)
	keep := [][]byte{randData(1, 30<<10), randData(2, 30<<10)}
	drop := [][]byte{randData(3, 30<<10), randData(4, 30<<10)}
	sKeep, _ := writeSnapshot(t, w, keep, nil)
	sDrop, _ := writeSnapshot(t, w, drop, nil)
	w.Close()
	g := openRepo(t, st, Options{})
	g.DeleteSnapshot(ctx, sDrop)
	if rep := mustGC(t, g, gcOpts()); rep.PacksDeleted == 0 || rep.IndexRewritten == 0 {
		t.Fatalf("GC: got %+v, want packs deleted and index rewritten", rep)
	}
	g.Close()
	logMu.Lock()
	logBuf.Reset()
	logMu.Unlock()
	w = openRepo(t, st, opts)
	defer w.Close()
	logMu.Lock()
	if strings.Contains(logBuf.String(), "rebuilding the local index") {
		t.Fatalf("cache was rebuilt after GC:\n%s", logBuf.String())
	}
	logMu.Unlock()
	verifySnapshot(t, w, sKeep, keep)
	for _, d := range drop {
		if w.HasBlob(DataBlob, w.Hash(d)) {
			t.Fatal("a blob freed by GC is still known to the cached index")
		}
	}
	// The updated cache persists, and compaction drops the tombstoned
	// entries.
	if err := w.idx.Compact(); err != nil {
		t.Fatal(err)
	}
	if c := mustCheck(t, w, true); !c.OK() {
		t.Fatalf("check: %v", c.Error())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestGCRefusesDamagedIndex: a damaged index object must stop GC (its packs
// would otherwise look unindexed and be deleted).
func TestGCRefusesDamagedIndex(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	r := initRepo(t, st, smallOpts())
	sid, _ := writeSnapshot(t, r, [][]byte{randData(1, 20<<10)}, nil)
	r.Close()
	var names []string
	st.List(ctx, "index/", func(i blob.Info) error { names = append(names, i.Name); return nil })
	for _, n := range names {
		b, _ := blob.ReadAll(ctx, st, n)
		b[len(b)/2] ^= 1
		st.Put(ctx, n, b)
	}
	r = openRepo(t, st, smallOpts())
	defer r.Close()
	if _, err := r.GC(ctx, gcOpts()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("GC with a damaged index: got %v, want ErrCorrupt", err)
	}
	if n := countObjects(t, st, "packs/"); n == 0 {
		t.Fatal("GC deleted packs")
	}
	if _, err := r.RebuildIndex(ctx, RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	mustGC(t, r, gcOpts())
	verifySnapshot(t, r, sid, [][]byte{randData(1, 20<<10)})
}

// TestGCInWritingRepository: GC on the Repository that is also running a
// backup must not delete what that backup has deduplicated against.
func TestGCInWritingRepository(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	opts := Options{PackSize: 64 << 10, Workers: 2}
	r := initRepo(t, st, opts)
	x := [][]byte{randData(1, 40<<10), randData(2, 40<<10), randData(3, 40<<10)}
	s1, _ := writeSnapshot(t, r, x, nil)
	r.DeleteSnapshot(ctx, s1)
	// A backup on r reuses x[1] (still in its view), then GC runs on r.
	if known, _ := r.SaveBlob(ctx, DataBlob, r.Hash(x[1]), x[1]); !known {
		t.Fatal("x[1] should dedup")
	}
	if rep := mustGC(t, r, gcOpts()); !rep.Pending || rep.PacksDeleted != 0 {
		t.Fatalf("GC during a backup on the same Repository: got %+v, want pending", rep)
	}
	// After the plan, r's decisions exclude the condemned packs.
	if r.HasBlob(DataBlob, r.Hash(x[2])) {
		t.Fatal("after GC wrote its plan, the Repository still dedups against condemned packs")
	}
	tree := encodeTree([]Ref{{DataBlob, r.Hash(x[1])}})
	r.SaveBlob(ctx, TreeBlob, r.Hash(tree), tree)
	s2, err := r.SaveSnapshot(ctx, &Snapshot{Kind: "tree", Root: r.Hash(tree)})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	g := openRepo(t, st, opts)
	defer g.Close()
	rep := mustGC(t, g, gcOpts())
	if rep.Pending || rep.PacksRescued != 1 {
		t.Fatalf("GC after the backup: got %+v, want x[1]'s pack rescued", rep)
	}
	verifySnapshot(t, g, s2, x[1:2])
	if c := mustCheck(t, g, true); !c.OK() {
		t.Fatalf("check: %v", c.Error())
	}
}

// TestDamagedPlan: writers ignore a damaged GC plan, GC and Check report it.
func TestDamagedPlan(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	r := initRepo(t, st, smallOpts())
	s1, _ := writeSnapshot(t, r, [][]byte{randData(1, 20<<10)}, nil)
	r.DeleteSnapshot(ctx, s1)
	r.Close()
	w := openRepo(t, st, smallOpts()) // keeps the plan pending
	g := openRepo(t, st, smallOpts())
	if rep := mustGC(t, g, gcOpts()); !rep.Pending {
		t.Fatalf("got %+v, want a pending plan", rep)
	}
	w.Close()
	var plan string
	st.List(ctx, "gc/", func(i blob.Info) error { plan = i.Name; return nil })
	b, _ := blob.ReadAll(ctx, st, plan)
	b[len(b)-3] ^= 1
	st.Put(ctx, plan, b)
	w = openRepo(t, st, smallOpts())
	w.Close()
	if _, err := g.GC(ctx, gcOpts()); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), plan) {
		t.Fatalf("GC with a damaged plan: got %v, want ErrCorrupt naming %s", err, plan)
	}
	if c := mustCheck(t, g, false); !findProblem(c, GCPlanCorrupt, nil, nil, nil) {
		t.Fatalf("check: got %v, want gc-plan-corrupt", c.Problems)
	}
	st.Delete(ctx, plan)
	if rep := mustGC(t, g, gcOpts()); rep.Pending || rep.PacksDeleted == 0 {
		t.Fatalf("GC after deleting the damaged plan: got %+v", rep)
	}
	g.Close()
}

// A blob referenced only through Snapshot.Extra (a copy's translation map)
// survives GC and is verified by Check; the same blob with no snapshot
// naming it is freed.
func TestGCKeepsSnapshotExtraBlobs(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	r := initRepo(t, st, Options{PackSize: 64 << 10, Workers: 2, GroupMax: -1})
	data := randData(7, 40<<10)
	snap, _ := writeSnapshot(t, r, [][]byte{data}, nil)
	kept, lost := randData(8, 40<<10), randData(9, 40<<10)
	for _, b := range [][]byte{kept, lost} {
		if _, err := r.SaveBlob(ctx, DataBlob, r.Hash(b), b); err != nil {
			t.Fatal(err)
		}
	}
	sn, err := r.LoadSnapshot(ctx, snap)
	if err != nil {
		t.Fatal(err)
	}
	sn.Extra = []Ref{{DataBlob, r.Hash(kept)}}
	if _, err := r.SaveSnapshot(ctx, sn); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r = openRepo(t, st, Options{PackSize: 64 << 10, Workers: 2, GroupMax: -1})
	defer r.Close()
	if rep := mustGC(t, r, gcOpts()); rep.Pending {
		t.Fatalf("GC: got %+v, want a completed run", rep)
	}
	if !r.HasBlob(DataBlob, r.Hash(kept)) {
		t.Error("GC freed a blob named by Snapshot.Extra")
	}
	if r.HasBlob(DataBlob, r.Hash(lost)) {
		t.Error("GC kept a blob no snapshot references")
	}
	if got, err := r.LoadBlob(ctx, DataBlob, r.Hash(kept), nil); err != nil || !bytes.Equal(got, kept) {
		t.Errorf("load extra blob after GC: err %v, equal %v", err, bytes.Equal(got, kept))
	}
	if c := mustCheck(t, r, true); !c.OK() {
		t.Fatalf("check after GC: %v", c.Error())
	}
}
