package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/jobs"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/vault"
)

// cleanupTimeout bounds the metadata writes that remove a failed copy.
const cleanupTimeout = 30 * time.Second

// copyHandler runs copy jobs (jobs.Handler).
//
// A run: check that the source point is still COMPLETED and the
// destination vault still exists and its lock accepts the copy's
// retention; open both repositories (a destination repository created now
// adopts the source's chunker parameters); choose the copy's ARN (kept in
// the job, so that a requeued attempt reuses it) and create the copy's
// recovery point CREATING; copy the snapshot (archive.CopySnapshot: every
// source blob authenticated, re-encrypted under the destination vault's
// key, stored only when the destination lacks it; between vaults of one
// deduplication domain (vault.DomainKeyName) chunks keep their IDs, move as
// stored, and what the destination holds is not read; otherwise each chunk
// is re-identified, incremental through the translation map of the
// previous copy from the same source repository);
// then mark the point COMPLETED.
//
// A partial copy is never usable: the destination point stays CREATING —
// refused by restores and copies — until the destination snapshot is
// committed. When the snapshot copy fails (nothing committed), Run removes
// the CREATING point itself, without touching the storage that may be what
// failed; an attempt that ends otherwise (interrupted, shut down) is
// settled like a backup's: the CREATING point is removed, and so is a
// snapshot committed just before an interruption. The blobs already stored
// stay unreferenced until the vault's garbage collection.
type copyHandler struct {
	s *Service
}

var _ jobs.Handler = (*copyHandler)(nil)

