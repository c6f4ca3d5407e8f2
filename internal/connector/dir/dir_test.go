package dir_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/archivetest"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/connector/dir"
)

func resource(path string) backup.Resource {
	return backup.Resource{ARN: "arn:aws:elasticfilesystem:us-east-1:111122223333:file-system/fs-0123456789abcdef0",
		Type: backup.EFS, ID: "fs-0123456789abcdef0", Target: path}
}

func TestBackupRestoreRoundTripAndIncremental(t *testing.T) {
	ctx := context.Background()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 40, SparseSize: 8 << 20})
	if err := archivetest.MkFifo(filepath.Join(src, "a-fifo")); err != nil {
		t.Fatal(err)
	}
	repo := archivetest.NewMemRepo()
	c := &dir.Connector{}
	r := resource(src)
	var last connector.Progress
	res, err := c.Backup(ctx, r, connector.BackupRequest{Repo: repo, Progress: func(p connector.Progress) { last = p }})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if res.Kind != "tree" || res.Files == 0 || res.LogicalBytes == 0 || res.BytesNew == 0 {
		t.Errorf("got result %+v, want a tree with files and new bytes", res)
	}
	if last.Percent != 100 || last.ItemsDone != res.Files {
		t.Errorf("got final progress %+v, want 100%% and %d files", last, res.Files)
	}
	if got := res.RestoreMetadata["file-system-id"]; got != r.ID {
		t.Errorf("got file-system-id %q, want %q", got, r.ID)
	}
	fifoWarned := false
	for _, w := range res.Warnings {
		fifoWarned = fifoWarned || (w.Path == "a-fifo" && strings.Contains(w.Message, "FIFO"))
	}
	if !fifoWarned {
		t.Errorf("got warnings %v, want the FIFO skipped with a note", res.Warnings)
	}

	dst := filepath.Join(t.TempDir(), "restore")
	rr, err := c.Restore(ctx, connector.RestoreRequest{Repo: repo, Snapshot: res.Snapshot, Target: dst, RootMeta: true})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if rr.Files != res.Files {
		t.Errorf("restored %d files, want %d", rr.Files, res.Files)
	}
	os.Remove(filepath.Join(src, "a-fifo"))
	if d := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, dst)); d != "" {
		t.Errorf("restored tree differs from the source:\n%s", d)
	}
	// Restoring over the result again without Overwrite: the target exists.
	if _, err := c.Restore(ctx, connector.RestoreRequest{Repo: repo, Snapshot: res.Snapshot, Target: dst}); !errors.Is(err, connector.ErrTargetExists) {
		t.Errorf("second restore: got %v, want ErrTargetExists", err)
	}

	// Incremental, nothing changed: no file is read, nothing new stored.
	inc, err := c.Backup(ctx, r, connector.BackupRequest{Repo: repo, Parent: &res.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if inc.BytesRead != 0 || inc.BytesNew != 0 || inc.Stats.FilesUnchanged != inc.Files {
		t.Errorf("unchanged incremental: read %d, new %d, unchanged %d of %d; want nothing read or stored", inc.BytesRead, inc.BytesNew, inc.Stats.FilesUnchanged, inc.Files)
	}
	// One changed file: only it is read.
	if err := os.WriteFile(filepath.Join(src, "changed.txt"), []byte(strings.Repeat("new data ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	inc2, err := c.Backup(ctx, r, connector.BackupRequest{Repo: repo, Parent: &inc.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	if inc2.BytesRead != 9000 || inc2.Stats.FilesNew != 1 {
		t.Errorf("incremental with one new file: read %d bytes, %d new files; want 9000 and 1", inc2.BytesRead, inc2.Stats.FilesNew)
	}
}

func TestBackupFaults(t *testing.T) {
	ctx := context.Background()
	c := &dir.Connector{}
	missing := resource(filepath.Join(t.TempDir(), "nope"))
	if err := c.Check(ctx, missing); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("Check of a missing directory: got %v, want ErrUnavailable", err)
	}
	if _, err := c.Backup(ctx, missing, connector.BackupRequest{Repo: archivetest.NewMemRepo()}); !errors.Is(err, connector.ErrUnavailable) {
		t.Errorf("Backup of a missing directory: got %v, want ErrUnavailable", err)
	}
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 20, SparseSize: -1})
	repo := archivetest.NewMemRepo()
	n := 0
	c.BeforeOpen = func(p string) error {
		n++
		if n > 5 {
			return &os.PathError{Op: "open", Path: p, Err: syscall.EACCES}
		}
		return nil
	}
	_, err := c.Backup(ctx, resource(src), connector.BackupRequest{Repo: repo})
	if !errors.Is(err, connector.ErrSourceFailed) || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("a source that becomes unreadable: got %v, want ErrSourceFailed naming the cause", err)
	}
	snaps := 0
	_ = repo.ListSnapshots(ctx, func(archive.ID, *archive.Snapshot) error { snaps++; return nil })
	if snaps != 0 {
		t.Errorf("a failed backup committed %d snapshots", snaps)
	}
}
