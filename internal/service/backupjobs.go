package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// Backup job limits and defaults.
const (
	// defaultStartWindow is StartWindowMinutes when the request has none
	// (AWS: 8 hours).
	defaultStartWindow = 8 * 60
	// minStartWindow is the smallest StartWindowMinutes AWS accepts.
	minStartWindow = 60
	// maxWindow is the largest start or completion window (100 years).
	maxWindow = 52_560_000
)

// StartBackupJob accepts an on-demand backup of a declared resource into a
// vault of the call region and returns at once; the job runs in the
// background (jobs.Runner) and is followed with DescribeBackupJob.
//
// Decisions where AWS is silent:
//   - A resource that is neither declared in the configuration nor created
//     by a restore → ResourceNotFoundException naming the ARN; an unknown
//     vault → ResourceNotFoundException naming it; a malformed IamRoleArn,
//     or one of another account → InvalidParameterValueException.
//   - One backup or copy job per resource: while a backup or copy job of
//     the resource has not ended, another StartBackupJob for it is refused
//     with LimitExceededException naming that job (AWS's quota of one
//     concurrent job per resource), unless it is a retry of that job.
//   - IdempotencyToken: the same token with the same parameters within
//     Deps.Data.IdempotencyTTL (one hour) returns the first job; the same
//     token with different parameters → InvalidRequestException.
//   - A vault lock whose retention range the job's Lifecycle falls outside
//     does not refuse the request: the job runs and FAILS, as AWS does.
//   - BackupOptions (WindowsVSS) apply to EC2 only → InvalidParameterValue;
//     Index ENABLED and LogicallyAirGappedBackupVaultArn are not
//     implemented (501).
func (s *Service) StartBackupJob(ctx context.Context, in *backupapi.StartBackupJobInput) (*backupapi.StartBackupJobOutput, error) {
	out, err := s.startBackupJob(ctx, in)
	return out, apiError(err)
}

// backupRequest is the part of a StartBackupJob request that an
// idempotent retry must repeat exactly (RequestHash).
type backupRequest struct {
	Vault, Resource, Role string
	Start, Complete       int64
	Lifecycle             *backup.Lifecycle
	Tags, Options         map[string]string
}