// Run implements jobs.Handler.
func (h *copyHandler) Run(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
	s := h.s
	j := t.Job
	c := j.Copy
	started := t.Now()
	if c == nil {
		return failed(backup.MessageInternalError, "Copy job failed: the job has no copy details."), nil
	}
	src, err := s.store.GetRecoveryPoint(ctx, c.SourceRecoveryPointArn)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return failed(backup.MessageResourceError, "Copy job failed: source recovery point %s no longer exists.", c.SourceRecoveryPointArn), nil
		}
		return jobs.Outcome{}, err
	}
	if !src.Status.Usable() {
		return failed(backup.MessageInvalidParameters, "Copy job failed: source recovery point %s is %s; only COMPLETED recovery points can be copied.", src.ARN, src.Status), nil
	}
	srcVault, err := s.store.GetVault(ctx, backup.VaultKey{Region: src.Region, AccountID: src.AccountID, Name: src.VaultName})
	if err != nil {
		return jobs.Outcome{}, err
	}
	dstKey, err := backup.ParseVaultARN(c.DestinationBackupVaultArn)
	if err != nil {
		return failed(backup.MessageInvalidParameters, "Copy job failed: %s", errMessage(err)), nil
	}
	dst, err := s.store.GetVault(ctx, dstKey)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return failed(backup.MessageResourceError, "Copy job failed: destination backup vault %s no longer exists.", c.DestinationBackupVaultArn), nil
		}
		return jobs.Outcome{}, err
	}
	lifecycle := c.DestinationRecoveryPointLifecycle
	if reason := backup.CheckRetention(dst.Lock, lifecycle); reason != "" {
		return failed(backup.MessageInvalidParameters, "Copy job failed: destination backup vault %s is locked and %s.", dst.Name, reason), nil
	}

	srcRepo, err := s.data.Vaults.Open(ctx, srcVault)
	if err != nil {
		return jobs.Outcome{}, jobs.Fail(backup.MessageStorageError, "Copy job failed: cannot open the storage of source backup vault %s to read recovery point %s%s: %v", srcVault.Name, src.ARN, storageCause(err), err)
	}
	snapID, err := repo.ParseID(src.Engine.SnapshotID)
	if err != nil || src.Engine.Repository != srcRepo.ID {
		return failed(backup.MessageResourceError, "Copy job failed: the data of recovery point %s is not in the repository of backup vault %s (%s).", src.ARN, srcVault.Name, srcRepo.Location), nil
	}
	params := srcRepo.Repository.ChunkerParams()
	dstRepo, err := s.data.Vaults.OpenWith(ctx, dst, vault.OpenOptions{ChunkerParams: &params})
	if err != nil {
		return jobs.Outcome{}, jobs.Fail(backup.MessageStorageError, "Copy job failed: cannot open the storage of destination backup vault %s to copy recovery point %s%s: %v", dst.Name, src.ARN, storageCause(err), err)
	}

	arn := c.DestinationRecoveryPointArn
	if arn == "" {
		arn = s.data.IDs.RecoveryPointARN(src.ResourceType, dst.Region, dst.AccountID)
		if _, err := t.Update(ctx, func(j *backup.Job) error { j.Copy.DestinationRecoveryPointArn = arn; return nil }); err != nil {
			return jobs.Outcome{}, err
		}
	}
	now := t.Now()
	origin := src.SourceBackupVaultArn // a copy of a copy names the first vault
	if origin == "" {
		origin = srcVault.ARN
	}
	rp := backup.RecoveryPoint{
		ARN:                    arn,
		VaultName:              dst.Name,
		VaultArn:               dst.ARN,
		Region:                 dst.Region,
		AccountID:              dst.AccountID,
		SourceBackupVaultArn:   origin,
		ResourceArn:            src.ResourceArn,
		ResourceType:           src.ResourceType,
		ResourceName:           src.ResourceName,
		CreatedBy:              j.CreatedBy,
		IamRoleArn:             j.IamRoleArn,
		Status:                 backup.RecoveryPointCreating,
		CreationDate:           src.CreationDate,
		InitiationDate:         now,
		EnteredVaultAt:         now,
		Lifecycle:              lifecycle.Clone(),
		EncryptionKeyArn:       dst.EncryptionKeyArn,
		EncryptionKeyType:      dst.EncryptionKeyType,
		IsEncrypted:            true,
		StorageClass:           backup.StorageWarm,
		VaultType:              backup.VaultTypeBackup,
		CreatedByJobID:         j.ID,
		SourceRecoveryPointArn: src.ARN,
		Engine:                 backup.EngineRef{Repository: dstRepo.ID, StorageRegion: dstRepo.Region, StorageLocation: dstRepo.Location},
	}
	tags, err := s.store.ListTags(ctx, src.ARN)
	if err != nil {
		return jobs.Outcome{}, err
	}
	if err := (&backupHandler{s: s}).createPoint(ctx, rp, tags); err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return failed(backup.MessageResourceError, "Copy job failed: destination backup vault %s no longer exists.", c.DestinationBackupVaultArn), nil
		}
		return jobs.Outcome{}, err
	}

	// Checks, both repositories opened (the destination's created on its
	// vault's first use) and the point recorded; CopySnapshot logs its own
	// phases.
	t.Logger.Debug("copy setup", "took", t.Now().Sub(started))
	total := src.Engine.LogicalBytes
	newID, stats, err := archive.CopySnapshot(ctx, srcRepo.Archive, dstRepo.Archive, archive.ID(snapID), archive.CopyOptions{
		Meta:   map[string]string{MetaJobID: j.ID, MetaRecoveryPoint: arn},
		Logger: t.Logger,
		Progress: func(st archive.CopyStats) {
			p := backup.JobProgress{BytesDone: st.BytesCopied, BytesTotal: total, ItemsDone: st.BlobsCopied + st.BlobsKnown + st.BlobsMapped}
			if total > 0 {
				p.Percent = min(99, 100*float64(st.BytesDone)/float64(total))
			}
			t.Progress(p)
		},
	})
	if err != nil {
		if vault.NeedsReopen(err) { // only the destination is written
			s.data.Vaults.Invalidate(dstRepo)
		}
		// CopySnapshot committed nothing: the CREATING point goes now,
		// without the storage (which may be what failed); the blobs
		// already stored are garbage.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if derr := s.store.DeleteRecoveryPoint(dctx, arn); derr != nil && backup.KindOf(derr) != backup.KindNotFound {
			t.Logger.Warn("removing the failed copy's recovery point", "recovery_point", arn, "error", derr.Error())
		}
		s.markDirty(dst.Key())
		if ctx.Err() == nil {
			if _, gerr := s.store.GetRecoveryPoint(dctx, src.ARN); backup.KindOf(gerr) == backup.KindNotFound {
				return jobs.Outcome{}, jobs.Fail(backup.MessageResourceError, "Copy job failed: source recovery point %s was deleted while it was being copied: %v", src.ARN, err)
			}
		}
		return jobs.Outcome{}, copyFailure(ctx, src.ARN, srcVault.Name, dst.Name, err)
	}

	// The destination snapshot is committed: the copy may now be COMPLETED.
	done := t.Now()
	md := copyRestoreMetadata(src, dst, arn)
	_, err = s.store.UpdateRecoveryPoint(ctx, arn, func(p *backup.RecoveryPoint) error {
		p.Status = backup.RecoveryPointCompleted
		p.StatusMessage = ""
		p.CompletionDate = done
		p.BackupSizeInBytes = src.BackupSizeInBytes
		p.RestoreMetadata = md
		p.Engine.SnapshotID = newID.String()
		p.Engine.StoredBytes = stats.BytesCopied
		p.Engine.LogicalBytes = src.Engine.LogicalBytes
		p.Engine.FileCount = src.Engine.FileCount
		return nil
	})
	if err != nil {
		return jobs.Outcome{}, err
	}
	return jobs.Outcome{
		State:    backup.JobCompleted,
		Category: backup.MessageSuccess,
		Message:  copySummary(stats),
		Apply: func(j *backup.Job) {
			j.BackupSizeInBytes = src.BackupSizeInBytes
			j.Copy.DestinationRecoveryPointArn = arn
			j.Progress.BytesDone = stats.BytesCopied
			j.Progress.BytesTotal = total
		},
	}, nil
}

