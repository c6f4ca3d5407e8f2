package repo

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/repo/pack"
)

// domainPair makes two repositories of one deduplication domain, each
// with its own key.
func domainPair(t *testing.T) (src, dst *Repository, dstStore blob.Store) {
	t.Helper()
	dom := testKEK(t, "domain")
	opts := Options{PackSize: 64 << 10, Workers: 2, Domain: dom}
	var err error
	src, err = Init(context.Background(), newMem(), testKEK(t, "src"), opts)
	if err != nil {
		t.Fatal(err)
	}
	dstStore = newMem()
	dst, err = Init(context.Background(), dstStore, testKEK(t, "dst"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close(); dst.Close() })
	return src, dst, dstStore
}

func TestAdoptPack(t *testing.T) {
	ctx := context.Background()
	src, dst, dstStore := domainPair(t)
	blobs := [][]byte{textData(1, 20<<10), textData(2, 20<<10), randData(3, 20<<10)}
	_, refs := writeSnapshot(t, src, blobs, nil)
	loc, ok := src.Lookup(DataBlob, refs[0].ID)
	if !ok {
		t.Fatal("blob not indexed")
	}
	all := func(BlobType, ID) bool { return true }

	// Declined when a blob of the pack is not wanted: nothing written.
	_, err := dst.AdoptPack(ctx, src, loc.Pack, func(_ BlobType, id ID) bool { return id != refs[1].ID })
	if !errors.Is(err, ErrNotAdoptable) || countObjects(t, dstStore, "packs/") != 0 {
		t.Fatalf("partial want: got %v and %d packs, want ErrNotAdoptable and none", err, countObjects(t, dstStore, "packs/"))
	}

	entries, err := dst.AdoptPack(ctx, src, loc.Pack, all)
	if err != nil {
		t.Fatal(err)
	}
	// Declined once dst holds the blobs (saved, not yet indexed).
	if _, err := dst.AdoptPack(ctx, src, loc.Pack, all); !errors.Is(err, ErrNotAdoptable) {
		t.Fatalf("second adoption: got %v, want ErrNotAdoptable", err)
	}
	if len(entries) == 0 {
		t.Fatal("no entries adopted")
	}
	// Saved-but-unindexed blobs are known to the saver at once.
	if known, err := dst.SaveBlob(ctx, DataBlob, refs[0].ID, blobs[0]); err != nil || !known {
		t.Fatalf("SaveBlob of an adopted blob: known=%v err=%v, want known", known, err)
	}
	if err := dst.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	dloc, ok := dst.Lookup(DataBlob, refs[0].ID)
	if !ok {
		t.Fatal("adopted blob not indexed after Flush")
	}
	// The body is byte-identical; header and trailer are dst's.
	a, _ := blob.ReadAll(ctx, src.st, pack.Name(loc.Pack))
	b, _ := blob.ReadAll(ctx, dstStore, pack.Name(dloc.Pack))
	_, bodyA, _, _ := pack.Split(a)
	hb, bodyB, _, _ := pack.Split(b)
	if !bytes.Equal(bodyA, bodyB) || dloc.Pack == loc.Pack {
		t.Fatal("adopted pack: body differs or the pack kept its name")
	}
	if _, err := pack.OpenHeader(src.aead, hb); err == nil {
		t.Fatal("the adopted pack's header opens with the source's key")
	}
	for i, e := range entries {
		got, err := dst.LoadBlob(ctx, BlobType(e.Type), e.ID, nil)
		if err != nil {
			t.Fatalf("load adopted blob %d: %v", i, err)
		}
		if dst.Hash(got) != e.ID {
			t.Fatalf("adopted blob %d does not hash to its ID", i)
		}
	}
	// A fresh open (no cached pack key) reads it too, and check is clean.
	dst2, err := Open(ctx, dstStore, testKEK(t, "dst"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst2.Close()
	if got, err := dst2.LoadBlob(ctx, DataBlob, refs[0].ID, nil); err != nil || !bytes.Equal(got, blobs[0]) {
		t.Fatalf("load after reopen: %v", err)
	}
	if c := mustCheck(t, dst2, true); !c.OK() {
		t.Fatalf("check of the adopting repository: %v", c.Error())
	}

	// A damaged source pack (a flipped byte in a blob, then in the
	// trailer, then in the header) is refused, naming it, and nothing is
	// written.
	freshStore := newMem()
	fresh, err := Init(ctx, freshStore, testKEK(t, "fresh"), Options{PackSize: 64 << 10, Domain: testKEK(t, "domain")})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	for _, at := range []func(b []byte) int{
		func([]byte) int { return int(loc.Offset) + 5 },
		func(b []byte) int { return len(b) - pack.TailSize - 10 },
		func([]byte) int { return pack.HeaderSize / 2 },
	} {
		rewrite(t, src.st, pack.Name(loc.Pack), func(b []byte) []byte { b[at(b)] ^= 1; return b })
		_, err = fresh.AdoptPack(ctx, src, loc.Pack, all)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Pack != loc.Pack || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("damaged source pack: got %v, want a *CorruptError naming pack %s", err, loc.Pack.Short())
		}
		if n := countObjects(t, freshStore, "packs/"); n != 0 {
			t.Fatalf("damaged source pack: %d packs written, want none", n)
		}
		rewrite(t, src.st, pack.Name(loc.Pack), func(b []byte) []byte { b[at(b)] ^= 1; return b })
	}
	if _, err := fresh.AdoptPack(ctx, src, loc.Pack, all); err != nil {
		t.Fatalf("the mended pack: %v", err)
	}

	// Another domain is refused.
	other, err := Init(ctx, newMem(), testKEK(t, "other"), Options{PackSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.AdoptPack(ctx, src, loc.Pack, all); err == nil || errors.Is(err, ErrNotAdoptable) {
		t.Fatalf("adopt across domains: got %v, want a refusal", err)
	}
}

// A pack adopted by a writer that stops before its Flush (a copy that
// crashed or failed) is unreferenced data: check notices it, nothing is
// damaged, and GC removes it.
func TestAdoptedPackWithoutCommitIsGarbage(t *testing.T) {
	ctx := context.Background()
	src, dst, dstStore := domainPair(t)
	_, refs := writeSnapshot(t, src, [][]byte{randData(1, 20<<10), randData(2, 20<<10)}, nil)
	loc, _ := src.Lookup(DataBlob, refs[0].ID)
	if _, err := dst.AdoptPack(ctx, src, loc.Pack, func(BlobType, ID) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countObjects(t, dstStore, "packs/"); n != 1 {
		t.Fatalf("%d packs in the destination, want the adopted one", n)
	}
	r, err := Open(ctx, dstStore, testKEK(t, "dst"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.HasBlob(DataBlob, refs[0].ID) {
		t.Fatal("a blob of an adopted pack never flushed is indexed")
	}
	c := mustCheck(t, r, true)
	if !c.OK() {
		t.Fatalf("check: %v", c.Error())
	}
	if !slices.ContainsFunc(c.Notices, func(p Problem) bool { return p.Kind == PackUnindexed }) {
		t.Fatalf("check notices %v, want the unindexed adopted pack", c.Notices)
	}
	// GC from a Repository that made no dedup decision of its own (one
	// that did waits for its own session).
	r.Close()
	g, err := Open(ctx, dstStore, testKEK(t, "dst"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	rep := mustGC(t, g, gcOpts())
	if n := countObjects(t, dstStore, "packs/"); n != 0 {
		t.Fatalf("%d packs left after GC (%+v), want 0", n, rep)
	}
}