func (r *backupRequest) hash() string {
	b, _ := json.Marshal(r) // maps marshal with sorted keys
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func (s *Service) startBackupJob(ctx context.Context, in *backupapi.StartBackupJobInput) (*backupapi.StartBackupJobOutput, error) {
	if err := s.needJobs(); err != nil {
		return nil, err
	}
	key, err := s.vaultKey(ctx, str(in.BackupVaultName))
	if err != nil {
		return nil, err
	}
	if key.Name == "" {
		return nil, backup.MissingParameterf("BackupVaultName is required")
	}
	if err := backup.ValidateVaultName(key.Name); err != nil {
		return nil, backup.ForField("BackupVaultName", err)
	}
	arn := str(in.ResourceArn)
	if arn == "" {
		return nil, backup.MissingParameterf("ResourceArn is required")
	}
	res, err := s.lookupResource(ctx, arn, key.Region)
	if err != nil {
		return nil, err
	}
	role := str(in.IamRoleArn)
	if role == "" {
		return nil, backup.MissingParameterf("IamRoleArn is required")
	}
	if err := s.checkRole(role); err != nil {
		return nil, err
	}
	req := backupRequest{Vault: key.Name, Resource: arn, Role: role, Start: defaultStartWindow}
	if in.StartWindowMinutes != nil {
		req.Start = *in.StartWindowMinutes
		if req.Start < minStartWindow || req.Start > maxWindow {
			return nil, backup.InvalidParameterf("Invalid value for StartWindowMinutes: %d; it must be between %d and %d minutes", req.Start, minStartWindow, maxWindow)
		}
	}
	if in.CompleteWindowMinutes != nil {
		req.Complete = *in.CompleteWindowMinutes
		if req.Complete < 1 || req.Complete > maxWindow {
			return nil, backup.InvalidParameterf("Invalid value for CompleteWindowMinutes: %d; it must be between 1 and %d minutes", req.Complete, maxWindow)
		}
	}
	if req.Lifecycle, err = lifecycleIn(in.Lifecycle); err != nil {
		return nil, err
	}
	if err := validateTags("RecoveryPointTags", in.RecoveryPointTags); err != nil {
		return nil, err
	}
	req.Tags = in.RecoveryPointTags
	for k := range in.BackupOptions {
		if k == "WindowsVSS" {
			return nil, backup.InvalidParameterf("Invalid value for BackupOptions: WindowsVSS applies to EC2 instances only, not to resource type %s", res.Type)
		}
		return nil, backup.InvalidParameterf("Invalid value for BackupOptions: %q is not a backup option; the only one AWS Backup defines is WindowsVSS (EC2)", k)
	}
	switch in.Index {
	case "", backupapi.IndexDisabled:
	default:
		return nil, backup.NotImplementedf("StartBackupJob with Index %s: Coffer does not build backup indexes yet", in.Index)
	}
	if str(in.LogicallyAirGappedBackupVaultArn) != "" {
		return nil, backup.NotImplementedf("StartBackupJob with LogicallyAirGappedBackupVaultArn: Coffer has no logically air-gapped vaults yet")
	}
	v, err := s.store.GetVault(ctx, key)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return nil, backup.NotFoundf("backup vault %s not found in region %s", key.Name, key.Region)
		}
		return nil, err
	}
	if v.VaultType != backup.VaultTypeBackup && v.VaultType != "" {
		return nil, backup.InvalidRequestf("backup vault %s is a %s; backups go into BACKUP_VAULT vaults", key.Name, v.VaultType)
	}
	token := str(in.IdempotencyToken)
	hash := req.hash()
	if prev, ok, err := s.busyResource(ctx, arn, token, hash); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return startBackupOutput(prev), nil
	}

	now := s.now()
	j := backup.Job{
		ID:               s.data.IDs.JobID(),
		Kind:             backup.BackupJob,
		Region:           key.Region,
		AccountID:        key.AccountID,
		State:            backup.JobCreated,
		CreationDate:     now,
		StartBy:          now.Add(time.Duration(req.Start) * time.Minute),
		ResourceArn:      arn,
		ResourceType:     res.Type,
		ResourceName:     res.Name,
		IamRoleArn:       role,
		IdempotencyToken: token,
		RequestHash:      hash,
		Backup: &backup.BackupDetails{
			BackupVaultName:       v.Name,
			BackupVaultArn:        v.ARN,
			VaultType:             string(backup.VaultTypeBackup),
			VaultLockState:        v.LockState(),
			EncryptionKeyArn:      v.EncryptionKeyArn,
			IsEncrypted:           true,
			Lifecycle:             req.Lifecycle,
			RecoveryPointTags:     in.RecoveryPointTags,
			StartWindowMinutes:    req.Start,
			CompleteWindowMinutes: req.Complete,
			Index:                 string(in.Index),
			RecoveryPointArn:      s.data.IDs.RecoveryPointARN(res.Type, key.Region, key.AccountID),
		},
	}
	if req.Complete > 0 {
		j.CompleteBy = now.Add(time.Duration(req.Complete) * time.Minute)
	}
	stored, created, err := s.data.Jobs.Submit(ctx, j, s.data.IdempotencyTTL)
	if err != nil {
		return nil, err
	}
	if err := s.checkSubmitted(stored, created, backup.BackupJob, token, hash); err != nil {
		return nil, err
	}
	return startBackupOutput(stored), nil
}