// copySummary is a completed copy's StatusMessage: what moved.
func copySummary(st *archive.CopyStats) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Copied: %s of new data transferred in %d chunks", byteSize(st.BytesCopied), st.BlobsCopied)
	if n := st.BlobsKnown + st.BlobsMapped; n > 0 {
		fmt.Fprintf(&b, "; %d chunks were already in the destination", n)
	}
	if st.MapFromParent || (st.SharedIDs && st.BlobsMapped+st.TreesMapped > 0) {
		b.WriteString(" (incremental: unchanged data of an earlier copy was not read again)")
	}
	b.WriteString(".")
	return b.String()
}

// byteSize formats n bytes with a binary unit.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, " KMGT"[i])
}

// copyRestoreMetadata is the copy's restore metadata: the source's, with
// the keys that name the vault's key or the recovery point rewritten for
// the destination.
func copyRestoreMetadata(src backup.RecoveryPoint, dst backup.Vault, arn string) map[string]string {
	md := maps.Clone(src.RestoreMetadata)
	if md == nil {
		md = map[string]string{}
	}
	switch src.ResourceType {
	case backup.EFS:
		md["KmsKeyId"] = dst.EncryptionKeyArn
		md["CreationToken"] = arn[strings.LastIndexByte(arn, ':')+1:]
	case backup.EBS:
		md["kmsKeyId"] = dst.EncryptionKeyArn
		md["availabilityZone"] = dst.Region + "a"
	case backup.RDS:
		if _, ok := md["availabilityZones"]; ok {
			md["availabilityZones"] = `["` + dst.Region + `a"]`
		}
	}
	return md
}

