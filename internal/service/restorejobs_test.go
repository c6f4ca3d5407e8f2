package service_test

import (
	"bytes"
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
	"github.com/coffer/coffer/internal/archive/tree"
	domain "github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector/postgres/pgtest"
	"github.com/coffer/coffer/internal/meta/sqlite"
)

// restoreJob starts a restore and returns its ID.
func (e *dataEnv) restoreJob(t *testing.T, rpArn string, md map[string]string, mod func(*backup.StartRestoreJobInput)) string {
	t.Helper()
	in := &backup.StartRestoreJobInput{RecoveryPointArn: aws.String(rpArn), Metadata: md, IamRoleArn: aws.String(testRole)}
	if mod != nil {
		mod(in)
	}
	out, err := e.client("us-east-1").StartRestoreJob(context.Background(), in)
	if err != nil {
		t.Fatalf("StartRestoreJob: %v", err)
	}
	return aws.ToString(out.RestoreJobId)
}

// waitRestore polls DescribeRestoreJob until the job has ended.
func (e *dataEnv) waitRestore(t *testing.T, id string) *backup.DescribeRestoreJobOutput {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := e.client("us-east-1").DescribeRestoreJob(context.Background(), &backup.DescribeRestoreJobInput{RestoreJobId: aws.String(id)})
		if err != nil {
			t.Fatalf("DescribeRestoreJob: %v", err)
		}
		switch d.Status {
		case types.RestoreJobStatusCompleted, types.RestoreJobStatusFailed, types.RestoreJobStatusAborted:
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("restore job %s: still %s after 60s", id, d.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restoreDone starts a restore and waits for it to complete.
func (e *dataEnv) restoreDone(t *testing.T, rpArn string, md map[string]string) *backup.DescribeRestoreJobOutput {
	t.Helper()
	d := e.waitRestore(t, e.restoreJob(t, rpArn, md, nil))
	if d.Status != types.RestoreJobStatusCompleted {
		t.Fatalf("restore of %s: got %s (%s), want COMPLETED", rpArn, d.Status, aws.ToString(d.StatusMessage))
	}
	return d
}

// restoreDirs returns the aws-backup-*restore_ directories at root.
func restoreDirs(t *testing.T, root, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	return out
}

// subset keeps the lines of a tree digest that describe the items, what is
// below them and their parent directories. A hard link whose first name is
// not kept is a plain file in a subset restore.
func subset(lines []string, items ...string) []string {
	in := func(p string) bool {
		for _, it := range items {
			if p == it || strings.HasPrefix(p, it+"/") || strings.HasPrefix(it, p+"/") {
				return true
			}
		}
		return false
	}
	var out []string
	for _, l := range lines {
		if !in(l[1 : strings.Index(l[1:], `"`)+1]) {
			continue
		}
		if i := strings.Index(l, ` hardlink="`); i >= 0 {
			rest := l[i+len(` hardlink="`):]
			first := rest[:strings.IndexByte(rest, '"')]
			if !in(first) {
				l = l[:i] + rest[len(first)+1:]
			}
		}
		out = append(out, l)
	}
	return out
}

// topFile returns the name of a regular file at the root of dir.
func topFile(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			return e.Name()
		}
	}
	t.Fatalf("no regular file at the root of %s", dir)
	return ""
}

// efsBackup backs up a generated tree and returns the env, the backed-up
// file system, a second (empty) declared file system and the recovery
// point.
func efsBackup(t *testing.T, files int) (*dataEnv, domain.Resource, domain.Resource, string) {
	t.Helper()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: files, SparseSize: 8 << 20})
	res := efsResource(src)
	empty := efsResource(t.TempDir())
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res, empty}})
	e.createVault(t, "files")
	rp := aws.ToString(e.backupDone(t, "files", res.ARN).RecoveryPointArn)
	return e, res, empty, rp
}

