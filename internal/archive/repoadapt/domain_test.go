package repoadapt_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
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

// member is a repository of a deduplication domain, with what reopening
// it takes.
type member struct {
	*repoadapt.Adapter
	dir string
	st  blob.Store
	kek repo.KEK
}

// newMember creates a repository on local disk, with its own KEK, in the
// deduplication domain keyed by domain.
func newMember(t *testing.T, domain repo.KEK) *member {
	return newMemberOpts(t, repo.Options{PackSize: 1 << 20, Domain: domain})
}

func newMemberOpts(t *testing.T, opts repo.Options) *member {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	st, err := localfs.New(context.Background(), localfs.Options{Root: dir, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	k := kek(t, "member")
	r, err := repo.Init(context.Background(), st, k, opts)
	if err != nil {
		t.Fatalf("repo.Init: %v", err)
	}
	m := &member{Adapter: repoadapt.New(r), dir: dir, st: st, kek: k}
	t.Cleanup(func() { m.R.Close(); st.Close() })
	return m
}

// storedCounter counts how a copy reads its source.
type storedCounter struct {
	*repoadapt.Adapter
	stored, decoded, single atomic.Int64
}

func (c *storedCounter) ReadPackStored(ctx context.Context, pack archive.ID, blobs []archive.BlobLocation, fn func(archive.BlobLocation, int64, any) error) error {
	c.stored.Add(1)
	return c.Adapter.ReadPackStored(ctx, pack, blobs, fn)
}

func (c *storedCounter) ReadPackRaw(ctx context.Context, pack archive.ID, blobs []archive.BlobLocation, fn func(archive.BlobLocation, []byte, any) error) error {
	c.decoded.Add(1)
	return c.Adapter.ReadPackRaw(ctx, pack, blobs, fn)
}

func (c *storedCounter) LoadRaw(ctx context.Context, t archive.BlobType, id archive.ID) ([]byte, any, error) {
	c.single.Add(1)
	return c.Adapter.LoadRaw(ctx, t, id)
}

func restoreEqual(t *testing.T, r archive.Repo, id archive.ID, src, what string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r")
	if _, err := archive.Restore(context.Background(), r, id, out, archive.RestoreOptions{}); err != nil {
		t.Fatalf("%s: restore: %v", what, err)
	}
	if d := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, out)); d != "" {
		t.Errorf("%s: restore differs from the source:\n%s", what, d)
	}
}

func TestDomainMembersNameBlobsAlike(t *testing.T) {
	ctx := context.Background()
	dom := kek(t, "domain")
	a, b := newMember(t, dom), newMember(t, dom)
	other := newMember(t, kek(t, "another domain"))
	loner, _ := newLocal(t)
	data := []byte("the same chunk")
	if a.Hash(data) != b.Hash(data) {
		t.Errorf("members of one domain: IDs differ")
	}
	if a.Hash(data) == other.Hash(data) || a.Hash(data) == loner.Hash(data) {
		t.Errorf("repositories of another domain or none name blobs like a member")
	}
	if a.R.ChunkerParams() != b.R.ChunkerParams() {
		t.Errorf("members of one domain: chunker parameters differ: %+v and %+v", a.R.ChunkerParams(), b.R.ChunkerParams())
	}
	if a.R.RepoID() == b.R.RepoID() {
		t.Errorf("members share a repository ID")
	}
	// Reopened with its own KEK only (no domain secret), a member keeps
	// its ID key; another member's KEK does not open it.
	want := a.Hash(data)
	if err := a.R.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, a.st, a.kek, repo.Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer r.Close()
	if archive.ID(r.Hash(data)) != want {
		t.Errorf("reopened member: ID key changed")
	}
	if _, err := repo.Open(ctx, a.st, b.kek, repo.Options{ReadOnly: true}); !errors.Is(err, repo.ErrWrongKey) {
		t.Errorf("open a member with another member's KEK: got %v, want ErrWrongKey", err)
	}
}

