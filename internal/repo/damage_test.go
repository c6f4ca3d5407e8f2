package repo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/repo/pack"
)

func rewrite(t *testing.T, st blob.Store, name string, f func([]byte) []byte) {
	t.Helper()
	ctx := context.Background()
	b, err := blob.ReadAll(ctx, st, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, name, f(b)); err != nil {
		t.Fatal(err)
	}
}

func findProblem(rep *CheckReport, kind ProblemKind, pk *ID, blobID *ID, snap *ID) bool {
	for _, p := range rep.Problems {
		if p.Kind != kind {
			continue
		}
		if pk != nil && (p.Pack == nil || *p.Pack != *pk) {
			continue
		}
		if blobID != nil && (p.Blob == nil || p.Blob.ID != *blobID) {
			continue
		}
		if snap != nil && (p.Snapshot == nil || *p.Snapshot != *snap) {
			continue
		}
		return true
	}
	return false
}

func TestDamageIsNamed(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	opts := Options{PackSize: 64 << 10, Workers: 2, GroupMax: -1} // each blob sealed alone
	r := initRepo(t, st, opts)
	var blobs [][]byte
	for i := 0; i < 6; i++ {
		blobs = append(blobs, randData(uint64(i), 40<<10))
	}
	snapA, refs := writeSnapshot(t, r, blobs, nil)
	other := [][]byte{randData(100, 40<<10)}
	snapB, _ := writeSnapshot(t, r, other, nil)
	loc := func(i int) BlobLocation {
		l, ok := r.Lookup(DataBlob, refs[i].ID)
		if !ok {
			t.Fatalf("blob %d not indexed", i)
		}
		return l
	}
	flipped, truncated, missing := loc(2), loc(3), loc(4)
	if flipped.Pack == truncated.Pack || truncated.Pack == missing.Pack || flipped.Pack == missing.Pack {
		t.Fatal("test needs the three blobs in different packs")
	}
	rewrite(t, st, pack.Name(flipped.Pack), func(b []byte) []byte { b[flipped.Offset+flipped.Length/2] ^= 1; return b })
	rewrite(t, st, pack.Name(truncated.Pack), func(b []byte) []byte { return b[:truncated.Offset+truncated.Length/2] })
	if err := st.Delete(ctx, pack.Name(missing.Pack)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		loc  BlobLocation
	}{{"flipped byte", flipped}, {"truncated pack", truncated}, {"missing pack", missing}} {
		_, err := r.LoadBlob(ctx, DataBlob, tc.loc.ID, nil)
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: got %v, want a *CorruptError", tc.name, err)
		}
		if ce.Pack != tc.loc.Pack || ce.Blob == nil || ce.Blob.ID != tc.loc.ID {
			t.Fatalf("%s: error names pack %s blob %v, want pack %s blob %s", tc.name, ce.Pack.Short(), ce.Blob, tc.loc.Pack.Short(), tc.loc.ID.Short())
		}
		if !strings.Contains(err.Error(), tc.loc.Pack.String()) || !strings.Contains(err.Error(), tc.loc.ID.String()) {
			t.Fatalf("%s: message %q does not name pack and blob", tc.name, err)
		}
	}
	// Undamaged blobs still load; the other snapshot is intact.
	for _, i := range []int{0, 1, 5} {
		if _, err := r.LoadBlob(ctx, DataBlob, refs[i].ID, nil); err != nil {
			t.Fatalf("undamaged blob %d: %v", i, err)
		}
	}
	verifySnapshot(t, r, snapB, other)

	quick := mustCheck(t, r, false)
	if !findProblem(quick, PackMissing, &missing.Pack, nil, nil) || !findProblem(quick, PackSize, &truncated.Pack, nil, nil) {
		t.Fatalf("quick check: got %v, want pack-missing and pack-size", quick.Problems)
	}
	if !findProblem(quick, BlobDamaged, &missing.Pack, &missing.ID, &snapA) {
		t.Fatalf("quick check: got %v, want snapshot A's blob in the missing pack", quick.Problems)
	}
	full := mustCheck(t, r, true)
	for _, want := range []struct {
		kind ProblemKind
		pk   *ID
		blob *ID
		snap *ID
	}{
		{BlobCorrupt, &flipped.Pack, &flipped.ID, nil},
		{PackHash, &flipped.Pack, nil, nil},
		{BlobDamaged, &flipped.Pack, &flipped.ID, &snapA},
		{PackTrailer, &truncated.Pack, nil, nil},
		{BlobDamaged, &truncated.Pack, &truncated.ID, &snapA},
		{PackMissing, &missing.Pack, nil, nil},
		{BlobDamaged, &missing.Pack, &missing.ID, &snapA},
	} {
		if !findProblem(full, want.kind, want.pk, want.blob, want.snap) {
			t.Errorf("full check: no %s problem for pack %s blob %v snapshot %v; got:\n%v", want.kind, want.pk.Short(), want.blob, want.snap, full.Problems)
		}
	}
	for _, p := range full.Problems {
		if p.Snapshot != nil && *p.Snapshot == snapB {
			t.Errorf("full check blames the intact snapshot B: %v", p)
		}
	}
	if full.OK() || full.Error() == nil {
		t.Fatal("full check: got OK, want problems")
	}
	r.Close()
}

