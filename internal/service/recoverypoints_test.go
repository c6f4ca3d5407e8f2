package service_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/coffer/coffer/internal/archive"
	domain "github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/connector/postgres"
	"github.com/coffer/coffer/internal/connector/postgres/pgtest"
	"github.com/coffer/coffer/internal/repo"
)

func bigFile(n int, seed byte) string {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return string(b)
}

func TestRecoveryPointLifecycleDeleteAndSweeper(t *testing.T) {
	ctx := context.Background()
	src := writeFiles(t, map[string]string{"big": bigFile(3<<20, 1), "small": "x"})
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "v1")
	c := e.client("us-east-1")
	d := e.backupDone(t, "v1", res.ARN)
	rpArn := aws.ToString(d.RecoveryPointArn)
	name := aws.String("v1")

	// Replace-whole semantics: the second update clears the cold setting.
	up, err := c.UpdateRecoveryPointLifecycle(ctx, &backup.UpdateRecoveryPointLifecycleInput{BackupVaultName: name, RecoveryPointArn: &rpArn,
		Lifecycle: &types.Lifecycle{MoveToColdStorageAfterDays: aws.Int64(30), DeleteAfterDays: aws.Int64(200)}})
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := c.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: name, RecoveryPointArn: &rpArn})
	created := aws.ToTime(rp.CreationDate)
	if got := aws.ToTime(up.CalculatedLifecycle.MoveToColdStorageAt); !got.Equal(created.Add(30 * 24 * time.Hour)) {
		t.Errorf("got MoveToColdStorageAt %v, want creation + 30 days", got)
	}
	up, err = c.UpdateRecoveryPointLifecycle(ctx, &backup.UpdateRecoveryPointLifecycleInput{BackupVaultName: name, RecoveryPointArn: &rpArn,
		Lifecycle: &types.Lifecycle{DeleteAfterDays: aws.Int64(100)}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Lifecycle.MoveToColdStorageAfterDays != nil || up.CalculatedLifecycle.MoveToColdStorageAt != nil ||
		!aws.ToTime(up.CalculatedLifecycle.DeleteAt).Equal(created.Add(100*24*time.Hour)) || aws.ToString(up.BackupVaultArn) == "" {
		t.Errorf("after replacing the lifecycle: got %+v / %+v", up.Lifecycle, up.CalculatedLifecycle)
	}
	_, err = c.UpdateRecoveryPointLifecycle(ctx, &backup.UpdateRecoveryPointLifecycleInput{BackupVaultName: name, RecoveryPointArn: &rpArn,
		Lifecycle: &types.Lifecycle{MoveToColdStorageAfterDays: aws.Int64(10), DeleteAfterDays: aws.Int64(50)}})
	wantAPIError(t, err, "InvalidParameterValueException", "90 days")
	_, err = c.UpdateRecoveryPointLifecycle(ctx, &backup.UpdateRecoveryPointLifecycleInput{BackupVaultName: aws.String("nope"), RecoveryPointArn: &rpArn,
		Lifecycle: &types.Lifecycle{DeleteAfterDays: aws.Int64(5)}})
	wantAPIError(t, err, "ResourceNotFoundException", "nope")

	// Restore metadata, as AWS names it for EFS.
	md, err := c.GetRecoveryPointRestoreMetadata(ctx, &backup.GetRecoveryPointRestoreMetadataInput{BackupVaultName: name, RecoveryPointArn: &rpArn})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"file-system-id": res.ID, "Encrypted": "true", "PerformanceMode": "generalPurpose", "newFileSystem": "false",
		"KmsKeyId": e.svc.DefaultKeyARN("us-east-1")} {
		if got := md.RestoreMetadata[k]; got != want {
			t.Errorf("restore metadata %s: got %q, want %q", k, got, want)
		}
	}
	if md.RestoreMetadata["CreationToken"] == "" || aws.ToString(md.ResourceType) != "EFS" {
		t.Errorf("got restore metadata %v (%s)", md.RestoreMetadata, aws.ToString(md.ResourceType))
	}

	// A second point; then the sweeper deletes the first when it expires,
	// and garbage collection frees what only it used.
	if err := os.WriteFile(filepath.Join(src, "big"), []byte(bigFile(3<<20, 2)), 0o644); err != nil {
		t.Fatal(err)
	}
	d2 := e.backupDone(t, "v1", res.ARN)
	vr := e.openVault(t, "v1")
	before, _ := vr.Repository.Stats(ctx)
	e.clock.Advance(101 * 24 * time.Hour)
	if err := e.svc.SweepLifecycles(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: name, RecoveryPointArn: &rpArn})
	wantAPIError(t, err, "ResourceNotFoundException")
	vd, _ := c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: name})
	if vd.NumberOfRecoveryPoints != 1 {
		t.Errorf("after the sweep: NumberOfRecoveryPoints %d, want 1", vd.NumberOfRecoveryPoints)
	}
	after := e.collectGarbage(t, vr, before.StoredBytes-(2<<20))
	if after.StoredBytes >= before.StoredBytes-(2<<20) {
		t.Errorf("garbage collection after the sweep: stored %d → %d bytes, want the expired point's 3 MiB freed", before.StoredBytes, after.StoredBytes)
	}
	// The remaining point is intact.
	out := filepath.Join(t.TempDir(), "r")
	if _, err := archive.Restore(ctx, vr.Archive, archive.ID(e.snapshotOf(t, aws.ToString(d2.RecoveryPointArn))), out, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "big")); !bytes.Equal(got, []byte(bigFile(3<<20, 2))) {
		t.Errorf("the remaining point's data is wrong after GC")
	}

	// DeleteRecoveryPoint.
	rp2 := aws.ToString(d2.RecoveryPointArn)
	if _, err := c.DeleteRecoveryPoint(ctx, &backup.DeleteRecoveryPointInput{BackupVaultName: name, RecoveryPointArn: &rp2}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteRecoveryPoint(ctx, &backup.DeleteRecoveryPointInput{BackupVaultName: name, RecoveryPointArn: &rp2})
	wantAPIError(t, err, "ResourceNotFoundException")
	st := e.collectGarbage(t, vr, 64<<10)
	if st.Snapshots != 0 || st.StoredBytes > 64<<10 {
		t.Errorf("after deleting every point: %d snapshots, %d bytes stored; want none", st.Snapshots, st.StoredBytes)
	}
	if _, err := c.DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: name}); err != nil {
		t.Errorf("deleting the emptied vault: %v", err)
	}
}

