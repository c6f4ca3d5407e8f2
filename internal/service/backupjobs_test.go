package service_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/archivetest"
	domain "github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/repo"
)

// A generated tree with symlinks, hard links, xattrs and a large sparse
// file, backed up through the API; content checked by restoring with the
// engine; then incremental backups of the unchanged and a changed tree.
func TestBackupDirectoryThroughAPI(t *testing.T) {
	ctx := context.Background()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 80, SparseSize: 32 << 20})
	if err := archivetest.MkFifo(filepath.Join(src, "zz-fifo")); err != nil {
		t.Fatal(err)
	}
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	c := e.client("us-east-1")
	vaultArn := e.createVault(t, "files")

	started := e.start(t, "files", res.ARN, func(in *backup.StartBackupJobInput) {
		in.Lifecycle = &types.Lifecycle{DeleteAfterDays: aws.Int64(35)}
		in.RecoveryPointTags = map[string]string{"team": "storage"}
	})
	id := aws.ToString(started.BackupJobId)
	if !domain.IsJobID(id) {
		t.Errorf("got job ID %q, want an uppercase UUID", id)
	}
	rpArn := aws.ToString(started.RecoveryPointArn)
	if !strings.HasPrefix(rpArn, "arn:aws:backup:us-east-1:"+testAccount+":recovery-point:") {
		t.Errorf("StartBackupJob for EFS: got RecoveryPointArn %q, want a backup recovery point ARN", rpArn)
	}
	created := aws.ToTime(started.CreationDate)
	d := e.wait(t, id, types.BackupJobStateCompleted, types.BackupJobStateFailed)
	if d.State != types.BackupJobStateCompleted {
		t.Fatalf("got %s: %s", d.State, aws.ToString(d.StatusMessage))
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"AccountId", aws.ToString(d.AccountId), testAccount},
		{"BackupJobId", aws.ToString(d.BackupJobId), id},
		{"BackupVaultName", aws.ToString(d.BackupVaultName), "files"},
		{"BackupVaultArn", aws.ToString(d.BackupVaultArn), vaultArn},
		{"ResourceArn", aws.ToString(d.ResourceArn), res.ARN},
		{"ResourceType", aws.ToString(d.ResourceType), "EFS"},
		{"ResourceName", aws.ToString(d.ResourceName), res.Name},
		{"RecoveryPointArn", aws.ToString(d.RecoveryPointArn), rpArn},
		{"IamRoleArn", aws.ToString(d.IamRoleArn), testRole},
		{"CreationDate", aws.ToTime(d.CreationDate).UTC(), created.UTC()},
		{"StartBy", aws.ToTime(d.StartBy).UTC(), created.UTC().Add(8 * time.Hour)},
		{"InitiationDate set", d.InitiationDate != nil, true},
		{"CompletionDate set", d.CompletionDate != nil, true},
		{"PercentDone", aws.ToString(d.PercentDone), "100.0"},
		{"MessageCategory", aws.ToString(d.MessageCategory), "COMPLETED_WITH_ISSUES"},
		{"IsEncrypted", d.IsEncrypted, true},
		{"IsParent", d.IsParent, false},
		{"VaultType", aws.ToString(d.VaultType), "BACKUP_VAULT"},
		{"VaultLockState", aws.ToString(d.VaultLockState), "UNLOCKED"},
		{"EncryptionKeyArn", aws.ToString(d.EncryptionKeyArn), e.svc.DefaultKeyARN("us-east-1")},
		{"RecoveryPointLifecycle", aws.ToInt64(d.RecoveryPointLifecycle.DeleteAfterDays), int64(35)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("DescribeBackupJob %s: got %v, want %v", c.field, c.got, c.want)
		}
	}
	if m := aws.ToString(d.StatusMessage); !strings.Contains(m, "zz-fifo") || !strings.Contains(m, "named pipe") {
		t.Errorf("got StatusMessage %q, want the FIFO reported", aws.ToString(d.StatusMessage))
	}
	if aws.ToInt64(d.BackupSizeInBytes) <= 0 || aws.ToInt64(d.BytesTransferred) <= 0 {
		t.Errorf("got BackupSizeInBytes %d, BytesTransferred %d; want the data moved", aws.ToInt64(d.BackupSizeInBytes), aws.ToInt64(d.BytesTransferred))
	}

	rp, err := c.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("files"), RecoveryPointArn: &rpArn})
	if err != nil {
		t.Fatal(err)
	}
	if rp.Status != types.RecoveryPointStatusCompleted || rp.StorageClass != types.StorageClassWarm || aws.ToString(rp.ResourceArn) != res.ARN ||
		aws.ToInt64(rp.BackupSizeInBytes) < 32<<20 || !rp.IsEncrypted || aws.ToString(rp.IamRoleArn) != testRole {
		t.Errorf("DescribeRecoveryPoint: got %s %s size %d %s", rp.Status, rp.StorageClass, aws.ToInt64(rp.BackupSizeInBytes), aws.ToString(rp.ResourceArn))
	}
	if want := aws.ToTime(rp.CreationDate).Add(35 * 24 * time.Hour); rp.CalculatedLifecycle == nil || !aws.ToTime(rp.CalculatedLifecycle.DeleteAt).Equal(want) {
		t.Errorf("got CalculatedLifecycle %+v, want DeleteAt %v", rp.CalculatedLifecycle, want)
	}
	tags, err := c.ListTags(ctx, &backup.ListTagsInput{ResourceArn: &rpArn})
	if err != nil || tags.Tags["team"] != "storage" {
		t.Errorf("ListTags of the recovery point: got %v, %v; want the RecoveryPointTags", tags, err)
	}

	// The content, restored with the engine, equals the source.
	vr := e.openVault(t, "files")
	os.Remove(filepath.Join(src, "zz-fifo"))
	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := archive.Restore(ctx, vr.Archive, archive.ID(e.snapshotOf(t, rpArn)), dst, archive.RestoreOptions{}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if diff := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, dst)); diff != "" {
		t.Fatalf("restored tree differs from the source:\n%s", diff)
	}

	// Unchanged tree: no file data read, nothing new stored.
	d2 := e.backupDone(t, "files", res.ARN)
	if aws.ToInt64(d2.BytesTransferred) != 0 || aws.ToInt64(d2.BackupSizeInBytes) != 0 {
		t.Errorf("unchanged incremental: BytesTransferred %d, BackupSizeInBytes %d; want 0 and 0", aws.ToInt64(d2.BytesTransferred), aws.ToInt64(d2.BackupSizeInBytes))
	}
	if aws.ToString(d2.MessageCategory) != "SUCCESS" {
		t.Errorf("got MessageCategory %q, want SUCCESS", aws.ToString(d2.MessageCategory))
	}
	job2, _ := e.store.GetJob(ctx, aws.ToString(d2.BackupJobId))
	if job2.Backup.BaseRecoveryPointArn != rpArn {
		t.Errorf("second backup's base is %q, want the first point %s", job2.Backup.BaseRecoveryPointArn, rpArn)
	}
	// Changed tree: only the change is read and stored.
	change := strings.Repeat("changed content ", 4096) // 64 KiB
	if err := os.WriteFile(filepath.Join(src, "new-file.txt"), []byte(change), 0o644); err != nil {
		t.Fatal(err)
	}
	d3 := e.backupDone(t, "files", res.ARN)
	if got := aws.ToInt64(d3.BytesTransferred); got != int64(len(change)) {
		t.Errorf("changed incremental: read %d bytes, want %d", got, len(change))
	}
	if got := aws.ToInt64(d3.BackupSizeInBytes); got <= 0 || got > int64(len(change)) {
		t.Errorf("changed incremental: stored %d new bytes, want at most the %d changed", got, len(change))
	}

	// Three points, with sizes, by resource and by vault.
	byRes, err := c.ListRecoveryPointsByResource(ctx, &backup.ListRecoveryPointsByResourceInput{ResourceArn: &res.ARN})
	if err != nil {
		t.Fatal(err)
	}
	if len(byRes.RecoveryPoints) != 3 {
		t.Fatalf("ListRecoveryPointsByResource: got %d points, want 3", len(byRes.RecoveryPoints))
	}
	for _, p := range byRes.RecoveryPoints {
		if aws.ToInt64(p.BackupSizeBytes) < 32<<20 || aws.ToString(p.BackupVaultName) != "files" || p.Status != types.RecoveryPointStatusCompleted {
			t.Errorf("point %s: got size %d vault %s status %s", aws.ToString(p.RecoveryPointArn), aws.ToInt64(p.BackupSizeBytes), aws.ToString(p.BackupVaultName), p.Status)
		}
	}
	vd, err := c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("files")})
	if err != nil || vd.NumberOfRecoveryPoints != 3 {
		t.Errorf("DescribeBackupVault: got NumberOfRecoveryPoints %d (%v), want 3", vd.NumberOfRecoveryPoints, err)
	}
	// The protected resource records the last backup.
	pr, err := c.DescribeProtectedResource(ctx, &backup.DescribeProtectedResourceInput{ResourceArn: &res.ARN})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(pr.LastRecoveryPointArn) != aws.ToString(d3.RecoveryPointArn) || aws.ToString(pr.LastBackupVaultArn) != vaultArn || aws.ToString(pr.ResourceType) != "EFS" {
		t.Errorf("DescribeProtectedResource: got %s in %s (%s)", aws.ToString(pr.LastRecoveryPointArn), aws.ToString(pr.LastBackupVaultArn), aws.ToString(pr.ResourceType))
	}
}