// copyFailure classifies a failed copy for its StatusMessage and
// MessageCategory; every message names the source recovery point. A
// cancelled context is returned as is: the runner knows why it cancelled.
func copyFailure(ctx context.Context, rpArn, srcVault, dstVault string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var be *archive.BlobError
	switch {
	case errors.Is(err, repo.ErrCorrupt), errors.As(err, &be), errors.Is(err, archive.ErrBlobNotFound), errors.Is(err, archive.ErrSnapshotNotFound):
		return jobs.Fail(backup.MessageResourceError, "Copy job failed: recovery point %s in backup vault %s is damaged and cannot be copied (run a check of the vault's repository): %v", rpArn, srcVault, err)
	case errors.Is(err, blob.ErrNoSpace), errors.Is(err, blob.ErrUnavailable), errors.Is(err, repo.ErrWriteFailed), errors.Is(err, repo.ErrSessionExpired):
		return jobs.Fail(backup.MessageStorageError, "Copy job failed: copying recovery point %s from backup vault %s to %s%s: %v", rpArn, srcVault, dstVault, storageCause(err), err)
	}
	return jobs.Fail(backup.MessageInternalError, "Copy job failed: copying recovery point %s from backup vault %s to %s: %v", rpArn, srcVault, dstVault, err)
}

// storageCause words a storage failure for a StatusMessage (", the
// storage is full", ...), "" when err is none of the storage sentinels.
func storageCause(err error) string {
	switch {
	case errors.Is(err, blob.ErrNoSpace):
		return ": the storage is full"
	case errors.Is(err, blob.ErrUnavailable):
		return ": the storage did not answer after retries"
	case errors.Is(err, repo.ErrWriteFailed), errors.Is(err, repo.ErrSessionExpired):
		return ": a write to the storage failed"
	}
	return ""
}

// Settle implements jobs.Handler: an attempt that did not finish leaves at
// most the copy's CREATING recovery point and, if it was interrupted
// between the commit and the recovery point update, a destination
// snapshot; both are removed (the job's DestinationRecoveryPointArn stays,
// so that a requeued attempt reuses it). A copy this job already completed
// means the copy did finish: the job ends COMPLETED.
func (h *copyHandler) Settle(ctx context.Context, job backup.Job, why jobs.Reason) (jobs.Outcome, bool, error) {
	s := h.s
	if job.Copy == nil || job.Copy.DestinationRecoveryPointArn == "" {
		return jobs.Outcome{}, false, nil
	}
	rp, err := s.store.GetRecoveryPoint(ctx, job.Copy.DestinationRecoveryPointArn)
	if backup.KindOf(err) == backup.KindNotFound {
		return jobs.Outcome{}, false, nil
	}
	if err != nil {
		return jobs.Outcome{}, false, err
	}
	if rp.CreatedByJobID != job.ID {
		return jobs.Outcome{}, false, nil
	}
	if rp.Status.Usable() {
		return jobs.Outcome{State: backup.JobCompleted, Category: backup.MessageSuccess, Apply: func(j *backup.Job) {
			j.BackupSizeInBytes = rp.BackupSizeInBytes
		}}, true, nil
	}
	if rp.Status != backup.RecoveryPointCreating {
		return jobs.Outcome{}, false, nil // not ours to remove any more
	}
	key := backup.VaultKey{Region: rp.Region, AccountID: rp.AccountID, Name: rp.VaultName}
	if v, err := s.store.GetVault(ctx, key); err == nil {
		if err := (&backupHandler{s: s}).removeJobSnapshots(ctx, v, job.ID); err != nil {
			return jobs.Outcome{}, false, err
		}
		s.markDirty(key) // the blobs the attempt stored are garbage now
	}
	if err := s.store.DeleteRecoveryPoint(ctx, rp.ARN); err != nil && backup.KindOf(err) != backup.KindNotFound {
		return jobs.Outcome{}, false, err
	}
	return jobs.Outcome{}, false, nil
}
