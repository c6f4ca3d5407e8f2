package repoadapt_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/archivetest"
	"github.com/coffer/coffer/internal/archive/repoadapt"
	"github.com/coffer/coffer/internal/archive/tree"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/repo"
)

func kek(t *testing.T, name string) repo.KEK {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	k, err := repo.NewKEK(name, key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newLocal creates a repository on local disk with small packs (so that
// tests see many of them) and returns it with its directory.
func newLocal(t *testing.T) (*repoadapt.Adapter, string) {
	return newLocalOpts(t, repo.Options{PackSize: 1 << 20})
}

// newLocalAlone is newLocal with every blob sealed alone (no group
// records), for tests that damage one blob and expect only its file to
// fail.
func newLocalAlone(t *testing.T) (*repoadapt.Adapter, string) {
	return newLocalOpts(t, repo.Options{PackSize: 1 << 20, GroupMax: -1})
}

func newLocalOpts(t *testing.T, opts repo.Options) (*repoadapt.Adapter, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	st, err := localfs.New(context.Background(), localfs.Options{Root: dir, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Init(context.Background(), st, kek(t, "test"), opts)
	if err != nil {
		t.Fatalf("repo.Init: %v", err)
	}
	t.Cleanup(func() { r.Close(); st.Close() })
	return repoadapt.New(r), dir
}

func TestSuiteRealRepository(t *testing.T) {
	archivetest.Suite(t, func(t *testing.T) archive.Repo {
		a, _ := newLocal(t)
		return a
	})
}

func TestTreeRefsForCheck(t *testing.T) {
	a, _ := newLocal(t)
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 20, SparseSize: 8 << 20})
	res := archivetest.MustBackup(t, a, src, archive.Options{})
	data, err := a.LoadBlob(context.Background(), tree.TreeBlob, res.Snapshot.Root, nil)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := repoadapt.TreeRefs(data)
	if err != nil || len(refs) == 0 {
		t.Fatalf("TreeRefs: %v, %d refs", err, len(refs))
	}
	for _, r := range refs {
		if !a.R.HasBlob(r.Type, r.ID) {
			t.Errorf("referenced %s is not stored", r)
		}
	}
}

func TestCopyBetweenRealRepositories(t *testing.T) {
	ctx := context.Background()
	a, _ := newLocal(t)
	b, _ := newLocal(t)
	c, _ := newLocal(t)
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 60})
	res := archivetest.MustBackup(t, a, src, archive.Options{})
	id1, st1, err := archive.CopySnapshot(ctx, a, b, res.ID, archive.CopyOptions{})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if st1.BlobsCopied == 0 {
		t.Errorf("first copy: %+v", st1)
	}
	out := filepath.Join(t.TempDir(), "r1")
	if _, err := archive.Restore(ctx, b, id1, out, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, out)); d != "" {
		t.Errorf("restore from copy differs:\n%s", d)
	}
	// Incremental.
	if err := os.WriteFile(filepath.Join(src, "docs", "new.txt"), bytes.Repeat([]byte("q"), 10000), 0o644); err != nil {
		t.Fatal(err)
	}
	res2 := archivetest.MustBackup(t, a, src, archive.Options{Parent: &res.ID})
	id2, st2, err := archive.CopySnapshot(ctx, a, b, res2.ID, archive.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st2.BlobsRead != 1 || st2.BlobsCopied != 1 || st2.TreesMapped == 0 {
		t.Errorf("incremental copy: got %+v want 1 blob read and copied", st2)
	}
	// Copy of the copy, then restore.
	id3, _, err := archive.CopySnapshot(ctx, b, c, id2, archive.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out3 := filepath.Join(t.TempDir(), "r3")
	if _, err := archive.Restore(ctx, c, id3, out3, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, out3)); d != "" {
		t.Errorf("restore from copy of copy differs:\n%s", d)
	}
}

// damagePack flips a byte in the middle of the pack holding id.
func damagePack(t *testing.T, a *repoadapt.Adapter, dir string, id archive.ID) {
	t.Helper()
	damageBlob(t, a, dir, tree.DataBlob, id)
}

// damageBlob flips a byte in the middle of a stored blob of type typ.
func damageBlob(t *testing.T, a *repoadapt.Adapter, dir string, typ archive.BlobType, id archive.ID) {
	t.Helper()
	loc, ok := a.Lookup(typ, id)
	if !ok {
		t.Fatalf("blob %s not found", id.Short())
	}
	var packFile string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), loc.Pack.String()) {
			packFile = p
		}
		return nil
	})
	if packFile == "" {
		t.Fatalf("pack file %s not found under %s", loc.Pack, dir)
	}
	f, err := os.OpenFile(packFile, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	off := loc.Offset + loc.Length/2
	f.ReadAt(b, off)
	b[0] ^= 0xff
	f.WriteAt(b, off)
}

