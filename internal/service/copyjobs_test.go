package service_test

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand"
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
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/fault"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/blob/retry"
	"github.com/coffer/coffer/internal/repo"
)

// createVaultIn creates a vault in region and returns its ARN.
func (e *dataEnv) createVaultIn(t *testing.T, region, name string) string {
	t.Helper()
	out, err := e.client(region).CreateBackupVault(context.Background(), &backup.CreateBackupVaultInput{BackupVaultName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateBackupVault(%s, %s): %v", region, name, err)
	}
	return aws.ToString(out.BackupVaultArn)
}

// startCopy starts a copy job from region and returns its ID.
func (e *dataEnv) startCopy(t *testing.T, region string, in *backup.StartCopyJobInput) string {
	t.Helper()
	out, err := e.client(region).StartCopyJob(context.Background(), in)
	if err != nil {
		t.Fatalf("StartCopyJob(%s → %s): %v", aws.ToString(in.RecoveryPointArn), aws.ToString(in.DestinationBackupVaultArn), err)
	}
	if aws.ToString(out.CopyJobId) == "" || out.CreationDate == nil || out.IsParent {
		t.Fatalf("StartCopyJob output: got %+v, want CopyJobId, CreationDate and IsParent false", out)
	}
	return aws.ToString(out.CopyJobId)
}

// waitCopy polls DescribeCopyJob in region (the source's) until the job
// has ended.
func (e *dataEnv) waitCopy(t *testing.T, region, id string) *types.CopyJob {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := e.client(region).DescribeCopyJob(context.Background(), &backup.DescribeCopyJobInput{CopyJobId: aws.String(id)})
		if err != nil {
			t.Fatalf("DescribeCopyJob: %v", err)
		}
		switch d.CopyJob.State {
		case types.CopyJobStateCompleted, types.CopyJobStateFailed, types.CopyJobStatePartial:
			return d.CopyJob
		}
		if time.Now().After(deadline) {
			t.Fatalf("copy job %s: still %s after 60 s", id, d.CopyJob.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// copyDone copies and expects COMPLETED; it returns the job.
func (e *dataEnv) copyDone(t *testing.T, in *backup.StartCopyJobInput) *types.CopyJob {
	t.Helper()
	j := e.waitCopy(t, "us-east-1", e.startCopy(t, "us-east-1", in))
	if j.State != types.CopyJobStateCompleted {
		t.Fatalf("copy of %s: got %s (%s), want COMPLETED", aws.ToString(in.RecoveryPointArn), j.State, aws.ToString(j.StatusMessage))
	}
	return j
}

// restorePoint restores a recovery point with the engine, straight from its
// vault's repository, into a new directory.
func (e *dataEnv) restorePoint(t *testing.T, rpArn string) string {
	t.Helper()
	ctx := context.Background()
	rp, err := e.store.GetRecoveryPoint(ctx, rpArn)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.store.GetVault(ctx, domain.VaultKey{Region: rp.Region, AccountID: rp.AccountID, Name: rp.VaultName})
	if err != nil {
		t.Fatal(err)
	}
	vr, err := e.vaults.Open(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Engine.Repository != vr.ID {
		t.Fatalf("recovery point %s names repository %s, vault %s has %s", rpArn, rp.Engine.Repository, v.Name, vr.ID)
	}
	id, err := repo.ParseID(rp.Engine.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := archive.Restore(ctx, vr.Archive, archive.ID(id), dst, archive.RestoreOptions{}); err != nil {
		t.Fatalf("restore %s: %v", rpArn, err)
	}
	return dst
}

// sameTree fails the test when the restored tree differs from the source.
func sameTree(t *testing.T, what, src, restored string) {
	t.Helper()
	if diff := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, restored)); diff != "" {
		t.Fatalf("%s: restored tree differs from the source:\n%s", what, diff)
	}
}

// pointsIn lists the recovery points of a vault through the API.
func (e *dataEnv) pointsIn(t *testing.T, region, vaultName string) []types.RecoveryPointByBackupVault {
	t.Helper()
	out, err := e.client(region).ListRecoveryPointsByBackupVault(context.Background(), &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String(vaultName)})
	if err != nil {
		t.Fatalf("ListRecoveryPointsByBackupVault(%s): %v", vaultName, err)
	}
	return out.RecoveryPoints
}

// snapshotsIn counts the snapshots of a vault's repository.
func (e *dataEnv) snapshotsIn(t *testing.T, region, vaultName string) int {
	t.Helper()
	ctx := context.Background()
	v, err := e.store.GetVault(ctx, domain.VaultKey{Region: region, AccountID: testAccount, Name: vaultName})
	if err != nil {
		t.Fatal(err)
	}
	vr, err := e.vaults.Open(ctx, v)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := vr.Repository.ListSnapshots(ctx, func(repo.ID, *repo.Snapshot) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// awkwardTree makes a test tree with the archive's generator (odd names,
// links, xattrs, a sparse file).
func awkwardTree(t *testing.T, seed int64) string {
	t.Helper()
	d := t.TempDir()
	if err := archivetest.MakeTree(d, seed, archivetest.TreeOptions{Files: 40, MaxFileSize: 256 << 10, SparseSize: 8 << 20}); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestCopyRestoresIdentically copies a backup of a real tree to another
// vault of the region and to a vault of the other region, copies the copy
// back, and restores each copy with the engine: every restore equals the
// source. It checks the copies' recovery point fields too.
func TestCopyRestoresIdentically(t *testing.T) {
	ctx := context.Background()
	src := awkwardTree(t, 7)
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "source")
	localArn := e.createVaultIn(t, "us-east-1", "local-copy")
	westArn := e.createVaultIn(t, "us-west-2", "west-copy")
	backArn := e.createVaultIn(t, "us-east-1", "copy-of-copy")

	lc := &types.Lifecycle{DeleteAfterDays: aws.Int64(400), MoveToColdStorageAfterDays: aws.Int64(30)}
	b := e.start(t, "source", res.ARN, func(in *backup.StartBackupJobInput) { in.Lifecycle = lc })
	bj := e.wait(t, aws.ToString(b.BackupJobId), types.BackupJobStateCompleted, types.BackupJobStateFailed)
	if bj.State != types.BackupJobStateCompleted {
		t.Fatalf("backup: %s %s", bj.State, aws.ToString(bj.StatusMessage))
	}
	srcRP := aws.ToString(bj.RecoveryPointArn)
	srcDesc, err := e.client("us-east-1").DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("source"), RecoveryPointArn: aws.String(srcRP)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.client("us-east-1").TagResource(ctx, &backup.TagResourceInput{ResourceArn: aws.String(srcRP), Tags: map[string]string{"team": "storage"}}); err != nil {
		t.Fatal(err)
	}

	// Same region, lifecycle inherited.
	local := e.copyDone(t, copyIn("source", srcRP, localArn))
	// Other region, retention overridden.
	in := copyIn("source", srcRP, westArn)
	in.Lifecycle = &types.Lifecycle{DeleteAfterDays: aws.Int64(200)}
	west := e.copyDone(t, in)

	for _, c := range []struct {
		name, region, vault string
		job                 *types.CopyJob
		wantDelete          int64
	}{
		{"same region", "us-east-1", "local-copy", local, 400},
		{"cross region", "us-west-2", "west-copy", west, 200},
	} {
		j := c.job
		arn := aws.ToString(j.DestinationRecoveryPointArn)
		if arn == "" || arn == srcRP {
			t.Fatalf("%s: DestinationRecoveryPointArn = %q, want a new ARN", c.name, arn)
		}
		if !strings.Contains(arn, ":"+c.region+":") {
			t.Errorf("%s: copy ARN %s is not in region %s", c.name, arn, c.region)
		}
		if got := aws.ToString(j.SourceRecoveryPointArn); got != srcRP {
			t.Errorf("%s: SourceRecoveryPointArn = %s, want %s", c.name, got, srcRP)
		}
		if aws.ToString(j.ResourceArn) != res.ARN || aws.ToString(j.ResourceType) != "EFS" {
			t.Errorf("%s: resource %s %s, want %s EFS", c.name, aws.ToString(j.ResourceArn), aws.ToString(j.ResourceType), res.ARN)
		}
		if aws.ToString(j.MessageCategory) != "SUCCESS" || aws.ToString(j.StatusMessage) == "" || j.CompletionDate == nil {
			t.Errorf("%s: MessageCategory %q, StatusMessage %q, CompletionDate %v; want SUCCESS, a summary and a date", c.name, aws.ToString(j.MessageCategory), aws.ToString(j.StatusMessage), j.CompletionDate)
		}
		if aws.ToInt64(j.BackupSizeInBytes) != aws.ToInt64(srcDesc.BackupSizeInBytes) {
			t.Errorf("%s: BackupSizeInBytes = %d, want the source's %d", c.name, aws.ToInt64(j.BackupSizeInBytes), aws.ToInt64(srcDesc.BackupSizeInBytes))
		}
		d, err := e.client(c.region).DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String(c.vault), RecoveryPointArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("%s: DescribeRecoveryPoint of the copy: %v", c.name, err)
		}
		dv, err := e.client(c.region).DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String(c.vault)})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != types.RecoveryPointStatusCompleted {
			t.Errorf("%s: copy status %s, want COMPLETED", c.name, d.Status)
		}
		if !d.CreationDate.Equal(*srcDesc.CreationDate) {
			t.Errorf("%s: copy CreationDate %v, want the source's %v", c.name, d.CreationDate, srcDesc.CreationDate)
		}
		if aws.ToString(d.SourceBackupVaultArn) != aws.ToString(srcDesc.BackupVaultArn) {
			t.Errorf("%s: SourceBackupVaultArn %s, want %s", c.name, aws.ToString(d.SourceBackupVaultArn), aws.ToString(srcDesc.BackupVaultArn))
		}
		if aws.ToString(d.EncryptionKeyArn) != aws.ToString(dv.EncryptionKeyArn) || aws.ToString(d.EncryptionKeyArn) == aws.ToString(srcDesc.EncryptionKeyArn) && c.region != "us-east-1" {
			t.Errorf("%s: copy EncryptionKeyArn %s, want the destination vault's %s", c.name, aws.ToString(d.EncryptionKeyArn), aws.ToString(dv.EncryptionKeyArn))
		}
		if got := aws.ToInt64(d.Lifecycle.DeleteAfterDays); got != c.wantDelete {
			t.Errorf("%s: copy DeleteAfterDays %d, want %d", c.name, got, c.wantDelete)
		}
		if got := aws.ToInt64(d.Lifecycle.MoveToColdStorageAfterDays); got != 30 {
			t.Errorf("%s: copy MoveToColdStorageAfterDays %d, want 30 (inherited)", c.name, got)
		}
		wantDel := srcDesc.CreationDate.Add(time.Duration(c.wantDelete) * 24 * time.Hour)
		if d.CalculatedLifecycle == nil || !d.CalculatedLifecycle.DeleteAt.Equal(wantDel) {
			t.Errorf("%s: CalculatedLifecycle %+v, want DeleteAt %v (from the source's creation date)", c.name, d.CalculatedLifecycle, wantDel)
		}
		tags, err := e.client(c.region).ListTags(ctx, &backup.ListTagsInput{ResourceArn: aws.String(arn)})
		if err != nil || tags.Tags["team"] != "storage" {
			t.Errorf("%s: copy tags %v (%v), want the source's team=storage", c.name, tags, err)
		}
		sameTree(t, c.name, src, e.restorePoint(t, arn))
	}

	// The copies are encrypted under their own vaults' keys: the west
	// vault's repository does not open with the source vault's key.
	westRP, err := e.store.GetRecoveryPoint(ctx, aws.ToString(west.DestinationRecoveryPointArn))
	if err != nil {
		t.Fatal(err)
	}
	srcPoint, err := e.store.GetRecoveryPoint(ctx, srcRP)
	if err != nil {
		t.Fatal(err)
	}
	if westRP.Engine.Repository == srcPoint.Engine.Repository {
		t.Errorf("the cross-region copy lives in the source's repository %s", srcPoint.Engine.Repository)
	}

	// A copy of the copy, from the other region back to this one.
	cc := copyIn("west-copy", aws.ToString(west.DestinationRecoveryPointArn), backArn)
	j := e.waitCopy(t, "us-west-2", e.startCopy(t, "us-west-2", cc))
	if j.State != types.CopyJobStateCompleted {
		t.Fatalf("copy of a copy: %s (%s)", j.State, aws.ToString(j.StatusMessage))
	}
	back := aws.ToString(j.DestinationRecoveryPointArn)
	d, err := e.client("us-east-1").DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("copy-of-copy"), RecoveryPointArn: aws.String(back)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d.SourceBackupVaultArn) != aws.ToString(srcDesc.BackupVaultArn) || !d.CreationDate.Equal(*srcDesc.CreationDate) {
		t.Errorf("copy of a copy: SourceBackupVaultArn %s and CreationDate %v, want the original's %s and %v",
			aws.ToString(d.SourceBackupVaultArn), d.CreationDate, aws.ToString(srcDesc.BackupVaultArn), srcDesc.CreationDate)
	}
	sameTree(t, "copy of a copy", src, e.restorePoint(t, back))
	// Copy jobs are listed in their source's region only.
	if _, err := e.client("us-east-1").DescribeCopyJob(ctx, &backup.DescribeCopyJobInput{CopyJobId: j.CopyJobId}); !errors.As(err, new(*types.ResourceNotFoundException)) {
		t.Errorf("DescribeCopyJob of a us-west-2 job in us-east-1: got %v, want ResourceNotFoundException", err)
	}
}

// backupPoint backs a resource up into a vault and returns the recovery
// point ARN.
func (e *dataEnv) backupPoint(t *testing.T, vaultName, resourceArn string) string {
	t.Helper()
	d := e.backupDone(t, vaultName, resourceArn)
	return aws.ToString(d.RecoveryPointArn)
}

// TestCopyIsIndependent deletes the source recovery point, the source vault
// and its storage after the copy: the copy still restores byte-identically.
func TestCopyIsIndependent(t *testing.T) {
	ctx := context.Background()
	src := awkwardTree(t, 11)
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "doomed")
	dst := e.createVaultIn(t, "us-west-2", "keeper")
	rp := e.backupPoint(t, "doomed", res.ARN)
	j := e.copyDone(t, copyIn("doomed", rp, dst))

	cl := e.client("us-east-1")
	if _, err := cl.DeleteRecoveryPoint(ctx, &backup.DeleteRecoveryPointInput{BackupVaultName: aws.String("doomed"), RecoveryPointArn: aws.String(rp)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: aws.String("doomed")}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(e.dir, "storage", "us-east-1", "vaults", "doomed")); err != nil {
		t.Fatal(err)
	}
	sameTree(t, "copy after its source is gone", src, e.restorePoint(t, aws.ToString(j.DestinationRecoveryPointArn)))
}