func TestRestoreFileSystemThroughAPI(t *testing.T) {
	ctx := context.Background()
	e, res, other, rpArn := efsBackup(t, 60)
	c := e.client("us-east-1")
	src := res.Target
	want := archivetest.MustLines(t, src)
	restoreRoot := filepath.Join(e.dir, "restores")

	// A new file system: a new resource under restore_root, the tree in an
	// aws-backup-restore_ directory at its root.
	id := e.restoreJob(t, rpArn, map[string]string{"newFileSystem": "true", "CreationToken": "tok-1", "encrypted": "TRUE", "PerformanceMode": "maxIO"}, nil)
	d := e.waitRestore(t, id)
	if d.Status != types.RestoreJobStatusCompleted {
		t.Fatalf("got %s: %s", d.Status, aws.ToString(d.StatusMessage))
	}
	created := aws.ToString(d.CreatedResourceArn)
	ref, err := domain.ParseResourceARN(created)
	if err != nil || ref.Type != domain.EFS || ref.Region != "us-east-1" || len(ref.ID) != 20 {
		t.Fatalf("got CreatedResourceArn %q (%v), want a new EFS file system fs-<17 hex>", created, err)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"RestoreJobId", aws.ToString(d.RestoreJobId), id},
		{"AccountId", aws.ToString(d.AccountId), testAccount},
		{"RecoveryPointArn", aws.ToString(d.RecoveryPointArn), rpArn},
		{"SourceResourceArn", aws.ToString(d.SourceResourceArn), res.ARN},
		{"BackupVaultArn", aws.ToString(d.BackupVaultArn), domain.VaultARN("us-east-1", testAccount, "files")},
		{"ResourceType", aws.ToString(d.ResourceType), "EFS"},
		{"IamRoleArn", aws.ToString(d.IamRoleArn), testRole},
		{"PercentDone", aws.ToString(d.PercentDone), "100.0"},
		{"ExpectedCompletionTimeMinutes", aws.ToInt64(d.ExpectedCompletionTimeMinutes), int64(1)},
		{"RecoveryPointCreationDate set", d.RecoveryPointCreationDate != nil, true},
		{"CompletionDate set", d.CompletionDate != nil, true},
		{"IsParent", d.IsParent, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("DescribeRestoreJob %s: got %v, want %v", c.field, c.got, c.want)
		}
	}
	if aws.ToInt64(d.BackupSizeInBytes) < 8<<20 {
		t.Errorf("got BackupSizeInBytes %d, want the restored size (at least the sparse file's 8 MiB)", aws.ToInt64(d.BackupSizeInBytes))
	}
	fsRoot := filepath.Join(restoreRoot, ref.ID)
	dirs := restoreDirs(t, fsRoot, "aws-backup-restore_")
	if len(dirs) != 1 {
		t.Fatalf("got restore directories %v in the new file system, want one", dirs)
	}
	if diff := archivetest.Diff(want, archivetest.MustLines(t, dirs[0])); diff != "" {
		t.Fatalf("restored tree differs from the source:\n%s", diff)
	}
	r, err := e.store.GetResource(ctx, created)
	if err != nil || r.Origin != "restore" || r.CreationToken != "tok-1" || r.Options["Encrypted"] != "true" || r.Options["PerformanceMode"] != "maxIO" {
		t.Errorf("the new file system's record: got %+v (%v)", r, err)
	}
	md, err := c.GetRestoreJobMetadata(ctx, &backup.GetRestoreJobMetadataInput{RestoreJobId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if m := md.Metadata; m["newFileSystem"] != "true" || m["Encrypted"] != "true" || m["file-system-id"] != ref.ID || m["CreationToken"] != "tok-1" {
		t.Errorf("GetRestoreJobMetadata: got %v, want canonical keys with the new file system's ID", m)
	}

	// The same CreationToken: the same file system, a second directory.
	d2 := e.restoreDone(t, rpArn, map[string]string{"newFileSystem": "true", "CreationToken": "tok-1", "ItemsToRestore": `["/a/b"]`})
	if got := aws.ToString(d2.CreatedResourceArn); got != created {
		t.Errorf("second restore with CreationToken tok-1: got file system %s, want %s", got, created)
	}
	if dirs := restoreDirs(t, fsRoot, "aws-backup-restore_"); len(dirs) != 2 {
		t.Errorf("got %d restore directories, want 2", len(dirs))
	}

	// The restored file system can be backed up like a declared one.
	if d := e.backupDone(t, "files", created); aws.ToString(d.ResourceArn) != created {
		t.Errorf("backup of the restored file system: got resource %s", aws.ToString(d.ResourceArn))
	}

	// In place, into another file system: an aws-backup-restore_ directory
	// at its root, only the items asked for (with their parents).
	items := []string{"a/b", "docs"}
	d3 := e.restoreDone(t, rpArn, map[string]string{"newFileSystem": "false", "file-system-id": other.ID, "ItemsToRestore": `["/a/b", "/docs/"]`})
	if aws.ToString(d3.CreatedResourceArn) != other.ARN {
		t.Errorf("in-place restore: got CreatedResourceArn %s, want the target file system %s", aws.ToString(d3.CreatedResourceArn), other.ARN)
	}
	dirs = restoreDirs(t, other.Target, "aws-backup-restore_")
	if len(dirs) != 1 {
		t.Fatalf("got %v in the target file system, want one restore directory", dirs)
	}
	got := archivetest.MustLines(t, dirs[0])
	wantSub := subset(want, items...)
	// Parent directories are created for the items; their own metadata is
	// the backed-up one too.
	if diff := archivetest.Diff(wantSub, got); diff != "" {
		t.Errorf("ItemsToRestore: restored tree differs from the source's subset:\n%s", diff)
	}

	// In place into the backed-up file system itself: nothing existing is
	// touched.
	before := archivetest.MustLines(t, src)
	e.restoreDone(t, rpArn, map[string]string{"newFileSystem": "false", "ItemsToRestore": `["/` + topFile(t, src) + `", "/a"]`})
	after := archivetest.MustLines(t, src)
	var kept []string
	for _, l := range after {
		if !strings.HasPrefix(l, `"aws-backup-restore_`) {
			kept = append(kept, l)
		}
	}
	if diff := archivetest.Diff(before, kept); diff != "" && !strings.Contains(diff, "mtime") {
		t.Errorf("restoring into the source changed its existing entries:\n%s", diff)
	}

	// The recovery point records the restore; the protected resource too.
	rp, err := c.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("files"), RecoveryPointArn: &rpArn})
	if err != nil || rp.LastRestoreTime == nil {
		t.Errorf("DescribeRecoveryPoint: got LastRestoreTime %v (%v), want it set", rp.LastRestoreTime, err)
	}
	pr, err := c.DescribeProtectedResource(ctx, &backup.DescribeProtectedResourceInput{ResourceArn: &res.ARN})
	if err != nil || pr.LatestRestoreJobCreationDate == nil || pr.LatestRestoreRecoveryPointCreationDate == nil || aws.ToInt64(pr.LatestRestoreExecutionTimeMinutes) < 1 {
		t.Errorf("DescribeProtectedResource: got latest restore %v/%v/%v (%v)", pr.LatestRestoreJobCreationDate, pr.LatestRestoreRecoveryPointCreationDate, pr.LatestRestoreExecutionTimeMinutes, err)
	}
}

