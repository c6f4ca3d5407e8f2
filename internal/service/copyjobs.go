package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// Copy job limits and defaults (AWS's quotas, facts §9).
const (
	// DefaultCopyJobsPerDestinationRegion is how many copy jobs may be
	// unfinished (CREATED or RUNNING) into one destination region before
	// the per-vault allowance applies.
	DefaultCopyJobsPerDestinationRegion = 100
	// DefaultCopyJobsPerDestinationVault is how many unfinished copy jobs
	// one destination vault may have beyond the regional limit.
	DefaultCopyJobsPerDestinationVault = 5
	// copyProbeTimeout bounds StartCopyJob's check that the destination
	// storage answers (including the region store's retries).
	copyProbeTimeout = 5 * time.Second
)

// StartCopyJob accepts a one-time copy of a recovery point of a vault of
// the call region into a vault named by ARN, in this or another served
// region, and returns at once; the copy runs in the background
// (copyHandler) and is followed with DescribeCopyJob.
//
// Decisions where AWS is silent:
//   - Errors, checked in this order: a missing or empty required member →
//     MissingParameterValueException; a malformed recovery point, vault or
//     IAM role ARN (or a role of another account), or a lifecycle that
//     breaks the rules (also once merged with the inherited one) →
//     InvalidParameterValueException; an unknown source vault, recovery
//     point in it, or destination vault (also of a region or account
//     Coffer does not serve) → ResourceNotFoundException; a point that is
//     not COMPLETED (CREATING, DELETING, ...) or is in cold storage, or the
//     same source and destination vault → InvalidRequestException; the
//     concurrency limits → LimitExceededException; destination storage that
//     does not answer within 5 s → ServiceUnavailableException.
//   - Limits: a copy is refused when the destination region already has
//     Deps.Data.CopyJobsPerDestinationRegion unfinished copy jobs (AWS:
//     100) and the destination vault has CopyJobsPerDestinationVault of
//     them (AWS: 5 more per vault). The count and the insert are not one
//     transaction: concurrent requests may overshoot by their number.
//     Copies of one resource are queued, not refused: the queue runs one
//     backup or copy job per resource at a time.
//   - IdempotencyToken: the same token with the same parameters within
//     Deps.Data.IdempotencyTTL (one hour) returns the first job and starts
//     nothing; the same token with different parameters →
//     InvalidRequestException (as StartBackupJob).
//   - Lifecycle: the copy inherits the source point's lifecycle; each field
//     the request sets overrides the inherited one (DeleteAfterDays -1
//     keeps the source's). Days count from the source's creation date,
//     which the copy keeps. A destination vault lock whose retention range
//     the result falls outside does not refuse the request: the job FAILS,
//     as AWS does.
func (s *Service) StartCopyJob(ctx context.Context, in *backupapi.StartCopyJobInput) (*backupapi.StartCopyJobOutput, error) {
	out, err := s.startCopyJob(ctx, in)
	return out, apiError(err)
}

// copyRequest is the part of a StartCopyJob request that an idempotent
// retry must repeat exactly (RequestHash).
type copyRequest struct {
	SourceVault, RecoveryPoint, Destination, Role string
	Lifecycle                                     *backupapi.Lifecycle
}