func TestStartBackupJobErrors(t *testing.T) {
	src := writeFiles(t, map[string]string{"a": "a"})
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "v1")
	c := e.client("us-east-1")
	undeclared := domain.ResourceARN(domain.EFS, "us-east-1", testAccount, "fs-0000000000000beef")
	tests := []struct {
		name      string
		mod       func(*backup.StartBackupJobInput)
		code      string
		fragments []string
	}{
		{"undeclared resource", func(in *backup.StartBackupJobInput) { in.ResourceArn = &undeclared }, "ResourceNotFoundException", []string{undeclared, "not declared"}},
		{"unknown vault", func(in *backup.StartBackupJobInput) { in.BackupVaultName = aws.String("nope") }, "ResourceNotFoundException", []string{"nope"}},
		{"bad role", func(in *backup.StartBackupJobInput) { in.IamRoleArn = aws.String("arn:aws:iam::111122223333:user/bob") }, "InvalidParameterValueException", []string{"IamRoleArn"}},
		{"role of another account", func(in *backup.StartBackupJobInput) {
			in.IamRoleArn = aws.String("arn:aws:iam::999999999999:role/AWSBackupRole")
		}, "InvalidParameterValueException", []string{"999999999999"}},
		{"malformed resource ARN", func(in *backup.StartBackupJobInput) {
			in.ResourceArn = aws.String("arn:aws:elasticfilesystem:us-east-1:111122223333:fs")
		}, "InvalidParameterValueException", []string{"resource ARN"}},
		{"unsupported type", func(in *backup.StartBackupJobInput) {
			in.ResourceArn = aws.String("arn:aws:dynamodb:us-east-1:111122223333:table/t")
		}, "InvalidParameterValueException", []string{"not supported"}},
		{"other region", func(in *backup.StartBackupJobInput) {
			in.ResourceArn = aws.String(domain.ResourceARN(domain.EFS, "us-west-2", testAccount, "fs-0123456789abcdef0"))
		}, "ResourceNotFoundException", []string{"us-west-2"}},
		{"start window too short", func(in *backup.StartBackupJobInput) { in.StartWindowMinutes = aws.Int64(30) }, "InvalidParameterValueException", []string{"StartWindowMinutes"}},
		{"bad lifecycle", func(in *backup.StartBackupJobInput) {
			in.Lifecycle = &types.Lifecycle{MoveToColdStorageAfterDays: aws.Int64(30), DeleteAfterDays: aws.Int64(60)}
		}, "InvalidParameterValueException", []string{"90 days"}},
		{"backup options", func(in *backup.StartBackupJobInput) { in.BackupOptions = map[string]string{"WindowsVSS": "enabled"} }, "InvalidParameterValueException", []string{"EC2"}},
		{"index", func(in *backup.StartBackupJobInput) { in.Index = types.IndexEnabled }, "NotImplementedException", []string{"Index"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &backup.StartBackupJobInput{BackupVaultName: aws.String("v1"), ResourceArn: aws.String(res.ARN), IamRoleArn: aws.String(testRole)}
			tt.mod(in)
			_, err := c.StartBackupJob(context.Background(), in)
			wantAPIError(t, err, tt.code, tt.fragments...)
		})
	}
	var rnf *types.ResourceNotFoundException
	_, err := c.StartBackupJob(context.Background(), &backup.StartBackupJobInput{BackupVaultName: aws.String("v1"), ResourceArn: &undeclared, IamRoleArn: aws.String(testRole)})
	rnf = as[*types.ResourceNotFoundException](t, err)
	if !strings.Contains(aws.ToString(rnf.Message), undeclared) {
		t.Errorf("typed ResourceNotFoundException: message %q does not name the ARN", aws.ToString(rnf.Message))
	}
	list, err := c.ListBackupJobs(context.Background(), &backup.ListBackupJobsInput{})
	if err != nil || len(list.BackupJobs) != 0 {
		t.Errorf("refused requests created jobs: %v %v", list, err)
	}
}

