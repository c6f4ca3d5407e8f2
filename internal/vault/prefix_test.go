package vault_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/blobtest"
	"github.com/coffer/coffer/internal/blob/limit"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/blob/mem"
	"github.com/coffer/coffer/internal/blob/retry"
	"github.com/coffer/coffer/internal/vault"
)

func TestPrefixStoreConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		p, err := vault.NewPrefixStore(mem.New("m"), "vaults/v1/123")
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
}

func TestPrefixStoreConformanceLocal(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		inner, err := localfs.New(context.Background(), localfs.Options{Root: t.TempDir(), NoSync: true, SkipSweep: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { inner.Close() })
		p, err := vault.NewPrefixStore(inner, "vaults/v1/123")
		if err != nil {
			t.Fatal(err)
		}
		return p
	})
}

// Two prefixes over one store do not see each other's objects.
func TestPrefixStoreIsolation(t *testing.T) {
	ctx := context.Background()
	inner := mem.New("m")
	a, _ := vault.NewPrefixStore(inner, "vaults/a/1")
	b, _ := vault.NewPrefixStore(inner, "vaults/ab/1")
	if err := a.Put(ctx, "config", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "config", []byte("b")); err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := a.List(ctx, "", func(i blob.Info) error { names = append(names, i.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "config" {
		t.Errorf("got %v listed under vaults/a/1, want [config]", names)
	}
	got, err := blob.ReadAll(ctx, b, "config")
	if err != nil || string(got) != "b" {
		t.Errorf("got %q, %v, want b", got, err)
	}
	if _, err := vault.NewPrefixStore(inner, "../x"); err == nil {
		t.Errorf("NewPrefixStore(../x): got nil, want an error")
	}
	if got := a.Location(); got != inner.Location()+"/vaults/a/1" {
		t.Errorf("got location %q, want the inner location and the prefix", got)
	}
}

// TestPrefixStoreDirsThroughDecorators checks that the directory
// capabilities (blob.DirPreparer, blob.DirPruner) reach local disk through
// the decorators a server stacks on it (retry, limit) and the prefix
// store: prepared directories appear under the prefix, and pruning the
// prefix removes them and the prefix's own directory.
func TestPrefixStoreDirsThroughDecorators(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	inner, err := localfs.New(ctx, localfs.Options{Root: root, NoSync: true, SkipSweep: true})
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	rs, err := retry.New(inner, retry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ls, err := limit.New(rs, limit.Options{Reads: 2, Writes: 2})
	if err != nil {
		t.Fatal(err)
	}
	p, err := vault.NewPrefixStore(ls, "vaults/v1/123")
	if err != nil {
		t.Fatal(err)
	}
	if err := blob.PrepareDirs(ctx, p, []string{"packs/00", "packs/ff"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "vaults/v1/123/packs/ff")); err != nil {
		t.Fatalf("PrepareDirs through retry, limit and the prefix store: %v", err)
	}
	if err := blob.PruneDirs(ctx, p, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "vaults/v1/123")); !os.IsNotExist(err) {
		t.Errorf("after PruneDirs through retry, limit and the prefix store: %v, want the prefix's directory gone", err)
	}
	if _, err := os.Stat(filepath.Join(root, "vaults/v1")); err != nil {
		t.Errorf("PruneDirs removed the prefix's parent: %v", err)
	}
}