func TestStartRestoreJobErrors(t *testing.T) {
	ctx := context.Background()
	e, res, other, rpArn := efsBackup(t, 20)
	c := e.client("us-east-1")
	if err := os.Symlink("a", filepath.Join(res.Target, "link-to-a")); err != nil {
		t.Fatal(err)
	}
	rpLink := aws.ToString(e.backupDone(t, "files", res.ARN).RecoveryPointArn)
	unknownRP := "arn:aws:backup:us-east-1:" + testAccount + ":recovery-point:00000000-0000-4000-8000-000000000000"
	westRP := "arn:aws:backup:us-west-2:" + testAccount + ":recovery-point:00000000-0000-4000-8000-000000000000"
	efs := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name      string
		rp        string
		md        map[string]string
		mod       func(*backup.StartRestoreJobInput)
		code      string
		fragments []string
	}{
		{"malformed recovery point ARN", "arn:aws:backup:us-east-1:" + testAccount + ":vault:x", efs(), nil, "InvalidParameterValueException", []string{"recovery point ARN"}},
		{"unknown recovery point", unknownRP, efs(), nil, "ResourceNotFoundException", []string{unknownRP}},
		{"recovery point of another region", westRP, efs(), nil, "ResourceNotFoundException", []string{"us-west-2"}},
		{"unsupported resource type", rpArn, efs(), func(in *backup.StartRestoreJobInput) { in.ResourceType = aws.String("DynamoDB") }, "InvalidParameterValueException", []string{"DynamoDB", "EBS, EFS, RDS"}},
		{"resource type of another point", rpArn, efs(), func(in *backup.StartRestoreJobInput) { in.ResourceType = aws.String("EBS") }, "InvalidParameterValueException", []string{"EBS", "EFS"}},
		{"bad role", rpArn, efs(), func(in *backup.StartRestoreJobInput) {
			in.IamRoleArn = aws.String("arn:aws:iam::111122223333:user/bob")
		}, "InvalidParameterValueException", []string{"IamRoleArn"}},
		{"newFileSystem not a boolean", rpArn, efs("newFileSystem", "maybe"), nil, "InvalidParameterValueException", []string{"newFileSystem", "maybe"}},
		{"KmsKeyId without Encrypted", rpArn, efs("KmsKeyId", "arn:aws:kms:us-east-1:111122223333:key/abc"), nil, "InvalidParameterValueException", []string{"KmsKeyId requires Encrypted"}},
		{"malformed KmsKeyId", rpArn, efs("Encrypted", "true", "KmsKeyId", "arn:aws:s3:::bucket"), nil, "InvalidParameterValueException", []string{"KmsKeyId"}},
		{"bad PerformanceMode", rpArn, efs("PerformanceMode", "turbo"), nil, "InvalidParameterValueException", []string{"PerformanceMode", "maxIO"}},
		{"same key twice", rpArn, efs("newFileSystem", "true", "NEWFILESYSTEM", "false"), nil, "InvalidParameterValueException", []string{"case-insensitive"}},
		{"unknown file system", rpArn, efs("newFileSystem", "false", "file-system-id", "fs-00000000000000bad"), nil, "ResourceNotFoundException", []string{"fs-00000000000000bad"}},
		{"malformed file-system-id", rpArn, efs("newFileSystem", "false", "file-system-id", "/etc"), nil, "InvalidParameterValueException", []string{"file-system-id"}},
		{"ItemsToRestore not JSON", rpArn, efs("ItemsToRestore", "/a/b"), nil, "InvalidParameterValueException", []string{"ItemsToRestore", "JSON list"}},
		{"ItemsToRestore empty", rpArn, efs("ItemsToRestore", "[]"), nil, "InvalidParameterValueException", []string{"empty"}},
		{"ItemsToRestore more than five", rpArn, efs("ItemsToRestore", `["/a","/b","/c","/d","/e","/f"]`), nil, "InvalidParameterValueException", []string{"6 paths", "at most 5"}},
		{"ItemsToRestore escaping", rpArn, efs("ItemsToRestore", `["/a/../../etc/passwd"]`), nil, "InvalidParameterValueException", []string{"escapes"}},
		{"ItemsToRestore host path", rpArn, efs("ItemsToRestore", `["//etc/passwd"]`), nil, "InvalidParameterValueException", []string{"not relative"}},
		{"ItemsToRestore missing path", rpArn, efs("ItemsToRestore", `["/a/no-such-file"]`), nil, "InvalidParameterValueException", []string{"/a/no-such-file", "does not exist"}},
		{"ItemsToRestore through a symlink", rpLink, efs("ItemsToRestore", `["/link-to-a/b"]`), nil, "InvalidParameterValueException", []string{"symlink"}},
		{"ItemsToRestore root", rpArn, efs("ItemsToRestore", `["/"]`), nil, "InvalidParameterValueException", []string{"root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &backup.StartRestoreJobInput{RecoveryPointArn: aws.String(tt.rp), Metadata: tt.md, IamRoleArn: aws.String(testRole)}
			if tt.mod != nil {
				tt.mod(in)
			}
			_, err := c.StartRestoreJob(ctx, in)
			wantAPIError(t, err, tt.code, tt.fragments...)
		})
	}
	// Typed errors through the SDK.
	_, err := c.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: aws.String(rpArn), Metadata: efs("ItemsToRestore", `["/nope"]`)})
	as[*types.InvalidParameterValueException](t, err)
	_, err = c.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: aws.String(unknownRP), Metadata: efs()})
	as[*types.ResourceNotFoundException](t, err)
	// Metadata is required (the SDK checks it too, so send the request raw).
	status, code, body := (&env{url: e.url}).raw(t, "PUT", "/restore-jobs", `{"RecoveryPointArn":"`+rpArn+`"}`)
	if status != 400 || code != "MissingParameterValueException" || !strings.Contains(body, "Metadata") {
		t.Errorf("no Metadata: got %d %s %s, want 400 MissingParameterValueException naming Metadata", status, code, body)
	}
	// A recovery point that is still being created cannot be restored.
	release, entered := e.gate.hold(res.Target)
	out := e.start(t, "files", res.ARN, nil)
	<-entered
	_, err = c.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: out.RecoveryPointArn, Metadata: efs()})
	ire := as[*types.InvalidRequestException](t, err)
	if !strings.Contains(aws.ToString(ire.Message), "CREATING") {
		t.Errorf("restore of a CREATING point: got %q, want the status named", aws.ToString(ire.Message))
	}
	release()
	e.wait(t, aws.ToString(out.BackupJobId), types.BackupJobStateCompleted)

	// Nothing was accepted, nothing was written.
	list, err := c.ListRestoreJobs(ctx, &backup.ListRestoreJobsInput{})
	if err != nil || len(list.RestoreJobs) != 0 {
		t.Errorf("refused requests created jobs: %d, %v", len(list.RestoreJobs), err)
	}
	if ents, _ := os.ReadDir(other.Target); len(ents) != 0 {
		t.Errorf("refused requests wrote into the target file system: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "restores")); !os.IsNotExist(err) {
		t.Errorf("refused requests created restore_root: %v", err)
	}
}

func TestRestoreJobIdempotency(t *testing.T) {
	ctx := context.Background()
	e, _, other, rpArn := efsBackup(t, 10)
	c := e.client("us-east-1")
	md := map[string]string{"newFileSystem": "false", "file-system-id": other.ID}
	id1 := e.restoreJob(t, rpArn, md, func(in *backup.StartRestoreJobInput) { in.IdempotencyToken = aws.String("tok") })
	// The same parameters spelled differently (key case) are the same request.
	id2 := e.restoreJob(t, rpArn, map[string]string{"NewFileSystem": "FALSE", "File-System-Id": other.ID}, func(in *backup.StartRestoreJobInput) { in.IdempotencyToken = aws.String("tok") })
	if id1 != id2 {
		t.Errorf("retry with the same token: got job %s, want %s", id2, id1)
	}
	_, err := c.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: &rpArn, IdempotencyToken: aws.String("tok"),
		Metadata: map[string]string{"newFileSystem": "true"}})
	wantAPIError(t, err, "InvalidRequestException", "tok", id1, "different parameters")
	e.waitRestore(t, id1)
	if dirs := restoreDirs(t, other.Target, "aws-backup-restore_"); len(dirs) != 1 {
		t.Errorf("got %d restore directories, want 1 (one job)", len(dirs))
	}
}

