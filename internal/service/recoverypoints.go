package service

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
	"github.com/coffer/coffer/internal/repo"
)

// recoveryPointVault resolves the vault name (and optional account) of a
// recovery point request in the call region and checks that the vault
// exists.
func (s *Service) recoveryPointVault(ctx context.Context, name string, account *string) (backup.Vault, error) {
	key, err := s.vaultKey(ctx, name)
	if err != nil {
		return backup.Vault{}, err
	}
	if name == "" {
		return backup.Vault{}, backup.MissingParameterf("BackupVaultName is required")
	}
	if a := str(account); a != "" && a != s.account {
		return backup.Vault{}, backup.NotFoundf("backup vault %s of account %s not found: this Coffer endpoint serves account %s", name, a, s.account)
	}
	v, err := s.store.GetVault(ctx, key)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return backup.Vault{}, backup.NotFoundf("backup vault %s not found in region %s", name, key.Region)
		}
		return backup.Vault{}, err
	}
	return v, nil
}

// recoveryPoint returns the point with arn stored in the named vault.
func (s *Service) recoveryPoint(ctx context.Context, vaultName string, account *string, arn string) (backup.Vault, backup.RecoveryPoint, error) {
	if arn == "" {
		return backup.Vault{}, backup.RecoveryPoint{}, backup.MissingParameterf("RecoveryPointArn is required")
	}
	v, err := s.recoveryPointVault(ctx, vaultName, account)
	if err != nil {
		return backup.Vault{}, backup.RecoveryPoint{}, err
	}
	rp, err := meta.GetRecoveryPointInVault(ctx, s.store, v.Key(), arn)
	return v, rp, err
}

// DescribeRecoveryPoint returns every field of a recovery point.
func (s *Service) DescribeRecoveryPoint(ctx context.Context, in *backupapi.DescribeRecoveryPointInput) (*backupapi.DescribeRecoveryPointOutput, error) {
	_, rp, err := s.recoveryPoint(ctx, str(in.BackupVaultName), in.BackupVaultAccountId, str(in.RecoveryPointArn))
	if err != nil {
		return nil, apiError(err)
	}
	isEnc, isParent := rp.IsEncrypted, rp.IsParent
	return &backupapi.DescribeRecoveryPointOutput{
		BackupSizeInBytes:         &rp.BackupSizeInBytes,
		BackupVaultArn:            optString(rp.VaultArn),
		BackupVaultName:           optString(rp.VaultName),
		CalculatedLifecycle:       calculatedOut(rp.CalculatedLifecycle()),
		CompletionDate:            optTime(rp.CompletionDate),
		CompositeMemberIdentifier: optString(rp.CompositeMemberIdentifier),
		CreatedBy:                 creatorToAPI(rp.CreatedBy),
		CreationDate:              optTime(rp.CreationDate),
		EncryptionKeyArn:          optString(rp.EncryptionKeyArn),
		EncryptionKeyType:         backupapi.EncryptionKeyType(rp.EncryptionKeyType),
		IamRoleArn:                optString(rp.IamRoleArn),
		IndexStatus:               backupapi.IndexStatus(rp.IndexStatus),
		IndexStatusMessage:        optString(rp.IndexStatusMessage),
		InitiationDate:            optTime(rp.InitiationDate),
		IsEncrypted:               &isEnc,
		IsParent:                  &isParent,
		LastRestoreTime:           optTime(rp.LastRestoreTime),
		Lifecycle:                 lifecycleOut(rp.Lifecycle),
		ParentRecoveryPointArn:    optString(rp.ParentRecoveryPointArn),
		RecoveryPointArn:          optString(rp.ARN),
		ResourceArn:               optString(rp.ResourceArn),
		ResourceName:              optString(rp.ResourceName),
		ResourceType:              optString(string(rp.ResourceType)),
		SourceBackupVaultArn:      optString(rp.SourceBackupVaultArn),
		Status:                    backupapi.RecoveryPointStatus(rp.Status),
		StatusMessage:             optString(rp.StatusMessage),
		StorageClass:              backupapi.StorageClass(rp.StorageClass),
		VaultType:                 backupapi.VaultType(rp.VaultType),
	}, nil
}

// ListRecoveryPointsByBackupVault lists a vault's recovery points, newest
// first, with the model's filters.
func (s *Service) ListRecoveryPointsByBackupVault(ctx context.Context, in *backupapi.ListRecoveryPointsByBackupVaultInput) (*backupapi.ListRecoveryPointsByBackupVaultOutput, error) {
	out, err := s.listRecoveryPointsByBackupVault(ctx, in)
	return out, apiError(err)
}