func TestRebuildIndex(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	r := initRepo(t, st, smallOpts())
	var blobs [][]byte
	for i := 0; i < 10; i++ {
		blobs = append(blobs, textData(uint64(i), 30<<10))
	}
	sid, refs := writeSnapshot(t, r, blobs[:5], nil)
	sid2, _ := writeSnapshot(t, r, blobs[5:], nil)
	r.Close()

	// Lose every index object: storage alone must suffice.
	var names []string
	st.List(ctx, "index/", func(i blob.Info) error { names = append(names, i.Name); return nil })
	for _, n := range names {
		st.Delete(ctx, n)
	}
	r = openRepo(t, st, smallOpts())
	if r.HasBlob(DataBlob, refs[0].ID) {
		t.Fatal("blob found without any index")
	}
	rep, err := r.RebuildIndex(ctx, RebuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.PacksRead == 0 || rep.BlobsIndexed < 12 {
		t.Fatalf("rebuild: got %+v", rep)
	}
	verifySnapshot(t, r, sid, blobs[:5])
	verifySnapshot(t, r, sid2, blobs[5:])
	if c := mustCheck(t, r, true); !c.OK() {
		t.Fatalf("check after rebuild: %v", c.Error())
	}

	// A damaged index object is reported, then replaced.
	names = nil
	st.List(ctx, "index/", func(i blob.Info) error { names = append(names, i.Name); return nil })
	rewrite(t, st, names[0], func(b []byte) []byte { b[len(b)-5] ^= 1; return b })
	c := mustCheck(t, r, false)
	if !findProblem(c, IndexCorrupt, nil, nil, nil) {
		t.Fatalf("check: got %v, want index-corrupt", c.Problems)
	}
	if _, err := r.RebuildIndex(ctx, RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := mustCheck(t, r, true); !c.OK() {
		t.Fatalf("check after second rebuild: %v", c.Error())
	}
	// Full rebuild replaces everything and keeps it consistent.
	full, err := r.RebuildIndex(ctx, RebuildOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if full.PacksRead != countObjects(t, st, "packs/") {
		t.Fatalf("full rebuild read %d packs, want all %d", full.PacksRead, countObjects(t, st, "packs/"))
	}
	r.Close()
	r = openRepo(t, st, smallOpts())
	defer r.Close()
	verifySnapshot(t, r, sid, blobs[:5])
	if c := mustCheck(t, r, true); !c.OK() {
		t.Fatalf("check after full rebuild: %v", c.Error())
	}
}

// A damaged pack header (the sealed pack key) makes every blob of that pack
// unreadable: a load names the pack, check reports the header and each
// blob, and the other packs still load.
func TestDamagedPackHeaderIsNamed(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	opts := Options{PackSize: 64 << 10, Workers: 2, GroupMax: -1} // each blob sealed alone
	r := initRepo(t, st, opts)
	blobs := [][]byte{randData(1, 40<<10), randData(2, 40<<10)}
	snap, refs := writeSnapshot(t, r, blobs, nil)
	hit, ok := r.Lookup(DataBlob, refs[0].ID)
	other, ok2 := r.Lookup(DataBlob, refs[1].ID)
	if !ok || !ok2 || hit.Pack == other.Pack {
		t.Fatal("test needs the two blobs indexed in different packs")
	}
	r.Close()
	rewrite(t, st, pack.Name(hit.Pack), func(b []byte) []byte { b[pack.HeaderSize/2] ^= 1; return b })

	r = openRepo(t, st, opts) // a fresh key cache: the header is read
	defer r.Close()
	_, err := r.LoadBlob(ctx, DataBlob, hit.ID, nil)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Pack != hit.Pack || !strings.Contains(err.Error(), hit.Pack.String()) {
		t.Fatalf("load from a pack with a damaged header: got %v, want a *CorruptError naming pack %s", err, hit.Pack.Short())
	}
	if _, err := r.LoadBlob(ctx, DataBlob, other.ID, nil); err != nil {
		t.Fatalf("blob of an intact pack: %v", err)
	}
	full := mustCheck(t, r, true)
	for _, want := range []struct {
		kind ProblemKind
		blob *ID
		snap *ID
	}{{PackHeader, nil, nil}, {BlobCorrupt, &hit.ID, nil}, {BlobDamaged, &hit.ID, &snap}} {
		if !findProblem(full, want.kind, &hit.Pack, want.blob, want.snap) {
			t.Errorf("full check: no %s problem for pack %s; got:\n%v", want.kind, hit.Pack.Short(), full.Problems)
		}
	}
	for _, p := range full.Problems {
		if p.Pack != nil && *p.Pack == other.Pack {
			t.Errorf("full check blames the intact pack: %v", p)
		}
	}
}
