package repoadapt_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// TestDamagedGroupRecordRestore damages one group record (small files
// share it) and restores the whole tree. Every file with a chunk in the
// record, and every hard link to one, is reported (the error keeps the
// first 20, the log has them all); every other file comes back
// byte-identical. This is the damage granularity the README documents.
func TestDamagedGroupRecordRestore(t *testing.T) {
	ctx := context.Background()
	a, dir := newLocal(t)
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 120, SparseSize: -1})
	res := archivetest.MustBackup(t, a, src, archive.Options{})

	// Every regular file's chunk locations and inode.
	type file struct {
		rel  string
		ino  uint64
		locs []archive.BlobLocation
	}
	var files []file
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		n, err := archive.ResolvePath(ctx, a, res.Snapshot.Root, filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		f := file{rel: rel, ino: st.Ino}
		for _, e := range n.Content {
			if e.Hole {
				continue
			}
			loc, ok := a.Lookup(tree.DataBlob, e.ID)
			if !ok {
				t.Fatalf("%s: chunk %s not in the index", rel, e.ID.Short())
			}
			f.locs = append(f.locs, loc)
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The record to damage: the one holding script.sh (members share the
	// record's pack, offset and length). A hard link is stored once, so
	// its other names are lost with it.
	type record struct {
		pack   archive.ID
		offset int64
	}
	of := func(l archive.BlobLocation) record { return record{l.Pack, l.Offset} }
	var target record
	var victim archive.ID
	for _, f := range files {
		if f.rel == "script.sh" && len(f.locs) == 1 {
			target, victim = of(f.locs[0]), f.locs[0].ID
		}
	}
	lostIno := map[uint64]bool{}
	for _, f := range files {
		for _, l := range f.locs {
			if of(l) == target {
				lostIno[f.ino] = true
			}
		}
	}
	lost := map[string]bool{}
	for _, f := range files {
		if lostIno[f.ino] {
			lost[f.rel] = true
		}
	}
	if victim.IsZero() || len(lostIno) < 2 {
		t.Fatalf("script.sh is not in a group record shared with other files (%d files in its record)", len(lostIno))
	}
	damagePack(t, a, dir, victim)

	logged := &warnings{}
	out := filepath.Join(t.TempDir(), "r")
	_, err = archive.Restore(ctx, a, res.ID, out, archive.RestoreOptions{Logger: slog.New(logged)})
	if err == nil {
		t.Fatal("restore of a tree with a damaged group record succeeded")
	}
	if n := len(lost); n > 20 && !strings.Contains(err.Error(), fmt.Sprintf("and %d more errors", n-20)) {
		t.Errorf("the error does not count the failures beyond the first 20 of %d: %v", n, err)
	}
	for rel := range lost {
		if !logged.contains(strconv.Quote(filepath.ToSlash(rel))) {
			t.Errorf("the restore's log does not name %q, lost with the damaged record:\n%s", rel, logged.String())
		}
	}
	for _, f := range files {
		got, gerr := os.ReadFile(filepath.Join(out, f.rel))
		if lost[f.rel] {
			if gerr == nil {
				t.Errorf("%q, lost with the damaged record, was restored with %d bytes", f.rel, len(got))
			}
			continue
		}
		want, err := os.ReadFile(filepath.Join(src, f.rel))
		if err != nil {
			t.Fatal(err)
		}
		if gerr != nil || !bytes.Equal(got, want) {
			t.Errorf("%q, outside the damaged record: restored %d bytes (%v), want its %d bytes", f.rel, len(got), gerr, len(want))
		}
	}
	t.Logf("%d files lost with the damaged record, %d restored around it", len(lost), len(files)-len(lost))
}

// warnings is a slog.Handler keeping the text of each warning's
// attributes.
type warnings struct {
	mu   sync.Mutex
	text []string
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnings) WithGroup(string) slog.Handler                { return w }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		w.text = append(w.text, r.Message+": "+a.Value.String())
		return true
	})
	return nil
}

func (w *warnings) contains(s string) bool {
	return strings.Contains(w.String(), s)
}

func (w *warnings) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.text, "\n")
}
