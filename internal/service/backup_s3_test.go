package service_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/archivetest"
	domain "github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/retry"
	"github.com/coffer/coffer/internal/blob/s3"
	"github.com/coffer/coffer/internal/blob/s3/s3test"
)

// A region whose storage is an S3 bucket (versitygw) works like a local
// one: backup, restore with the engine, delete and garbage collection.
func TestBackupIntoS3Region(t *testing.T) {
	ctx := context.Background()
	srv := s3test.StartServer(t)
	raw, err := s3.New(ctx, s3.Options{Endpoint: srv.URL, Bucket: srv.Bucket, Prefix: "coffer/west", AccessKey: srv.AccessKey,
		SecretKey: s3.Secret(srv.SecretKey), Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	west, err := retry.New(raw, retry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 40, SparseSize: 8 << 20})
	res := efsResource(src)
	res.Region = "us-west-2"
	res.ARN = domain.ResourceARN(domain.EFS, "us-west-2", testAccount, res.ID)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}, regions: map[string]blob.Store{"us-west-2": west}})
	c := e.client("us-west-2")
	if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("west")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.StartBackupJob(ctx, &backup.StartBackupJobInput{BackupVaultName: aws.String("west"), ResourceArn: &res.ARN, IamRoleArn: aws.String(testRole)})
	if err != nil {
		t.Fatal(err)
	}
	var d *backup.DescribeBackupJobOutput
	for range 600 {
		d, err = c.DescribeBackupJob(ctx, &backup.DescribeBackupJobInput{BackupJobId: out.BackupJobId})
		if err != nil {
			t.Fatal(err)
		}
		if d.State == types.BackupJobStateCompleted || d.State == types.BackupJobStateFailed {
			break
		}
		waitABit()
	}
	if d.State != types.BackupJobStateCompleted {
		t.Fatalf("backup into S3: %s %s", d.State, aws.ToString(d.StatusMessage))
	}
	rpArn := aws.ToString(d.RecoveryPointArn)
	rp, err := e.store.GetRecoveryPoint(ctx, rpArn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rp.Engine.StorageLocation, "s3://"+srv.Bucket+"/coffer/west/vaults/west/") || rp.Engine.StorageRegion != "us-west-2" {
		t.Errorf("got storage %s in %s, want the S3 bucket", rp.Engine.StorageLocation, rp.Engine.StorageRegion)
	}
	v, _ := e.store.GetVault(ctx, domain.VaultKey{Region: "us-west-2", AccountID: testAccount, Name: "west"})
	vr, err := e.vaults.Open(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "r")
	if _, err := archive.Restore(ctx, vr.Archive, archive.ID(e.snapshotOf(t, rpArn)), dst, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, dst)); diff != "" {
		t.Errorf("restored tree differs:\n%s", diff)
	}
	n := 0
	if err := raw.List(ctx, "vaults/west/", func(blob.Info) error { n++; return nil }); err != nil || n == 0 {
		t.Errorf("listing the bucket under the vault prefix: %d objects, %v", n, err)
	}
	if _, err := c.DeleteRecoveryPoint(ctx, &backup.DeleteRecoveryPointInput{BackupVaultName: aws.String("west"), RecoveryPointArn: &rpArn}); err != nil {
		t.Fatal(err)
	}
	if st := e.collectGarbage(t, vr, 64<<10); st.StoredBytes > 64<<10 {
		t.Errorf("after deleting the only point and collecting: %d bytes stored in the bucket", st.StoredBytes)
	}
}
