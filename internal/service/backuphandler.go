package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/jobs"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/vault"
)

// Snapshot Meta keys a backup job writes, so that a snapshot can be traced
// back to its job and recovery point (and an interrupted job's snapshot
// found and removed).
const (
	MetaJobID         = "coffer.job-id"
	MetaRecoveryPoint = "coffer.recovery-point"
	MetaResource      = "coffer.resource"
)

// MessageCompletedWithIssues is the MessageCategory of a COMPLETED backup
// job that could not capture everything exactly (skipped sockets and FIFOs,
// files that changed while read): AWS's "completed with issues" is a
// COMPLETED job whose MessageCategory is not SUCCESS.
const MessageCompletedWithIssues = "COMPLETED_WITH_ISSUES"

// backupHandler runs backup jobs (jobs.Handler).
//
// A run: check the vault and its lock, find the resource and its
// connector, open the vault's repository, choose the incremental parent
// (the newest usable recovery point of the resource in the vault), create
// the recovery point CREATING, back the resource up (one committed
// snapshot), then mark the recovery point COMPLETED with its size, storage
// location and restore metadata, and record the protected resource. The
// point becomes COMPLETED only after the snapshot is committed; a run that
// ends otherwise is settled: the CREATING point is removed, and so is a
// snapshot committed just before an interruption.
type backupHandler struct {
	s *Service
}

var _ jobs.Handler = (*backupHandler)(nil)