func startBackupOutput(j backup.Job) *backupapi.StartBackupJobOutput {
	out := &backupapi.StartBackupJobOutput{
		BackupJobId:  &j.ID,
		CreationDate: &j.CreationDate,
		IsParent:     &j.IsParent,
	}
	// AWS returns RecoveryPointArn at start only for EFS (and advanced
	// DynamoDB).
	if j.ResourceType == backup.EFS && j.Backup != nil {
		out.RecoveryPointArn = optString(j.Backup.RecoveryPointArn)
	}
	return out
}

// checkRole validates an IamRoleArn: a well-formed IAM role ARN of this
// account.
func (s *Service) checkRole(role string) error {
	ref, err := backup.ParseRoleARN(role)
	if err != nil {
		return backup.ForField("IamRoleArn", err)
	}
	if ref.AccountID != s.account {
		return backup.InvalidParameterf("Invalid value for IamRoleArn: the role %s belongs to account %s; Coffer serves account %s", role, ref.AccountID, s.account)
	}
	return nil
}

// lookupResource returns the resource with that ARN: declared in the
// configuration, or created by a restore. region is the call region.
func (s *Service) lookupResource(ctx context.Context, arn, region string) (backup.Resource, error) {
	ref, err := backup.ParseResourceARN(arn)
	if err != nil {
		return backup.Resource{}, backup.ForField("ResourceArn", err)
	}
	if err := ref.Supported(); err != nil {
		return backup.Resource{}, err
	}
	if err := s.checkServed(arn, ref.Region, ref.AccountID, "resource"); err != nil {
		return backup.Resource{}, err
	}
	if ref.Region != region {
		return backup.Resource{}, backup.NotFoundf("resource %s not found in region %s: it is in region %s; send the request to that region", arn, region, ref.Region)
	}
	if r, ok := s.data.Resources.Get(arn); ok {
		return r, nil
	}
	r, err := s.store.GetResource(ctx, arn)
	if err == nil {
		return r, nil
	}
	if backup.KindOf(err) != backup.KindNotFound {
		return backup.Resource{}, err
	}
	return backup.Resource{}, backup.NotFoundf("resource %s not found: it is not declared in Coffer's configuration (resources:) and was not created by a restore", arn)
}

// busyResource decides whether a StartBackupJob may create a job for the
// resource. A backup job of the resource created within the idempotency TTL
// with the same token is a retry (ok == true and that job; InvalidRequest
// when its parameters differ). Otherwise an unfinished backup or copy job
// of the resource refuses the request with LimitExceeded ("one job per
// resource").
func (s *Service) busyResource(ctx context.Context, arn, token, hash string) (backup.Job, bool, error) {
	if token != "" {
		f := meta.JobFilter{Kinds: []backup.JobKind{backup.BackupJob}, ResourceArn: arn, AccountID: s.account,
			CreatedAfter: s.now().Add(-s.data.IdempotencyTTL)}
		if j, ok, err := s.findRetry(ctx, f, token, hash); ok || err != nil {
			return j, ok, err
		}
	}
	var states []backup.JobState
	for _, k := range []backup.JobKind{backup.BackupJob, backup.CopyJob} {
		for _, st := range backup.States(k) {
			if !backup.IsTerminal(k, st) && !slices.Contains(states, st) {
				states = append(states, st)
			}
		}
	}
	list, _, err := s.store.ListJobs(ctx, meta.JobFilter{Kinds: []backup.JobKind{backup.BackupJob, backup.CopyJob}, ResourceArn: arn, States: states}, meta.Page{MaxResults: 10})
	if err != nil {
		return backup.Job{}, false, err
	}
	for _, j := range list {
		if !j.Terminal() {
			return backup.Job{}, false, backup.LimitExceededf("resource %s already has %s job %s in state %s; Coffer runs one backup or copy job per resource at a time (AWS's quota). Wait for it to end, or stop it with StopBackupJob", arn, strings.ToLower(string(j.Kind)), j.ID, j.State)
		}
	}
	return backup.Job{}, false, nil
}