// copiedBytes is what a copy job transferred (kept in the job's progress).
func (e *dataEnv) copiedBytes(t *testing.T, id string) int64 {
	t.Helper()
	j, err := e.store.GetJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j.Progress.BytesDone
}

// TestCopyIsIncremental copies a resource twice, the second time after 5%
// of it changed: the second copy transfers only about the change.
func TestCopyIsIncremental(t *testing.T) {
	src := t.TempDir()
	rng := newRand(1)
	const files, size = 20, 256 << 10
	for i := range files {
		writeRandom(t, filepath.Join(src, fmt.Sprintf("f%02d", i)), rng, size)
	}
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "src")
	dst := e.createVaultIn(t, "us-west-2", "dst")

	first := e.copyDone(t, copyIn("src", e.backupPoint(t, "src", res.ARN), dst))
	b1 := e.copiedBytes(t, aws.ToString(first.CopyJobId))
	if b1 < files*size {
		t.Fatalf("first copy transferred %d bytes, want at least the %d bytes of data", b1, files*size)
	}
	writeRandom(t, filepath.Join(src, "f07"), rng, size) // one file of 20 changes: 5%
	second := e.copyDone(t, copyIn("src", e.backupPoint(t, "src", res.ARN), dst))
	b2 := e.copiedBytes(t, aws.ToString(second.CopyJobId))
	t.Logf("first copy %d bytes, second %d bytes: %q", b1, b2, aws.ToString(second.StatusMessage))
	if b2 > b1/10 {
		t.Errorf("second copy after a 5%% change transferred %d bytes, want at most 10%% of the first copy's %d", b2, b1)
	}
	if !strings.Contains(aws.ToString(second.StatusMessage), "incremental") {
		t.Errorf("second copy's StatusMessage %q does not say it was incremental", aws.ToString(second.StatusMessage))
	}
	sameTree(t, "second copy", src, e.restorePoint(t, aws.ToString(second.DestinationRecoveryPointArn)))
}

