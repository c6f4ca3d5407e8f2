package vault_test

import (
	"context"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/blobtest"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/blob/mem"
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