func TestLockedRecoveryPoints(t *testing.T) {
	ctx := context.Background()
	src := writeFiles(t, map[string]string{"a": "a"})
	res := efsResource(src)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}})
	e.createVault(t, "locked")
	c := e.client("us-east-1")
	name := aws.String("locked")
	if _, err := c.PutBackupVaultLockConfiguration(ctx, &backup.PutBackupVaultLockConfigurationInput{BackupVaultName: name,
		MinRetentionDays: aws.Int64(7), MaxRetentionDays: aws.Int64(60)}); err != nil {
		t.Fatal(err)
	}
	out := e.start(t, "locked", res.ARN, func(in *backup.StartBackupJobInput) { in.Lifecycle = &types.Lifecycle{DeleteAfterDays: aws.Int64(30)} })
	d := e.wait(t, aws.ToString(out.BackupJobId), types.BackupJobStateCompleted)
	if aws.ToString(d.VaultLockState) != "LOCKED" {
		t.Errorf("got VaultLockState %q, want LOCKED", aws.ToString(d.VaultLockState))
	}
	rpArn := aws.ToString(d.RecoveryPointArn)
	_, err := c.DeleteRecoveryPoint(ctx, &backup.DeleteRecoveryPointInput{BackupVaultName: name, RecoveryPointArn: &rpArn})
	wantAPIError(t, err, "InvalidRequestException", "vault lock")
	_, err = c.UpdateRecoveryPointLifecycle(ctx, &backup.UpdateRecoveryPointLifecycleInput{BackupVaultName: name, RecoveryPointArn: &rpArn,
		Lifecycle: &types.Lifecycle{DeleteAfterDays: aws.Int64(10)}})
	wantAPIError(t, err, "InvalidRequestException", "shortened")
	_, err = c.UpdateRecoveryPointLifecycle(ctx, &backup.UpdateRecoveryPointLifecycleInput{BackupVaultName: name, RecoveryPointArn: &rpArn,
		Lifecycle: &types.Lifecycle{DeleteAfterDays: aws.Int64(90)}})
	wantAPIError(t, err, "InvalidRequestException", "maximum retention")
	if _, err := c.UpdateRecoveryPointLifecycle(ctx, &backup.UpdateRecoveryPointLifecycleInput{BackupVaultName: name, RecoveryPointArn: &rpArn,
		Lifecycle: &types.Lifecycle{DeleteAfterDays: aws.Int64(45)}}); err != nil {
		t.Errorf("lengthening within the lock's range: %v", err)
	}
	// Once the retention has passed, the sweeper deletes it.
	e.clock.Advance(46 * 24 * time.Hour)
	if err := e.svc.SweepLifecycles(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: name, RecoveryPointArn: &rpArn})
	wantAPIError(t, err, "ResourceNotFoundException")
}

