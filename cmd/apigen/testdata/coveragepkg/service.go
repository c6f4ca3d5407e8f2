// Package coveragepkg is a fixture for apigen -coverage: only parsed, never
// compiled.
package coveragepkg

import "context"

// Service implements three operations.
type Service struct{}

func (s *Service) CreateBackupVault(ctx context.Context, in any) (any, error) { return nil, nil }

func (Service) StartCopyJob(ctx context.Context, in any) (any, error) { return nil, nil }

func (s *Service) helper() {}

// Other is another type; its methods do not count.
type Other struct{}

func (o *Other) DeleteBackupVault(ctx context.Context, in any) (any, error) { return nil, nil }

// ListBackupJobs as a plain function does not count either.
func ListBackupJobs() {}