// Run implements jobs.Handler.
func (h *backupHandler) Run(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
	s := h.s
	j := t.Job
	if j.Backup == nil {
		return failed(backup.MessageInternalError, "Backup job failed: the job has no backup details."), nil
	}
	key := backup.VaultKey{Region: j.Region, AccountID: j.AccountID, Name: j.Backup.BackupVaultName}
	v, err := s.store.GetVault(ctx, key)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return failed(backup.MessageResourceError, "Backup job failed: backup vault %s no longer exists.", key.Name), nil
		}
		return jobs.Outcome{}, err
	}
	if reason := backup.CheckRetention(v.Lock, j.Backup.Lifecycle); reason != "" {
		return failed(backup.MessageInvalidParameters, "Backup job failed: backup vault %s is locked and %s.", v.Name, reason), nil
	}
	res, err := s.lookupResource(ctx, j.ResourceArn, j.Region)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return failed(backup.MessageResourceError, "Backup job failed: resource %s is no longer declared.", j.ResourceArn), nil
		}
		return jobs.Outcome{}, err
	}
	conn, err := s.data.Connectors.Get(res.Type)
	if err != nil {
		return failed(backup.MessageInvalidParameters, "Backup job failed: %s", errMessage(err)), nil
	}
	vr, err := s.data.Vaults.Open(ctx, v)
	if err != nil {
		return jobs.Outcome{}, jobs.Fail(backup.MessageStorageError, "Backup job failed: cannot open the storage of backup vault %s: %v", v.Name, err)
	}

	parent, base := h.parent(ctx, t, key, vr)
	now := t.Now()
	rp := backup.RecoveryPoint{
		ARN:               j.Backup.RecoveryPointArn,
		VaultName:         v.Name,
		VaultArn:          v.ARN,
		Region:            v.Region,
		AccountID:         v.AccountID,
		ResourceArn:       res.ARN,
		ResourceType:      res.Type,
		ResourceName:      res.Name,
		CreatedBy:         j.CreatedBy,
		IamRoleArn:        j.IamRoleArn,
		Status:            backup.RecoveryPointCreating,
		CreationDate:      now,
		InitiationDate:    now,
		EnteredVaultAt:    now,
		Lifecycle:         j.Backup.Lifecycle.Clone(),
		EncryptionKeyArn:  v.EncryptionKeyArn,
		EncryptionKeyType: v.EncryptionKeyType,
		IsEncrypted:       true,
		StorageClass:      backup.StorageWarm,
		VaultType:         backup.VaultTypeBackup,
		CreatedByJobID:    j.ID,
		Engine:            backup.EngineRef{Repository: vr.ID, StorageRegion: vr.Region, StorageLocation: vr.Location, BaseRecoveryPointArn: base},
	}
	if err := h.createPoint(ctx, rp, j.Backup.RecoveryPointTags); err != nil {
		return jobs.Outcome{}, err
	}
	if base != "" {
		if _, err := t.Update(ctx, func(j *backup.Job) error { j.Backup.BaseRecoveryPointArn = base; return nil }); err != nil {
			return jobs.Outcome{}, err
		}
	}

	result, err := conn.Backup(ctx, res, connector.BackupRequest{
		Repo:     vr.Archive,
		Parent:   parent,
		Hostname: s.data.Hostname,
		Meta:     map[string]string{MetaJobID: j.ID, MetaRecoveryPoint: rp.ARN, MetaResource: res.ARN},
		Progress: func(p connector.Progress) {
			t.Progress(backup.JobProgress{BytesDone: p.BytesDone, BytesTotal: p.BytesTotal, ItemsDone: p.ItemsDone, ItemsTotal: p.ItemsTotal, Percent: p.Percent})
		},
		Logger: t.Logger,
		// The engine paces its progress reports and stamps its snapshot
		// with the real clock (Clock nil): the service clock may be a
		// test's fake one that never moves on its own.
	})
	if err != nil {
		if vault.NeedsReopen(err) {
			s.data.Vaults.Invalidate(vr)
		}
		return jobs.Outcome{}, backupFailure(ctx, v.Name, err)
	}

	// The snapshot is committed: the recovery point may now be COMPLETED.
	// A stop arriving now no longer cancels the bookkeeping: the backup is
	// complete and is recorded as such (ABORTING → COMPLETED).
	ctx = context.WithoutCancel(ctx)
	done := t.Now()
	warn := warningsMessage(result.Warnings)
	md := restoreMetadata(res, v, rp.ARN, result.RestoreMetadata)
	_, err = s.store.UpdateRecoveryPoint(ctx, rp.ARN, func(p *backup.RecoveryPoint) error {
		p.Status = backup.RecoveryPointCompleted
		p.StatusMessage = warn
		p.CompletionDate = done
		p.BackupSizeInBytes = result.LogicalBytes
		p.RestoreMetadata = md
		p.Engine.SnapshotID = result.Snapshot.String()
		p.Engine.StoredBytes = result.BytesNew
		p.Engine.LogicalBytes = result.LogicalBytes
		p.Engine.FileCount = result.Files
		return nil
	})
	if err != nil {
		return jobs.Outcome{}, err
	}
	_, err = s.store.UpsertProtectedResource(ctx, res.ARN, func(pr *backup.ProtectedResource, _ bool) error {
		pr.ResourceType, pr.ResourceName, pr.Region, pr.AccountID = res.Type, res.Name, res.Region, res.AccountID
		if !pr.LastBackupTime.After(done) {
			pr.LastBackupTime, pr.LastBackupVaultArn, pr.LastRecoveryPointArn = done, v.ARN, rp.ARN
		}
		return nil
	})
	if err != nil {
		// The recovery point is complete; the job is too. The protected
		// resource is updated by the next backup.
		t.Logger.Warn("recording the protected resource failed", "error", err.Error())
	}
	o := jobs.Outcome{
		State:    backup.JobCompleted,
		Message:  warn,
		Category: backup.MessageSuccess,
		Apply: func(j *backup.Job) {
			j.BackupSizeInBytes = jobBackupSize(res.Type, result.LogicalBytes, result.BytesNew)
			j.Progress.BytesDone = result.BytesRead
			j.Progress.BytesTotal = result.LogicalBytes
			j.Progress.ItemsDone, j.Progress.ItemsTotal = result.Files, result.Files
		},
	}
	if warn != "" {
		o.Category = MessageCompletedWithIssues
	}
	return o, nil
}