// TestCopyOfInPlaceChangeMovesChunks copies a large file twice, the second
// time after a 4 KiB overwrite in its middle: the second copy moves the
// content-defined chunks around the write (~1 MiB each), not the whole
// file as a file-level incremental would.
func TestCopyOfInPlaceChangeMovesChunks(t *testing.T) {
	src := t.TempDir()
	rng := newRand(2)
	const size = 32 << 20
	big := filepath.Join(src, "volume.img")
	writeRandom(t, big, rng, size)
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "src")
	dst := e.createVaultIn(t, "us-west-2", "dst")

	first := e.copyDone(t, copyIn("src", e.backupPoint(t, "src", res.ARN), dst))
	if b1 := e.copiedBytes(t, aws.ToString(first.CopyJobId)); b1 < size {
		t.Fatalf("first copy transferred %d bytes, want at least the file's %d", b1, size)
	}
	f, err := os.OpenFile(big, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	patch := make([]byte, 4<<10)
	rng.Read(patch)
	if _, err := f.WriteAt(patch, size/2+12345); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	second := e.copyDone(t, copyIn("src", e.backupPoint(t, "src", res.ARN), dst))
	b2 := e.copiedBytes(t, aws.ToString(second.CopyJobId))
	t.Logf("second copy %d bytes: %q", b2, aws.ToString(second.StatusMessage))
	// One or two chunks of at most 2 MiB in all but freak cases (the
	// chunker's maximum is 8 MiB).
	if b2 == 0 || b2 > size/4 {
		t.Errorf("second copy after a 4 KiB overwrite transferred %d bytes, want between 1 byte and a quarter of the %d-byte file", b2, size)
	}
	sameTree(t, "second copy", src, e.restorePoint(t, aws.ToString(second.DestinationRecoveryPointArn)))
}

