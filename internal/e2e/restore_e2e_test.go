package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/coffer/coffer/internal/archive/archivetest"
	domain "github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector/postgres/pgtest"
)

// backupDone backs up a resource and returns its recovery point ARN.
func backupDone(t *testing.T, c *backup.Client, vaultName, arn string) string {
	t.Helper()
	out := startBackup(t, c, vaultName, arn)
	d := waitJob(t, c, aws.ToString(out.BackupJobId), 3*time.Minute, types.BackupJobStateCompleted, types.BackupJobStateFailed)
	if d.State != types.BackupJobStateCompleted {
		t.Fatalf("backup of %s: %s %s", arn, d.State, aws.ToString(d.StatusMessage))
	}
	return aws.ToString(d.RecoveryPointArn)
}

func startRestore(t *testing.T, c *backup.Client, rpArn string, md map[string]string) string {
	t.Helper()
	out, err := c.StartRestoreJob(context.Background(), &backup.StartRestoreJobInput{RecoveryPointArn: &rpArn, Metadata: md, IamRoleArn: aws.String(e2eRole)})
	if err != nil {
		t.Fatalf("StartRestoreJob: %v", err)
	}
	return aws.ToString(out.RestoreJobId)
}

// waitRestore polls DescribeRestoreJob until the job is in one of the
// statuses.
func waitRestore(t *testing.T, c *backup.Client, id string, timeout time.Duration, states ...types.RestoreJobStatus) *backup.DescribeRestoreJobOutput {
	t.Helper()
	if len(states) == 0 {
		states = []types.RestoreJobStatus{types.RestoreJobStatusCompleted, types.RestoreJobStatusFailed, types.RestoreJobStatusAborted}
	}
	deadline := time.Now().Add(timeout)
	for {
		d, err := c.DescribeRestoreJob(context.Background(), &backup.DescribeRestoreJobInput{RestoreJobId: &id})
		if err != nil {
			t.Fatalf("DescribeRestoreJob %s: %v", id, err)
		}
		for _, s := range states {
			if d.Status == s {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("restore job %s: got %s (%s) after %v, want one of %v", id, d.Status, aws.ToString(d.StatusMessage), timeout, states)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restoreCompleted starts a restore and waits for it to complete.
func restoreCompleted(t *testing.T, c *backup.Client, rpArn string, md map[string]string) *backup.DescribeRestoreJobOutput {
	t.Helper()
	d := waitRestore(t, c, startRestore(t, c, rpArn, md), 3*time.Minute)
	if d.Status != types.RestoreJobStatusCompleted {
		t.Fatalf("restore of %s: %s %s", rpArn, d.Status, aws.ToString(d.StatusMessage))
	}
	return d
}

// entriesWithPrefix returns the entries of dir whose names start with
// prefix.
func entriesWithPrefix(t *testing.T, dir, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// onlyRestoreDir returns the single aws-backup-restore_ directory at a file
// system's root.
func onlyRestoreDir(t *testing.T, root string) string {
	t.Helper()
	dirs := entriesWithPrefix(t, root, "aws-backup-restore_")
	if len(dirs) != 1 {
		t.Fatalf("got restore directories %v in %s, want one", dirs, root)
	}
	return dirs[0]
}

func fsRootOf(t *testing.T, restoreRoot, createdArn string) string {
	t.Helper()
	ref, err := domain.ParseResourceARN(createdArn)
	if err != nil || ref.Type != domain.EFS {
		t.Fatalf("CreatedResourceArn %q is not a file system (%v)", createdArn, err)
	}
	return filepath.Join(restoreRoot, ref.ID)
}

func sameTree(t *testing.T, what, want, got string) {
	t.Helper()
	if diff := archivetest.Diff(archivetest.MustLines(t, want), archivetest.MustLines(t, got)); diff != "" {
		t.Errorf("%s: restored tree differs from the source:\n%s", what, diff)
	}
}

// A directory tree, a volume image and a PostgreSQL database backed up and
// restored through the built server with aws-sdk-go-v2: a new file system
// compared by tree digest, a new volume byte for byte, a new database by
// its dump; the restored file system is itself a resource that can be
// backed up and restored after a restart.
func TestRestoreRealResources(t *testing.T) {
	ctx := context.Background()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 80, SparseSize: 48 << 20})
	img := filepath.Join(t.TempDir(), "disk.img")
	imgData := bytes.Repeat([]byte("coffer volume "), 300_000)
	if err := os.WriteFile(img, imgData, 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(img, os.O_WRONLY, 0)
	_ = f.Truncate(64<<20 + 512) // a sparse tail
	f.Close()
	pg := pgtest.Start(t)
	pg.CreateDB(t, "orders")
	pg.Exec(t, "orders", `CREATE TABLE o (id bigserial PRIMARY KEY, who text, amount numeric(10,2), at timestamptz DEFAULT now());
		INSERT INTO o (who, amount) SELECT 'customer ' || g, g / 7.0 FROM generate_series(1, 20000) g;`)
	fsArn, volArn, dbArn := efsARN("fs-0123456789abcdef5"), ebsARN("vol-0123456789abcdef5"), rdsARN("orders")
	restoreRoot := filepath.Join(t.TempDir(), "restores")
	dataDir := t.TempDir()
	cfg := writeConfig(t, t.TempDir(), []declared{{arn: fsArn, path: src}, {arn: volArn, path: img}, {arn: dbArn, dsn: pg.DSN("orders")}},
		"restore_root: "+restoreRoot+"\n")
	in := startWith(t, dataDir, withConfig(cfg))
	c := in.client("us-east-1")
	createVault(t, c, "vault")
	fsRP, volRP, dbRP := backupDone(t, c, "vault", fsArn), backupDone(t, c, "vault", volArn), backupDone(t, c, "vault", dbArn)
	wantDump := pg.Dump(t, "orders")
	pg.Exec(t, "orders", `UPDATE o SET amount = 0 WHERE id < 100`) // after the backup

	// EFS: a new file system.
	d := restoreCompleted(t, c, fsRP, map[string]string{"newFileSystem": "true", "CreationToken": "e2e-1"})
	newFS := aws.ToString(d.CreatedResourceArn)
	sameTree(t, "new file system", src, onlyRestoreDir(t, fsRootOf(t, restoreRoot, newFS)))
	if aws.ToString(d.PercentDone) != "100.0" || aws.ToInt64(d.BackupSizeInBytes) < 48<<20 {
		t.Errorf("DescribeRestoreJob: PercentDone %s, BackupSizeInBytes %d", aws.ToString(d.PercentDone), aws.ToInt64(d.BackupSizeInBytes))
	}

	// EBS: a new volume, byte for byte.
	d = restoreCompleted(t, c, volRP, map[string]string{})
	vref, err := domain.ParseResourceARN(aws.ToString(d.CreatedResourceArn))
	if err != nil || vref.Type != domain.EBS {
		t.Fatalf("volume restore: CreatedResourceArn %q", aws.ToString(d.CreatedResourceArn))
	}
	want, _ := os.ReadFile(img)
	got, err := os.ReadFile(filepath.Join(restoreRoot, vref.ID+".img"))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("restored volume (%d bytes, %v) differs from the source (%d bytes)", len(got), err, len(want))
	}

	// RDS: a new database with the rows of backup time.
	d = restoreCompleted(t, c, dbRP, map[string]string{"dbInstanceIdentifier": "orders-copy", "dbName": "orders_copy"})
	if aws.ToString(d.CreatedResourceArn) != rdsARN("orders-copy") {
		t.Errorf("database restore: CreatedResourceArn %q", aws.ToString(d.CreatedResourceArn))
	}
	if got := pg.Dump(t, "orders_copy"); got != wantDump {
		t.Errorf("restored database differs from the source at backup time")
	}
	_, err = c.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: &dbRP,
		Metadata: map[string]string{"dbInstanceIdentifier": "orders-copy"}})
	var ipv *types.InvalidParameterValueException
	if !errors.As(err, &ipv) || !strings.Contains(aws.ToString(ipv.Message), "orders-copy") {
		t.Errorf("restore to an existing identifier: got %v, want InvalidParameterValueException naming it", err)
	}

	// The restored file system and database survive a restart as resources:
	// back up the file system and restore that, in place, after a restart.
	in.stop(t)
	in = startWith(t, dataDir, withConfig(cfg))
	c = in.client("us-east-1")
	rp2 := backupDone(t, c, "vault", newFS)
	backupDone(t, c, "vault", rdsARN("orders-copy"))
	restoreCompleted(t, c, rp2, map[string]string{"newFileSystem": "false", "ItemsToRestore": `["/` + filepath.Base(onlyRestoreDir(t, fsRootOf(t, restoreRoot, newFS))) + `/a"]`})
	dirs := entriesWithPrefix(t, fsRootOf(t, restoreRoot, newFS), "aws-backup-restore_")
	if len(dirs) != 2 {
		t.Errorf("got %d restore directories in the restored file system, want 2", len(dirs))
	}
	in.stop(t)
}

// The AWS CLI against the built server: start-restore-job with --metadata
// in shorthand and JSON form, describe, list, get-restore-job-metadata,
// put-restore-validation-result, and an error by name.
func TestRestoreAWSCLI(t *testing.T) {
	awsBin := requireTool(t, "aws")
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 30, SparseSize: -1})
	target := t.TempDir()
	fsArn, targetArn := efsARN("fs-0123456789abcdef6"), efsARN("fs-0123456789abcdef7")
	restoreRoot := filepath.Join(t.TempDir(), "restores")
	cfg := writeConfig(t, t.TempDir(), []declared{{arn: fsArn, path: src}, {arn: targetArn, path: target}}, "restore_root: "+restoreRoot+"\n")
	in := startWith(t, t.TempDir(), withConfig(cfg))
	c := in.client("us-east-1")
	createVault(t, c, "cli")
	rp := backupDone(t, c, "cli", fsArn)

	wait := func(id string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			d := cliJSON(t, awsBin, in, "describe-restore-job", "--restore-job-id", id)
			if d["Status"] == "COMPLETED" || d["Status"] == "FAILED" || time.Now().After(deadline) {
				return d
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	out := cliJSON(t, awsBin, in, "start-restore-job", "--recovery-point-arn", rp, "--iam-role-arn", e2eRole,
		"--resource-type", "EFS", "--metadata", "newFileSystem=true,CreationToken=cli-token,Encrypted=true,PerformanceMode=generalPurpose")
	id, _ := out["RestoreJobId"].(string)
	if !domain.IsJobID(id) {
		t.Fatalf("start-restore-job: got %v, want a RestoreJobId", out)
	}
	d := wait(id)
	if d["Status"] != "COMPLETED" || d["PercentDone"] != "100.0" || d["ResourceType"] != "EFS" || d["SourceResourceArn"] != fsArn {
		t.Fatalf("describe-restore-job: got %v", d)
	}
	for _, k := range []string{"CreationDate", "CompletionDate", "RecoveryPointCreationDate"} {
		if _, ok := d[k].(float64); !ok {
			t.Errorf("describe-restore-job %s: %v is not an epoch number", k, d[k])
		}
	}
	created, _ := d["CreatedResourceArn"].(string)
	sameTree(t, "CLI new file system", src, onlyRestoreDir(t, fsRootOf(t, restoreRoot, created)))

	// ItemsToRestore needs the JSON form of --metadata (its value is a JSON
	// list).
	item := "/" + firstFileUnder(t, src, "a")
	md, _ := json.Marshal(map[string]string{"newFileSystem": "false", "file-system-id": "fs-0123456789abcdef7", "ItemsToRestore": `["` + item + `"]`})
	out = cliJSON(t, awsBin, in, "start-restore-job", "--recovery-point-arn", rp, "--metadata", string(md))
	id2, _ := out["RestoreJobId"].(string)
	if d := wait(id2); d["Status"] != "COMPLETED" || d["CreatedResourceArn"] != targetArn {
		t.Fatalf("in-place restore: got %v", d)
	}
	restored := onlyRestoreDir(t, target)
	wantBytes, _ := os.ReadFile(filepath.Join(src, item))
	gotBytes, err := os.ReadFile(filepath.Join(restored, item))
	if err != nil || !bytes.Equal(gotBytes, wantBytes) {
		t.Errorf("restored item %s: %v, content equal %v", item, err, bytes.Equal(gotBytes, wantBytes))
	}
	var n int
	_ = filepath.Walk(restored, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n++
		}
		return nil
	})
	if n != 1 {
		t.Errorf("ItemsToRestore of one file restored %d files", n)
	}

	meta := cliJSON(t, awsBin, in, "get-restore-job-metadata", "--restore-job-id", id2)
	if m, _ := meta["Metadata"].(map[string]any); m["ItemsToRestore"] != `["`+item+`"]` || m["file-system-id"] != "fs-0123456789abcdef7" {
		t.Errorf("get-restore-job-metadata: got %v", meta)
	}
	list := cliJSON(t, awsBin, in, "list-restore-jobs", "--by-status", "COMPLETED")
	if jobs, _ := list["RestoreJobs"].([]any); len(jobs) != 2 {
		t.Errorf("list-restore-jobs --by-status COMPLETED: got %v", list)
	}
	list = cliJSON(t, awsBin, in, "list-restore-jobs-by-protected-resource", "--resource-arn", fsArn)
	if jobs, _ := list["RestoreJobs"].([]any); len(jobs) != 2 {
		t.Errorf("list-restore-jobs-by-protected-resource: got %v", list)
	}
	sum := cliJSON(t, awsBin, in, "list-restore-job-summaries", "--aggregation-period", "FOURTEEN_DAYS")
	if rows, _ := sum["RestoreJobSummaries"].([]any); len(rows) != 1 || rows[0].(map[string]any)["Count"] != float64(2) {
		t.Errorf("list-restore-job-summaries: got %v", sum)
	}
	if stdout, errs, code := awsCLI(t, awsBin, in, "", "put-restore-validation-result", "--restore-job-id", id, "--validation-status", "SUCCESSFUL",
		"--validation-status-message", "files checked"); code != 0 {
		t.Errorf("put-restore-validation-result: exit %d %s %s", code, stdout, errs)
	}
	if d := wait(id); d["ValidationStatus"] != "SUCCESSFUL" || d["ValidationStatusMessage"] != "files checked" {
		t.Errorf("describe after validation: got %v", d)
	}

	// Errors by name, and nothing written.
	_, errs, code := awsCLI(t, awsBin, in, "", "start-restore-job", "--recovery-point-arn", rp, "--metadata", `{"ItemsToRestore":"[\"/no/such/file\"]"}`)
	if code != 255 || !strings.Contains(errs, "InvalidParameterValueException") || !strings.Contains(errs, "/no/such/file") {
		t.Errorf("missing item: got exit %d %q, want 255 InvalidParameterValueException naming the path", code, errs)
	}
	_, errs, code = awsCLI(t, awsBin, in, "", "start-restore-job", "--recovery-point-arn", rp, "--resource-type", "DynamoDB", "--metadata", "newFileSystem=true")
	if code != 255 || !strings.Contains(errs, "InvalidParameterValueException") || !strings.Contains(errs, "EBS, EFS, RDS") {
		t.Errorf("unsupported resource type: got exit %d %q", code, errs)
	}
	_, errs, code = awsCLI(t, awsBin, in, "", "describe-restore-job", "--restore-job-id", "00000000-0000-0000-0000-000000000000")
	if code != 255 || !strings.Contains(errs, "ResourceNotFoundException") {
		t.Errorf("unknown restore job: got exit %d %q", code, errs)
	}
	if dirs := entriesWithPrefix(t, target, "aws-backup-"); len(dirs) != 1 {
		t.Errorf("refused requests wrote into the target: %v", dirs)
	}
	in.stop(t)
}