func TestColdStorageSweep(t *testing.T) {
	ctx := context.Background()
	src := writeFiles(t, map[string]string{"a": "a"})
	img := filepath.Join(t.TempDir(), "v.img")
	if err := os.WriteFile(img, []byte(bigFile(256<<10, 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	fs, vol := efsResource(src), ebsResource(img)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{fs, vol}})
	e.createVault(t, "v1")
	c := e.client("us-east-1")
	lc := &types.Lifecycle{MoveToColdStorageAfterDays: aws.Int64(10), DeleteAfterDays: aws.Int64(200)}
	var arns []string
	for _, r := range []string{fs.ARN, vol.ARN} {
		out := e.start(t, "v1", r, func(in *backup.StartBackupJobInput) { in.Lifecycle = lc })
		d := e.wait(t, aws.ToString(out.BackupJobId), types.BackupJobStateCompleted)
		arns = append(arns, aws.ToString(d.RecoveryPointArn))
	}
	e.clock.Advance(11 * 24 * time.Hour)
	if err := e.svc.SweepLifecycles(ctx); err != nil {
		t.Fatal(err)
	}
	for i, want := range []types.StorageClass{types.StorageClassCold, types.StorageClassWarm} {
		rp, err := c.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &arns[i]})
		if err != nil {
			t.Fatal(err)
		}
		if rp.StorageClass != want {
			t.Errorf("%s after its cold date: got %s, want %s (only EFS has a cold tier)", aws.ToString(rp.ResourceType), rp.StorageClass, want)
		}
	}
	// A cold point's cold setting cannot change any more.
	_, err := c.UpdateRecoveryPointLifecycle(ctx, &backup.UpdateRecoveryPointLifecycleInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &arns[0],
		Lifecycle: &types.Lifecycle{DeleteAfterDays: aws.Int64(300)}})
	wantAPIError(t, err, "InvalidRequestException", "cold storage")
}