// TestCopyIntoLockedVault enforces the destination vault lock's retention
// range: a copy outside it FAILS (with the reason), one inside completes.
func TestCopyIntoLockedVault(t *testing.T) {
	ctx := context.Background()
	src := writeFiles(t, map[string]string{"a": "alpha", "b/c": "gamma"})
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "src")
	dst := e.createVaultIn(t, "us-west-2", "locked")
	if _, err := e.client("us-west-2").PutBackupVaultLockConfiguration(ctx, &backup.PutBackupVaultLockConfigurationInput{
		BackupVaultName: aws.String("locked"), MinRetentionDays: aws.Int64(7), MaxRetentionDays: aws.Int64(30),
	}); err != nil {
		t.Fatal(err)
	}
	rp := e.backupPoint(t, "src", res.ARN) // no lifecycle: kept forever

	j := e.waitCopy(t, "us-east-1", e.startCopy(t, "us-east-1", copyIn("src", rp, dst)))
	if j.State != types.CopyJobStateFailed || !strings.Contains(aws.ToString(j.StatusMessage), "locked") || !strings.Contains(aws.ToString(j.StatusMessage), "30 days") {
		t.Fatalf("copy kept forever into a vault locked to 7–30 days: got %s %q, want FAILED naming the lock", j.State, aws.ToString(j.StatusMessage))
	}
	if n := len(e.pointsIn(t, "us-west-2", "locked")); n != 0 {
		t.Fatalf("after the refused copy the locked vault holds %d recovery points, want 0", n)
	}
	in := copyIn("src", rp, dst)
	in.Lifecycle = &types.Lifecycle{DeleteAfterDays: aws.Int64(20)}
	j = e.copyDone(t, in)
	if got := aws.ToString(j.DestinationVaultLockState); got != "LOCKED" {
		t.Errorf("DestinationVaultLockState = %q, want LOCKED", got)
	}
}