func (r *copyRequest) hash() string {
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (s *Service) startCopyJob(ctx context.Context, in *backupapi.StartCopyJobInput) (*backupapi.StartCopyJobOutput, error) {
	if err := s.needJobs(); err != nil {
		return nil, err
	}
	region, err := s.region(ctx)
	if err != nil {
		return nil, err
	}
	req := copyRequest{
		SourceVault:   str(in.SourceBackupVaultName),
		RecoveryPoint: str(in.RecoveryPointArn),
		Destination:   str(in.DestinationBackupVaultArn),
		Role:          str(in.IamRoleArn),
		Lifecycle:     in.Lifecycle,
	}
	for _, m := range []struct{ name, v string }{
		{"RecoveryPointArn", req.RecoveryPoint}, {"SourceBackupVaultName", req.SourceVault},
		{"DestinationBackupVaultArn", req.Destination}, {"IamRoleArn", req.Role},
	} {
		if m.v == "" {
			return nil, backup.MissingParameterf("%s is required", m.name)
		}
	}
	if err := backup.ValidateVaultName(req.SourceVault); err != nil {
		return nil, backup.ForField("SourceBackupVaultName", err)
	}
	rpRef, err := backup.ParseRecoveryPointARN(req.RecoveryPoint)
	if err != nil {
		return nil, backup.ForField("RecoveryPointArn", err)
	}
	dstKey, err := backup.ParseVaultARN(req.Destination)
	if err != nil {
		return nil, backup.ForField("DestinationBackupVaultArn", err)
	}
	if err := s.checkRole(req.Role); err != nil {
		return nil, err
	}
	override, keepSourceRetention, err := copyLifecycleIn(in.Lifecycle)
	if err != nil {
		return nil, err
	}

	if err := s.checkServed(req.RecoveryPoint, rpRef.Region, rpRef.AccountID, "recovery point"); err != nil {
		return nil, err
	}
	srcVault, rp, err := s.recoveryPoint(ctx, req.SourceVault, nil, req.RecoveryPoint)
	if err != nil {
		return nil, err
	}
	if err := s.checkServed(req.Destination, dstKey.Region, dstKey.AccountID, "destination backup vault"); err != nil {
		return nil, err
	}
	dst, err := s.store.GetVault(ctx, dstKey)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return nil, backup.NotFoundf("destination backup vault %s not found: there is no vault %s in region %s", req.Destination, dstKey.Name, dstKey.Region)
		}
		return nil, err
	}
	lifecycle, err := mergeCopyLifecycle(rp.Lifecycle, override, keepSourceRetention)
	if err != nil {
		return nil, err
	}
	if err := checkCopyable(srcVault, rp, dst); err != nil {
		return nil, err
	}

	token := str(in.IdempotencyToken)
	hash := req.hash()
	if token != "" {
		prev, ok, err := s.copyRetry(ctx, region, rp.ARN, token, hash)
		if err != nil {
			return nil, err
		}
		if ok {
			return startCopyOutput(prev), nil
		}
	}
	if err := s.checkCopyLimits(ctx, dst); err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, copyProbeTimeout)
	err = s.data.Vaults.Probe(pctx, dst.Region)
	cancel()
	if err != nil {
		return nil, unavailable(err, "the storage of region %s, which holds destination backup vault %s, does not answer (%v); no copy job was started, try again later", dst.Region, dst.Name, err)
	}
	// The count and the insert are one step for this server: concurrent
	// requests cannot all pass the check before any of them is stored.
	// (Servers sharing one metadata store would need the check inside the
	// store's transaction.)
	s.data.copyAdmit.Lock()
	defer s.data.copyAdmit.Unlock()
	if err := s.checkCopyLimits(ctx, dst); err != nil {
		return nil, err
	}

	now := s.now()
	j := backup.Job{
		ID:                s.data.IDs.JobID(),
		Kind:              backup.CopyJob,
		Region:            region,
		AccountID:         s.account,
		State:             backup.JobCreated,
		CreationDate:      now,
		ResourceArn:       rp.ResourceArn,
		ResourceType:      rp.ResourceType,
		ResourceName:      rp.ResourceName,
		IamRoleArn:        req.Role,
		BackupSizeInBytes: rp.BackupSizeInBytes,
		IdempotencyToken:  token,
		RequestHash:       hash,
		Copy: &backup.CopyDetails{
			SourceBackupVaultArn:              srcVault.ARN,
			SourceRecoveryPointArn:            rp.ARN,
			DestinationBackupVaultArn:         dst.ARN,
			DestinationRegion:                 dst.Region,
			DestinationVaultType:              string(backup.VaultTypeBackup),
			DestinationVaultLockState:         dst.LockState(),
			DestinationEncryptionKeyArn:       dst.EncryptionKeyArn,
			Lifecycle:                         override,
			DestinationRecoveryPointLifecycle: lifecycle,
		},
	}
	stored, created, err := s.data.Jobs.Submit(ctx, j, s.data.IdempotencyTTL)
	if err != nil {
		return nil, err
	}
	if err := s.checkSubmitted(stored, created, backup.CopyJob, token, hash); err != nil {
		return nil, err
	}
	return startCopyOutput(stored), nil
}

func startCopyOutput(j backup.Job) *backupapi.StartCopyJobOutput {
	return &backupapi.StartCopyJobOutput{CopyJobId: &j.ID, CreationDate: &j.CreationDate, IsParent: &j.IsParent}
}