// parent returns the snapshot to back up incrementally against: that of
// the newest usable recovery point of the resource in the vault, when it is
// in this repository and still readable.
func (h *backupHandler) parent(ctx context.Context, t *jobs.Task, key backup.VaultKey, vr *vault.Repo) (*archive.ID, string) {
	prev, err := h.s.store.LatestRecoveryPoint(ctx, key, t.Job.ResourceArn)
	if err != nil || prev.Engine.Repository != vr.ID || prev.Engine.SnapshotID == "" {
		return nil, ""
	}
	id, err := repo.ParseID(prev.Engine.SnapshotID)
	if err != nil {
		return nil, ""
	}
	aid := archive.ID(id)
	if _, err := vr.Archive.LoadSnapshot(ctx, aid); err != nil {
		t.Logger.Warn("previous snapshot unreadable; full backup", "recovery_point", prev.ARN, "error", err.Error())
		return nil, ""
	}
	return &aid, prev.ARN
}

// createPoint stores the CREATING recovery point; a point left by an
// earlier attempt of the same job (settling failed) is reset.
func (h *backupHandler) createPoint(ctx context.Context, rp backup.RecoveryPoint, tags map[string]string) error {
	err := h.s.store.CreateRecoveryPoint(ctx, rp, tags)
	if backup.KindOf(err) != backup.KindAlreadyExists {
		return err
	}
	_, err = h.s.store.UpdateRecoveryPoint(ctx, rp.ARN, func(p *backup.RecoveryPoint) error {
		if p.CreatedByJobID != rp.CreatedByJobID || p.Status.Usable() {
			return fmt.Errorf("recovery point %s already exists and was not left by this job", rp.ARN)
		}
		*p = rp
		return nil
	})
	return err
}

// Settle implements jobs.Handler: an attempt that did not finish leaves at
// most a CREATING recovery point and, if it was interrupted between the
// commit and the recovery point update, a snapshot; both are removed. A
// recovery point this job already completed means the backup did finish:
// the job ends COMPLETED.
func (h *backupHandler) Settle(ctx context.Context, job backup.Job, why jobs.Reason) (jobs.Outcome, bool, error) {
	s := h.s
	if job.Backup == nil || job.Backup.RecoveryPointArn == "" {
		return jobs.Outcome{}, false, nil
	}
	rp, err := s.store.GetRecoveryPoint(ctx, job.Backup.RecoveryPointArn)
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
		return jobs.Outcome{State: backup.JobCompleted, Category: backup.MessageSuccess, Message: rp.StatusMessage, Apply: func(j *backup.Job) {
			j.BackupSizeInBytes = jobBackupSize(rp.ResourceType, rp.Engine.LogicalBytes, rp.Engine.StoredBytes)
		}}, true, nil
	}
	if rp.Status != backup.RecoveryPointCreating {
		return jobs.Outcome{}, false, nil // not ours to remove any more
	}
	key := backup.VaultKey{Region: rp.Region, AccountID: rp.AccountID, Name: rp.VaultName}
	if v, err := s.store.GetVault(ctx, key); err == nil {
		if err := h.removeJobSnapshots(ctx, v, job.ID); err != nil {
			return jobs.Outcome{}, false, err
		}
	}
	if err := s.store.DeleteRecoveryPoint(ctx, rp.ARN); err != nil && backup.KindOf(err) != backup.KindNotFound {
		return jobs.Outcome{}, false, err
	}
	return jobs.Outcome{}, false, nil
}