// firstFileUnder returns the path (relative to root) of a regular file in
// the directory sub of root.
func firstFileUnder(t *testing.T, root, sub string) string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(root, sub))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name := e.Name()
		plain := utf8.ValidString(name) && !strings.HasPrefix(name, "-")
		for _, r := range name {
			plain = plain && unicode.IsPrint(r)
		}
		if e.Type().IsRegular() && plain {
			return sub + "/" + name
		}
	}
	t.Fatalf("no plainly named regular file in %s", sub)
	return ""
}

// The server is killed (SIGKILL) in the middle of a restore and restarted:
// the job ends FAILED saying it was interrupted and where its partial
// output is, that output is under aws-backup-failed-restore_ (never under
// the restore directory's name), and a new restore succeeds.
func TestRestoreKilledMidway(t *testing.T) {
	src := t.TempDir()
	manyFiles(t, src, 12000, 16<<10) // ~190 MiB in small files
	fsArn := efsARN("fs-0123456789abcdef8")
	restoreRoot := filepath.Join(t.TempDir(), "restores")
	dataDir := t.TempDir()
	cfg := writeConfig(t, t.TempDir(), []declared{{arn: fsArn, path: src}}, "restore_root: "+restoreRoot+"\n")
	in := startWith(t, dataDir, withConfig(cfg))
	c := in.client("us-east-1")
	createVault(t, c, "vault")
	rp := backupDone(t, c, "vault", fsArn)

	id := startRestore(t, c, rp, map[string]string{"newFileSystem": "true"})
	d := waitRestore(t, c, id, time.Minute, types.RestoreJobStatusRunning, types.RestoreJobStatusCompleted)
	if d.Status == types.RestoreJobStatusCompleted {
		t.Skip("the restore completed before it could be killed")
	}
	// Wait until files are being written, then kill.
	deadline := time.Now().Add(30 * time.Second)
	var fsRoot string
	for time.Now().Before(deadline) {
		d, _ = c.DescribeRestoreJob(context.Background(), &backup.DescribeRestoreJobInput{RestoreJobId: &id})
		if arn := aws.ToString(d.CreatedResourceArn); arn != "" {
			fsRoot = fsRootOf(t, restoreRoot, arn)
			if dirs := entriesWithPrefix(t, fsRoot, "aws-backup-restore_"); len(dirs) == 1 {
				if n, _ := os.ReadDir(filepath.Join(dirs[0], "d1")); len(n) > 10 {
					break
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.kill(t)
	if fsRoot == "" {
		t.Fatal("the restore never recorded its file system")
	}

	in2 := startWith(t, dataDir, withConfig(cfg))
	c2 := in2.client("us-east-1")
	d = waitRestore(t, c2, id, 30*time.Second, types.RestoreJobStatusFailed, types.RestoreJobStatusCompleted)
	if d.Status == types.RestoreJobStatusCompleted {
		t.Fatalf("an interrupted restore ended COMPLETED")
	}
	msg := aws.ToString(d.StatusMessage)
	if !strings.Contains(msg, "interrupted") || !strings.Contains(msg, "aws-backup-failed-restore_") {
		t.Errorf("got StatusMessage %q, want the interruption and where the partial output is", msg)
	}
	if dirs := entriesWithPrefix(t, fsRoot, "aws-backup-restore_"); len(dirs) != 0 {
		t.Errorf("partial output still under a restore directory's name: %v", dirs)
	}
	failed := entriesWithPrefix(t, fsRoot, "aws-backup-failed-restore_")
	if len(failed) != 1 {
		t.Fatalf("got failed restore directories %v, want one", failed)
	}
	if ents, _ := os.ReadDir(failed[0]); len(ents) == 0 {
		t.Errorf("the failed restore directory is empty; want the partial output kept")
	}

	// A new restore into the same file system succeeds.
	ref, _ := domain.ParseResourceARN(aws.ToString(d.CreatedResourceArn))
	d2 := restoreCompleted(t, c2, rp, map[string]string{"newFileSystem": "false", "file-system-id": ref.ID})
	if aws.ToString(d2.CreatedResourceArn) != aws.ToString(d.CreatedResourceArn) {
		t.Errorf("in-place restore: got %s, want %s", aws.ToString(d2.CreatedResourceArn), aws.ToString(d.CreatedResourceArn))
	}
	sameTree(t, "restore after the kill", src, onlyRestoreDir(t, fsRoot))

	// A graceful stop (SIGTERM) in the middle of a restore puts it back in
	// the queue: after the restart it runs again and completes; the first
	// attempt's output is marked failed, not mixed with the new one.
	id3 := startRestore(t, c2, rp, map[string]string{"newFileSystem": "true"})
	waitRestore(t, c2, id3, time.Minute, types.RestoreJobStatusRunning, types.RestoreJobStatusCompleted)
	time.Sleep(300 * time.Millisecond)
	in2.stop(t)
	in3 := startWith(t, dataDir, withConfig(cfg))
	c3 := in3.client("us-east-1")
	d3 := waitRestore(t, c3, id3, 2*time.Minute, types.RestoreJobStatusCompleted, types.RestoreJobStatusFailed)
	if d3.Status != types.RestoreJobStatusCompleted {
		t.Fatalf("restore stopped by a graceful shutdown: got %s %q, want it run again to COMPLETED", d3.Status, aws.ToString(d3.StatusMessage))
	}
	root3 := fsRootOf(t, restoreRoot, aws.ToString(d3.CreatedResourceArn))
	sameTree(t, "restore run again after a graceful shutdown", src, onlyRestoreDir(t, root3))
	t.Logf("after the graceful shutdown: %d failed restore directories in the new file system", len(entriesWithPrefix(t, root3, "aws-backup-failed-restore_")))
	in3.stop(t)
}

// A recovery point copied to a vault of the other region is restored there
// like any other: a new file system in us-west-2, equal to the source.
func TestRestoreFromCopyInOtherRegion(t *testing.T) {
	ctx := context.Background()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 40, SparseSize: 8 << 20})
	fsArn := efsARN("fs-0123456789abcdef9")
	restoreRoot := filepath.Join(t.TempDir(), "restores")
	cfg := writeConfig(t, t.TempDir(), []declared{{arn: fsArn, path: src}}, "restore_root: "+restoreRoot+"\n")
	in := startWith(t, t.TempDir(), withConfig(cfg))
	east, west := in.client("us-east-1"), in.client("us-west-2")
	createVault(t, east, "east")
	createVault(t, west, "west")
	rp := backupDone(t, east, "east", fsArn)
	cp, err := east.StartCopyJob(ctx, &backup.StartCopyJobInput{RecoveryPointArn: &rp, SourceBackupVaultName: aws.String("east"),
		DestinationBackupVaultArn: aws.String(domain.VaultARN("us-west-2", e2eAccount, "west")), IamRoleArn: aws.String(e2eRole)})
	if err != nil {
		t.Fatalf("StartCopyJob: %v", err)
	}
	var copyRP string
	deadline := time.Now().Add(2 * time.Minute)
	for {
		d, err := east.DescribeCopyJob(ctx, &backup.DescribeCopyJobInput{CopyJobId: cp.CopyJobId})
		if err != nil {
			t.Fatal(err)
		}
		if d.CopyJob.State == types.CopyJobStateCompleted {
			copyRP = aws.ToString(d.CopyJob.DestinationRecoveryPointArn)
			break
		}
		if d.CopyJob.State == types.CopyJobStateFailed || time.Now().After(deadline) {
			t.Fatalf("copy job: %s %s", d.CopyJob.State, aws.ToString(d.CopyJob.StatusMessage))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The copy is restored from its own region; the east endpoint does not
	// know it.
	_, err = east.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: &copyRP, Metadata: map[string]string{"newFileSystem": "true"}})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) || !strings.Contains(aws.ToString(rnf.Message), "us-west-2") {
		t.Errorf("restore of the copy through us-east-1: got %v, want ResourceNotFoundException naming us-west-2", err)
	}
	d := restoreCompleted(t, west, copyRP, map[string]string{"newFileSystem": "true"})
	ref, err := domain.ParseResourceARN(aws.ToString(d.CreatedResourceArn))
	if err != nil || ref.Region != "us-west-2" || aws.ToString(d.BackupVaultArn) != domain.VaultARN("us-west-2", e2eAccount, "west") {
		t.Fatalf("restore of the copy: CreatedResourceArn %q, BackupVaultArn %q", aws.ToString(d.CreatedResourceArn), aws.ToString(d.BackupVaultArn))
	}
	sameTree(t, "restore of a cross-region copy", src, onlyRestoreDir(t, filepath.Join(restoreRoot, ref.ID)))
	in.stop(t)
}