func (s *Service) listRecoveryPointsByBackupVault(ctx context.Context, in *backupapi.ListRecoveryPointsByBackupVaultInput) (*backupapi.ListRecoveryPointsByBackupVaultOutput, error) {
	v, err := s.recoveryPointVault(ctx, str(in.BackupVaultName), in.BackupVaultAccountId)
	if err != nil {
		return nil, err
	}
	key := v.Key()
	f := meta.RecoveryPointFilter{
		Vault:                  &key,
		BackupPlanID:           str(in.ByBackupPlanId),
		CreatedAfter:           timeOf(in.ByCreatedAfter),
		CreatedBefore:          timeOf(in.ByCreatedBefore),
		ParentRecoveryPointArn: str(in.ByParentRecoveryPointArn),
	}
	if a := str(in.ByResourceArn); a != "" {
		if _, err := backup.ParseResourceARN(a); err != nil {
			// AWS answers a recovery point (snapshot) ARN here with
			// "Unsupported resource type".
			return nil, backup.ForField("ByResourceArn", err)
		}
		f.ResourceArn = a
	}
	if t := str(in.ByResourceType); t != "" {
		if !backup.ResourceType(t).Known() {
			return nil, backup.InvalidParameterf("Invalid value for ByResourceType: %q is not a resource type", t)
		}
		f.ResourceType = backup.ResourceType(t)
	}
	list, next, err := s.store.ListRecoveryPoints(ctx, f, page(in.MaxResults, in.NextToken))
	if err != nil {
		return nil, err
	}
	out := &backupapi.ListRecoveryPointsByBackupVaultOutput{NextToken: optString(next), RecoveryPoints: make([]backupapi.RecoveryPointByBackupVault, 0, len(list))}
	for _, rp := range list {
		isEnc, isParent, size := rp.IsEncrypted, rp.IsParent, rp.BackupSizeInBytes
		out.RecoveryPoints = append(out.RecoveryPoints, backupapi.RecoveryPointByBackupVault{
			BackupSizeInBytes:         &size,
			BackupVaultArn:            optString(rp.VaultArn),
			BackupVaultName:           optString(rp.VaultName),
			CalculatedLifecycle:       calculatedOut(rp.CalculatedLifecycle()),
			CompletionDate:            optTime(rp.CompletionDate),
			CompositeMemberIdentifier: optString(rp.CompositeMemberIdentifier),
			CreatedBy:                 creatorToAPI(rp.CreatedBy),
			CreationDate:              optTime(rp.CreationDate),
			EncryptionKeyArn:          optString(rp.EncryptionKeyArn),
			EncryptionKeyType:         backupapi.EncryptionKeyType(rp.EncryptionKeyType),
			IamRoleArn:                optString(rp.IamRoleArn),
			IndexStatus:               backupapi.IndexStatus(rp.IndexStatus),
			IndexStatusMessage:        optString(rp.IndexStatusMessage),
			InitiationDate:            optTime(rp.InitiationDate),
			IsEncrypted:               &isEnc,
			IsParent:                  &isParent,
			LastRestoreTime:           optTime(rp.LastRestoreTime),
			Lifecycle:                 lifecycleOut(rp.Lifecycle),
			ParentRecoveryPointArn:    optString(rp.ParentRecoveryPointArn),
			RecoveryPointArn:          optString(rp.ARN),
			ResourceArn:               optString(rp.ResourceArn),
			ResourceName:              optString(rp.ResourceName),
			ResourceType:              optString(string(rp.ResourceType)),
			SourceBackupVaultArn:      optString(rp.SourceBackupVaultArn),
			Status:                    backupapi.RecoveryPointStatus(rp.Status),
			StatusMessage:             optString(rp.StatusMessage),
			VaultType:                 backupapi.VaultType(rp.VaultType),
		})
	}
	return out, nil
}

// minRDSMaxResults is the smallest MaxResults ListRecoveryPointsByResource
// accepts for RDS resources (model documentation).
const minRDSMaxResults = 20

// ListRecoveryPointsByResource lists a resource's recovery points in every
// vault of the call region, newest first. Items carry BackupSizeBytes (the
// model's name there).
func (s *Service) ListRecoveryPointsByResource(ctx context.Context, in *backupapi.ListRecoveryPointsByResourceInput) (*backupapi.ListRecoveryPointsByResourceOutput, error) {
	out, err := s.listRecoveryPointsByResource(ctx, in)
	return out, apiError(err)
}