// A second backup of a resource that is being backed up is refused; a
// retry with the same token returns the running job; the same token with
// other parameters is refused.
func TestResourceAlreadyBeingBackedUp(t *testing.T) {
	src := writeFiles(t, map[string]string{"a": "a", "b/c": "c"})
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "v1")
	e.createVault(t, "v2")
	release, entered := e.gate.hold(src)
	first := e.start(t, "v1", res.ARN, func(in *backup.StartBackupJobInput) { in.IdempotencyToken = aws.String("token-1") })
	id := aws.ToString(first.BackupJobId)
	<-entered
	e.wait(t, id, types.BackupJobStateRunning)

	c := e.client("us-east-1")
	_, err := c.StartBackupJob(context.Background(), &backup.StartBackupJobInput{BackupVaultName: aws.String("v2"), ResourceArn: &res.ARN, IamRoleArn: aws.String(testRole)})
	wantAPIError(t, err, "LimitExceededException", res.ARN, id, "one backup or copy job per resource")
	as[*types.LimitExceededException](t, err)

	retry := e.start(t, "v1", res.ARN, func(in *backup.StartBackupJobInput) { in.IdempotencyToken = aws.String("token-1") })
	if got := aws.ToString(retry.BackupJobId); got != id {
		t.Errorf("retry with the same token: got job %s, want %s", got, id)
	}
	_, err = c.StartBackupJob(context.Background(), &backup.StartBackupJobInput{BackupVaultName: aws.String("v2"), ResourceArn: &res.ARN,
		IamRoleArn: aws.String(testRole), IdempotencyToken: aws.String("token-1")})
	wantAPIError(t, err, "InvalidRequestException", "token-1", "different parameters")

	release()
	e.wait(t, id, types.BackupJobStateCompleted)
	// After it ended, a retry within the TTL still returns it; a new
	// request without token starts a new job.
	again := e.start(t, "v1", res.ARN, func(in *backup.StartBackupJobInput) { in.IdempotencyToken = aws.String("token-1") })
	if aws.ToString(again.BackupJobId) != id {
		t.Errorf("retry after completion: got %s, want %s", aws.ToString(again.BackupJobId), id)
	}
	next := e.start(t, "v2", res.ARN, nil)
	if aws.ToString(next.BackupJobId) == id {
		t.Errorf("a new request returned the old job")
	}
	e.wait(t, aws.ToString(next.BackupJobId), types.BackupJobStateCompleted)
}