func TestRestoreVolumeThroughAPI(t *testing.T) {
	ctx := context.Background()
	img := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(24<<20 + 4096 + 17) // not a multiple of the block size
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	head, tail := []byte(bigFile(1<<20, 8)), []byte(bigFile(100<<10, 9))
	_, _ = f.WriteAt(head, 0)
	_, _ = f.WriteAt(tail, size-int64(len(tail)))
	f.Close()
	vol := ebsResource(img)
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{vol}})
	e.createVault(t, "v1")
	c := e.client("us-east-1")
	rpArn := aws.ToString(e.backupDone(t, "v1", vol.ARN).RecoveryPointArn)
	want, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}

	// The recovery point's own restore metadata, passed back: a new volume
	// under restore_root, byte for byte the source.
	rmd, err := c.GetRecoveryPointRestoreMetadata(ctx, &backup.GetRecoveryPointRestoreMetadataInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &rpArn})
	if err != nil {
		t.Fatal(err)
	}
	d := e.restoreDone(t, rpArn, rmd.RestoreMetadata)
	ref, err := domain.ParseResourceARN(aws.ToString(d.CreatedResourceArn))
	if err != nil || ref.Type != domain.EBS || ref.ID == vol.ID {
		t.Fatalf("got CreatedResourceArn %q (%v), want a new volume", aws.ToString(d.CreatedResourceArn), err)
	}
	path := filepath.Join(e.dir, "restores", ref.ID+".img")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("restored volume (%d bytes) differs from the source (%d bytes)", len(got), len(want))
	}
	if aws.ToInt64(d.BackupSizeInBytes) != size {
		t.Errorf("got BackupSizeInBytes %d, want the volume's %d", aws.ToInt64(d.BackupSizeInBytes), size)
	}
	if r, err := e.store.GetResource(ctx, aws.ToString(d.CreatedResourceArn)); err != nil || r.Target != path || r.Type != domain.EBS {
		t.Errorf("the new volume's record: got %+v (%v)", r, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(e.dir, "restores")); len(ents) != 1 {
		t.Errorf("restore_root holds %d entries, want only the image (no staging file left)", len(ents))
	}

	// A path of the caller's choice and a larger volume (the extra space a
	// hole).
	dst := filepath.Join(t.TempDir(), "bigger.img")
	e.restoreDone(t, rpArn, map[string]string{"volumePath": dst, "volumeSize": "2", "VolumeType": "gp3"})
	bf, err := os.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	fi, _ := bf.Stat()
	got = make([]byte, size+1<<20)
	if _, err := bf.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 2<<30 || !bytes.Equal(got[:size], want) || !bytes.Equal(got[size:], make([]byte, 1<<20)) {
		t.Errorf("volumeSize 2: got %d bytes, want 2 GiB starting with the source, then zeros", fi.Size())
	}
	// CopySourceTagsToRestoredResource: the recovery point's tags go to the
	// new volume.
	if _, err := c.TagResource(ctx, &backup.TagResourceInput{ResourceArn: &rpArn, Tags: map[string]string{"team": "storage", "tier": "gold"}}); err != nil {
		t.Fatal(err)
	}
	dt := e.waitRestore(t, e.restoreJob(t, rpArn, map[string]string{}, func(in *backup.StartRestoreJobInput) {
		in.CopySourceTagsToRestoredResource = true
	}))
	if tags, err := e.store.ListTags(ctx, aws.ToString(dt.CreatedResourceArn)); err != nil || tags["team"] != "storage" || tags["tier"] != "gold" {
		t.Errorf("tags of the restored volume: got %v (%v), want the recovery point's", tags, err)
	}
	if tags, _ := e.store.ListTags(ctx, aws.ToString(d.CreatedResourceArn)); len(tags) != 0 {
		t.Errorf("a restore without CopySourceTagsToRestoredResource tagged its volume: %v", tags)
	}

	// Never over an existing file.
	_, err = c.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: &rpArn, Metadata: map[string]string{"volumePath": dst}})
	wantAPIError(t, err, "InvalidParameterValueException", dst, "exists")
	for _, md := range []map[string]string{
		{"volumePath": "relative.img"},
		{"volumePath": filepath.Join(t.TempDir(), "missing-dir", "x.img")},
		{"volumeSize": "0"},
		{"volumeType": "floppy"},
		{"kmsKeyId": "alias/x"},
	} {
		_, err = c.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: &rpArn, Metadata: md})
		wantAPIError(t, err, "InvalidParameterValueException")
	}
}

