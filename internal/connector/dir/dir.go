// Package dir is the connector for EFS resources: a directory tree on a
// local (or locally mounted) file system, backed up with the directory
// archiver (files, directories, symlinks, hard links, modes, owners, times,
// xattrs; sockets and FIFOs skipped with a warning; incremental against the
// previous snapshot: unchanged files are not read) and restored with the
// archive restorer.
//
// Vocabulary: the resource's Target is the directory's absolute path (the
// file system's root). An unreadable file or directory below the root fails
// the backup (the snapshot would silently miss it) unless
// Connector.SkipUnreadable is set; a file that changes while it is read is
// stored as read and reported as a warning.
package dir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector"
)

// Connector backs up and restores directory trees. The zero value is
// ready to use.
type Connector struct {
	// SkipUnreadable leaves unreadable files and directories out with a
	// warning instead of failing the backup.
	SkipUnreadable bool
	// Concurrency is the number of files read or restored at once (default:
	// the archiver's).
	Concurrency int
	// BeforeOpen, if set, is called before every file and directory is
	// opened for reading (tests inject faults with it).
	BeforeOpen func(path string) error
}

var _ connector.Connector = (*Connector)(nil)

// Type returns EFS.
func (c *Connector) Type() backup.ResourceType { return backup.EFS }

// Check reports whether the root directory exists and can be listed.
func (c *Connector) Check(ctx context.Context, r backup.Resource) error {
	f, err := os.Open(r.Target)
	if err != nil {
		return fmt.Errorf("%w: file system %s: %v", connector.ErrUnavailable, r.ID, unwrapPath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: file system %s: %v", connector.ErrUnavailable, r.ID, unwrapPath(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: file system %s: %s is not a directory", connector.ErrUnavailable, r.ID, r.Target)
	}
	if _, err := f.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: file system %s: cannot list %s: %v", connector.ErrUnavailable, r.ID, r.Target, unwrapPath(err))
	}
	return nil
}

// Backup backs up the tree at r.Target.
func (c *Connector) Backup(ctx context.Context, r backup.Resource, req connector.BackupRequest) (*connector.BackupResult, error) {
	if err := c.Check(ctx, r); err != nil {
		return nil, err
	}
	opts := archive.Options{
		Parent:         req.Parent,
		Hostname:       req.Hostname,
		Tags:           req.Tags,
		Meta:           req.Meta,
		SkipUnreadable: c.SkipUnreadable,
		Concurrency:    c.Concurrency,
		Clock:          req.Clock,
		Logger:         req.Logger,
		BeforeOpen:     c.BeforeOpen,
	}
	if req.Progress != nil {
		opts.Progress = func(p archive.Progress) { req.Progress(treeProgress(p)) }
	}
	res, err := archive.BackupDir(ctx, req.Repo, r.Target, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		if errors.Is(err, archive.ErrUnreadable) {
			return nil, fmt.Errorf("%w: file system %s: %w", connector.ErrSourceFailed, r.ID, err)
		}
		return nil, fmt.Errorf("backing up file system %s: %w", r.ID, err)
	}
	st := res.Stats
	return &connector.BackupResult{
		Snapshot:        res.ID,
		Kind:            archive.KindTree,
		LogicalBytes:    st.Size,
		BytesRead:       st.BytesRead,
		BytesNew:        st.BytesNew,
		Files:           st.Files,
		Stats:           st,
		Warnings:        res.Warnings,
		RestoreMetadata: map[string]string{"file-system-id": r.ID},
	}, nil
}

// treeProgress maps the archiver's progress: bytes read from the source,
// files done, and a percentage of the content bytes done (at most 99 until
// the scan is complete).
func treeProgress(p archive.Progress) connector.Progress {
	pct := connector.Percent(p.BytesDone, p.BytesTotal)
	if p.BytesTotal == 0 && p.FilesTotal > 0 {
		pct = connector.Percent(p.FilesDone, p.FilesTotal)
	}
	if !p.ScanDone && pct > 99 {
		pct = 99
	}
	return connector.Progress{BytesDone: p.BytesRead, BytesTotal: p.BytesTotal, ItemsDone: p.FilesDone, ItemsTotal: p.FilesTotal, Percent: pct}
}

// Restore restores the snapshot (or req.Include) into the directory
// req.Target.
func (c *Connector) Restore(ctx context.Context, req connector.RestoreRequest) (*connector.RestoreResult, error) {
	opts := archive.RestoreOptions{
		Include:     req.Include,
		Overwrite:   req.Overwrite,
		RootMeta:    req.RootMeta,
		Concurrency: c.Concurrency,
		Clock:       req.Clock,
		Logger:      req.Logger,
	}
	if req.Progress != nil {
		opts.Progress = func(p archive.Progress) { req.Progress(restoreProgress(p)) }
	}
	st, err := archive.Restore(ctx, req.Repo, req.Snapshot, req.Target, opts)
	if err != nil {
		if errors.Is(err, archive.ErrExists) {
			return nil, fmt.Errorf("%w: %w", connector.ErrTargetExists, err)
		}
		return nil, err
	}
	return &connector.RestoreResult{Bytes: st.Size, Files: st.Files, Target: req.Target}, nil
}

func restoreProgress(p archive.Progress) connector.Progress {
	return connector.Progress{BytesDone: p.BytesDone, BytesTotal: p.BytesTotal, ItemsDone: p.FilesDone, ItemsTotal: p.FilesTotal,
		Percent: connector.Percent(p.BytesDone, p.BytesTotal)}
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
