package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/jackc/pgx/v5"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/archivetest"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/connector/postgres"
	"github.com/coffer/coffer/internal/connector/postgres/pgtest"
)

// A directory tree, a volume image and a PostgreSQL database, declared in
// the config file and backed up through the built server with
// aws-sdk-go-v2; the content is checked by restoring with the engine from
// the server's storage and keys after it stopped.
func TestBackupRealResources(t *testing.T) {
	ctx := context.Background()
	tree := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 120, SparseSize: 64 << 20})
	img := filepath.Join(t.TempDir(), "disk.img")
	{
		f, err := os.Create(img)
		if err != nil {
			t.Fatal(err)
		}
		_ = f.Truncate(32 << 20)
		_, _ = f.WriteAt(bytes.Repeat([]byte("volume data "), 100_000), 1<<20)
		f.Close()
	}
	pg := pgtest.Start(t)
	pg.CreateDB(t, "orders")
	pg.Exec(t, "orders", `CREATE TABLE o (id bigserial PRIMARY KEY, customer text, total numeric, placed timestamptz DEFAULT now());
		INSERT INTO o (customer, total) SELECT 'c' || g, g / 7.0 FROM generate_series(1, 20000) g;`)

	efs, ebs, rds := efsARN("fs-0123456789abcdef0"), ebsARN("vol-0123456789abcdef0"), rdsARN("orders")
	dataDir := t.TempDir()
	cfg := writeConfig(t, t.TempDir(), []declared{
		{arn: efs, path: tree},
		{arn: ebs, path: img},
		{arn: rds, dsn: pg.DSN("orders")},
		{arn: "arn:aws:dynamodb:us-east-1:111122223333:table/nope", path: tree},
	}, "")
	in := startWith(t, dataDir, withConfig(cfg))
	if !strings.Contains(in.log(), "table/nope") {
		t.Errorf("the unsupported resource entry is not reported at start:\n%s", in.log())
	}
	c := in.client("us-east-1")
	createVault(t, c, "prod")

	ids := map[string]string{}
	for _, arn := range []string{efs, ebs, rds} {
		ids[arn] = aws.ToString(startBackup(t, c, "prod", arn).BackupJobId)
	}
	rps := map[string]string{}
	for arn, id := range ids {
		d := waitJob(t, c, id, 2*time.Minute, types.BackupJobStateCompleted, types.BackupJobStateFailed)
		if d.State != types.BackupJobStateCompleted {
			t.Fatalf("backup of %s: %s %s", arn, d.State, aws.ToString(d.StatusMessage))
		}
		if aws.ToString(d.PercentDone) != "100.0" || d.CompletionDate == nil || aws.ToString(d.ResourceArn) != arn {
			t.Errorf("backup of %s: got %+v", arn, d)
		}
		if strings.Contains(aws.ToString(d.StatusMessage), pg.Password) {
			t.Errorf("a job message shows the database password")
		}
		rps[arn] = aws.ToString(d.RecoveryPointArn)
	}
	if !strings.HasPrefix(rps[ebs], "arn:aws:ec2:us-east-1::snapshot/snap-") || !strings.Contains(rps[rds], ":snapshot:awsbackup:job-") {
		t.Errorf("got recovery point ARNs %v", rps)
	}
	// A second backup of the unchanged tree reads no file data.
	d := waitJob(t, c, aws.ToString(startBackup(t, c, "prod", efs).BackupJobId), time.Minute, types.BackupJobStateCompleted)
	if aws.ToInt64(d.BytesTransferred) != 0 || aws.ToInt64(d.BackupSizeInBytes) != 0 {
		t.Errorf("unchanged tree: BytesTransferred %d, BackupSizeInBytes %d; want 0", aws.ToInt64(d.BytesTransferred), aws.ToInt64(d.BackupSizeInBytes))
	}
	vd, err := c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("prod")})
	if err != nil || vd.NumberOfRecoveryPoints != 4 {
		t.Errorf("NumberOfRecoveryPoints: got %d (%v), want 4", vd.NumberOfRecoveryPoints, err)
	}
	if strings.Contains(in.log(), pg.Password) {
		t.Errorf("the server log shows the database password")
	}
	in.stop(t)

	// Restore each point with the engine and compare with the source.
	e := openEngine(t, dataDir)
	in2 := startWith(t, dataDir, withConfig(cfg)) // to describe the vault
	r := e.repoOf(t, in2.client("us-east-1"), "prod")
	snaps := snapshots(t, r)
	dst := filepath.Join(t.TempDir(), "tree")
	if _, err := archive.Restore(ctx, r.Archive, snaps[rps[efs]], dst, archive.RestoreOptions{}); err != nil {
		t.Fatalf("restoring the tree: %v", err)
	}
	if diff := archivetest.Diff(archivetest.MustLines(t, tree), archivetest.MustLines(t, dst)); diff != "" {
		t.Errorf("restored tree differs:\n%s", diff)
	}
	vol := filepath.Join(t.TempDir(), "disk.img")
	if _, err := archive.RestoreVolume(ctx, r.Archive, snaps[rps[ebs]], vol, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(img)
	b, _ := os.ReadFile(vol)
	if !bytes.Equal(a, b) {
		t.Errorf("restored volume differs from the image")
	}
	if _, err := (&postgres.Connector{}).Restore(ctx, connector.RestoreRequest{Repo: r.Archive, Snapshot: snaps[rps[rds]], Target: pg.DSN("postgres"), Database: "orders_restored"}); err != nil {
		t.Fatal(err)
	}
	if pg.Dump(t, "orders_restored") != pg.Dump(t, "orders") {
		t.Errorf("restored database differs from the source")
	}

	// The database goes away in the middle of a dump: FAILED with the cause
	// and no recovery point.
	c2 := in2.client("us-east-1")
	conn, err := pgx.Connect(ctx, pg.DSN("orders"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "BEGIN; LOCK TABLE o IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	job := startBackup(t, c2, "prod", rds)
	deadline := time.Now().Add(30 * time.Second)
	for pg.QueryString(t, "postgres", "SELECT count(*)::text FROM pg_stat_activity WHERE application_name = 'coffer-backup' AND wait_event_type = 'Lock'") != "1" {
		if time.Now().After(deadline) {
			t.Fatal("pg_dump never waited for the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pg.Stop()
	conn.Close(ctx)
	fd := waitJob(t, c2, aws.ToString(job.BackupJobId), time.Minute, types.BackupJobStateFailed, types.BackupJobStateCompleted)
	if fd.State != types.BackupJobStateFailed || !strings.Contains(aws.ToString(fd.StatusMessage), "pg_dump") {
		t.Errorf("database gone: got %s %q", fd.State, aws.ToString(fd.StatusMessage))
	}
	_, err = c2.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("prod"), RecoveryPointArn: fd.RecoveryPointArn})
	if err == nil {
		t.Errorf("the failed dump left a recovery point")
	}
}

// The AWS CLI starts a backup against the built binary.
func TestBackupAWSCLI(t *testing.T) {
	aws := requireTool(t, "aws")
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 20, SparseSize: -1})
	arn := efsARN("fs-0123456789abcdef1")
	cfg := writeConfig(t, t.TempDir(), []declared{{arn: arn, path: src}}, "")
	in := startWith(t, t.TempDir(), withConfig(cfg))
	cliJSON(t, aws, in, "create-backup-vault", "--backup-vault-name", "cli")
	out := cliJSON(t, aws, in, "start-backup-job", "--backup-vault-name", "cli", "--resource-arn", arn,
		"--iam-role-arn", e2eRole, "--lifecycle", "DeleteAfterDays=30", "--recovery-point-tags", "src=cli")
	id, _ := out["BackupJobId"].(string)
	if id == "" || !strings.HasPrefix(out["RecoveryPointArn"].(string), "arn:aws:backup:us-east-1:111122223333:recovery-point:") {
		t.Fatalf("start-backup-job: got %v", out)
	}
	var d map[string]any
	deadline := time.Now().Add(time.Minute)
	for {
		d = cliJSON(t, aws, in, "describe-backup-job", "--backup-job-id", id)
		if d["State"] == "COMPLETED" || d["State"] == "FAILED" || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if d["State"] != "COMPLETED" || d["PercentDone"] != "100.0" {
		t.Fatalf("describe-backup-job: got %v", d)
	}
	list := cliJSON(t, aws, in, "list-recovery-points-by-backup-vault", "--backup-vault-name", "cli")
	points, _ := list["RecoveryPoints"].([]any)
	if len(points) != 1 {
		t.Fatalf("list-recovery-points-by-backup-vault: got %v", list)
	}
	p := points[0].(map[string]any)
	if p["Status"] != "COMPLETED" || p["ResourceArn"] != arn {
		t.Errorf("recovery point: got %v", p)
	}
	if _, ok := p["CreationDate"].(float64); !ok {
		t.Errorf("CreationDate %v is not an epoch number", p["CreationDate"])
	}
	_, errs, code := awsCLI(t, aws, in, "", "start-backup-job", "--backup-vault-name", "cli", "--resource-arn",
		efsARN("fs-00000000000000bad"), "--iam-role-arn", e2eRole)
	if code == 0 || !strings.Contains(errs, "ResourceNotFoundException") || !strings.Contains(errs, "fs-00000000000000bad") {
		t.Errorf("start-backup-job of an undeclared resource: exit %d\n%s", code, errs)
	}
}

// manyFiles writes n files of size bytes (distinct content) under root.
func manyFiles(t *testing.T, root string, n, size int) {
	t.Helper()
	buf := make([]byte, size)
	for i := range n {
		d := filepath.Join(root, "d"+strconv.Itoa(i%50))
		if i < 50 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for j := range buf {
			buf[j] = byte(i*31 + j*7)
		}
		copy(buf, strconv.Itoa(i))
		if err := os.WriteFile(filepath.Join(d, "f"+strconv.Itoa(i)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The server is killed (SIGKILL) in the middle of a backup and restarted:
// the job ends FAILED saying it was interrupted, no recovery point with
// incomplete data is visible as COMPLETED, and a new backup then works.
func TestBackupKilledMidway(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	manyFiles(t, src, 16000, 16<<10) // 250 MiB in small files
	arn := efsARN("fs-0123456789abcdef2")
	dataDir := t.TempDir()
	cfg := writeConfig(t, t.TempDir(), []declared{{arn: arn, path: src}}, "")
	in := startWith(t, dataDir, withConfig(cfg))
	c := in.client("us-east-1")
	createVault(t, c, "v1")
	out := startBackup(t, c, "v1", arn)
	id := aws.ToString(out.BackupJobId)
	waitJob(t, c, id, time.Minute, types.BackupJobStateRunning)
	time.Sleep(300 * time.Millisecond)
	in.kill(t)

	in2 := startWith(t, dataDir, withConfig(cfg))
	c2 := in2.client("us-east-1")
	d := waitJob(t, c2, id, 30*time.Second, types.BackupJobStateFailed, types.BackupJobStateCompleted)
	rpArn := aws.ToString(out.RecoveryPointArn)
	switch d.State {
	case types.BackupJobStateFailed:
		if aws.ToString(d.MessageCategory) != "INTERRUPTED" || !strings.Contains(aws.ToString(d.StatusMessage), "interrupted") {
			t.Errorf("got %q (%s), want an interruption message", aws.ToString(d.StatusMessage), aws.ToString(d.MessageCategory))
		}
		_, err := c2.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &rpArn})
		if err == nil {
			t.Errorf("the interrupted backup's recovery point is still listed")
		}
		list, _ := c2.ListRecoveryPointsByBackupVault(ctx, &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("v1")})
		if len(list.RecoveryPoints) != 0 {
			t.Errorf("got %d recovery points after the interrupted backup, want none", len(list.RecoveryPoints))
		}
	case types.BackupJobStateCompleted:
		t.Logf("the backup had committed before the kill; the job was settled COMPLETED")
	}
	if d.State == types.BackupJobStateFailed && !strings.Contains(in2.log(), "interrupted job ended") {
		t.Errorf("the restarted server does not log the interrupted job:\n%s", in2.log())
	}
	// A new backup completes.
	d2 := waitJob(t, c2, aws.ToString(startBackup(t, c2, "v1", arn).BackupJobId), 3*time.Minute, types.BackupJobStateCompleted, types.BackupJobStateFailed)
	if d2.State != types.BackupJobStateCompleted {
		t.Fatalf("backup after the restart: %s %s", d2.State, aws.ToString(d2.StatusMessage))
	}
	// Its recovery point holds the whole tree; the interrupted attempt left
	// no snapshot behind (the restore of such a tree is checked above).
	rp, err := c2.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: d2.RecoveryPointArn})
	if err != nil || rp.Status != types.RecoveryPointStatusCompleted || aws.ToInt64(rp.BackupSizeInBytes) != 16000*16<<10 {
		t.Errorf("the new recovery point: %v, size %d, %v; want COMPLETED with %d bytes", rp.Status, aws.ToInt64(rp.BackupSizeInBytes), err, 16000*16<<10)
	}
	r := openEngine(t, dataDir).repoOf(t, c2, "v1")
	snaps := snapshots(t, r)
	if d.State == types.BackupJobStateFailed && len(snaps) != 1 {
		t.Errorf("got %d snapshots in the repository, want only the new backup's", len(snaps))
	}
}

// A source directory that becomes unreadable in the middle of a backup:
// the job ends FAILED with the cause. As root, the server runs as nobody so
// that file permissions apply.
func TestBackupSourceBecomesUnreadable(t *testing.T) {
	base, err := os.MkdirTemp("", "coffer-e2e-unreadable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(base)
	})
	mk := func(name string) string {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_ = os.Chmod(base, 0o755)
	src, dataDir, bin, confDir := mk("src"), mk("data"), mk("bin"), mk("conf")
	manyFiles(t, src, 8000, 8<<10)
	arn := efsARN("fs-0123456789abcdef3")
	cfg := writeConfig(t, confDir, []declared{{arn: arn, path: src}}, "")
	setup := withConfig(cfg)
	if os.Geteuid() == 0 {
		// The built binary lives in a root-only directory: copy it.
		exe := filepath.Join(bin, "coffer")
		data, err := os.ReadFile(binary)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(exe, data, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dataDir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		setup = func(c *exec.Cmd) {
			c.Path, c.Args[0] = exe, exe
			c.Args = append(c.Args, "--config", cfg)
			c.Env = append(c.Env, "HOME="+dataDir)
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
	}
	in := startWith(t, dataDir, setup)
	c := in.client("us-east-1")
	createVault(t, c, "v1")
	out := startBackup(t, c, "v1", arn)
	id := aws.ToString(out.BackupJobId)
	waitJob(t, c, id, time.Minute, types.BackupJobStateRunning)
	// Take away the permissions on every directory of the tree at once.
	entries, _ := os.ReadDir(src)
	for _, e := range entries {
		_ = os.Chmod(filepath.Join(src, e.Name()), 0)
	}
	_ = os.Chmod(src, 0)
	d := waitJob(t, c, id, 2*time.Minute, types.BackupJobStateFailed, types.BackupJobStateCompleted)
	if d.State != types.BackupJobStateFailed {
		t.Skipf("the backup finished before the permissions changed (%s); machine too fast for this tree", d.State)
	}
	if !strings.Contains(aws.ToString(d.StatusMessage), "permission denied") || aws.ToString(d.MessageCategory) != "RESOURCE_ERROR" {
		t.Errorf("got %q (%s), want FAILED naming the permission error", aws.ToString(d.StatusMessage), aws.ToString(d.MessageCategory))
	}
	list, _ := c.ListRecoveryPointsByBackupVault(context.Background(), &backup.ListRecoveryPointsByBackupVaultInput{BackupVaultName: aws.String("v1")})
	if len(list.RecoveryPoints) != 0 {
		t.Errorf("got %d recovery points after the failed backup, want none", len(list.RecoveryPoints))
	}
}