func TestRestoreDatabaseThroughAPI(t *testing.T) {
	ctx := context.Background()
	pg := pgtest.Start(t)
	pg.CreateDB(t, "shop")
	pg.Exec(t, "shop", `CREATE TABLE items (id serial PRIMARY KEY, name text, price numeric, tags jsonb);
		INSERT INTO items (name, price, tags) SELECT 'item ' || g, g * 1.5, jsonb_build_array(g, 'x') FROM generate_series(1, 5000) g;
		CREATE VIEW dear AS SELECT * FROM items WHERE price > 100;`)
	db := rdsResource("shop", pg.DSN("shop"))
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{db}})
	e.createVault(t, "v1")
	c := e.client("us-east-1")
	rpArn := aws.ToString(e.backupDone(t, "v1", db.ARN).RecoveryPointArn)
	want := pg.Dump(t, "shop")
	pg.Exec(t, "shop", `DELETE FROM items WHERE id > 10`) // after the backup

	// The restore metadata passed back as is names the existing database.
	rmd, err := c.GetRecoveryPointRestoreMetadata(ctx, &backup.GetRecoveryPointRestoreMetadataInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: &rpArn})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: &rpArn, Metadata: rmd.RestoreMetadata})
	wantAPIError(t, err, "InvalidParameterValueException", "dbInstanceIdentifier", "already exists")

	md := rmd.RestoreMetadata
	md["DBInstanceIdentifier"] = "shop-restored"
	delete(md, "dbInstanceIdentifier")
	md["dbName"] = "shop_restored"
	d := e.restoreDone(t, rpArn, md)
	if got := pg.Dump(t, "shop_restored"); got != want {
		t.Errorf("restored database differs from the source at backup time")
	}
	if got := pg.QueryString(t, "shop_restored", "SELECT count(*)::text FROM items"); got != "5000" {
		t.Errorf("restored database has %s rows, want the 5000 of backup time", got)
	}
	newArn := domain.ResourceARN(domain.RDS, "us-east-1", testAccount, "shop-restored")
	if aws.ToString(d.CreatedResourceArn) != newArn {
		t.Errorf("got CreatedResourceArn %s, want %s", aws.ToString(d.CreatedResourceArn), newArn)
	}
	if strings.Contains(aws.ToString(d.StatusMessage), pg.Password) {
		t.Error("the job's message shows the password")
	}
	if n := pg.QueryString(t, "postgres", "SELECT count(*)::text FROM pg_database WHERE datname LIKE 'coffer_restore_%'"); n != "0" {
		t.Errorf("%s staging databases left", n)
	}
	// The new database is a resource: it can be backed up.
	e.backupDone(t, "v1", newArn)

	for _, tc := range []struct {
		name      string
		md        map[string]string
		code      string
		fragments []string
	}{
		{"identifier taken", map[string]string{"dbInstanceIdentifier": "shop-restored", "dbName": "other"}, "InvalidParameterValueException", []string{"shop-restored", "already exists"}},
		{"database name taken", map[string]string{"dbInstanceIdentifier": "fresh", "dbName": "shop"}, "InvalidParameterValueException", []string{`"shop"`, "already exists"}},
		{"no identifier", map[string]string{"dbName": "x"}, "MissingParameterValueException", []string{"dbInstanceIdentifier"}},
		{"bad identifier", map[string]string{"dbInstanceIdentifier": "9lives"}, "InvalidParameterValueException", []string{"dbInstanceIdentifier"}},
		{"bad database name", map[string]string{"dbInstanceIdentifier": "ok", "dbName": "a;drop"}, "InvalidParameterValueException", []string{"dbName"}},
		{"other engine", map[string]string{"dbInstanceIdentifier": "ok", "engine": "mysql"}, "InvalidParameterValueException", []string{"postgres"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.StartRestoreJob(ctx, &backup.StartRestoreJobInput{RecoveryPointArn: &rpArn, Metadata: tc.md})
			wantAPIError(t, err, tc.code, tc.fragments...)
		})
	}
}

// mountTmpfs mounts a tmpfs with the options at dir (which must exist) for
// the test; it skips the test when that is not possible (not root, no
// mount permission), or fails it under CI=true.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run this test as root (it mounts a tmpfs)")
		}
		t.Skip("needs root to mount a tmpfs")
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v", err)
		}
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// TestRestoreTargetFaults: a target file system that is read-only or full
// fails the job with the cause, and nothing outside the restore directory
// changes; a full one keeps what was restored under
// aws-backup-failed-restore_.
func TestRestoreTargetFaults(t *testing.T) {
	ctx := context.Background()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 40, MaxFileSize: 400 << 10, SparseSize: -1})
	res := efsResource(src)
	roDir, fullDir := t.TempDir(), t.TempDir()
	ro, full := efsResource(roDir), efsResource(fullDir)
	mountTmpfs(t, roDir, "size=1m")
	if err := os.WriteFile(filepath.Join(roDir, "live-data"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("", roDir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, "size=1m"); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}
	mountTmpfs(t, fullDir, "size=1m")
	if err := os.WriteFile(filepath.Join(fullDir, "live-data"), []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res, ro, full}})
	e.createVault(t, "files")
	rpArn := aws.ToString(e.backupDone(t, "files", res.ARN).RecoveryPointArn)

	d := e.waitRestore(t, e.restoreJob(t, rpArn, map[string]string{"newFileSystem": "false", "file-system-id": ro.ID}, nil))
	t.Logf("read-only target: %s", aws.ToString(d.StatusMessage))
	if d.Status != types.RestoreJobStatusFailed || !strings.Contains(aws.ToString(d.StatusMessage), "read-only file system") ||
		!strings.Contains(aws.ToString(d.StatusMessage), ro.ID) {
		t.Errorf("read-only target: got %s %q, want FAILED naming the file system and the cause", d.Status, aws.ToString(d.StatusMessage))
	}

	d = e.waitRestore(t, e.restoreJob(t, rpArn, map[string]string{"newFileSystem": "false", "file-system-id": full.ID}, nil))
	msg := aws.ToString(d.StatusMessage)
	t.Logf("full target: %s", msg)
	if d.Status != types.RestoreJobStatusFailed || !strings.Contains(msg, "no space left on device") || !strings.Contains(msg, "aws-backup-failed-restore_") {
		t.Errorf("full target: got %s %q, want FAILED with the cause and where the partial output is", d.Status, msg)
	}
	ents, _ := os.ReadDir(fullDir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[1] != "live-data" || !strings.HasPrefix(names[0], "aws-backup-failed-restore_") {
		t.Errorf("full target holds %v, want the live data and one aws-backup-failed-restore_ directory", names)
	}
	for _, dir := range []string{roDir, fullDir} {
		if b, err := os.ReadFile(filepath.Join(dir, "live-data")); err != nil || string(b) != "precious" {
			t.Errorf("%s: live data changed: %q %v", dir, b, err)
		}
	}
	if _, err := e.store.GetJob(ctx, aws.ToString(d.RestoreJobId)); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreCorruptChunk: a damaged chunk fails a full restore with a
// message naming the file; a restore of items that do not need it
// succeeds.
func TestRestoreCorruptChunk(t *testing.T) {
	src := writeFiles(t, map[string]string{
		"victim/data.bin": bigFile(300<<10, 21),
		"safe/other.bin":  bigFile(200<<10, 22),
	})
	res := efsResource(src)
	other := efsResource(t.TempDir())
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res, other}})
	e.createVault(t, "files")
	rpArn := aws.ToString(e.backupDone(t, "files", res.ARN).RecoveryPointArn)
	corruptFileChunk(t, e, "files", rpArn, "victim/data.bin")

	d := e.waitRestore(t, e.restoreJob(t, rpArn, map[string]string{"newFileSystem": "false", "file-system-id": other.ID}, nil))
	t.Logf("corrupt chunk: %s", aws.ToString(d.StatusMessage))
	if d.Status != types.RestoreJobStatusFailed || !strings.Contains(aws.ToString(d.StatusMessage), "victim/data.bin") {
		t.Errorf("corrupt chunk: got %s %q, want FAILED naming victim/data.bin", d.Status, aws.ToString(d.StatusMessage))
	}
	e.restoreDone(t, rpArn, map[string]string{"newFileSystem": "false", "file-system-id": other.ID, "ItemsToRestore": `["/safe"]`})
	dirs := restoreDirs(t, other.Target, "aws-backup-restore_")
	if len(dirs) != 1 {
		t.Fatalf("got restore directories %v, want one", dirs)
	}
	if diff := archivetest.Diff(subset(archivetest.MustLines(t, src), "safe"), archivetest.MustLines(t, dirs[0])); diff != "" {
		t.Errorf("ItemsToRestore avoiding the damage: restored tree differs:\n%s", diff)
	}
	if failedDirs := restoreDirs(t, other.Target, "aws-backup-failed-restore_"); len(failedDirs) != 1 {
		t.Errorf("got failed restore directories %v, want the first restore's", failedDirs)
	}
}