// checkCopyable refuses what cannot be copied: a point that is not
// COMPLETED or is in cold storage, a copy into its own vault, a destination
// that is not a backup vault.
func checkCopyable(src backup.Vault, rp backup.RecoveryPoint, dst backup.Vault) error {
	switch {
	case src.Key() == dst.Key():
		return backup.InvalidRequestf("the source and destination backup vault are the same (%s); a copy goes into another vault", dst.ARN)
	case rp.Status == backup.RecoveryPointDeleting:
		return backup.InvalidRequestf("recovery point %s is being deleted and cannot be copied", rp.ARN)
	case !rp.Status.Usable():
		return backup.InvalidRequestf("recovery point %s is %s; only COMPLETED recovery points can be copied", rp.ARN, rp.Status)
	case rp.StorageClass == backup.StorageCold:
		return backup.InvalidRequestf("recovery point %s is in cold storage; recovery points in cold storage cannot be copied (as in AWS Backup)", rp.ARN)
	case rp.Engine.SnapshotID == "":
		return backup.InvalidRequestf("recovery point %s has no data in Coffer's storage and cannot be copied", rp.ARN)
	case dst.VaultType != "" && dst.VaultType != backup.VaultTypeBackup:
		return backup.InvalidRequestf("destination backup vault %s is a %s; Coffer copies into BACKUP_VAULT vaults", dst.ARN, dst.VaultType)
	}
	return nil
}

// copyLifecycleIn converts and validates a StartCopyJob Lifecycle. It
// returns the fields to override (nil: none) and whether DeleteAfterDays
// was -1 ("keep the source's expiry").
func copyLifecycleIn(l *backupapi.Lifecycle) (*backup.Lifecycle, bool, error) {
	if l == nil {
		return nil, false, nil
	}
	c := *l
	keep := c.DeleteAfterDays != nil && *c.DeleteAfterDays == -1
	if keep {
		c.DeleteAfterDays = nil
	}
	d, err := lifecycleIn(&c)
	if err != nil {
		return nil, false, backup.ForField("Lifecycle", err)
	}
	return d, keep, nil
}

// mergeCopyLifecycle returns the copy's lifecycle: the source's, with the
// request's fields over it. The result must pass the lifecycle rules too
// (e.g. a request that moves the copy to cold storage later than the
// source's DeleteAfterDays minus 90 days).
func mergeCopyLifecycle(src, override *backup.Lifecycle, keepSourceRetention bool) (*backup.Lifecycle, error) {
	out := src.Clone()
	if out == nil {
		out = &backup.Lifecycle{}
	}
	out.DeleteAfterEvent = ""
	if override != nil {
		if override.MoveToColdStorageAfterDays != nil {
			out.MoveToColdStorageAfterDays = backup.Days(*override.MoveToColdStorageAfterDays)
		}
		if override.DeleteAfterDays != nil && !keepSourceRetention {
			out.DeleteAfterDays = backup.Days(*override.DeleteAfterDays)
		}
		if override.OptInToArchiveForSupportedResources != nil {
			b := *override.OptInToArchiveForSupportedResources
			out.OptInToArchiveForSupportedResources = &b
		}
	}
	if err := backup.ValidateLifecycle(out); err != nil {
		return nil, backup.ForField("Lifecycle", backup.InvalidParameterf("with the lifecycle the copy inherits from its source: %s", errMessage(err)))
	}
	if out.IsEmpty() {
		return nil, nil
	}
	return out, nil
}

// copyRetry finds an earlier copy job of the call region with the same
// idempotency token, created within the TTL, for the same recovery point:
// ok with that job when its parameters match, InvalidRequest when they
// differ. (A token reused for another recovery point is caught when the job
// is submitted.)
func (s *Service) copyRetry(ctx context.Context, region, rpArn, token, hash string) (backup.Job, bool, error) {
	f := meta.JobFilter{Kinds: []backup.JobKind{backup.CopyJob}, Region: region, AccountID: s.account, RecoveryPointArn: rpArn,
		CreatedAfter: s.now().Add(-s.data.IdempotencyTTL)}
	return s.findRetry(ctx, f, token, hash)
}

// unfinishedCopyStates are the states of a copy job that count towards the
// concurrency limits.
var unfinishedCopyStates = []backup.JobState{backup.JobCreated, backup.JobRunning}

// checkCopyLimits refuses a copy into dst when its region has reached the
// regional limit and the vault its own allowance.
func (s *Service) checkCopyLimits(ctx context.Context, dst backup.Vault) error {
	f := meta.JobFilter{Kinds: []backup.JobKind{backup.CopyJob}, AccountID: s.account, DestinationRegion: dst.Region, States: unfinishedCopyStates}
	inRegion, err := s.store.CountJobs(ctx, f)
	if err != nil {
		return err
	}
	regionLimit, vaultLimit := s.copyLimits()
	if inRegion < int64(regionLimit) {
		return nil
	}
	f.DestinationRegion, f.DestinationVaultArn = "", dst.ARN
	inVault, err := s.store.CountJobs(ctx, f)
	if err != nil {
		return err
	}
	if inVault < int64(vaultLimit) {
		return nil
	}
	return backup.LimitExceededf("too many concurrent copy jobs: %d copy jobs into region %s have not finished (limit %d) and %d of them go into backup vault %s (limit %d beyond the regional one); wait for some to finish",
		inRegion, dst.Region, regionLimit, inVault, dst.Name, vaultLimit)
}