// removeJobSnapshots deletes the snapshots of a vault's repository that a
// job committed (Meta MetaJobID).
func (h *backupHandler) removeJobSnapshots(ctx context.Context, v backup.Vault, jobID string) error {
	vr, err := h.s.data.Vaults.Open(ctx, v)
	if err != nil {
		return err
	}
	var ids []repo.ID
	err = vr.Repository.ListSnapshots(ctx, func(id repo.ID, sn *repo.Snapshot) error {
		if sn.Meta[MetaJobID] == jobID {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil && !errors.Is(err, repo.ErrCorrupt) {
		return err
	}
	for _, id := range ids {
		if err := vr.Repository.DeleteSnapshot(ctx, id); err != nil && !errors.Is(err, repo.ErrSnapshotNotFound) {
			return err
		}
		h.s.markDirty(v.Key())
	}
	return nil
}

// failed is a FAILED outcome.
func failed(category, format string, args ...any) jobs.Outcome {
	return jobs.Outcome{State: backup.JobFailed, Category: category, Message: fmt.Sprintf(format, args...)}
}

// backupFailure classifies a failed backup for its StatusMessage and
// MessageCategory. A cancelled context is returned as is: the runner knows
// why it cancelled.
func backupFailure(ctx context.Context, vaultName string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	switch {
	case errors.Is(err, connector.ErrUnavailable), errors.Is(err, connector.ErrSourceFailed), errors.Is(err, archive.ErrUnreadable):
		return jobs.Fail(backup.MessageResourceError, "Backup job failed: %v", trimSentinel(err))
	case errors.Is(err, blob.ErrNoSpace):
		return jobs.Fail(backup.MessageStorageError, "Backup job failed: the storage of backup vault %s is full: %v", vaultName, err)
	case errors.Is(err, blob.ErrUnavailable), errors.Is(err, repo.ErrWriteFailed), errors.Is(err, repo.ErrSessionExpired):
		return jobs.Fail(backup.MessageStorageError, "Backup job failed: writing to the storage of backup vault %s failed: %v", vaultName, err)
	}
	return jobs.Fail(backup.MessageInternalError, "Backup job failed: %v", err)
}

// trimSentinel drops the "connector: ..." sentinel prefix from a message.
func trimSentinel(err error) string {
	msg := err.Error()
	for _, p := range []string{connector.ErrUnavailable.Error() + ": ", connector.ErrSourceFailed.Error() + ": "} {
		msg = strings.Replace(msg, p, "", 1)
	}
	return msg
}

// errMessage returns a domain error's message, or the error's text.
func errMessage(err error) string {
	var be *backup.Error
	if errors.As(err, &be) && be.Message != "" {
		return be.Message
	}
	return err.Error()
}

// jobBackupSize is a backup job's BackupSizeInBytes as AWS reports it per
// resource type: EBS the volume's (provisioned) size, EFS the delta
// transferred (new data stored), RDS 0.
func jobBackupSize(t backup.ResourceType, logical, delta int64) int64 {
	switch t {
	case backup.EBS:
		return logical
	case backup.EFS:
		return delta
	}
	return 0
}

// maxWarnings bounds how many warnings a StatusMessage lists.
const maxWarnings = 10

// warningsMessage summarises a backup's warnings ("" for none).
func warningsMessage(ws []archive.Warning) string {
	if len(ws) == 0 {
		return ""
	}
	var b strings.Builder
	n := len(ws)
	if n == 1 {
		b.WriteString("Completed with issues: 1 entry was not backed up exactly: ")
	} else {
		fmt.Fprintf(&b, "Completed with issues: %d entries were not backed up exactly: ", n)
	}
	for i, w := range ws {
		if i == maxWarnings {
			fmt.Fprintf(&b, "; and %d more", n-maxWarnings)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(w.String())
	}
	return b.String()
}

// restoreMetadata is what GetRecoveryPointRestoreMetadata returns for a
// backup: the connector's keys plus the vault-dependent ones, with the key
// names AWS uses per resource type.
func restoreMetadata(r backup.Resource, v backup.Vault, rpArn string, fromConnector map[string]string) map[string]string {
	md := map[string]string{}
	for k, val := range fromConnector {
		md[k] = val
	}
	switch r.Type {
	case backup.EFS:
		md["file-system-id"] = r.ID
		md["Encrypted"] = "true"
		md["KmsKeyId"] = v.EncryptionKeyArn
		md["PerformanceMode"] = "generalPurpose"
		md["CreationToken"] = rpArn[strings.LastIndexByte(rpArn, ':')+1:]
		md["newFileSystem"] = "false"
	case backup.EBS:
		md["encrypted"] = "true"
		md["kmsKeyId"] = v.EncryptionKeyArn
		md["availabilityZone"] = r.Region + "a"
	case backup.RDS:
		md["dbInstanceIdentifier"] = r.ID
		md["availabilityZones"] = `["` + r.Region + `a"]`
	}
	return md
}