func TestStopBackupJob(t *testing.T) {
	src := manyFiles(t, 1000)
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res, rdsResource("shop", "postgres://u:p@127.0.0.1:1/shop")}})
	e.createVault(t, "v1")
	c := e.client("us-east-1")
	entered := e.gate.slow(src, 50*time.Millisecond)
	out := e.start(t, "v1", res.ARN, nil)
	id := aws.ToString(out.BackupJobId)
	<-entered
	e.wait(t, id, types.BackupJobStateRunning)
	rpArn := aws.ToString(out.RecoveryPointArn)
	if rp, err := c.DescribeRecoveryPoint(context.Background(), &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &rpArn}); err != nil || rp.Status != types.RecoveryPointStatusCreating {
		t.Errorf("while running: got recovery point %v (%v), want CREATING", rp, err)
	}
	_, err := c.DeleteRecoveryPoint(context.Background(), &backup.DeleteRecoveryPointInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &rpArn})
	wantAPIError(t, err, "InvalidRequestException", "being created")
	// Live progress while it runs.
	// (ExpectedCompletionDate needs the clock to move: the fake one does
	// not.)
	waitUntil(t, func() bool {
		d, err := c.DescribeBackupJob(context.Background(), &backup.DescribeBackupJobInput{BackupJobId: &id})
		if err != nil || d.State != types.BackupJobStateRunning {
			t.Fatalf("while running: got %v, %v", d, err)
		}
		pct := aws.ToString(d.PercentDone)
		return aws.ToInt64(d.BytesTransferred) > 0 && pct != "0.0" && pct != "100.0"
	})

	start := time.Now()
	if _, err := c.StopBackupJob(context.Background(), &backup.StopBackupJobInput{BackupJobId: &id}); err != nil {
		t.Fatalf("StopBackupJob: %v", err)
	}
	// The slow source would take seconds more: the stop cancels it.
	e.wait(t, id, types.BackupJobStateAborted, types.BackupJobStateAborting)
	d := e.wait(t, id, types.BackupJobStateAborted)
	if time.Since(start) > 5*time.Second {
		t.Errorf("stopping took %v", time.Since(start))
	}
	if aws.ToString(d.MessageCategory) != "ABORTED" || !strings.Contains(aws.ToString(d.StatusMessage), "StopBackupJob") {
		t.Errorf("got %q (%s)", aws.ToString(d.StatusMessage), aws.ToString(d.MessageCategory))
	}
	_, err = c.DescribeRecoveryPoint(context.Background(), &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &rpArn})
	wantAPIError(t, err, "ResourceNotFoundException")
	_, err = c.StopBackupJob(context.Background(), &backup.StopBackupJobInput{BackupJobId: &id})
	wantAPIError(t, err, "InvalidRequestException", "ended")
	_, err = c.StopBackupJob(context.Background(), &backup.StopBackupJobInput{BackupJobId: aws.String("D48D8717-0C9D-72DF-1F56-14E703BF2345")})
	wantAPIError(t, err, "ResourceNotFoundException")
	// RDS jobs cannot be stopped (AWS): a job that fails at once is enough.
	rds := e.start(t, "v1", domain.ResourceARN(domain.RDS, "us-east-1", testAccount, "shop"), nil)
	_, err = c.StopBackupJob(context.Background(), &backup.StopBackupJobInput{BackupJobId: rds.BackupJobId})
	wantAPIError(t, err, "InvalidRequestException")
}