// DescribeBackupJob returns every field of a backup job of the call region.
func (s *Service) DescribeBackupJob(ctx context.Context, in *backupapi.DescribeBackupJobInput) (*backupapi.DescribeBackupJobOutput, error) {
	out, err := s.describeBackupJob(ctx, in)
	return out, apiError(err)
}

func (s *Service) describeBackupJob(ctx context.Context, in *backupapi.DescribeBackupJobInput) (*backupapi.DescribeBackupJobOutput, error) {
	j, err := s.getBackupJob(ctx, str(in.BackupJobId))
	if err != nil {
		return nil, err
	}
	m := s.backupJobToAPI(j)
	return &backupapi.DescribeBackupJobOutput{
		AccountId: m.AccountId, BackupJobId: m.BackupJobId, BackupOptions: m.BackupOptions,
		BackupSizeInBytes: m.BackupSizeInBytes, BackupType: m.BackupType, BackupVaultArn: m.BackupVaultArn,
		BackupVaultName: m.BackupVaultName, BytesTransferred: m.BytesTransferred, CompletionDate: m.CompletionDate,
		CreatedBy: m.CreatedBy, CreationDate: m.CreationDate, EncryptionKeyArn: m.EncryptionKeyArn,
		ExpectedCompletionDate: m.ExpectedCompletionDate, IamRoleArn: m.IamRoleArn, InitiationDate: m.InitiationDate,
		IsEncrypted: m.IsEncrypted, IsParent: m.IsParent, MessageCategory: m.MessageCategory,
		NumberOfChildJobs: &j.NumberOfChildJobs, ParentJobId: m.ParentJobId, PercentDone: m.PercentDone,
		RecoveryPointArn: m.RecoveryPointArn, RecoveryPointLifecycle: m.RecoveryPointLifecycle,
		ResourceArn: m.ResourceArn, ResourceName: m.ResourceName, ResourceType: m.ResourceType, StartBy: m.StartBy,
		State: m.State, StatusMessage: m.StatusMessage, VaultLockState: m.VaultLockState, VaultType: m.VaultType,
	}, nil
}

// getBackupJob returns the backup job with that ID if it belongs to the
// call region, and NotFound otherwise.
func (s *Service) getBackupJob(ctx context.Context, id string) (backup.Job, error) {
	return s.getJob(ctx, backup.BackupJob, "BackupJobId", id)
}

// backupJobToAPI maps a backup job to the list member shape (the describe
// output has the same fields plus NumberOfChildJobs and ChildJobsInState).
func (s *Service) backupJobToAPI(j backup.Job) backupapi.BackupJob {
	b := j.Backup
	if b == nil {
		b = &backup.BackupDetails{}
	}
	isParent := j.IsParent
	isEncrypted := b.IsEncrypted
	pct := j.PercentDone()
	out := backupapi.BackupJob{
		AccountId:              optString(j.AccountID),
		BackupJobId:            optString(j.ID),
		BackupOptions:          b.BackupOptions,
		BackupSizeInBytes:      &j.BackupSizeInBytes,
		BackupType:             optString(b.BackupType),
		BackupVaultArn:         optString(b.BackupVaultArn),
		BackupVaultName:        optString(b.BackupVaultName),
		BytesTransferred:       &j.Progress.BytesDone,
		CompletionDate:         optTime(j.CompletionDate),
		CreatedBy:              creatorToAPI(j.CreatedBy),
		CreationDate:           optTime(j.CreationDate),
		EncryptionKeyArn:       optString(b.EncryptionKeyArn),
		ExpectedCompletionDate: optTime(expectedCompletion(j)),
		IamRoleArn:             optString(j.IamRoleArn),
		InitiationDate:         optTime(j.InitiationDate),
		IsEncrypted:            &isEncrypted,
		IsParent:               &isParent,
		MessageCategory:        optString(j.MessageCategory),
		ParentJobId:            optString(j.ParentJobID),
		PercentDone:            &pct,
		RecoveryPointArn:       optString(b.RecoveryPointArn),
		RecoveryPointLifecycle: lifecycleOut(b.Lifecycle),
		ResourceArn:            optString(j.ResourceArn),
		ResourceName:           optString(j.ResourceName),
		ResourceType:           optString(string(j.ResourceType)),
		StartBy:                optTime(j.StartBy),
		State:                  backupapi.BackupJobState(j.State),
		StatusMessage:          optString(j.StatusMessage),
		VaultLockState:         optString(b.VaultLockState),
		VaultType:              optString(b.VaultType),
	}
	return out
}