// largestPack returns the largest pack file under dir.
func largestPack(t *testing.T, dir string) string {
	t.Helper()
	var best string
	var size int64
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && strings.Contains(p, "/packs/") && fi.Size() > size {
			best, size = p, fi.Size()
		}
		return nil
	})
	if err != nil || best == "" {
		t.Fatalf("no pack file under %s (%v)", dir, err)
	}
	return best
}

// flipByte inverts one byte in the middle of a file.
func flipByte(t *testing.T, p string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	off := fi.Size() / 2
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestCopyOfCorruptSourceFails flips a byte in a pack of the source
// repository: the copy job FAILS naming the recovery point, and the
// destination holds no recovery point and no snapshot.
func TestCopyOfCorruptSourceFails(t *testing.T) {
	src := t.TempDir()
	rng := newRand(2)
	for i := range 8 {
		writeRandom(t, filepath.Join(src, fmt.Sprintf("f%d", i)), rng, 512<<10)
	}
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "src")
	dst := e.createVaultIn(t, "us-west-2", "dst")
	rp := e.backupPoint(t, "src", res.ARN)
	flipByte(t, largestPack(t, filepath.Join(e.dir, "storage", "us-east-1", "vaults", "src")))

	j := e.waitCopy(t, "us-east-1", e.startCopy(t, "us-east-1", copyIn("src", rp, dst)))
	msg := aws.ToString(j.StatusMessage)
	t.Logf("corrupt: %s %s %q", j.State, aws.ToString(j.MessageCategory), msg)
	if j.State != types.CopyJobStateFailed || !strings.Contains(msg, rp) {
		t.Fatalf("copy of a corrupt recovery point: got %s %q, want FAILED naming %s", j.State, msg, rp)
	}
	if got := aws.ToString(j.MessageCategory); got == "SUCCESS" || got == "" {
		t.Errorf("MessageCategory = %q, want a failure category", got)
	}
	if n := len(e.pointsIn(t, "us-west-2", "dst")); n != 0 {
		t.Errorf("destination holds %d recovery points after the failed copy, want 0", n)
	}
	if n := e.snapshotsIn(t, "us-west-2", "dst"); n != 0 {
		t.Errorf("destination repository holds %d snapshots after the failed copy, want 0", n)
	}
}

