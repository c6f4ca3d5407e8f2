package service_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"

	domain "github.com/coffer/coffer/internal/backup"
)

// TestGarbageOwedAcrossRestartAndVaultRemoval: a recovery point deleted
// just before the server stops is still collected after the restart (the
// request is kept in the vault's record), and a deleted vault's repository
// leaves storage at the next collection.
func TestGarbageOwedAcrossRestartAndVaultRemoval(t *testing.T) {
	ctx := context.Background()
	d := t.TempDir()
	res := efsResource(writeFiles(t, map[string]string{"big": bigFile(3<<20, 7)}))
	key := domain.VaultKey{Region: "us-east-1", AccountID: testAccount, Name: "v1"}
	name := aws.String("v1")

	t.Run("delete a point, stop before any collection", func(t *testing.T) {
		e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}, dataDir: d})
		e.createVault(t, "v1")
		rp := aws.ToString(e.backupDone(t, "v1", res.ARN).RecoveryPointArn)
		if _, err := e.client("us-east-1").DeleteRecoveryPoint(ctx, &backup.DeleteRecoveryPointInput{BackupVaultName: name, RecoveryPointArn: &rp}); err != nil {
			t.Fatal(err)
		}
		v, err := e.store.GetVault(ctx, key)
		if err != nil || v.GCRequested.IsZero() {
			t.Fatalf("after the deletion: GCRequested %v (%v), want set", v.GCRequested, err)
		}
	})

	t.Run("after the restart", func(t *testing.T) {
		e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}, dataDir: d})
		vr := e.openVault(t, "v1")
		before, err := vr.Repository.Stats(ctx)
		if err != nil || before.StoredBytes < 3<<20 {
			t.Fatalf("before collecting: %+v %v, want the deleted point's data still stored", before, err)
		}
		if st := e.collectGarbage(t, vr, 64<<10); st.StoredBytes > 64<<10 {
			t.Errorf("collection after the restart: %d bytes stored, want the deleted point's data freed", st.StoredBytes)
		}
		if v, err := e.store.GetVault(ctx, key); err != nil || !v.GCRequested.IsZero() {
			t.Errorf("after the collection: GCRequested %v (%v), want cleared", v.GCRequested, err)
		}

		if _, err := e.client("us-east-1").DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: name}); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(d, "storage", "us-east-1", "vaults", "v1")
		if countFiles(dir) == 0 {
			t.Fatalf("setup: no objects under %s before the collection", dir)
		}
		if err := e.svc.CollectGarbage(ctx); err != nil {
			t.Fatal(err)
		}
		if n := countFiles(dir); n != 0 {
			t.Errorf("after deleting the vault and collecting: %d objects left under %s", n, dir)
		}
		if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
			t.Errorf("after deleting the vault and collecting: %v under %s (%v), want its repository's directory gone", left, dir, err)
		}
		// A vault of the same name is a new, empty repository.
		e.createVault(t, "v1")
		if st, err := e.openVault(t, "v1").Repository.Stats(ctx); err != nil || st.Snapshots != 0 {
			t.Errorf("new vault of the same name: %+v %v", st, err)
		}
	})
}

// countFiles counts the regular files under dir.
func countFiles(dir string) int {
	n := 0
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	return n
}
