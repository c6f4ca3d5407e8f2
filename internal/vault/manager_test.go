package vault_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/vault"
)

type fixture struct {
	dir     string
	storage map[string]string
}

func newFixture(t *testing.T) *fixture {
	d := t.TempDir()
	return &fixture{dir: d, storage: map[string]string{"us-east-1": filepath.Join(d, "east"), "us-west-2": filepath.Join(d, "west")}}
}

func (f *fixture) manager(t *testing.T) *vault.Manager {
	t.Helper()
	ctx := context.Background()
	regions := map[string]blob.Store{}
	for r, p := range f.storage {
		st, err := localfs.New(ctx, localfs.Options{Root: p, Create: true, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		regions[r] = st
	}
	ks, err := repo.OpenKeystore(filepath.Join(f.dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	// Idle sessions rotate after 50 ms, so that a garbage collection
	// waiting for the writer's session completes within the test.
	m, err := vault.New(vault.Options{Regions: regions, Keystore: ks, Repo: repo.Options{CacheDir: filepath.Join(f.dir, "cache"), PackSize: 1 << 20,
		HeartbeatInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func testVault(name, region string, created time.Time) backup.Vault {
	return backup.Vault{
		Name: name, Region: region, AccountID: "111122223333", CreationDate: created,
		EncryptionKeyArn: "arn:aws:kms:" + region + ":111122223333:key/6f1f8c4e-0000-4000-8000-000000000001",
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	d := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(d, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestOpenCreatesOnceAndPersists(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m := f.manager(t)
	v := testVault("v1", "us-east-1", time.UnixMilli(1717000000123))

	var wg sync.WaitGroup
	repos := make([]*vault.Repo, 8)
	errs := make([]error, 8)
	for i := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repos[i], errs[i] = m.Open(ctx, v)
		}()
	}
	wg.Wait()
	for i := range repos {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		if repos[i] != repos[0] {
			t.Fatalf("concurrent Opens returned different repositories")
		}
	}
	r := repos[0]
	if want := "vaults/v1/1717000000123"; r.Prefix != want {
		t.Errorf("got prefix %q, want %q", r.Prefix, want)
	}
	if want := filepath.Join(f.storage["us-east-1"], "vaults/v1/1717000000123"); r.Location != want {
		t.Errorf("got location %q, want %q", r.Location, want)
	}
	src := writeTree(t, map[string]string{"a": "hello", "b": "world"})
	res, err := archive.BackupDir(ctx, r.Archive, src, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// A new process (new Manager over the same storage and keys) finds it.
	m2 := f.manager(t)
	r2, err := m2.Open(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if r2.ID != r.ID {
		t.Errorf("got repository ID %s after reopening, want %s", r2.ID, r.ID)
	}
	if _, err := r2.Archive.LoadSnapshot(ctx, res.ID); err != nil {
		t.Errorf("snapshot of the first process: %v", err)
	}
	ref := r2.EngineRef(res.ID.String())
	if ref.Repository != r.ID || ref.StorageRegion != "us-east-1" || ref.SnapshotID != res.ID.String() {
		t.Errorf("got EngineRef %+v", ref)
	}

	// A vault deleted and created again with the same name is a new
	// repository.
	again := testVault("v1", "us-east-1", time.UnixMilli(1717000999000))
	r3, err := m2.Open(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if r3.ID == r.ID {
		t.Errorf("a re-created vault reuses the old repository %s", r3.ID)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m := f.manager(t)
	if _, err := m.Open(ctx, testVault("v1", "eu-west-1", time.Now())); !errors.Is(err, vault.ErrRegionNotServed) {
		t.Errorf("Open in an unserved region: got %v, want ErrRegionNotServed", err)
	}
	v := testVault("v2", "us-west-2", time.UnixMilli(1))
	if _, err := m.Open(ctx, v); err != nil {
		t.Fatal(err)
	}
	m.Close()
	// The same place opened with another key: the engine's wrong-key error.
	m2 := f.manager(t)
	v.EncryptionKeyArn = "arn:aws:kms:us-west-2:111122223333:key/6f1f8c4e-0000-4000-8000-000000000002"
	if _, err := m2.Open(ctx, v); !errors.Is(err, repo.ErrWrongKey) {
		t.Errorf("Open with another key: got %v, want repo.ErrWrongKey", err)
	}
}

func TestGCFreesDeletedSnapshot(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m := f.manager(t)
	v := testVault("v1", "us-east-1", time.UnixMilli(5))
	r, err := m.Open(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 3<<20)
	x := uint32(1)
	for i := range big { // incompressible
		x = x*1664525 + 1013904223
		big[i] = byte(x >> 24)
	}
	src := writeTree(t, map[string]string{"big": string(big)})
	res, err := archive.BackupDir(ctx, r.Archive, src, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := r.Repository.Stats(ctx)
	if err := r.Repository.DeleteSnapshot(ctx, repo.ID(res.ID)); err != nil {
		t.Fatal(err)
	}
	// The backup's session made decisions: the plan waits until it
	// rotates, and a later GC completes it.
	var rep *repo.GCReport
	var after *repo.Stats
	for i := 0; i < 100; i++ {
		rep, err = m.GC(ctx, v, repo.GCOptions{})
		if err != nil {
			t.Fatal(err)
		}
		after, _ = r.Repository.Stats(ctx)
		if rep.BytesFreed > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rep.BytesFreed == 0 || after.StoredBytes >= before.StoredBytes {
		t.Errorf("GC freed %d bytes; stored %d → %d, want less", rep.BytesFreed, before.StoredBytes, after.StoredBytes)
	}
	// Invalidate: the next Open returns a fresh repository.
	m.Invalidate(r)
	r2, err := m.Open(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if r2 == r || r2.ID != r.ID {
		t.Errorf("after Invalidate: got the same handle or another repository")
	}
}

// countObjects counts the objects under dir (a region's local storage).
func countObjects(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

func TestRemoveDeletesTheRepository(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	m := f.manager(t)
	gone := testVault("gone", "us-east-1", time.UnixMilli(7))
	kept := testVault("kept", "us-east-1", time.UnixMilli(8))
	src := writeTree(t, map[string]string{"a": "alpha", "b": "beta"})
	var keptSnap archive.ID
	for _, v := range []backup.Vault{gone, kept} {
		r, err := m.Open(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		res, err := archive.BackupDir(ctx, r.Archive, src, archive.Options{})
		if err != nil {
			t.Fatal(err)
		}
		keptSnap = res.ID
	}
	goneDir := filepath.Join(f.storage["us-east-1"], vault.Prefix(gone))
	keptDir := filepath.Join(f.storage["us-east-1"], vault.Prefix(kept))
	keptBefore := countObjects(t, keptDir)
	if countObjects(t, goneDir) == 0 || keptBefore == 0 {
		t.Fatalf("setup: objects %d and %d", countObjects(t, goneDir), keptBefore)
	}
	caches, _ := os.ReadDir(filepath.Join(f.dir, "cache"))

	n, err := m.Remove(ctx, gone)
	if err != nil || n == 0 {
		t.Fatalf("Remove: %d objects, %v", n, err)
	}
	if left := countObjects(t, goneDir); left != 0 {
		t.Errorf("after Remove: %d objects left under %s", left, goneDir)
	}
	if _, err := os.Stat(goneDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove: the vault's directory %s: %v, want it removed", goneDir, err)
	}
	if got, _ := os.ReadDir(filepath.Join(f.dir, "cache")); len(got) != len(caches)-1 {
		t.Errorf("index caches: %d before, %d after; want one fewer", len(caches), len(got))
	}
	if got := countObjects(t, keptDir); got != keptBefore {
		t.Errorf("the other vault's objects: %d → %d", keptBefore, got)
	}
	r, err := m.Open(ctx, kept)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Restore(ctx, r.Archive, keptSnap, filepath.Join(t.TempDir(), "r"), archive.RestoreOptions{}); err != nil {
		t.Errorf("restore from the other vault: %v", err)
	}
	// Again: nothing left to delete; a vault that never stored anything.
	if n, err := m.Remove(ctx, gone); err != nil || n != 0 {
		t.Errorf("second Remove: %d objects, %v; want 0, nil", n, err)
	}
	if n, err := m.Remove(ctx, testVault("never", "us-west-2", time.UnixMilli(9))); err != nil || n != 0 {
		t.Errorf("Remove of an unused vault: %d objects, %v; want 0, nil", n, err)
	}
	if _, err := m.Remove(ctx, testVault("x", "eu-north-1", time.UnixMilli(9))); !errors.Is(err, vault.ErrRegionNotServed) {
		t.Errorf("Remove in an unserved region: got %v, want ErrRegionNotServed", err)
	}
}