func TestVaultLockRangeFailsJob(t *testing.T) {
	src := writeFiles(t, map[string]string{"a": "a"})
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "locked")
	c := e.client("us-east-1")
	if _, err := c.PutBackupVaultLockConfiguration(context.Background(), &backup.PutBackupVaultLockConfigurationInput{
		BackupVaultName: aws.String("locked"), MinRetentionDays: aws.Int64(7), MaxRetentionDays: aws.Int64(30)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		lifecycle *types.Lifecycle
		want      string
	}{
		{&types.Lifecycle{DeleteAfterDays: aws.Int64(365)}, "longer than the vault lock's maximum retention of 30 days"},
		{&types.Lifecycle{DeleteAfterDays: aws.Int64(1)}, "shorter than the vault lock's minimum retention of 7 days"},
		{nil, "forever"},
	} {
		out := e.start(t, "locked", res.ARN, func(in *backup.StartBackupJobInput) { in.Lifecycle = tc.lifecycle })
		d := e.wait(t, aws.ToString(out.BackupJobId), types.BackupJobStateFailed, types.BackupJobStateCompleted)
		if d.State != types.BackupJobStateFailed || !strings.Contains(aws.ToString(d.StatusMessage), tc.want) {
			t.Errorf("lifecycle %+v: got %s %q, want FAILED mentioning %q", tc.lifecycle, d.State, aws.ToString(d.StatusMessage), tc.want)
		}
	}
	ok := e.start(t, "locked", res.ARN, func(in *backup.StartBackupJobInput) { in.Lifecycle = &types.Lifecycle{DeleteAfterDays: aws.Int64(10)} })
	e.wait(t, aws.ToString(ok.BackupJobId), types.BackupJobStateCompleted)
	vd, _ := c.DescribeBackupVault(context.Background(), &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("locked")})
	if vd.NumberOfRecoveryPoints != 1 {
		t.Errorf("got %d recovery points, want only the one within the lock's range", vd.NumberOfRecoveryPoints)
	}
}