func TestVolumeAndDatabaseThroughAPI(t *testing.T) {
	ctx := context.Background()
	// A sparse volume image with data at both ends.
	img := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(64 << 20)
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	head, tail := []byte(bigFile(1<<20, 4)), []byte(bigFile(300<<10, 5))
	_, _ = f.WriteAt(head, 0)
	_, _ = f.WriteAt(tail, size-int64(len(tail)))
	f.Close()

	pg := pgtest.Start(t)
	pg.CreateDB(t, "shop")
	pg.Exec(t, "shop", `CREATE TABLE items (id serial PRIMARY KEY, name text, price numeric, tags jsonb);
		INSERT INTO items (name, price, tags) SELECT 'item ' || g, g * 1.5, jsonb_build_array(g, 'x') FROM generate_series(1, 5000) g;`)
	vol, db := ebsResource(img), rdsResource("shop", pg.DSN("shop"))
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{vol, db}})
	e.createVault(t, "v1")
	c := e.client("us-east-1")

	started := e.start(t, "v1", vol.ARN, nil)
	if started.RecoveryPointArn != nil {
		t.Errorf("StartBackupJob for EBS returned RecoveryPointArn %s; AWS returns it only for EFS", aws.ToString(started.RecoveryPointArn))
	}
	d := e.wait(t, aws.ToString(started.BackupJobId), types.BackupJobStateCompleted)
	if got := aws.ToInt64(d.BackupSizeInBytes); got != size {
		t.Errorf("EBS BackupSizeInBytes: got %d, want the volume size %d", got, size)
	}
	rpArn := aws.ToString(d.RecoveryPointArn)
	if !strings.HasPrefix(rpArn, "arn:aws:ec2:us-east-1::snapshot/snap-") {
		t.Errorf("got EBS recovery point ARN %q", rpArn)
	}
	vr := e.openVault(t, "v1")
	out := filepath.Join(t.TempDir(), "restored.img")
	if _, err := archive.RestoreVolume(ctx, vr.Archive, archive.ID(e.snapshotOf(t, rpArn)), out, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(img)
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Errorf("restored volume differs from the image")
	}
	md, _ := c.GetRecoveryPointRestoreMetadata(ctx, &backup.GetRecoveryPointRestoreMetadataInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &rpArn})
	if md.RestoreMetadata["volumeSize"] != "1" || md.RestoreMetadata["encrypted"] != "true" || md.RestoreMetadata["availabilityZone"] != "us-east-1a" {
		t.Errorf("EBS restore metadata: got %v", md.RestoreMetadata)
	}

	dd := e.backupDone(t, "v1", db.ARN)
	rdsArn := aws.ToString(dd.RecoveryPointArn)
	if !strings.HasPrefix(rdsArn, "arn:aws:rds:us-east-1:"+testAccount+":snapshot:awsbackup:job-") {
		t.Errorf("got RDS recovery point ARN %q", rdsArn)
	}
	if aws.ToInt64(dd.BackupSizeInBytes) != 0 {
		t.Errorf("RDS BackupSizeInBytes: got %d, want 0 as AWS reports", aws.ToInt64(dd.BackupSizeInBytes))
	}
	byRes, err := c.ListRecoveryPointsByResource(ctx, &backup.ListRecoveryPointsByResourceInput{ResourceArn: &db.ARN, MaxResults: aws.Int32(20)})
	if err != nil || len(byRes.RecoveryPoints) != 1 || aws.ToInt64(byRes.RecoveryPoints[0].BackupSizeBytes) <= 0 {
		t.Errorf("ListRecoveryPointsByResource for RDS: got %+v, %v; want one point with its dump size", byRes, err)
	}
	_, err = c.ListRecoveryPointsByResource(ctx, &backup.ListRecoveryPointsByResourceInput{ResourceArn: &db.ARN, MaxResults: aws.Int32(5)})
	wantAPIError(t, err, "InvalidParameterValueException", "at least 20")
	md, _ = c.GetRecoveryPointRestoreMetadata(ctx, &backup.GetRecoveryPointRestoreMetadataInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &rdsArn})
	if md.RestoreMetadata["dbInstanceIdentifier"] != "shop" || md.RestoreMetadata["dbName"] != "shop" || md.RestoreMetadata["engine"] != "postgres" {
		t.Errorf("RDS restore metadata: got %v", md.RestoreMetadata)
	}
	// Restore into a new database with the connector and compare dumps.
	pc := &postgres.Connector{}
	if _, err := pc.Restore(ctx, connector.RestoreRequest{Repo: vr.Archive, Snapshot: archive.ID(e.snapshotOf(t, rdsArn)), Target: pg.DSN("postgres"), Database: "shop_copy"}); err != nil {
		t.Fatal(err)
	}
	if pg.Dump(t, "shop_copy") != pg.Dump(t, "shop") {
		t.Errorf("restored database differs from the source")
	}
	if strings.Contains(aws.ToString(dd.StatusMessage), pg.Password) {
		t.Errorf("the job's message shows the database password")
	}

	// The database goes away mid-dump: FAILED with the cause, no point.
	conn := pg.QueryString(t, "shop", "SELECT 'ok'")
	_ = conn
	lock := pgLock(t, pg.DSN("shop"), "items")
	out2 := e.start(t, "v1", db.ARN, nil)
	waitUntil(t, func() bool {
		return pg.QueryString(t, "postgres", "SELECT count(*)::text FROM pg_stat_activity WHERE application_name = 'coffer-backup' AND wait_event_type = 'Lock'") == "1"
	})
	pg.Stop()
	lock()
	fd := e.wait(t, aws.ToString(out2.BackupJobId), types.BackupJobStateFailed, types.BackupJobStateCompleted)
	if fd.State != types.BackupJobStateFailed || !strings.Contains(aws.ToString(fd.StatusMessage), "pg_dump") || aws.ToString(fd.MessageCategory) != domain.MessageResourceError {
		t.Errorf("database gone: got %s %q (%s)", fd.State, aws.ToString(fd.StatusMessage), aws.ToString(fd.MessageCategory))
	}
	if _, err := e.store.GetRecoveryPoint(ctx, aws.ToString(fd.RecoveryPointArn)); domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("the failed dump left a recovery point: %v", err)
	}
	list, _ := c.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("v1")})
	if len(list.RecoveryPoints) != 2 {
		t.Errorf("got %d points in the vault, want 2 (volume and first dump)", len(list.RecoveryPoints))
	}
	n := 0
	_ = vr.Repository.ListSnapshots(ctx, func(repo.ID, *repo.Snapshot) error { n++; return nil })
	if n != 2 {
		t.Errorf("got %d snapshots, want 2: the failed dump committed one", n)
	}
}