// corruptFileChunk flips a byte in the middle of the stored chunk of a
// file of a recovery point, in the vault's storage on disk.
func corruptFileChunk(t *testing.T, e *dataEnv, vaultName, rpArn, file string) {
	t.Helper()
	ctx := context.Background()
	vr := e.openVault(t, vaultName)
	snap, err := vr.Archive.LoadSnapshot(ctx, archive.ID(e.snapshotOf(t, rpArn)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := archive.ResolvePath(ctx, vr.Archive, snap.Root, file)
	if err != nil || len(n.Content) == 0 {
		t.Fatalf("resolve %s: %v", file, err)
	}
	loc, ok := vr.Archive.Lookup(tree.DataBlob, n.Content[0].ID)
	if !ok {
		t.Fatalf("chunk of %s not in the index", file)
	}
	var pack string
	_ = filepath.Walk(filepath.Join(e.dir, "storage"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.HasPrefix(fi.Name(), loc.Pack.String()) {
			pack = p
		}
		return nil
	})
	if pack == "" {
		t.Fatalf("pack %s not found in the storage", loc.Pack)
	}
	f, err := os.OpenFile(pack, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	off := loc.Offset + loc.Length/2
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x55
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreJobListsAndValidation(t *testing.T) {
	ctx := context.Background()
	e, res, other, rpArn := efsBackup(t, 5)
	c := e.client("us-east-1")
	t0 := e.clock.Now()
	var ids []string
	for range 3 {
		e.clock.Advance(time.Minute)
		ids = append(ids, aws.ToString(e.restoreDone(t, rpArn, map[string]string{"newFileSystem": "false", "file-system-id": other.ID}).RestoreJobId))
	}
	e.clock.Advance(time.Minute)
	bad := e.waitRestore(t, e.restoreJob(t, rpArn, map[string]string{"newFileSystem": "false", "file-system-id": other.ID, "ItemsToRestore": `["/a"]`}, func(in *backup.StartRestoreJobInput) {
		in.ResourceType = aws.String("EFS")
	}))
	if bad.Status != types.RestoreJobStatusCompleted {
		t.Fatalf("got %s", bad.Status)
	}
	ids = append(ids, aws.ToString(bad.RestoreJobId))

	count := func(in *backup.ListRestoreJobsInput) int {
		t.Helper()
		n := 0
		p := backup.NewListRestoreJobsPaginator(c, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n += len(page.RestoreJobs)
		}
		return n
	}
	for _, tc := range []struct {
		name string
		in   backup.ListRestoreJobsInput
		want int
	}{
		{"all, one per page", backup.ListRestoreJobsInput{MaxResults: aws.Int32(1)}, 4},
		{"status COMPLETED", backup.ListRestoreJobsInput{ByStatus: types.RestoreJobStatusCompleted}, 4},
		{"status FAILED", backup.ListRestoreJobsInput{ByStatus: types.RestoreJobStatusFailed}, 0},
		{"resource type EFS", backup.ListRestoreJobsInput{ByResourceType: aws.String("EFS")}, 4},
		{"resource type EBS", backup.ListRestoreJobsInput{ByResourceType: aws.String("EBS")}, 0},
		{"created after the second", backup.ListRestoreJobsInput{ByCreatedAfter: aws.Time(t0.Add(2*time.Minute + time.Second))}, 2},
		{"created before the second", backup.ListRestoreJobsInput{ByCreatedBefore: aws.Time(t0.Add(2 * time.Minute))}, 1},
		{"completed after", backup.ListRestoreJobsInput{ByCompleteAfter: aws.Time(t0)}, 4},
		{"completed before", backup.ListRestoreJobsInput{ByCompleteBefore: aws.Time(t0)}, 0},
		{"own account", backup.ListRestoreJobsInput{ByAccountId: aws.String(testAccount)}, 4},
		{"other account", backup.ListRestoreJobsInput{ByAccountId: aws.String("999999999999")}, 0},
		{"parent job", backup.ListRestoreJobsInput{ByParentJobId: aws.String("X")}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(&tc.in); got != tc.want {
				t.Errorf("got %d jobs, want %d", got, tc.want)
			}
		})
	}
	first, err := c.ListRestoreJobs(ctx, &backup.ListRestoreJobsInput{MaxResults: aws.Int32(1)})
	if err != nil || len(first.RestoreJobs) != 1 || aws.ToString(first.RestoreJobs[0].RestoreJobId) != ids[3] {
		t.Errorf("newest first: got %+v (%v), want %s", first, err, ids[3])
	} else if m := first.RestoreJobs[0]; aws.ToString(m.CreatedResourceArn) != other.ARN || aws.ToString(m.SourceResourceArn) != res.ARN || m.Status != types.RestoreJobStatusCompleted {
		t.Errorf("list member: got %+v", m)
	}
	_, err = c.ListRestoreJobs(ctx, &backup.ListRestoreJobsInput{ByResourceType: aws.String("Floppy")})
	wantAPIError(t, err, "InvalidParameterValueException", "Floppy")

	byRes, err := c.ListRestoreJobsByProtectedResource(ctx, &backup.ListRestoreJobsByProtectedResourceInput{ResourceArn: &res.ARN, ByStatus: types.RestoreJobStatusCompleted})
	if err != nil || len(byRes.RestoreJobs) != 4 {
		t.Errorf("ListRestoreJobsByProtectedResource: got %d (%v), want 4", len(byRes.RestoreJobs), err)
	}
	byRes, err = c.ListRestoreJobsByProtectedResource(ctx, &backup.ListRestoreJobsByProtectedResourceInput{ResourceArn: &other.ARN})
	if err != nil || len(byRes.RestoreJobs) != 0 {
		t.Errorf("ListRestoreJobsByProtectedResource of the target: got %d (%v), want 0 (its own points were never restored)", len(byRes.RestoreJobs), err)
	}
	byRes, err = c.ListRestoreJobsByProtectedResource(ctx, &backup.ListRestoreJobsByProtectedResourceInput{ResourceArn: &res.ARN, ByRecoveryPointCreationDateAfter: aws.Time(e.clock.Now())})
	if err != nil || len(byRes.RestoreJobs) != 0 {
		t.Errorf("recovery point created after now: got %d (%v), want 0", len(byRes.RestoreJobs), err)
	}
	_, err = c.ListRestoreJobsByProtectedResource(ctx, &backup.ListRestoreJobsByProtectedResourceInput{ResourceArn: aws.String("arn:aws:nope")})
	wantAPIError(t, err, "InvalidParameterValueException")

	sum, err := c.ListRestoreJobSummaries(ctx, &backup.ListRestoreJobSummariesInput{AggregationPeriod: types.AggregationPeriodSevenDays})
	if err != nil || len(sum.RestoreJobSummaries) != 1 || sum.RestoreJobSummaries[0].Count != 4 ||
		sum.RestoreJobSummaries[0].State != types.RestoreJobStateCompleted || aws.ToString(sum.RestoreJobSummaries[0].ResourceType) != "EFS" {
		t.Errorf("ListRestoreJobSummaries: got %+v (%v), want one row: 4 COMPLETED EFS", sum, err)
	}
	sum, err = c.ListRestoreJobSummaries(ctx, &backup.ListRestoreJobSummariesInput{State: types.RestoreJobStateAggregateAll, ResourceType: aws.String("AGGREGATE_ALL")})
	if err != nil || aws.ToString(sum.AggregationPeriod) != "ONE_DAY" || len(sum.RestoreJobSummaries) != 1 || sum.RestoreJobSummaries[0].State != types.RestoreJobStateAggregateAll {
		t.Errorf("ListRestoreJobSummaries AGGREGATE_ALL: got %+v (%v)", sum, err)
	}

	// Validation results.
	id := ids[0]
	put := func(status types.RestoreValidationStatus, msg string) error {
		_, err := c.PutRestoreValidationResult(ctx, &backup.PutRestoreValidationResultInput{RestoreJobId: &id, ValidationStatus: status, ValidationStatusMessage: aws.String(msg)})
		return err
	}
	for _, step := range []struct {
		status types.RestoreValidationStatus
		msg    string
		code   string
	}{
		{types.RestoreValidationStatusValidating, "checking", ""},
		{types.RestoreValidationStatusSuccessful, "all rows there", ""},
		{types.RestoreValidationStatusSuccessful, "all rows there (retry)", ""},
		{types.RestoreValidationStatusFailed, "changed my mind", "InvalidRequestException"},
		{types.RestoreValidationStatus("MAYBE"), "", "InvalidParameterValueException"},
	} {
		err := put(step.status, step.msg)
		if step.code == "" && err != nil {
			t.Errorf("PutRestoreValidationResult %s: %v", step.status, err)
		}
		if step.code != "" {
			wantAPIError(t, err, step.code)
		}
	}
	d, err := c.DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: &id})
	if err != nil || d.ValidationStatus != types.RestoreValidationStatusSuccessful || aws.ToString(d.ValidationStatusMessage) != "all rows there (retry)" {
		t.Errorf("DescribeRestoreJob after validation: got %s %q (%v)", d.ValidationStatus, aws.ToString(d.ValidationStatusMessage), err)
	}
	_, err = c.PutRestoreValidationResult(ctx, &backup.PutRestoreValidationResultInput{RestoreJobId: aws.String("0000-NOPE"), ValidationStatus: types.RestoreValidationStatusSuccessful})
	wantAPIError(t, err, "ResourceNotFoundException", "0000-NOPE")
	_, err = c.DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: aws.String("0000-NOPE")})
	as[*types.ResourceNotFoundException](t, err)
	// Jobs of one region are not visible in another.
	_, err = e.client("us-west-2").DescribeRestoreJob(ctx, &backup.DescribeRestoreJobInput{RestoreJobId: &id})
	wantAPIError(t, err, "ResourceNotFoundException", "us-west-2")
	if _, err := e.client("us-west-2").GetRestoreJobMetadata(ctx, &backup.GetRestoreJobMetadataInput{RestoreJobId: &id}); err == nil {
		t.Error("GetRestoreJobMetadata from another region: got the job")
	}
}