// expectedCompletion estimates when a running job will finish from its
// progress (linear in the percentage done); the completion date of a
// finished job; zero when there is no estimate yet.
func expectedCompletion(j backup.Job) time.Time {
	if j.Terminal() {
		return j.CompletionDate
	}
	if !j.ExpectedCompletionDate.IsZero() {
		return j.ExpectedCompletionDate
	}
	p := j.Progress
	if j.InitiationDate.IsZero() || p.UpdatedAt.IsZero() || p.Percent <= 0 || p.Percent >= 100 {
		return time.Time{}
	}
	elapsed := p.UpdatedAt.Sub(j.InitiationDate)
	if elapsed <= 0 {
		return time.Time{}
	}
	total := time.Duration(float64(elapsed) * 100 / p.Percent)
	return j.InitiationDate.Add(total).Truncate(time.Second)
}

// ListBackupJobs lists the backup jobs of the call region, newest first,
// with every filter of the model.
func (s *Service) ListBackupJobs(ctx context.Context, in *backupapi.ListBackupJobsInput) (*backupapi.ListBackupJobsOutput, error) {
	out, err := s.listBackupJobs(ctx, in)
	return out, apiError(err)
}

func (s *Service) listBackupJobs(ctx context.Context, in *backupapi.ListBackupJobsInput) (*backupapi.ListBackupJobsOutput, error) {
	region, err := s.region(ctx)
	if err != nil {
		return nil, err
	}
	f := meta.JobFilter{Kinds: []backup.JobKind{backup.BackupJob}, Region: region, AccountID: s.account}
	if a := str(in.ByAccountId); a != "" && a != "*" && a != s.account {
		return &backupapi.ListBackupJobsOutput{}, nil // another account's jobs: none here
	}
	if in.ByState != "" {
		st := backup.JobState(in.ByState)
		if !backup.ValidState(backup.BackupJob, st) {
			return nil, backup.InvalidParameterf("Invalid value for ByState: %q is not a backup job state", in.ByState)
		}
		f.States = []backup.JobState{st}
	}
	if n := str(in.ByBackupVaultName); n != "" {
		if err := backup.ValidateVaultName(n); err != nil {
			return nil, backup.ForField("ByBackupVaultName", err)
		}
		f.VaultName = n
	}
	if t := str(in.ByResourceType); t != "" {
		if !backup.ResourceType(t).Known() {
			return nil, backup.InvalidParameterf("Invalid value for ByResourceType: %q is not a resource type", t)
		}
		f.ResourceType = backup.ResourceType(t)
	}
	f.ResourceArn = str(in.ByResourceArn)
	f.ParentJobID = str(in.ByParentJobId)
	if c := str(in.ByMessageCategory); c != "ANY" && c != "AGGREGATE_ALL" {
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
	out := &backupapi.ListBackupJobsOutput{NextToken: optString(next), BackupJobs: make([]backupapi.BackupJob, 0, len(list))}
	for _, j := range list {
		out.BackupJobs = append(out.BackupJobs, s.backupJobToAPI(j))
	}
	return out, nil
}

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// StopBackupJob stops a backup job: a queued one ends ABORTED at once, a
// running one goes ABORTING and then ABORTED when its worker has stopped
// (within about a second). As AWS documents, RDS backup jobs cannot be
// stopped (InvalidRequestException); neither can a job that has ended.
func (s *Service) StopBackupJob(ctx context.Context, in *backupapi.StopBackupJobInput) (*backupapi.StopBackupJobOutput, error) {
	err := s.stopBackupJob(ctx, in)
	if err != nil {
		return nil, apiError(err)
	}
	return &backupapi.StopBackupJobOutput{}, nil
}

func (s *Service) stopBackupJob(ctx context.Context, in *backupapi.StopBackupJobInput) error {
	if err := s.needJobs(); err != nil {
		return err
	}
	j, err := s.getBackupJob(ctx, str(in.BackupJobId))
	if err != nil {
		return err
	}
	if j.ResourceType == backup.RDS {
		return backup.InvalidRequestf("backup job %s backs up an RDS database; StopBackupJob is not supported for Amazon RDS (as in AWS Backup)", j.ID)
	}
	if j.Terminal() {
		return backup.InvalidRequestf("backup job %s has already ended (%s) and cannot be stopped", j.ID, j.State)
	}
	_, err = s.data.Jobs.Stop(ctx, j.ID)
	return err
}

// creatorToAPI maps a Creator (nil when empty).
func creatorToAPI(c backup.Creator) *backupapi.RecoveryPointCreator {
	if c.IsZero() {
		return nil
	}
	return &backupapi.RecoveryPointCreator{
		BackupPlanArn: optString(c.BackupPlanArn), BackupPlanId: optString(c.BackupPlanID),
		BackupPlanName: optString(c.BackupPlanName), BackupPlanVersion: optString(c.BackupPlanVersion),
		BackupRuleCron: optString(c.BackupRuleCron), BackupRuleId: optString(c.BackupRuleID),
		BackupRuleName: optString(c.BackupRuleName), BackupRuleTimezone: optString(c.BackupRuleTimezone),
	}
}

// lifecycleIn converts and validates a request Lifecycle (nil stays nil;
// an empty one is nil too).
func lifecycleIn(l *backupapi.Lifecycle) (*backup.Lifecycle, error) {
	if l == nil {
		return nil, nil
	}
	d := &backup.Lifecycle{
		MoveToColdStorageAfterDays:          l.MoveToColdStorageAfterDays,
		DeleteAfterDays:                     l.DeleteAfterDays,
		OptInToArchiveForSupportedResources: l.OptInToArchiveForSupportedResources,
		DeleteAfterEvent:                    string(l.DeleteAfterEvent),
	}
	if err := backup.ValidateLifecycle(d); err != nil {
		return nil, err
	}
	if d.IsEmpty() {
		return nil, nil
	}
	return d.Clone(), nil
}

// lifecycleOut maps a Lifecycle (nil stays nil).
func lifecycleOut(l *backup.Lifecycle) *backupapi.Lifecycle {
	if l == nil {
		return nil
	}
	return &backupapi.Lifecycle{
		MoveToColdStorageAfterDays:          l.MoveToColdStorageAfterDays,
		DeleteAfterDays:                     l.DeleteAfterDays,
		OptInToArchiveForSupportedResources: l.OptInToArchiveForSupportedResources,
		DeleteAfterEvent:                    backupapi.LifecycleDeleteAfterEvent(l.DeleteAfterEvent),
	}
}

// calculatedOut maps a CalculatedLifecycle (nil when it sets nothing).
func calculatedOut(c backup.CalculatedLifecycle) *backupapi.CalculatedLifecycle {
	if c.MoveToColdStorageAt.IsZero() && c.DeleteAt.IsZero() {
		return nil
	}
	return &backupapi.CalculatedLifecycle{MoveToColdStorageAt: optTime(c.MoveToColdStorageAt), DeleteAt: optTime(c.DeleteAt)}
}
