package e2e

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/archivetest"
	domain "github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/vault"
)

// createVaultIn creates a vault with a client of its region and returns its
// ARN.
func createVaultIn(t *testing.T, c *backup.Client, name string) string {
	t.Helper()
	out, err := c.CreateBackupVault(context.Background(), &backup.CreateBackupVaultInput{BackupVaultName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateBackupVault %s: %v", name, err)
	}
	return aws.ToString(out.BackupVaultArn)
}

// startCopy starts a copy job with a client of the source's region.
func startCopy(t *testing.T, c *backup.Client, srcVault, rpArn, dstArn string) string {
	t.Helper()
	out, err := c.StartCopyJob(context.Background(), &backup.StartCopyJobInput{
		SourceBackupVaultName: aws.String(srcVault), RecoveryPointArn: aws.String(rpArn),
		DestinationBackupVaultArn: aws.String(dstArn), IamRoleArn: aws.String(e2eRole)})
	if err != nil {
		t.Fatalf("StartCopyJob %s → %s: %v", rpArn, dstArn, err)
	}
	return aws.ToString(out.CopyJobId)
}

// waitCopy polls DescribeCopyJob until the job is in one of the states.
func waitCopy(t *testing.T, c *backup.Client, id string, timeout time.Duration, states ...types.CopyJobState) *types.CopyJob {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, err := c.DescribeCopyJob(context.Background(), &backup.DescribeCopyJobInput{CopyJobId: aws.String(id)})
		if err != nil {
			t.Fatalf("DescribeCopyJob %s: %v", id, err)
		}
		for _, s := range states {
			if d.CopyJob.State == s {
				return d.CopyJob
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("copy job %s: got %s (%s) after %v, want one of %v", id, d.CopyJob.State, aws.ToString(d.CopyJob.StatusMessage), timeout, states)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// copyDone copies and expects COMPLETED; it returns the copy's ARN.
func copyDone(t *testing.T, c *backup.Client, srcVault, rpArn, dstArn string) string {
	t.Helper()
	j := waitCopy(t, c, startCopy(t, c, srcVault, rpArn, dstArn), 3*time.Minute, types.CopyJobStateCompleted, types.CopyJobStateFailed)
	if j.State != types.CopyJobStateCompleted {
		t.Fatalf("copy of %s to %s: %s %s", rpArn, dstArn, j.State, aws.ToString(j.StatusMessage))
	}
	return aws.ToString(j.DestinationRecoveryPointArn)
}

// repoIn opens the repository of a vault of any region described by the
// API (c is a client of that region).
func (e *engine) repoIn(t *testing.T, c *backup.Client, region, name string) *vault.Repo {
	t.Helper()
	d, err := c.DescribeBackupVault(context.Background(), &backup.DescribeBackupVaultInput{BackupVaultName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	v := domain.Vault{Name: name, Region: region, AccountID: e2eAccount, CreationDate: aws.ToTime(d.CreationDate).Round(time.Millisecond),
		EncryptionKeyArn: aws.ToString(d.EncryptionKeyArn)}
	r, err := e.m.Open(context.Background(), v)
	if err != nil {
		t.Fatalf("opening vault %s's repository: %v", name, err)
	}
	return r
}

// restoreTree restores the snapshot of a recovery point from a repository
// with the engine and compares it with the source tree.
func restoreTree(t *testing.T, r *vault.Repo, rpArn, src string) {
	t.Helper()
	id, ok := snapshots(t, r)[rpArn]
	if !ok {
		t.Fatalf("no snapshot of %s in %s", rpArn, r.Location)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := archive.Restore(context.Background(), r.Archive, id, dst, archive.RestoreOptions{}); err != nil {
		t.Fatalf("restoring %s: %v", rpArn, err)
	}
	if diff := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, dst)); diff != "" {
		t.Fatalf("%s restored from %s differs from the source:\n%s", rpArn, r.Location, diff)
	}
}

// A backed-up directory tree is copied with the AWS CLI to the other
// region and with aws-sdk-go-v2 to another vault of the same region, the
// cross-region copy is copied back (a copy of a copy), and the source
// recovery point and vault are deleted; every copy, restored with the
// engine from the stopped server's storage and keys, equals the source.
func TestCopyThroughCLIAndSDK(t *testing.T) {
	cli := requireTool(t, "aws")
	ctx := context.Background()
	tree := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 80, SparseSize: 16 << 20})
	arn := efsARN("fs-0123456789abcdef5")
	dataDir := t.TempDir()
	cfg := writeConfig(t, t.TempDir(), []declared{{arn: arn, path: tree}}, "")
	in := startWith(t, dataDir, withConfig(cfg))
	east, west := in.client("us-east-1"), in.client("us-west-2")
	createVault(t, east, "prod")
	sameArn := createVaultIn(t, east, "prod-copy")
	westArn := createVaultIn(t, west, "dr")
	backArn := createVaultIn(t, east, "back")
	rp := backupDone(t, east, "prod", arn)

	// The AWS CLI, with a lifecycle.
	out := cliJSON(t, cli, in, "start-copy-job", "--recovery-point-arn", rp, "--source-backup-vault-name", "prod",
		"--destination-backup-vault-arn", westArn, "--iam-role-arn", e2eRole, "--lifecycle", "DeleteAfterDays=120")
	id, _ := out["CopyJobId"].(string)
	if id == "" || out["IsParent"] != false {
		t.Fatalf("start-copy-job: got %v, want a CopyJobId and IsParent false", out)
	}
	if _, ok := out["CreationDate"].(float64); !ok {
		t.Errorf("start-copy-job: CreationDate %v is not an epoch number", out["CreationDate"])
	}
	var job map[string]any
	deadline := time.Now().Add(3 * time.Minute)
	for {
		job, _ = cliJSON(t, cli, in, "describe-copy-job", "--copy-job-id", id)["CopyJob"].(map[string]any)
		if s := job["State"]; s == "COMPLETED" || s == "FAILED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("describe-copy-job: still %v", job["State"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	if job["State"] != "COMPLETED" || job["DestinationBackupVaultArn"] != westArn || job["SourceRecoveryPointArn"] != rp {
		t.Fatalf("describe-copy-job: got %v", job)
	}
	westRP, _ := job["DestinationRecoveryPointArn"].(string)
	if lc, _ := job["DestinationRecoveryPointLifecycle"].(map[string]any); lc["DeleteAfterDays"] != float64(120) {
		t.Errorf("describe-copy-job: DestinationRecoveryPointLifecycle %v, want DeleteAfterDays 120", job["DestinationRecoveryPointLifecycle"])
	}
	list := cliJSON(t, cli, in, "list-copy-jobs", "--by-destination-vault-arn", westArn)
	if jobs, _ := list["CopyJobs"].([]any); len(jobs) != 1 {
		t.Errorf("list-copy-jobs --by-destination-vault-arn: got %v, want the one job", list)
	}
	_, stderr, code := awsCLI(t, cli, in, "", "start-copy-job", "--recovery-point-arn", rp, "--source-backup-vault-name", "prod",
		"--destination-backup-vault-arn", domain.VaultARN("us-west-2", e2eAccount, "nowhere"), "--iam-role-arn", e2eRole)
	if code == 0 || !strings.Contains(stderr, "ResourceNotFoundException") || !strings.Contains(stderr, "nowhere") {
		t.Errorf("start-copy-job to a missing vault: exit %d, stderr %q; want ResourceNotFoundException naming it", code, stderr)
	}

	// The SDK: same region, then the copy of the copy from us-west-2.
	sameRP := copyDone(t, east, "prod", rp, sameArn)
	backRP := copyDone(t, west, "dr", westRP, backArn)
	d, err := east.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("back"), RecoveryPointArn: aws.String(backRP)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.SourceBackupVaultArn) != domain.VaultARN("us-east-1", e2eAccount, "prod") || d.Status != types.RecoveryPointStatusCompleted {
		t.Errorf("copy of a copy: SourceBackupVaultArn %s, status %s; want the original vault and COMPLETED", aws.ToString(d.SourceBackupVaultArn), d.Status)
	}

	// The copies do not need their source.
	if _, err := east.DeleteRecoveryPoint(ctx, &backup.DeleteRecoveryPointInput{BackupVaultName: aws.String("prod"), RecoveryPointArn: aws.String(rp)}); err != nil {
		t.Fatal(err)
	}
	if _, err := east.DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	e := openEngine(t, dataDir)
	repos := map[string]*vault.Repo{
		sameRP: e.repoIn(t, east, "us-east-1", "prod-copy"),
		westRP: e.repoIn(t, west, "us-west-2", "dr"),
		backRP: e.repoIn(t, east, "us-east-1", "back"),
	}
	in.stop(t)
	if err := os.RemoveAll(filepath.Join(dataDir, "storage", "us-east-1", "vaults", "prod")); err != nil {
		t.Fatal(err)
	}
	for rpArn, r := range repos {
		restoreTree(t, r, rpArn, tree)
	}
}

// writeRandomTree writes n files of size incompressible bytes.
func writeRandomTree(t *testing.T, dir string, seed int64, n, size int) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	b := make([]byte, size)
	for i := range n {
		rng.Read(b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// packsUnder counts the pack files under dir.
func packsUnder(dir string) int {
	n := 0
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && strings.Contains(p, "/packs/") {
			n++
		}
		return nil
	})
	return n
}

// copyInFlight is a copy job of a 96 MiB incompressible tree from vault
// "prod" (us-east-1) to vault "dr" (us-west-2) that has written data into
// the destination, on a server started for the test.
type copyInFlight struct {
	src, dataDir, cfg string
	in                *instance
	rp, drArn, id     string
	drDir             string // the destination vault's storage
}

// copyUnderWay backs up a tree generated from seed, starts its copy and
// returns once the copy has written two packs into the destination (or
// after a minute).
func copyUnderWay(t *testing.T, seed int64, fsID string) copyInFlight {
	t.Helper()
	c := copyInFlight{src: t.TempDir(), dataDir: t.TempDir()}
	writeRandomTree(t, c.src, seed, 48, 2<<20) // 96 MiB, incompressible
	arn := efsARN(fsID)
	c.cfg = writeConfig(t, t.TempDir(), []declared{{arn: arn, path: c.src}}, "")
	c.in = startWith(t, c.dataDir, withConfig(c.cfg))
	east, west := c.in.client("us-east-1"), c.in.client("us-west-2")
	createVault(t, east, "prod")
	c.drArn = createVaultIn(t, west, "dr")
	c.rp = backupDone(t, east, "prod", arn)
	c.id = startCopy(t, east, "prod", c.rp, c.drArn)
	waitCopy(t, east, c.id, time.Minute, types.CopyJobStateRunning, types.CopyJobStateCompleted)
	c.drDir = filepath.Join(c.dataDir, "storage", "us-west-2", "vaults", "dr")
	deadline := time.Now().Add(time.Minute)
	for packsUnder(c.drDir) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return c
}

// The server is killed (SIGKILL) in the middle of a copy and restarted:
// the copy job ends FAILED saying it was interrupted, the destination vault
// holds no recovery point and its repository no snapshot (only
// unreferenced data), and a new copy then completes and restores exactly.
func TestCopyKilledMidway(t *testing.T) {
	ctx := context.Background()
	c := copyUnderWay(t, 5, "fs-0123456789abcdef6")
	src, dataDir, cfg, in, rp, drArn, id, drDir := c.src, c.dataDir, c.cfg, c.in, c.rp, c.drArn, c.id, c.drDir
	in.kill(t)
	if packsUnder(drDir) == 0 {
		t.Fatalf("the copy wrote no pack before the kill; the test did not kill it midway")
	}

	in2 := startWith(t, dataDir, withConfig(cfg))
	east, west := in2.client("us-east-1"), in2.client("us-west-2")
	j := waitCopy(t, east, id, time.Minute, types.CopyJobStateFailed, types.CopyJobStateCompleted)
	if j.State == types.CopyJobStateCompleted {
		t.Skipf("the copy had committed before the kill (%s); nothing to check", aws.ToString(j.StatusMessage))
	}
	if aws.ToString(j.MessageCategory) != domain.MessageInterrupted || !strings.Contains(aws.ToString(j.StatusMessage), "interrupted") {
		t.Errorf("interrupted copy: got %q (%s), want an interruption message", aws.ToString(j.StatusMessage), aws.ToString(j.MessageCategory))
	}
	points, err := west.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("dr")})
	if err != nil || len(points.RecoveryPoints) != 0 {
		t.Fatalf("after the interrupted copy the destination lists %d recovery points (%v), want none", len(points.RecoveryPoints), err)
	}
	e := openEngine(t, dataDir)
	r := e.repoIn(t, west, "us-west-2", "dr")
	if n := len(snapshots(t, r)); n != 0 {
		t.Errorf("the destination repository holds %d snapshots after the interrupted copy, want 0", n)
	}

	copyRP := copyDone(t, east, "prod", rp, drArn)
	r = openEngine(t, dataDir).repoIn(t, west, "us-west-2", "dr")
	in2.stop(t)
	restoreTree(t, r, copyRP, src)
}

