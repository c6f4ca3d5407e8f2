package service

import (
	"context"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// Protected resources are, as in AWS, the resources that have been backed
// up: a backup job records the resource (and its last backup) when it
// completes. A declared resource that was never backed up is not listed
// and DescribeProtectedResource answers ResourceNotFoundException for it.

// ListProtectedResources lists the call region's protected resources,
// ordered by ARN.
func (s *Service) ListProtectedResources(ctx context.Context, in *backupapi.ListProtectedResourcesInput) (*backupapi.ListProtectedResourcesOutput, error) {
	region, err := s.region(ctx)
	if err != nil {
		return nil, apiError(err)
	}
	list, next, err := s.store.ListProtectedResources(ctx, meta.ProtectedResourceFilter{Region: region, AccountID: s.account}, page(in.MaxResults, in.NextToken))
	if err != nil {
		return nil, apiError(err)
	}
	return &backupapi.ListProtectedResourcesOutput{Results: protectedToAPI(list), NextToken: optString(next)}, nil
}

// ListProtectedResourcesByBackupVault lists the resources that have
// recovery points in a vault.
func (s *Service) ListProtectedResourcesByBackupVault(ctx context.Context, in *backupapi.ListProtectedResourcesByBackupVaultInput) (*backupapi.ListProtectedResourcesByBackupVaultOutput, error) {
	v, err := s.recoveryPointVault(ctx, str(in.BackupVaultName), in.BackupVaultAccountId)
	if err != nil {
		return nil, apiError(err)
	}
	key := v.Key()
	list, next, err := s.store.ListProtectedResources(ctx, meta.ProtectedResourceFilter{Region: v.Region, AccountID: v.AccountID, Vault: &key}, page(in.MaxResults, in.NextToken))
	if err != nil {
		return nil, apiError(err)
	}
	return &backupapi.ListProtectedResourcesByBackupVaultOutput{Results: protectedToAPI(list), NextToken: optString(next)}, nil
}

// DescribeProtectedResource returns a protected resource's last backup
// (and last restore, once restores record it).
func (s *Service) DescribeProtectedResource(ctx context.Context, in *backupapi.DescribeProtectedResourceInput) (*backupapi.DescribeProtectedResourceOutput, error) {
	out, err := s.describeProtectedResource(ctx, in)
	return out, apiError(err)
}

func (s *Service) describeProtectedResource(ctx context.Context, in *backupapi.DescribeProtectedResourceInput) (*backupapi.DescribeProtectedResourceOutput, error) {
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
	pr, err := s.store.GetProtectedResource(ctx, arn)
	if err != nil || pr.Region != region {
		if err == nil || backup.KindOf(err) == backup.KindNotFound {
			return nil, backup.NotFoundf("resource %s is not a protected resource in region %s: it has not been backed up", arn, region)
		}
		return nil, err
	}
	out := &backupapi.DescribeProtectedResourceOutput{
		LastBackupTime:                         optTime(pr.LastBackupTime),
		LastBackupVaultArn:                     optString(pr.LastBackupVaultArn),
		LastRecoveryPointArn:                   optString(pr.LastRecoveryPointArn),
		LatestRestoreJobCreationDate:           optTime(pr.LatestRestoreJobCreationDate),
		LatestRestoreRecoveryPointCreationDate: optTime(pr.LatestRestoreRecoveryPointCreationDate),
		ResourceArn:                            optString(pr.ResourceArn),
		ResourceName:                           optString(pr.ResourceName),
		ResourceType:                           optString(string(pr.ResourceType)),
	}
	if pr.LatestRestoreExecutionTimeMinutes > 0 {
		out.LatestRestoreExecutionTimeMinutes = &pr.LatestRestoreExecutionTimeMinutes
	}
	return out, nil
}

func protectedToAPI(list []backup.ProtectedResource) []backupapi.ProtectedResource {
	out := make([]backupapi.ProtectedResource, 0, len(list))
	for _, pr := range list {
		out = append(out, backupapi.ProtectedResource{
			LastBackupTime:       optTime(pr.LastBackupTime),
			LastBackupVaultArn:   optString(pr.LastBackupVaultArn),
			LastRecoveryPointArn: optString(pr.LastRecoveryPointArn),
			ResourceArn:          optString(pr.ResourceArn),
			ResourceName:         optString(pr.ResourceName),
			ResourceType:         optString(string(pr.ResourceType)),
		})
	}
	return out
}