// TestInterruptedRestoresSettled: restore jobs whose Coffer process died
// while they ran (RUNNING, leased to an earlier incarnation of the node) are
// settled when the runner starts: each ends FAILED, the partial file system
// restore is renamed aws-backup-failed-restore_, the partial volume image
// and the staging database are removed, the claimed database identifier is
// released.
func TestInterruptedRestoresSettled(t *testing.T) {
	ctx := context.Background()
	d := t.TempDir()
	src := writeFiles(t, map[string]string{"a/b": "content"})
	fs, other := efsResource(src), efsResource(t.TempDir())
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, []byte(bigFile(1<<20, 3)), 0o644); err != nil {
		t.Fatal(err)
	}
	vol := ebsResource(img)
	pg := pgtest.Start(t)
	pg.CreateDB(t, "shop")
	pg.Exec(t, "shop", `CREATE TABLE t (x int); INSERT INTO t VALUES (1), (2);`)
	db := rdsResource("shop", pg.DSN("shop"))
	resources := []domain.Resource{fs, other, vol, db}

	rps := map[domain.ResourceType]string{}
	t.Run("first run", func(t *testing.T) {
		e := newDataEnv(t, dataOptions{resources: resources, dataDir: d})
		e.createVault(t, "v1")
		for _, r := range []domain.Resource{fs, vol, db} {
			rps[r.Type] = aws.ToString(e.backupDone(t, "v1", r.ARN).RecoveryPointArn)
		}
	})

	ids := domain.NewIDs(nil)
	jobs := map[domain.ResourceType]domain.Job{}
	restoreRoot := filepath.Join(d, "restores")
	partialDir := filepath.Join(other.Target, "aws-backup-restore_2025-06-01T12-00-00-000Z")
	var tmpImage, staging string
	setup := func(store *sqlite.Store) {
		created := time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC)
		for _, r := range []domain.Resource{fs, vol, db} {
			rp, err := store.GetRecoveryPoint(ctx, rps[r.Type])
			if err != nil {
				t.Fatal(err)
			}
			j := domain.Job{ID: ids.JobID(), Kind: domain.RestoreJob, Region: "us-east-1", AccountID: testAccount, State: domain.JobPending,
				CreationDate: created, ResourceArn: r.ARN, ResourceType: r.Type,
				Restore: &domain.RestoreDetails{RecoveryPointArn: rp.ARN, BackupVaultArn: rp.VaultArn, RecoveryPointCreationDate: rp.CreationDate}}
			switch r.Type {
			case domain.EFS:
				j.Restore.Metadata = map[string]string{"newFileSystem": "false", "file-system-id": other.ID}
				j.Restore.Target, j.Restore.CreatedResourceArn = partialDir, other.ARN
				if err := os.MkdirAll(filepath.Join(partialDir, "a"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(partialDir, "a", "b"), []byte("cont"), 0o644); err != nil {
					t.Fatal(err)
				}
			case domain.EBS:
				if err := os.MkdirAll(restoreRoot, 0o755); err != nil {
					t.Fatal(err)
				}
				tmpImage = filepath.Join(restoreRoot, ".vol-x.img.coffer-restore-"+strings.ToLower(j.ID))
				j.Restore.Target = tmpImage
				if err := os.WriteFile(tmpImage, []byte("partial"), 0o644); err != nil {
					t.Fatal(err)
				}
			case domain.RDS:
				j.Restore.Metadata = map[string]string{"dbInstanceIdentifier": "shop-new", "dbName": "shop_new"}
				staging = "coffer_restore_" + strings.ToLower(strings.ReplaceAll(j.ID, "-", ""))
				j.Restore.Target = staging
				pg.CreateDB(t, staging)
				claim := domain.Resource{ARN: domain.ResourceARN(domain.RDS, "us-east-1", testAccount, "shop-new"), Type: domain.RDS,
					Region: "us-east-1", AccountID: testAccount, ID: "shop-new", Origin: "restore", CreatedByJobID: j.ID}
				if err := store.CreateResource(ctx, claim); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := store.CreateJob(ctx, j, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := store.UpdateJob(ctx, j.ID, func(x *domain.Job) error {
				x.LeaseOwner, x.LeaseExpiry = "test-node/0123456789ab/w1", created.Add(24*time.Hour)
				return x.SetState(domain.JobRunning, created)
			}); err != nil {
				t.Fatal(err)
			}
			jobs[r.Type] = j
		}
	}
	e := newDataEnv(t, dataOptions{resources: resources, dataDir: d, before: setup})
	for typ, j := range jobs {
		got := e.waitRestore(t, j.ID)
		msg := aws.ToString(got.StatusMessage)
		if got.Status != types.RestoreJobStatusFailed || !strings.Contains(msg, "interrupted") {
			t.Errorf("%s restore: got %s %q, want FAILED interrupted", typ, got.Status, msg)
		}
		if typ == domain.EFS && !strings.Contains(msg, "aws-backup-failed-restore_2025-06-01T12-00-00-000Z") {
			t.Errorf("EFS restore: message %q does not say where the partial output is", msg)
		}
	}
	if _, err := os.Stat(partialDir); !os.IsNotExist(err) {
		t.Errorf("the partial restore directory keeps its name: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(other.Target, "aws-backup-failed-restore_2025-06-01T12-00-00-000Z", "a", "b")); err != nil || string(b) != "cont" {
		t.Errorf("the partial output was not kept under aws-backup-failed-restore_: %q %v", b, err)
	}
	if _, err := os.Stat(tmpImage); !os.IsNotExist(err) {
		t.Errorf("the partial volume image is still there: %v", err)
	}
	if n := pg.QueryString(t, "postgres", "SELECT count(*)::text FROM pg_database WHERE datname = '"+staging+"'"); n != "0" {
		t.Errorf("the staging database is still there")
	}
	if _, err := e.store.GetResource(ctx, domain.ResourceARN(domain.RDS, "us-east-1", testAccount, "shop-new")); domain.KindOf(err) != domain.KindNotFound {
		t.Errorf("the claimed identifier was not released: %v", err)
	}
	// The identifier is free again: a restore takes it.
	e.restoreDone(t, rps[domain.RDS], map[string]string{"dbInstanceIdentifier": "shop-new", "dbName": "shop_new"})
	if got := pg.QueryString(t, "shop_new", "SELECT count(*)::text FROM t"); got != "2" {
		t.Errorf("restored database has %s rows, want 2", got)
	}
}

// A recovery point that a queued or running restore still has to read cannot
// be deleted (InvalidResourceStateException); once the restore ended it can.
func TestDeleteRecoveryPointRefusedWhileRestoring(t *testing.T) {
	ctx := context.Background()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 10})
	res, busy, target := efsResource(src), efsResource(manyFiles(t, 20)), efsResource(t.TempDir())
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res, busy, target}, workers: 1})
	e.createVault(t, "files")
	c := e.client("us-east-1")
	rpArn := aws.ToString(e.backupDone(t, "files", res.ARN).RecoveryPointArn)
	// The only worker is held by another backup, so the restore stays queued.
	release, entered := e.gate.hold(busy.Target)
	hold := e.start(t, "files", busy.ARN, nil)
	<-entered
	id := e.restoreJob(t, rpArn, map[string]string{"newFileSystem": "false", "file-system-id": target.ID}, nil)
	_, err := c.DeleteRecoveryPoint(ctx, &backup.DeleteRecoveryPointInput{BackupVaultName: aws.String("files"), RecoveryPointArn: &rpArn})
	wantAPIError(t, err, "InvalidResourceStateException", rpArn, id)
	as[*types.InvalidResourceStateException](t, err)
	release()
	e.wait(t, aws.ToString(hold.BackupJobId), types.BackupJobStateCompleted)
	if d := e.waitRestore(t, id); d.Status != types.RestoreJobStatusCompleted {
		t.Fatalf("restore: got %s: %s", d.Status, aws.ToString(d.StatusMessage))
	}
	if _, err := c.DeleteRecoveryPoint(ctx, &backup.DeleteRecoveryPointInput{BackupVaultName: aws.String("files"), RecoveryPointArn: &rpArn}); err != nil {
		t.Fatalf("delete after the restore ended: %v", err)
	}
}