// The server is stopped gracefully (SIGTERM) in the middle of a copy: the
// job goes back to CREATED, runs again after the restart and completes,
// and the destination holds exactly one copy, equal to the source.
func TestCopyRequeuedAtShutdown(t *testing.T) {
	ctx := context.Background()
	c := copyUnderWay(t, 6, "fs-0123456789abcdef8")
	src, dataDir, cfg, in, id := c.src, c.dataDir, c.cfg, c.in, c.id
	in.stop(t)
	if !strings.Contains(in.log(), "requeued") {
		t.Skipf("the copy was not running at the shutdown (it had finished); nothing to check")
	}

	in2 := startWith(t, dataDir, withConfig(cfg))
	east, west := in2.client("us-east-1"), in2.client("us-west-2")
	j := waitCopy(t, east, id, 2*time.Minute, types.CopyJobStateCompleted, types.CopyJobStateFailed)
	if j.State != types.CopyJobStateCompleted {
		t.Fatalf("copy after a graceful restart: %s %s, want COMPLETED", j.State, aws.ToString(j.StatusMessage))
	}
	points, err := west.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("dr")})
	if err != nil || len(points.RecoveryPoints) != 1 || aws.ToString(points.RecoveryPoints[0].RecoveryPointArn) != aws.ToString(j.DestinationRecoveryPointArn) {
		t.Fatalf("destination after the requeued copy: %+v (%v), want exactly the job's copy", points, err)
	}
	r := openEngine(t, dataDir).repoIn(t, west, "us-west-2", "dr")
	if n := len(snapshots(t, r)); n != 1 {
		t.Errorf("the destination repository holds %d snapshots, want 1", n)
	}
	in2.stop(t)
	restoreTree(t, r, aws.ToString(j.DestinationRecoveryPointArn), src)
}