func TestCopyWithinDomainMovesStoredBlobs(t *testing.T) {
	ctx := context.Background()
	dom := kek(t, "domain")
	a, b, c := newMember(t, dom), newMember(t, dom), newMember(t, dom)
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 60})
	res := archivetest.MustBackup(t, a, src, archive.Options{})

	cs := &storedCounter{Adapter: a.Adapter}
	id1, st1, err := archive.CopySnapshot(ctx, cs, b, res.ID, archive.CopyOptions{})
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if !st1.SharedIDs || st1.BlobsCopied == 0 || st1.BlobsRead != st1.BlobsCopied {
		t.Errorf("first copy: got %+v, want SharedIDs and every blob read and copied", st1)
	}
	t.Logf("first copy: %+v; %d packs read as stored", st1, cs.stored.Load())
	if st1.PacksAdopted == 0 || cs.decoded.Load() != 0 || cs.single.Load() != 0 {
		t.Errorf("source reads: %d packs adopted, %d decoded, %d blobs one by one; want packs adopted, nothing decoded",
			st1.PacksAdopted, cs.decoded.Load(), cs.single.Load())
	}
	snap1, err := b.LoadSnapshot(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	if snap1.Root != res.Snapshot.Root {
		t.Errorf("copy's root tree %s, want the source's %s (IDs are shared)", snap1.Root.Short(), res.Snapshot.Root.Short())
	}
	if snap1.Meta[archive.MetaCopyMap] != "" || len(snap1.Extra) != 0 {
		t.Errorf("copy within a domain stored a translation map: %v %v", snap1.Meta[archive.MetaCopyMap], snap1.Extra)
	}
	restoreEqual(t, b, id1, src, "first copy")

	// Incremental: only the new file's chunk is read.
	if err := os.WriteFile(filepath.Join(src, "docs", "new.txt"), bytes.Repeat([]byte("q"), 10000), 0o644); err != nil {
		t.Fatal(err)
	}
	res2 := archivetest.MustBackup(t, a, src, archive.Options{Parent: &res.ID})
	id2, st2, err := archive.CopySnapshot(ctx, a, b, res2.ID, archive.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st2.BlobsRead != 1 || st2.BlobsCopied != 1 || st2.TreesMapped == 0 {
		t.Errorf("incremental copy: got %+v, want 1 blob read and copied, unchanged trees not read", st2)
	}
	restoreEqual(t, b, id2, src, "incremental copy")

	// Full reads everything again and stores nothing new.
	_, st3, err := archive.CopySnapshot(ctx, a, b, res2.ID, archive.CopyOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if st3.BlobsRead != st1.BlobsRead+1 || st3.BlobsCopied != 0 || st3.TreesMapped != 0 {
		t.Errorf("full copy: got %+v, want %d blobs read, none copied", st3, st1.BlobsRead+1)
	}

	// A copy of the copy, after its source repository is gone.
	if err := a.R.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(a.dir); err != nil {
		t.Fatal(err)
	}
	id4, _, err := archive.CopySnapshot(ctx, b, c, id2, archive.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restoreEqual(t, c, id4, src, "copy of the copy")
}

func TestCopyWithinDomainDamagedSource(t *testing.T) {
	ctx := context.Background()
	dom := kek(t, "domain")
	// Blobs sealed alone: the damage hits script.sh's blob only.
	a := newMemberOpts(t, repo.Options{PackSize: 1 << 20, Domain: dom, GroupMax: -1})
	b := newMember(t, dom)
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 30, SparseSize: -1})
	res := archivetest.MustBackup(t, a, src, archive.Options{})
	n, err := archive.ResolvePath(ctx, a, res.Snapshot.Root, "script.sh")
	if err != nil {
		t.Fatal(err)
	}
	bad := n.Content[0].ID
	damagePack(t, a.Adapter, a.dir, bad)

	_, _, err = archive.CopySnapshot(ctx, a, b, res.ID, archive.CopyOptions{})
	var be *archive.BlobError
	if !errors.As(err, &be) || be.Path != "script.sh" || be.ID != bad || !errors.Is(err, repo.ErrCorrupt) {
		t.Fatalf("copy: got %v, want ErrCorrupt in a BlobError for script.sh", err)
	}
	if !strings.Contains(err.Error(), res.ID.String()) {
		t.Errorf("copy error %q does not name the source snapshot", err)
	}
	count := 0
	b.ListSnapshots(ctx, func(archive.ID, *archive.Snapshot) error { count++; return nil })
	if count != 0 {
		t.Errorf("snapshots in destination after a failed copy: %d", count)
	}
	if b.HasBlob(tree.DataBlob, bad) {
		t.Errorf("the damaged blob was stored in the destination")
	}
}

// TestCopyWideTree copies a tree wider than the walk's goroutine bound
// (subdirectories then walk inline), within a domain and across keys.
func TestCopyWideTree(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	for i := range 150 {
		d := filepath.Join(src, "d"+strconv.Itoa(i), "sub")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte(strings.Repeat(strconv.Itoa(i), 100)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dom := kek(t, "domain")
	a, b := newMember(t, dom), newMember(t, dom)
	other, _ := newLocal(t)
	res := archivetest.MustBackup(t, a, src, archive.Options{})
	for _, dst := range []archive.Repo{b, other} {
		id, st, err := archive.CopySnapshot(ctx, a, dst, res.ID, archive.CopyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.TreesRead != 301 {
			t.Errorf("trees read: %d, want 301 (root, 150 directories, 150 subdirectories)", st.TreesRead)
		}
		restoreEqual(t, dst, id, src, "wide tree")
	}
}

// A damaged directory tree in the source (read with the rest of its pack
// of trees) fails the copy with an error naming the directory, and the
// destination gets no snapshot.
func TestCopyWithinDomainDamagedTree(t *testing.T) {
	ctx := context.Background()
	dom := kek(t, "domain")
	a, b := newMember(t, dom), newMember(t, dom)
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 30, SparseSize: -1})
	res := archivetest.MustBackup(t, a, src, archive.Options{})
	n, err := archive.ResolvePath(ctx, a, res.Snapshot.Root, "docs")
	if err != nil || n.Type != tree.Dir {
		t.Fatalf("docs: %v %+v", err, n)
	}
	damageBlob(t, a.Adapter, a.dir, tree.TreeBlob, n.Subtree)

	_, _, err = archive.CopySnapshot(ctx, a, b, res.ID, archive.CopyOptions{})
	var be *archive.BlobError
	if !errors.As(err, &be) || be.Path != "docs" || be.Type != tree.TreeBlob || be.ID != n.Subtree || !errors.Is(err, repo.ErrCorrupt) {
		t.Fatalf("copy: got %v, want ErrCorrupt in a BlobError for the tree of docs", err)
	}
	count := 0
	b.ListSnapshots(ctx, func(archive.ID, *archive.Snapshot) error { count++; return nil })
	if count != 0 {
		t.Errorf("snapshots in destination after a failed copy: %d", count)
	}
}