func (s *Service) listRecoveryPointsByResource(ctx context.Context, in *backupapi.ListRecoveryPointsByResourceInput) (*backupapi.ListRecoveryPointsByResourceOutput, error) {
	region, err := s.region(ctx)
	if err != nil {
		return nil, err
	}
	arn := str(in.ResourceArn)
	if arn == "" {
		return nil, backup.MissingParameterf("ResourceArn is required")
	}
	ref, err := backup.ParseResourceARN(arn)
	if err != nil {
		return nil, backup.ForField("ResourceArn", err)
	}
	if err := s.checkServed(arn, ref.Region, ref.AccountID, "resource"); err != nil {
		return nil, err
	}
	if ref.Type == backup.RDS && in.MaxResults != nil && *in.MaxResults < minRDSMaxResults {
		return nil, backup.InvalidParameterf("Invalid value for MaxResults: %d; for Amazon RDS resources it must be at least %d", *in.MaxResults, minRDSMaxResults)
	}
	list, next, err := s.store.ListRecoveryPoints(ctx, meta.RecoveryPointFilter{ResourceArn: arn}, page(in.MaxResults, in.NextToken))
	if err != nil {
		return nil, err
	}
	out := &backupapi.ListRecoveryPointsByResourceOutput{NextToken: optString(next), RecoveryPoints: make([]backupapi.RecoveryPointByResource, 0, len(list))}
	for _, rp := range list {
		if rp.Region != region || rp.AccountID != s.account {
			continue // another region's vault (a copy)
		}
		isParent, size := rp.IsParent, rp.BackupSizeInBytes
		out.RecoveryPoints = append(out.RecoveryPoints, backupapi.RecoveryPointByResource{
			BackupSizeBytes:        &size,
			BackupVaultName:        optString(rp.VaultName),
			CreationDate:           optTime(rp.CreationDate),
			EncryptionKeyArn:       optString(rp.EncryptionKeyArn),
			EncryptionKeyType:      backupapi.EncryptionKeyType(rp.EncryptionKeyType),
			IndexStatus:            backupapi.IndexStatus(rp.IndexStatus),
			IndexStatusMessage:     optString(rp.IndexStatusMessage),
			IsParent:               &isParent,
			ParentRecoveryPointArn: optString(rp.ParentRecoveryPointArn),
			RecoveryPointArn:       optString(rp.ARN),
			ResourceName:           optString(rp.ResourceName),
			Status:                 backupapi.RecoveryPointStatus(rp.Status),
			StatusMessage:          optString(rp.StatusMessage),
			VaultType:              backupapi.VaultType(rp.VaultType),
		})
	}
	return out, nil
}

// DeleteRecoveryPoint deletes a recovery point and its snapshot; the
// storage the snapshot alone used is freed by the next garbage collection
// of the vault (Deps.Data.GCInterval). A point whose backup is still
// running (CREATING) cannot be deleted, and neither can a point a vault
// lock protects until its retention ends (InvalidRequestException).
func (s *Service) DeleteRecoveryPoint(ctx context.Context, in *backupapi.DeleteRecoveryPointInput) (*backupapi.DeleteRecoveryPointOutput, error) {
	if err := s.deleteRecoveryPoint(ctx, in); err != nil {
		return nil, apiError(err)
	}
	return &backupapi.DeleteRecoveryPointOutput{}, nil
}

func (s *Service) deleteRecoveryPoint(ctx context.Context, in *backupapi.DeleteRecoveryPointInput) error {
	v, rp, err := s.recoveryPoint(ctx, str(in.BackupVaultName), nil, str(in.RecoveryPointArn))
	if err != nil {
		return err
	}
	if rp.Status == backup.RecoveryPointCreating {
		return backup.InvalidRequestf("recovery point %s is being created by backup job %s; stop the job instead", rp.ARN, rp.CreatedByJobID)
	}
	if err := backup.CheckRecoveryPointDelete(v.Lock, &rp, s.now()); err != nil {
		return err
	}
	if err := s.checkNoJobReads(ctx, rp.ARN); err != nil {
		return err
	}
	if err := s.removeRecoveryPoint(ctx, v, rp); err != nil {
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "recovery point deleted", slog.String("recovery_point", rp.ARN), slog.String("vault", v.Name))
	return nil
}

