package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/coffer/coffer/internal/archive/archivetest"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/blob/s3"
	"github.com/coffer/coffer/internal/blob/s3/s3test"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/vault"
)

// A third region whose storage is an S3 bucket (versitygw on loopback):
// a copy from local disk to it restores exactly; with the S3 server
// stopped, StartCopyJob answers ServiceUnavailableException at once and
// starts nothing; once it is back, a copy completes again.
func TestCopyToS3Region(t *testing.T) {
	ctx := context.Background()
	srv := s3test.StartServer(t)
	tree := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 40, SparseSize: 8 << 20})
	arn := efsARN("fs-0123456789abcdef7")
	dataDir := t.TempDir()
	regions := fmt.Sprintf(`regions:
  - name: us-east-1
  - name: eu-west-1
    storage:
      type: s3
      endpoint: %s
      bucket: %s
      prefix: coffer/
      region: %s
      access_key_id: %s
      secret_access_key: %s
      insecure: true
`, srv.Endpoint, srv.Bucket, srv.Region, srv.AccessKey, srv.SecretKey)
	cfg := writeConfig(t, t.TempDir(), []declared{{arn: arn, path: tree}}, regions)
	in := startWith(t, dataDir, withConfig(cfg))
	east, eu := in.client("us-east-1"), in.client("eu-west-1")
	createVault(t, east, "prod")
	drArn := createVaultIn(t, eu, "s3-dr")
	rp := backupDone(t, east, "prod", arn)
	copyRP := copyDone(t, east, "prod", rp, drArn)
	if !strings.Contains(copyRP, ":eu-west-1:") {
		t.Errorf("copy ARN %s is not in eu-west-1", copyRP)
	}

	// The S3 storage goes away: refused at request time, nothing started.
	srv.Stop()
	start := time.Now()
	_, err := east.StartCopyJob(ctx, &backup.StartCopyJobInput{SourceBackupVaultName: aws.String("prod"), RecoveryPointArn: aws.String(rp),
		DestinationBackupVaultArn: aws.String(drArn), IamRoleArn: aws.String(e2eRole)})
	var su *types.ServiceUnavailableException
	if !errors.As(err, &su) || !strings.Contains(aws.ToString(su.Message), "eu-west-1") {
		t.Fatalf("copy to stopped S3 storage: got %v, want ServiceUnavailableException naming the region", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the refusal took %v", d)
	}
	list, err := east.ListCopyJobs(ctx, &backup.ListCopyJobsInput{})
	if err != nil || len(list.CopyJobs) != 1 {
		t.Fatalf("copy jobs after the refusal: %d (%v), want only the first", len(list.CopyJobs), err)
	}
	srv.Restart(t)
	again := copyDone(t, east, "prod", rp, drArn)

	// Both copies restore from the bucket with the engine.
	st, err := s3.New(ctx, s3.Options{Endpoint: srv.URL, Bucket: srv.Bucket, Prefix: "coffer/", AccessKey: srv.AccessKey,
		SecretKey: s3.Secret(srv.SecretKey), Region: srv.Region})
	if err != nil {
		t.Fatal(err)
	}
	local, err := localfs.New(ctx, localfs.Options{Root: filepath.Join(dataDir, "storage", "us-east-1"), SkipSweep: true})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := repo.OpenKeystore(filepath.Join(dataDir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := vault.New(vault.Options{Regions: map[string]blob.Store{"eu-west-1": st, "us-east-1": local}, Keystore: ks, Repo: repo.Options{CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	r := (&engine{m: m}).repoIn(t, eu, "eu-west-1", "s3-dr")
	in.stop(t)
	restoreTree(t, r, copyRP, tree)
	restoreTree(t, r, again, tree)
}
