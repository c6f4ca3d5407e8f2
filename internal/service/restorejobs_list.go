package service

import (
	"context"
	"maps"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// getRestoreJob returns the restore job with that ID if it belongs to the
// call region, and NotFound otherwise.
func (s *Service) getRestoreJob(ctx context.Context, id string) (backup.Job, error) {
	return s.getJob(ctx, backup.RestoreJob, "RestoreJobId", id)
}

// restoreJobToAPI maps a restore job to the list member shape; the
// describe output has the same fields.
func restoreJobToAPI(j backup.Job) backupapi.RestoreJobsListMember {
	r := j.Restore
	pct := j.PercentDone()
	isParent := j.IsParent
	out := backupapi.RestoreJobsListMember{
		AccountId:                 optString(j.AccountID),
		BackupSizeInBytes:         &j.BackupSizeInBytes,
		BackupVaultArn:            optString(r.BackupVaultArn),
		CompletionDate:            optTime(j.CompletionDate),
		CreatedResourceArn:        optString(r.CreatedResourceArn),
		CreationDate:              optTime(j.CreationDate),
		DeletionStatus:            backupapi.RestoreDeletionStatus(r.DeletionStatus),
		DeletionStatusMessage:     optString(r.DeletionStatusMessage),
		IamRoleArn:                optString(j.IamRoleArn),
		IsParent:                  &isParent,
		ParentJobId:               optString(j.ParentJobID),
		PercentDone:               &pct,
		RecoveryPointArn:          optString(r.RecoveryPointArn),
		RecoveryPointCreationDate: optTime(r.RecoveryPointCreationDate),
		ResourceType:              optString(string(j.ResourceType)),
		RestoreJobId:              optString(j.ID),
		SourceResourceArn:         optString(j.ResourceArn),
		Status:                    backupapi.RestoreJobStatus(j.State),
		StatusMessage:             optString(j.StatusMessage),
		ValidationStatus:          backupapi.RestoreValidationStatus(r.ValidationStatus),
		ValidationStatusMessage:   optString(r.ValidationStatusMessage),
	}
	if r.ExpectedCompletionTimeMinutes > 0 {
		m := r.ExpectedCompletionTimeMinutes
		out.ExpectedCompletionTimeMinutes = &m
	}
	if p := j.CreatedBy.RestoreTestingPlanArn; p != "" {
		out.CreatedBy = &backupapi.RestoreJobCreator{RestoreTestingPlanArn: &p}
	}
	return out
}

// DescribeRestoreJob returns every field of a restore job of the call
// region (a flat output, as in AWS).
func (s *Service) DescribeRestoreJob(ctx context.Context, in *backupapi.DescribeRestoreJobInput) (*backupapi.DescribeRestoreJobOutput, error) {
	j, err := s.getRestoreJob(ctx, str(in.RestoreJobId))
	if err != nil {
		return nil, apiError(err)
	}
	m := restoreJobToAPI(j)
	return &backupapi.DescribeRestoreJobOutput{
		AccountId: m.AccountId, BackupSizeInBytes: m.BackupSizeInBytes, BackupVaultArn: m.BackupVaultArn,
		CompletionDate: m.CompletionDate, CreatedBy: m.CreatedBy, CreatedResourceArn: m.CreatedResourceArn,
		CreationDate: m.CreationDate, DeletionStatus: m.DeletionStatus, DeletionStatusMessage: m.DeletionStatusMessage,
		ExpectedCompletionTimeMinutes: m.ExpectedCompletionTimeMinutes, IamRoleArn: m.IamRoleArn, IsParent: m.IsParent,
		ParentJobId: m.ParentJobId, PercentDone: m.PercentDone, RecoveryPointArn: m.RecoveryPointArn,
		RecoveryPointCreationDate: m.RecoveryPointCreationDate, ResourceType: m.ResourceType, RestoreJobId: m.RestoreJobId,
		SourceResourceArn: m.SourceResourceArn, Status: m.Status, StatusMessage: m.StatusMessage,
		ValidationStatus: m.ValidationStatus, ValidationStatusMessage: m.ValidationStatusMessage,
	}, nil
}

// restoreStatus converts a status filter ("" for none).
func restoreStatus(s backupapi.RestoreJobStatus) ([]backup.JobState, error) {
	if s == "" {
		return nil, nil
	}
	st := backup.JobState(s)
	if !backup.ValidState(backup.RestoreJob, st) {
		return nil, backup.InvalidParameterf("Invalid value for ByStatus: %q is not a restore job status (PENDING, RUNNING, COMPLETED, ABORTED, FAILED)", s)
	}
	return []backup.JobState{st}, nil
}

// ListRestoreJobs lists the restore jobs of the call region, newest first,
// with every filter of the model.
func (s *Service) ListRestoreJobs(ctx context.Context, in *backupapi.ListRestoreJobsInput) (*backupapi.ListRestoreJobsOutput, error) {
	out, err := s.listRestoreJobs(ctx, in)
	return out, apiError(err)
}

func (s *Service) listRestoreJobs(ctx context.Context, in *backupapi.ListRestoreJobsInput) (*backupapi.ListRestoreJobsOutput, error) {
	region, err := s.region(ctx)
	if err != nil {
		return nil, err
	}
	f := meta.JobFilter{Kinds: []backup.JobKind{backup.RestoreJob}, Region: region, AccountID: s.account}
	if f.States, err = restoreStatus(in.ByStatus); err != nil {
		return nil, err
	}
	if t := str(in.ByResourceType); t != "" {
		if !backup.ResourceType(t).Known() {
			return nil, backup.InvalidParameterf("Invalid value for ByResourceType: %q is not a resource type", t)
		}
		f.ResourceType = backup.ResourceType(t)
	}
	f.ParentJobID = str(in.ByParentJobId)
	f.RestoreTestingPlanArn = str(in.ByRestoreTestingPlanArn)
	f.CreatedAfter = timeOf(in.ByCreatedAfter)
	f.CreatedBefore = timeOf(in.ByCreatedBefore)
	f.CompletedAfter = timeOf(in.ByCompleteAfter)
	f.CompletedBefore = timeOf(in.ByCompleteBefore)
	p := page(in.MaxResults, in.NextToken)
	if a := str(in.ByAccountId); a != "" && a != s.account {
		// Another account's jobs: none here (the page is still checked).
		_, err := meta.Limit(p)
		return &backupapi.ListRestoreJobsOutput{RestoreJobs: []backupapi.RestoreJobsListMember{}}, err
	}
	list, next, err := s.store.ListJobs(ctx, f, p)
	if err != nil {
		return nil, err
	}
	out := &backupapi.ListRestoreJobsOutput{NextToken: optString(next), RestoreJobs: make([]backupapi.RestoreJobsListMember, 0, len(list))}
	for _, j := range list {
		if j.Restore != nil {
			out.RestoreJobs = append(out.RestoreJobs, restoreJobToAPI(j))
		}
	}
	return out, nil
}

// ListRestoreJobsByProtectedResource lists the restore jobs of recovery
// points of one resource, newest first.
func (s *Service) ListRestoreJobsByProtectedResource(ctx context.Context, in *backupapi.ListRestoreJobsByProtectedResourceInput) (*backupapi.ListRestoreJobsByProtectedResourceOutput, error) {
	out, err := s.listRestoreJobsByProtectedResource(ctx, in)
	return out, apiError(err)
}

func (s *Service) listRestoreJobsByProtectedResource(ctx context.Context, in *backupapi.ListRestoreJobsByProtectedResourceInput) (*backupapi.ListRestoreJobsByProtectedResourceOutput, error) {
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
	f := meta.JobFilter{Kinds: []backup.JobKind{backup.RestoreJob}, Region: region, AccountID: s.account, ResourceArn: arn}
	if f.States, err = restoreStatus(in.ByStatus); err != nil {
		return nil, err
	}
	f.RecoveryPointCreatedAfter = timeOf(in.ByRecoveryPointCreationDateAfter)
	f.RecoveryPointCreatedBefore = timeOf(in.ByRecoveryPointCreationDateBefore)
	list, next, err := s.store.ListJobs(ctx, f, page(in.MaxResults, in.NextToken))
	if err != nil {
		return nil, err
	}
	out := &backupapi.ListRestoreJobsByProtectedResourceOutput{NextToken: optString(next), RestoreJobs: make([]backupapi.RestoreJobsListMember, 0, len(list))}
	for _, j := range list {
		if j.Restore != nil {
			out.RestoreJobs = append(out.RestoreJobs, restoreJobToAPI(j))
		}
	}
	return out, nil
}

// ListRestoreJobSummaries counts the call region's restore jobs by
// account, state and resource type over the aggregation period (see
// jobSummaries; restore summaries have no message category).
func (s *Service) ListRestoreJobSummaries(ctx context.Context, in *backupapi.ListRestoreJobSummariesInput) (*backupapi.ListRestoreJobSummariesOutput, error) {
	q := summaryQuery{
		kind:         backup.RestoreJob,
		account:      str(in.AccountId),
		state:        string(in.State),
		resourceType: str(in.ResourceType),
		category:     summaryAggregateAll,
		period:       in.AggregationPeriod,
		page:         page(in.MaxResults, in.NextToken),
	}
	rows, next, err := s.jobSummaries(ctx, q)
	if err != nil {
		return nil, apiError(err)
	}
	period := string(q.period)
	if period == "" {
		period = string(backupapi.AggregationPeriodOneDay)
	}
	out := &backupapi.ListRestoreJobSummariesOutput{AggregationPeriod: &period, NextToken: optString(next), RestoreJobSummaries: make([]backupapi.RestoreJobSummary, 0, len(rows))}
	for _, r := range rows {
		n := int32(min(r.count, int64(1<<31-1)))
		out.RestoreJobSummaries = append(out.RestoreJobSummaries, backupapi.RestoreJobSummary{
			AccountId:    optString(r.account),
			Count:        &n,
			EndTime:      optTime(r.end),
			Region:       optString(r.region),
			ResourceType: optString(r.resourceType),
			StartTime:    optTime(r.start),
			State:        backupapi.RestoreJobState(r.state),
		})
	}
	return out, nil
}

// GetRestoreJobMetadata returns the metadata a restore job used: the
// request's, with canonical key names and Coffer's defaults and choices
// filled in (see restorejobs.go).
func (s *Service) GetRestoreJobMetadata(ctx context.Context, in *backupapi.GetRestoreJobMetadataInput) (*backupapi.GetRestoreJobMetadataOutput, error) {
	j, err := s.getRestoreJob(ctx, str(in.RestoreJobId))
	if err != nil {
		return nil, apiError(err)
	}
	md := maps.Clone(j.Restore.Metadata)
	if md == nil {
		md = map[string]string{}
	}
	if j.ResourceType == backup.EFS && md[mdNewFileSystem] == "true" && j.Restore.CreatedResourceArn != "" {
		if ref, err := backup.ParseResourceARN(j.Restore.CreatedResourceArn); err == nil {
			md[mdFileSystemID] = ref.ID
		}
	}
	return &backupapi.GetRestoreJobMetadataOutput{RestoreJobId: &j.ID, Metadata: md}, nil
}

// PutRestoreValidationResult records the result of validating a restored
// resource (an answer of 204 with no body).
//
// Rules (AWS leaves them to restore testing; Coffer has no restore testing
// plans yet, so any restore job can be validated): the job must be
// COMPLETED (InvalidRequestException otherwise); VALIDATING may be put any
// number of times; SUCCESSFUL, FAILED and TIMED_OUT are final verdicts:
// repeating the same verdict is accepted (an idempotent retry, the message
// replaced), another status after a verdict → InvalidRequestException.
func (s *Service) PutRestoreValidationResult(ctx context.Context, in *backupapi.PutRestoreValidationResultInput) (*backupapi.PutRestoreValidationResultOutput, error) {
	if err := s.putRestoreValidationResult(ctx, in); err != nil {
		return nil, apiError(err)
	}
	return &backupapi.PutRestoreValidationResultOutput{}, nil
}

func (s *Service) putRestoreValidationResult(ctx context.Context, in *backupapi.PutRestoreValidationResultInput) error {
	j, err := s.getRestoreJob(ctx, str(in.RestoreJobId))
	if err != nil {
		return err
	}
	status := string(in.ValidationStatus)
	switch backupapi.RestoreValidationStatus(status) {
	case backupapi.RestoreValidationStatusFailed, backupapi.RestoreValidationStatusSuccessful,
		backupapi.RestoreValidationStatusTimedOut, backupapi.RestoreValidationStatusValidating:
	case "":
		return backup.MissingParameterf("ValidationStatus is required")
	default:
		return backup.InvalidParameterf("Invalid value for ValidationStatus: %q; use FAILED, SUCCESSFUL, TIMED_OUT or VALIDATING", status)
	}
	msg := str(in.ValidationStatusMessage)
	_, err = s.store.UpdateJob(ctx, j.ID, func(j *backup.Job) error {
		if j.State != backup.JobCompleted {
			return backup.InvalidRequestf("restore job %s is %s; validation results can be put only for COMPLETED restore jobs", j.ID, j.State)
		}
		cur := j.Restore.ValidationStatus
		if cur != "" && cur != string(backupapi.RestoreValidationStatusValidating) && cur != status {
			return backup.InvalidRequestf("restore job %s already has the final validation status %s; it cannot become %s", j.ID, cur, status)
		}
		j.Restore.ValidationStatus = status
		j.Restore.ValidationStatusMessage = msg
		return nil
	})
	return err
}