// checkNoJobReads refuses to delete a recovery point that a copy or restore
// job still has to read: deleting its snapshot under the job would fail the
// job (and GC could free the data mid-read). AWS models this case as
// InvalidResourceStateException ("already performing an action on this
// recovery point"). The check is not atomic with the delete; a job accepted in
// between fails cleanly, naming the deleted point.
func (s *Service) checkNoJobReads(ctx context.Context, rpARN string) error {
	jobs, _, err := s.store.ListJobs(ctx, meta.JobFilter{
		Kinds:            []backup.JobKind{backup.CopyJob, backup.RestoreJob},
		RecoveryPointArn: rpARN,
		States:           []backup.JobState{backup.JobCreated, backup.JobPending, backup.JobRunning},
	}, meta.Page{MaxResults: 1})
	if err != nil {
		return err
	}
	if len(jobs) > 0 {
		j := jobs[0]
		return backup.Errorf(backup.KindInvalidResourceState,
			"recovery point %s cannot be deleted while %s job %s (%s) uses it; wait for the job to end", rpARN, strings.ToLower(string(j.Kind)), j.ID, j.State)
	}
	return nil
}

// removeRecoveryPoint marks the point DELETING, deletes its snapshot from
// the vault's repository and then its record. A crash in between leaves a
// DELETING point that a retry (or the sweeper) deletes again.
func (s *Service) removeRecoveryPoint(ctx context.Context, v backup.Vault, rp backup.RecoveryPoint) error {
	if rp.Engine.SnapshotID != "" {
		if err := s.needJobs(); err != nil {
			return err
		}
	}
	if _, err := s.store.UpdateRecoveryPoint(ctx, rp.ARN, func(p *backup.RecoveryPoint) error {
		p.Status = backup.RecoveryPointDeleting
		return nil
	}); err != nil {
		return err
	}
	if rp.Engine.SnapshotID != "" {
		vr, err := s.data.Vaults.Open(ctx, v)
		if err != nil {
			return unavailable(err, "the storage of backup vault %s cannot be opened; try again later", v.Name)
		}
		if rp.Engine.Repository == vr.ID {
			id, err := repo.ParseID(rp.Engine.SnapshotID)
			if err == nil {
				err = vr.Repository.DeleteSnapshot(ctx, id)
			}
			if err != nil && !errors.Is(err, repo.ErrSnapshotNotFound) {
				return unavailable(err, "deleting the data of recovery point %s failed; try again later", rp.ARN)
			}
			s.markDirty(v.Key())
		} else {
			s.log.LogAttrs(ctx, slog.LevelWarn, "recovery point data is in another repository; only its record is deleted",
				slog.String("recovery_point", rp.ARN), slog.String("repository", rp.Engine.Repository))
		}
	}
	err := s.store.DeleteRecoveryPoint(ctx, rp.ARN)
	if backup.KindOf(err) == backup.KindNotFound {
		return nil
	}
	return err
}

// UpdateRecoveryPointLifecycle replaces a recovery point's whole lifecycle
// (omitted fields are cleared, as in AWS) and returns the new calculated
// lifecycle. A vault lock refuses shortening the retention of a point it
// protects, or a retention outside its range (InvalidRequestException);
// a point already in cold storage keeps its MoveToColdStorageAfterDays.
func (s *Service) UpdateRecoveryPointLifecycle(ctx context.Context, in *backupapi.UpdateRecoveryPointLifecycleInput) (*backupapi.UpdateRecoveryPointLifecycleOutput, error) {
	out, err := s.updateRecoveryPointLifecycle(ctx, in)
	return out, apiError(err)
}