// copyLimits returns the configured limits, with AWS's defaults.
func (s *Service) copyLimits() (region, vault int) {
	region, vault = s.data.CopyJobsPerDestinationRegion, s.data.CopyJobsPerDestinationVault
	if region <= 0 {
		region = DefaultCopyJobsPerDestinationRegion
	}
	if vault <= 0 {
		vault = DefaultCopyJobsPerDestinationVault
	}
	return region, vault
}

// DescribeCopyJob returns every field of a copy job of the call region.
func (s *Service) DescribeCopyJob(ctx context.Context, in *backupapi.DescribeCopyJobInput) (*backupapi.DescribeCopyJobOutput, error) {
	j, err := s.getCopyJob(ctx, str(in.CopyJobId))
	if err != nil {
		return nil, apiError(err)
	}
	m := copyJobToAPI(j)
	return &backupapi.DescribeCopyJobOutput{CopyJob: &m}, nil
}

// getCopyJob returns the copy job with that ID if it belongs to the call
// region (its source's region), and NotFound otherwise.
func (s *Service) getCopyJob(ctx context.Context, id string) (backup.Job, error) {
	return s.getJob(ctx, backup.CopyJob, "CopyJobId", id)
}

// copyJobToAPI maps a copy job to the API's CopyJob.
func copyJobToAPI(j backup.Job) backupapi.CopyJob {
	c := j.Copy
	if c == nil {
		c = &backup.CopyDetails{}
	}
	isParent := j.IsParent
	out := backupapi.CopyJob{
		AccountId:                         optString(j.AccountID),
		BackupSizeInBytes:                 &j.BackupSizeInBytes,
		CompletionDate:                    optTime(j.CompletionDate),
		CompositeMemberIdentifier:         optString(j.CompositeMemberIdentifier),
		CopyJobId:                         optString(j.ID),
		CreatedBy:                         creatorToAPI(j.CreatedBy),
		CreatedByBackupJobId:              optString(c.CreatedByBackupJobID),
		CreationDate:                      optTime(j.CreationDate),
		DestinationBackupVaultArn:         optString(c.DestinationBackupVaultArn),
		DestinationEncryptionKeyArn:       optString(c.DestinationEncryptionKeyArn),
		DestinationRecoveryPointArn:       optString(c.DestinationRecoveryPointArn),
		DestinationRecoveryPointLifecycle: lifecycleOut(c.DestinationRecoveryPointLifecycle),
		DestinationVaultLockState:         optString(c.DestinationVaultLockState),
		DestinationVaultType:              optString(c.DestinationVaultType),
		IamRoleArn:                        optString(j.IamRoleArn),
		IsParent:                          &isParent,
		MessageCategory:                   optString(j.MessageCategory),
		ParentJobId:                       optString(j.ParentJobID),
		ResourceArn:                       optString(j.ResourceArn),
		ResourceName:                      optString(j.ResourceName),
		ResourceType:                      optString(string(j.ResourceType)),
		SourceBackupVaultArn:              optString(c.SourceBackupVaultArn),
		SourceRecoveryPointArn:            optString(c.SourceRecoveryPointArn),
		State:                             backupapi.CopyJobState(j.State),
		StatusMessage:                     optString(j.StatusMessage),
	}
	if j.IsParent {
		n := j.NumberOfChildJobs
		out.NumberOfChildJobs = &n
		out.ChildJobsInState = map[backupapi.CopyJobState]int64{}
		for st, k := range j.ChildJobsInState {
			out.ChildJobsInState[backupapi.CopyJobState(st)] = k
		}
	}
	return out
}

// ListCopyJobs lists the copy jobs of the call region, newest first, with
// every filter of the model.
func (s *Service) ListCopyJobs(ctx context.Context, in *backupapi.ListCopyJobsInput) (*backupapi.ListCopyJobsOutput, error) {
	out, err := s.listCopyJobs(ctx, in)
	return out, apiError(err)
}