func TestStartAndCompleteWindows(t *testing.T) {
	a := manyFiles(t, 400)
	b := writeFiles(t, map[string]string{"b": "b"})
	ra, rb := efsResource(a), efsResource(b)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{ra, rb}, workers: 1})
	e.createVault(t, "v1")
	// The only worker is busy with a's backup, which must finish within 10
	// minutes of its creation.
	entered := e.gate.slow(a, 50*time.Millisecond)
	first := e.start(t, "v1", ra.ARN, func(in *backup.StartBackupJobInput) { in.CompleteWindowMinutes = aws.Int64(10) })
	<-entered
	// b's backup must start within an hour: it waits, CREATED.
	second := e.start(t, "v1", rb.ARN, func(in *backup.StartBackupJobInput) { in.StartWindowMinutes = aws.Int64(60) })
	time.Sleep(100 * time.Millisecond)
	if d := e.wait(t, aws.ToString(second.BackupJobId), types.BackupJobStateCreated); d.InitiationDate != nil {
		t.Errorf("a waiting job has an InitiationDate")
	}
	e.clock.Advance(61 * time.Minute)
	d := e.wait(t, aws.ToString(first.BackupJobId), types.BackupJobStateExpired)
	if !strings.Contains(aws.ToString(d.StatusMessage), "expired before completion") || aws.ToString(d.MessageCategory) != domain.MessageTimeout {
		t.Errorf("completion window: got %q (%s)", aws.ToString(d.StatusMessage), aws.ToString(d.MessageCategory))
	}
	if _, err := e.store.GetRecoveryPoint(context.Background(), aws.ToString(d.RecoveryPointArn)); domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("an expired backup left its recovery point: %v", err)
	}
	d = e.wait(t, aws.ToString(second.BackupJobId), types.BackupJobStateExpired)
	if !strings.Contains(aws.ToString(d.StatusMessage), "start window") || d.InitiationDate != nil {
		t.Errorf("start window: got %q, initiated %v", aws.ToString(d.StatusMessage), d.InitiationDate)
	}
}

func TestUnreadableSourceFailsJob(t *testing.T) {
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 30, SparseSize: -1})
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "v1")
	e.gate.failBelow(src, &os.PathError{Op: "open", Path: src, Err: syscall.EACCES})
	out := e.start(t, "v1", res.ARN, nil)
	d := e.wait(t, aws.ToString(out.BackupJobId), types.BackupJobStateFailed, types.BackupJobStateCompleted)
	if d.State != types.BackupJobStateFailed || aws.ToString(d.MessageCategory) != domain.MessageResourceError ||
		!strings.Contains(aws.ToString(d.StatusMessage), "permission denied") {
		t.Errorf("got %s %q (%s), want FAILED with the cause", d.State, aws.ToString(d.StatusMessage), aws.ToString(d.MessageCategory))
	}
	if _, err := e.store.GetRecoveryPoint(context.Background(), aws.ToString(out.RecoveryPointArn)); domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("a failed backup left its recovery point: %v", err)
	}
	n := 0
	vr := e.openVault(t, "v1")
	_ = vr.Repository.ListSnapshots(context.Background(), func(repo.ID, *repo.Snapshot) error { n++; return nil })
	if n != 0 {
		t.Errorf("a failed backup committed %d snapshots", n)
	}
	// The source directory itself missing: FAILED, naming it.
	gone := efsResource(filepath.Join(t.TempDir(), "unmounted"))
	e2 := newDataEnv(t, dataOptions{resources: []domain.Resource{gone}})
	e2.createVault(t, "v1")
	out = e2.start(t, "v1", gone.ARN, nil)
	d = e2.wait(t, aws.ToString(out.BackupJobId), types.BackupJobStateFailed)
	if !strings.Contains(aws.ToString(d.StatusMessage), "no such file or directory") {
		t.Errorf("missing source: got %q", aws.ToString(d.StatusMessage))
	}
}