func (s *Service) updateRecoveryPointLifecycle(ctx context.Context, in *backupapi.UpdateRecoveryPointLifecycleInput) (*backupapi.UpdateRecoveryPointLifecycleOutput, error) {
	v, rp, err := s.recoveryPoint(ctx, str(in.BackupVaultName), nil, str(in.RecoveryPointArn))
	if err != nil {
		return nil, err
	}
	next, err := lifecycleIn(in.Lifecycle)
	if err != nil {
		return nil, err
	}
	if !rp.Status.Usable() && rp.Status != backup.RecoveryPointExpired {
		return nil, backup.InvalidRequestf("recovery point %s is %s; only a completed recovery point's lifecycle can be changed", rp.ARN, rp.Status)
	}
	now := s.now()
	updated, err := s.store.UpdateRecoveryPoint(ctx, rp.ARN, func(p *backup.RecoveryPoint) error {
		if err := backup.CheckLifecycleUpdate(v.Lock, p, next, now); err != nil {
			return err
		}
		p.Lifecycle = next.Clone()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &backupapi.UpdateRecoveryPointLifecycleOutput{
		BackupVaultArn:      optString(updated.VaultArn),
		RecoveryPointArn:    optString(updated.ARN),
		Lifecycle:           lifecycleOut(updated.Lifecycle),
		CalculatedLifecycle: calculatedOut(updated.CalculatedLifecycle()),
	}, nil
}

// GetRecoveryPointRestoreMetadata returns the restore metadata recorded at
// backup time, with AWS's key names for the resource type (EFS:
// file-system-id, Encrypted, KmsKeyId, PerformanceMode, CreationToken,
// newFileSystem; EBS: volumeSize, volumeType, encrypted, kmsKeyId,
// availabilityZone; RDS: dbInstanceIdentifier, dbName, engine,
// engineVersion, port, ...).
func (s *Service) GetRecoveryPointRestoreMetadata(ctx context.Context, in *backupapi.GetRecoveryPointRestoreMetadataInput) (*backupapi.GetRecoveryPointRestoreMetadataOutput, error) {
	_, rp, err := s.recoveryPoint(ctx, str(in.BackupVaultName), in.BackupVaultAccountId, str(in.RecoveryPointArn))
	if err != nil {
		return nil, apiError(err)
	}
	md := rp.RestoreMetadata
	if md == nil {
		md = map[string]string{}
	}
	return &backupapi.GetRecoveryPointRestoreMetadataOutput{
		BackupVaultArn:   optString(rp.VaultArn),
		RecoveryPointArn: optString(rp.ARN),
		ResourceType:     optString(string(rp.ResourceType)),
		RestoreMetadata:  md,
	}, nil
}

// SweepLifecycles applies recovery point lifecycles once: points whose
// DeleteAt has passed are deleted with their snapshots (a point that
// cannot be deleted is marked EXPIRED with the reason, as AWS does), and
// EFS points whose MoveToColdStorageAt has passed move to COLD (Coffer
// stores cold points like warm ones; only EFS has a cold tier). The job
// runner calls it every Deps.Data.SweepInterval.
func (s *Service) SweepLifecycles(ctx context.Context) error {
	now := s.clock.Now().UTC()
	var errs []error
	usable := []backup.RecoveryPointStatus{backup.RecoveryPointCompleted, backup.RecoveryPointAvailable, backup.RecoveryPointPartial, backup.RecoveryPointExpired, backup.RecoveryPointDeleting}
	err := s.eachRecoveryPoint(ctx, meta.RecoveryPointFilter{ExpiresBefore: now, Statuses: usable}, func(rp backup.RecoveryPoint) {
		v, err := s.store.GetVault(ctx, backup.VaultKey{Region: rp.Region, AccountID: rp.AccountID, Name: rp.VaultName})
		if err != nil {
			errs = append(errs, err)
			return
		}
		if err := backup.CheckRecoveryPointDelete(v.Lock, &rp, now); err != nil {
			return // cannot happen after DeleteAt; never delete what a lock keeps
		}
		if err := s.removeRecoveryPoint(ctx, v, rp); err != nil {
			errs = append(errs, err)
			_, _ = s.store.UpdateRecoveryPoint(ctx, rp.ARN, func(p *backup.RecoveryPoint) error {
				p.Status = backup.RecoveryPointExpired
				p.StatusMessage = "The retention period has passed but Coffer could not delete the recovery point yet: " + errMessage(err)
				return nil
			})
			return
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "expired recovery point deleted", slog.String("recovery_point", rp.ARN), slog.String("vault", rp.VaultName))
	})
	if err != nil {
		errs = append(errs, err)
	}
	err = s.eachRecoveryPoint(ctx, meta.RecoveryPointFilter{ColdBefore: now, Statuses: usable[:2]}, func(rp backup.RecoveryPoint) {
		if !backup.ColdStorageSupported(rp.ResourceType) || rp.StorageClass == backup.StorageCold {
			return
		}
		if _, err := s.store.UpdateRecoveryPoint(ctx, rp.ARN, func(p *backup.RecoveryPoint) error {
			p.StorageClass = backup.StorageCold
			return nil
		}); err != nil {
			errs = append(errs, err)
		}
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// eachRecoveryPoint calls fn for every point matching f (all pages,
// collected first so that fn may change or delete them).
func (s *Service) eachRecoveryPoint(ctx context.Context, f meta.RecoveryPointFilter, fn func(backup.RecoveryPoint)) error {
	var all []backup.RecoveryPoint
	p := meta.Page{MaxResults: meta.MaxResultsLimit}
	for {
		list, next, err := s.store.ListRecoveryPoints(ctx, f, p)
		if err != nil {
			return err
		}
		all = append(all, list...)
		if next == "" || len(all) >= 10*meta.MaxResultsLimit {
			break
		}
		p.NextToken = next
	}
	for _, rp := range all {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fn(rp)
	}
	return nil
}

// CollectGarbage removes the repositories of deleted vaults from storage,
// then garbage collects the repositories of the vaults whose recovery
// points were deleted since their last collection (Vault.GCRequested, or
// requests kept in memory), freeing the storage only they used. A
// collection that must wait for other writers (repo.GCReport.Pending), or
// fails, is retried next time. The job runner calls it every
// Deps.Data.GCInterval (requests stored in the vaults survive restarts).
func (s *Service) CollectGarbage(ctx context.Context) error {
	if s.data.Vaults == nil {
		return nil
	}
	s.data.gcMu.Lock()
	keys := make(map[backup.VaultKey]bool, len(s.data.dirty))
	for k := range s.data.dirty {
		keys[k] = true
	}
	clear(s.data.dirty)
	removed := s.data.removed
	s.data.removed = nil
	s.data.gcMu.Unlock()
	var errs []error
	for _, v := range removed {
		if _, err := s.data.Vaults.Remove(ctx, v); err != nil {
			s.queueRemoval(v)
			errs = append(errs, err)
		}
	}
	for _, region := range s.regionList {
		err := s.eachVault(ctx, meta.VaultFilter{Region: region, AccountID: s.account}, func(v backup.Vault) {
			if !v.GCRequested.IsZero() {
				keys[v.Key()] = true
			}
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	for k := range keys {
		v, err := s.store.GetVault(ctx, k)
		if backup.KindOf(err) == backup.KindNotFound {
			continue
		}
		if err != nil {
			s.markDirty(k)
			errs = append(errs, err)
			continue
		}
		start := time.Now()
		rep, err := s.data.Vaults.GC(ctx, v, repo.GCOptions{})
		if err != nil {
			s.markDirty(k)
			errs = append(errs, err)
			continue
		}
		if rep.Pending {
			s.markDirty(k)
		} else if !v.GCRequested.IsZero() {
			s.gcDone(ctx, k, v.GCRequested)
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "vault garbage collected", slog.String("vault", v.Name), slog.String("region", v.Region),
			slog.Int64("bytes_freed", rep.BytesFreed), slog.Int("packs_deleted", rep.PacksDeleted), slog.Bool("pending", rep.Pending),
			slog.Duration("took", time.Since(start)))
	}
	return errors.Join(errs...)
}

// gcDone clears a vault's stored garbage collection request after a
// collection that started after it, unless a newer request came meanwhile.
func (s *Service) gcDone(ctx context.Context, k backup.VaultKey, covered time.Time) {
	_, err := s.store.UpdateVault(ctx, k, func(v *backup.Vault) error {
		if v.GCRequested.After(covered) {
			return errNewerRequest
		}
		v.GCRequested = time.Time{}
		return nil
	})
	if err != nil && !errors.Is(err, errNewerRequest) && backup.KindOf(err) != backup.KindNotFound {
		s.log.LogAttrs(ctx, slog.LevelWarn, "clearing a garbage collection request", slog.String("vault", k.Name), slog.String("error", err.Error()))
	}
}

var errNewerRequest = errors.New("a newer garbage collection request")

// eachVault calls fn for every vault matching f (all pages).
func (s *Service) eachVault(ctx context.Context, f meta.VaultFilter, fn func(backup.Vault)) error {
	p := meta.Page{MaxResults: meta.MaxResultsLimit}
	for {
		list, next, err := s.store.ListVaults(ctx, f, p)
		if err != nil {
			return err
		}
		for _, v := range list {
			fn(v)
		}
		if next == "" {
			return nil
		}
		p.NextToken = next
	}
}

// unavailable is a ServiceUnavailable error with a cause (logged, never
// shown).
func unavailable(cause error, format string, args ...any) error {
	e := backup.Errorf(backup.KindUnavailable, format, args...)
	e.Err = cause
	return e
}
