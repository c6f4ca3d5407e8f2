package vault_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/fault"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/vault"
)

func TestProbe(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	east, err := localfs.New(ctx, localfs.Options{Root: filepath.Join(dir, "east"), Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	westInner, err := localfs.New(ctx, localfs.Options{Root: filepath.Join(dir, "west"), Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	west := fault.New(westInner, fault.Options{})
	ks, err := repo.OpenKeystore(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := vault.New(vault.Options{Regions: map[string]blob.Store{"us-east-1": east, "us-west-2": west}, Keystore: ks})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	if err := m.Probe(ctx, "us-east-1"); err != nil {
		t.Errorf("Probe(us-east-1) = %v, want nil for empty local storage", err)
	}
	if err := m.Probe(ctx, "eu-west-1"); !errors.Is(err, vault.ErrRegionNotServed) {
		t.Errorf("Probe(eu-west-1) = %v, want ErrRegionNotServed", err)
	}
	west.SetRules(fault.Rule{Ops: fault.OpStat, Kind: fault.Fail, Err: blob.ErrUnavailable})
	if err := m.Probe(ctx, "us-west-2"); !errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("Probe of unreachable storage = %v, want an error wrapping blob.ErrUnavailable", err)
	}
	west.Clear()
	if err := m.Probe(ctx, "us-west-2"); err != nil {
		t.Errorf("Probe after the fault cleared = %v, want nil", err)
	}
}