func TestListRecoveryPointsAndProtectedResources(t *testing.T) {
	ctx := context.Background()
	var rs []domain.Resource
	for i := range 3 {
		rs = append(rs, efsResource(writeFiles(t, map[string]string{"f": strings.Repeat("x", i+1)})))
	}
	e := newDataEnv(t, dataOptions{resources: rs})
	e.createVault(t, "v1")
	e.createVault(t, "v2")
	c := e.client("us-east-1")
	var all []string
	for i, r := range rs {
		for _, v := range []string{"v1", "v2"} {
			if i == 2 && v == "v2" {
				continue
			}
			d := e.backupDone(t, v, r.ARN)
			all = append(all, aws.ToString(d.RecoveryPointArn))
			e.clock.Advance(time.Minute)
		}
	}
	// Paging through v1 two at a time returns each point once, newest first.
	var got []string
	var token *string
	for {
		page, err := c.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("v1"), MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.RecoveryPoints {
			got = append(got, aws.ToString(p.RecoveryPointArn))
			if aws.ToString(p.BackupVaultName) != "v1" || p.CalculatedLifecycle != nil {
				t.Errorf("got point %+v", p)
			}
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	want := []string{all[4], all[2], all[0]}
	if !slices.Equal(got, want) {
		t.Errorf("v1 points: got %v, want %v", got, want)
	}
	f, err := c.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("v1"), ByResourceArn: &rs[1].ARN})
	if err != nil || len(f.RecoveryPoints) != 1 || aws.ToString(f.RecoveryPoints[0].RecoveryPointArn) != all[2] {
		t.Errorf("ByResourceArn: got %v %v", f, err)
	}
	f, _ = c.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("v2"), ByResourceType: aws.String("EBS")})
	if len(f.RecoveryPoints) != 0 {
		t.Errorf("ByResourceType EBS: got %d points, want 0", len(f.RecoveryPoints))
	}
	first, _ := c.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &all[2]})
	f, _ = c.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("v1"), ByCreatedAfter: first.CreationDate})
	if len(f.RecoveryPoints) != 1 || aws.ToString(f.RecoveryPoints[0].RecoveryPointArn) != all[4] {
		t.Errorf("ByCreatedAfter: got %d points", len(f.RecoveryPoints))
	}
	_, err = c.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("v1"), ByResourceArn: aws.String("arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0")})
	wantAPIError(t, err, "InvalidParameterValueException")
	_, err = c.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("missing")})
	wantAPIError(t, err, "ResourceNotFoundException", "missing")
	_, err = c.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("v2"), RecoveryPointArn: &all[2]})
	wantAPIError(t, err, "ResourceNotFoundException", "v2")

	// Protected resources.
	prs, err := c.ListProtectedResources(ctx, &backup.ListProtectedResourcesInput{})
	if err != nil || len(prs.Results) != 3 {
		t.Fatalf("ListProtectedResources: got %v %v, want 3", prs, err)
	}
	byVault, err := c.ListProtectedResourcesByBackupVault(ctx, &backup.ListProtectedResourcesByBackupVaultInput{BackupVaultName: aws.String("v2")})
	if err != nil || len(byVault.Results) != 2 {
		t.Errorf("ListProtectedResourcesByBackupVault v2: got %v %v, want 2", byVault, err)
	}
	never := efsResource(t.TempDir())
	_, err = c.DescribeProtectedResource(ctx, &backup.DescribeProtectedResourceInput{ResourceArn: &never.ARN})
	wantAPIError(t, err, "ResourceNotFoundException", "not been backed up")
	west, _ := e.client("us-west-2").ListProtectedResources(ctx, &backup.ListProtectedResourcesInput{})
	if len(west.Results) != 0 {
		t.Errorf("us-west-2 lists %d protected resources of us-east-1", len(west.Results))
	}
}
