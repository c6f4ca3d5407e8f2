// Package volume is the connector for EBS resources: a volume image file
// or a block device, backed up as fixed-size blocks (holes and all-zero
// blocks stored as holes; incremental: an image whose size, mtime, ctime
// and inode are unchanged since the previous snapshot is not read at all,
// otherwise only blocks the repository lacks are stored) and restored into
// a new, sparse image file.
//
// Vocabulary: the resource's Target is the image's or device's absolute
// path. A volume's size is its provisioned size: what BackupSizeInBytes
// reports for EBS backups.
package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector"
)

// Connector backs up and restores volumes. The zero value is ready to use.
type Connector struct {
	// BlockSize overrides archive.VolumeBlockSize (tests).
	BlockSize int
}

var _ connector.Connector = (*Connector)(nil)

// Type returns EBS.
func (c *Connector) Type() backup.ResourceType { return backup.EBS }

// Size returns the size of the image or block device at path.
func Size(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Mode().IsRegular() {
		return fi.Size(), nil
	}
	if fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
		n, err := unix.Seek(int(f.Fd()), 0, unix.SEEK_END)
		if err != nil {
			return 0, err
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s is neither a regular file nor a block device", path)
}

// Check reports whether the image or device can be opened and sized.
func (c *Connector) Check(ctx context.Context, r backup.Resource) error {
	if _, err := Size(r.Target); err != nil {
		return fmt.Errorf("%w: volume %s: %v", connector.ErrUnavailable, r.ID, unwrapPath(err))
	}
	return nil
}

// Backup backs up the volume at r.Target.
func (c *Connector) Backup(ctx context.Context, r backup.Resource, req connector.BackupRequest) (*connector.BackupResult, error) {
	size, err := Size(r.Target)
	if err != nil {
		return nil, fmt.Errorf("%w: volume %s: %v", connector.ErrUnavailable, r.ID, unwrapPath(err))
	}
	opts := archive.StreamOptions{
		Parent:    req.Parent,
		Hostname:  req.Hostname,
		Paths:     []string{r.Target},
		Tags:      req.Tags,
		Meta:      req.Meta,
		Clock:     req.Clock,
		Logger:    req.Logger,
		BlockSize: c.BlockSize,
	}
	if req.Progress != nil {
		opts.Progress = func(p archive.Progress) {
			req.Progress(connector.Progress{BytesDone: p.BytesRead, BytesTotal: size, ItemsDone: p.FilesDone, ItemsTotal: 1,
				Percent: connector.Percent(p.BytesDone, size)})
		}
	}
	res, err := archive.BackupVolume(ctx, req.Repo, r.Target, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: volume %s: %w", connector.ErrSourceFailed, r.ID, err)
	}
	st := res.Stats
	gib := (res.Snapshot.Size + (1<<30 - 1)) >> 30
	return &connector.BackupResult{
		Snapshot:     res.ID,
		Kind:         archive.KindStream,
		LogicalBytes: res.Snapshot.Size,
		BytesRead:    st.BytesRead,
		BytesNew:     st.BytesNew,
		Files:        1,
		Stats:        st,
		Warnings:     res.Warnings,
		RestoreMetadata: map[string]string{
			"volumeSize": strconv.FormatInt(max(gib, 1), 10),
			"volumeType": "gp3",
		},
	}, nil
}

// Restore writes the snapshot into a new image file at req.Target (sparse).
// Block devices are not supported as targets.
func (c *Connector) Restore(ctx context.Context, req connector.RestoreRequest) (*connector.RestoreResult, error) {
	if len(req.Include) > 0 {
		return nil, fmt.Errorf("%w: include paths for a volume restore", connector.ErrNotSupported)
	}
	if fi, err := os.Stat(req.Target); err == nil && fi.Mode()&os.ModeDevice != 0 {
		return nil, fmt.Errorf("%w: restoring onto a block device", connector.ErrNotSupported)
	}
	opts := archive.RestoreOptions{Overwrite: req.Overwrite, Clock: req.Clock, Logger: req.Logger}
	if req.Progress != nil {
		opts.Progress = func(p archive.Progress) {
			req.Progress(connector.Progress{BytesDone: p.BytesDone, BytesTotal: p.BytesTotal, ItemsDone: p.FilesDone, ItemsTotal: 1,
				Percent: connector.Percent(p.BytesDone, p.BytesTotal)})
		}
	}
	if req.Size > 0 {
		_, snap, err := archive.StreamNode(ctx, req.Repo, req.Snapshot)
		if err != nil {
			return nil, err
		}
		if req.Size < snap.Size {
			return nil, fmt.Errorf("%w: a volume of %d bytes cannot hold the snapshot's %d bytes", connector.ErrNotSupported, req.Size, snap.Size)
		}
	}
	st, err := archive.RestoreVolume(ctx, req.Repo, req.Snapshot, req.Target, opts)
	if err != nil {
		if errors.Is(err, archive.ErrExists) {
			return nil, fmt.Errorf("%w: %w", connector.ErrTargetExists, err)
		}
		return nil, err
	}
	if req.Size > st.Size {
		if err := os.Truncate(req.Target, req.Size); err != nil {
			return nil, fmt.Errorf("extending the restored volume to %d bytes: %w", req.Size, err)
		}
	}
	return &connector.RestoreResult{Bytes: st.Size, Files: 1, Target: req.Target}, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