func TestCorruptPackNamesFileAndSnapshot(t *testing.T) {
	ctx := context.Background()
	a, dir := newLocalAlone(t)
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 30, SparseSize: -1})
	res := archivetest.MustBackup(t, a, src, archive.Options{})
	n, err := archive.ResolvePath(ctx, a, res.Snapshot.Root, "script.sh")
	if err != nil {
		t.Fatal(err)
	}
	bad := n.Content[0].ID
	damagePack(t, a, dir, bad)

	// Restore: fails naming the file and the blob; the rest is restored.
	out := filepath.Join(t.TempDir(), "r")
	_, err = archive.Restore(ctx, a, res.ID, out, archive.RestoreOptions{})
	var be *archive.BlobError
	if !errors.As(err, &be) || be.Path != "script.sh" || be.ID != bad {
		t.Fatalf("restore: got %v, want a BlobError for script.sh", err)
	}
	var ce *repo.CorruptError
	if !errors.As(err, &ce) {
		t.Errorf("restore: got %v, want the repository's CorruptError inside", err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "a", "hl-orig")); err != nil || string(b) != "hard linked content\n" {
		t.Errorf("undamaged file: %q %v", b, err)
	}
	// Copy: fails naming the source snapshot; nothing committed.
	b, _ := newLocal(t)
	_, _, err = archive.CopySnapshot(ctx, a, b, res.ID, archive.CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), res.ID.String()) || !errors.Is(err, repo.ErrCorrupt) {
		t.Fatalf("copy: got %v, want ErrCorrupt naming snapshot %s", err, res.ID)
	}
	if !errors.As(err, &be) || be.Path != "script.sh" || be.ID != bad {
		t.Errorf("copy: got %v, want a BlobError for script.sh", err)
	}
	count := 0
	b.ListSnapshots(ctx, func(archive.ID, *archive.Snapshot) error { count++; return nil })
	if count != 0 {
		t.Errorf("snapshots in destination after a failed copy: %d", count)
	}
}

func TestWrongKindAndMissing(t *testing.T) {
	a, _ := newLocal(t)
	_, err := archive.Restore(context.Background(), a, archive.ID{1}, t.TempDir(), archive.RestoreOptions{})
	if !errors.Is(err, archive.ErrSnapshotNotFound) {
		t.Errorf("missing snapshot: got %v want ErrSnapshotNotFound", err)
	}
	_ = blob.ErrNotFound
}

// countingSrc counts how a copy reads its source.
type countingSrc struct {
	*repoadapt.Adapter
	packReads, singleReads atomic.Int64
}

func (c *countingSrc) ReadPackRaw(ctx context.Context, pack archive.ID, blobs []archive.BlobLocation, fn func(archive.BlobLocation, []byte, any) error) error {
	c.packReads.Add(1)
	return c.Adapter.ReadPackRaw(ctx, pack, blobs, fn)
}

func (c *countingSrc) LoadRaw(ctx context.Context, t archive.BlobType, id archive.ID) ([]byte, any, error) {
	c.singleReads.Add(1)
	return c.Adapter.LoadRaw(ctx, t, id)
}

func TestCopyReadsPerPack(t *testing.T) {
	ctx := context.Background()
	a, _ := newLocal(t)
	b, _ := newLocal(t)
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 60})
	res := archivetest.MustBackup(t, a, src, archive.Options{})
	// The source's data blobs and their packs.
	blobs, packs := map[archive.ID]bool{}, map[archive.ID]bool{}
	var walk func(id archive.ID)
	walk = func(id archive.ID) {
		data, err := a.LoadBlob(ctx, tree.TreeBlob, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := tree.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tr.Nodes {
			if n.Type == tree.Dir {
				walk(n.Subtree)
			}
			for _, e := range n.Content {
				if e.Hole {
					continue
				}
				blobs[e.ID] = true
				l, _ := a.Lookup(tree.DataBlob, e.ID)
				packs[l.Pack] = true
			}
		}
	}
	walk(res.Snapshot.Root)

	cs := &countingSrc{Adapter: a}
	id, st, err := archive.CopySnapshot(ctx, cs, b, res.ID, archive.CopyOptions{})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if got, want := cs.singleReads.Load(), int64(0); got != want {
		t.Errorf("blobs read one by one: got %d, want %d", got, want)
	}
	if got := cs.packReads.Load(); got < 1 || got > int64(len(packs)) {
		t.Errorf("pack reads: got %d, want 1..%d (one per source pack)", got, len(packs))
	}
	if got, want := st.BlobsRead, int64(len(blobs)); got != want {
		t.Errorf("BlobsRead: got %d, want %d", got, want)
	}
	out := filepath.Join(t.TempDir(), "r")
	if _, err := archive.Restore(ctx, b, id, out, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, out)); d != "" {
		t.Errorf("restore from copy differs:\n%s", d)
	}
	snap, err := b.LoadSnapshot(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	mid, err := tree.ParseID(snap.Meta[archive.MetaCopyMap])
	if err != nil || len(snap.Extra) != 1 || snap.Extra[0].ID != mid {
		t.Errorf("copy's Extra: got %v (map %q), want the translation map", snap.Extra, snap.Meta[archive.MetaCopyMap])
	}
}