func (s *Service) listCopyJobs(ctx context.Context, in *backupapi.ListCopyJobsInput) (*backupapi.ListCopyJobsOutput, error) {
	region, err := s.region(ctx)
	if err != nil {
		return nil, err
	}
	f := meta.JobFilter{Kinds: []backup.JobKind{backup.CopyJob}, Region: region, AccountID: s.account}
	if a := str(in.ByAccountId); a != "" && a != "*" && a != s.account {
		return &backupapi.ListCopyJobsOutput{CopyJobs: []backupapi.CopyJob{}}, nil // another account's jobs: none here
	}
	if in.ByState != "" {
		st := backup.JobState(in.ByState)
		if !backup.ValidState(backup.CopyJob, st) {
			return nil, backup.InvalidParameterf("Invalid value for ByState: %q is not a copy job state (CREATED, RUNNING, COMPLETED, FAILED, PARTIAL)", in.ByState)
		}
		f.States = []backup.JobState{st}
	}
	if t := str(in.ByResourceType); t != "" {
		if !backup.ResourceType(t).Known() {
			return nil, backup.InvalidParameterf("Invalid value for ByResourceType: %q is not a resource type", t)
		}
		f.ResourceType = backup.ResourceType(t)
	}
	if a := str(in.ByDestinationVaultArn); a != "" {
		if _, err := backup.ParseVaultARN(a); err != nil {
			return nil, backup.ForField("ByDestinationVaultArn", err)
		}
		f.DestinationVaultArn = a
	}
	f.ResourceArn = str(in.ByResourceArn)
	f.RecoveryPointArn = str(in.BySourceRecoveryPointArn)
	f.ParentJobID = str(in.ByParentJobId)
	if c := str(in.ByMessageCategory); c != summaryAny && c != summaryAggregateAll {
		f.MessageCategory = c
	}
	f.CreatedAfter = timeOf(in.ByCreatedAfter)
	f.CreatedBefore = timeOf(in.ByCreatedBefore)
	f.CompletedAfter = timeOf(in.ByCompleteAfter)
	f.CompletedBefore = timeOf(in.ByCompleteBefore)
	list, next, err := s.store.ListJobs(ctx, f, page(in.MaxResults, in.NextToken))
	if err != nil {
		return nil, err
	}
	out := &backupapi.ListCopyJobsOutput{NextToken: optString(next), CopyJobs: make([]backupapi.CopyJob, 0, len(list))}
	for _, j := range list {
		out.CopyJobs = append(out.CopyJobs, copyJobToAPI(j))
	}
	return out, nil
}

// ListCopyJobSummaries counts the call region's copy jobs by account,
// state, resource type and message category over the aggregation period
// (see jobSummaries). States of the summary enum that Coffer's copy jobs
// never take (ABORTING, ABORTED, COMPLETING, FAILING) count nothing.
func (s *Service) ListCopyJobSummaries(ctx context.Context, in *backupapi.ListCopyJobSummariesInput) (*backupapi.ListCopyJobSummariesOutput, error) {
	q := summaryQuery{
		kind:         backup.CopyJob,
		account:      str(in.AccountId),
		state:        string(in.State),
		resourceType: str(in.ResourceType),
		category:     str(in.MessageCategory),
		period:       in.AggregationPeriod,
		page:         page(in.MaxResults, in.NextToken),
	}
	period := string(q.period)
	if period == "" {
		period = string(backupapi.AggregationPeriodOneDay)
	}
	out := &backupapi.ListCopyJobSummariesOutput{AggregationPeriod: &period, CopyJobSummaries: []backupapi.CopyJobSummary{}}
	switch in.State {
	case backupapi.CopyJobStatusAborting, backupapi.CopyJobStatusAborted, backupapi.CopyJobStatusCompleting, backupapi.CopyJobStatusFailing:
		// Valid values that no Coffer copy job takes; still check the rest.
		q.state = string(backupapi.CopyJobStatusCompleted)
		if _, _, err := s.jobSummaries(ctx, q); err != nil {
			return nil, apiError(err)
		}
		return out, nil
	}
	rows, next, err := s.jobSummaries(ctx, q)
	if err != nil {
		return nil, apiError(err)
	}
	out.NextToken = optString(next)
	for _, r := range rows {
		n := int32(min(r.count, int64(1<<31-1)))
		out.CopyJobSummaries = append(out.CopyJobSummaries, backupapi.CopyJobSummary{
			AccountId:       optString(r.account),
			Count:           &n,
			EndTime:         optTime(r.end),
			MessageCategory: optString(r.category),
			Region:          optString(r.region),
			ResourceType:    optString(r.resourceType),
			StartTime:       optTime(r.start),
			State:           backupapi.CopyJobStatus(r.state),
		})
	}
	return out, nil
}