// TestCopyWhenDestinationFails makes every write to the destination storage
// fail in the middle of a copy (behind the retry decorator), as unreachable
// and then as full: the job ends FAILED with the cause and leaves no
// recovery point; once the storage works again a new copy completes.
func TestCopyWhenDestinationFails(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	rng := newRand(3)
	for i := range 6 {
		writeRandom(t, filepath.Join(src, fmt.Sprintf("f%d", i)), rng, 512<<10)
	}
	res := efsResource(src)
	d := t.TempDir()
	inner, err := localfs.New(ctx, localfs.Options{Root: filepath.Join(d, "west"), Create: true, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	faulty := fault.New(inner, fault.Options{})
	west, err := retry.New(faulty, retry.Options{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, NoJitter: true})
	if err != nil {
		t.Fatal(err)
	}
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}, regions: map[string]blob.Store{"us-west-2": west}})
	e.createVault(t, "src")
	dstArn := e.createVaultIn(t, "us-west-2", "dst")
	rp := e.backupPoint(t, "src", res.ARN)
	v, err := e.store.GetVault(ctx, domain.VaultKey{Region: "us-west-2", AccountID: testAccount, Name: "dst"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.vaults.Open(ctx, v); err != nil { // the repository exists; its data writes will fail
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"unreachable", blob.ErrUnavailable, "storage did not answer after retries"},
		{"full", blob.ErrNoSpace, "storage is full"},
	} {
		faulty.SetRules(fault.Rule{Ops: fault.OpPut | fault.OpPutIfAbsent, Prefix: "vaults/dst/", Kind: fault.Fail, Err: c.err})
		j := e.waitCopy(t, "us-east-1", e.startCopy(t, "us-east-1", copyIn("src", rp, dstArn)))
		msg := aws.ToString(j.StatusMessage)
		if j.State != types.CopyJobStateFailed || !strings.Contains(msg, c.want) || !strings.Contains(msg, rp) {
			t.Fatalf("%s destination: got %s %q, want FAILED saying %q and naming %s", c.name, j.State, msg, c.want, rp)
		}
		if got := aws.ToString(j.MessageCategory); got != domain.MessageStorageError {
			t.Errorf("%s destination: MessageCategory = %q, want %s", c.name, got, domain.MessageStorageError)
		}
		if c.err == blob.ErrUnavailable && faulty.Fired()[0] < 3 {
			t.Errorf("unreachable destination: the write fault fired %d times, want the retry decorator's 3 attempts", faulty.Fired()[0])
		}
		if n := len(e.pointsIn(t, "us-west-2", "dst")); n != 0 {
			t.Fatalf("%s destination holds %d recovery points after the failed copy, want 0", c.name, n)
		}
	}
	faulty.Clear()
	j := e.copyDone(t, copyIn("src", rp, dstArn))
	sameTree(t, "copy after the storage recovered", src, e.restorePoint(t, aws.ToString(j.DestinationRecoveryPointArn)))
}

func newRand(seed int64) *mrand.Rand { return mrand.New(mrand.NewSource(seed)) }

// writeRandom writes n incompressible bytes to p.
func writeRandom(t *testing.T, p string, rng *mrand.Rand, n int) {
	t.Helper()
	b := make([]byte, n)
	rng.Read(b)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
