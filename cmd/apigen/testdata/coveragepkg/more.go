package coveragepkg

import "context"

func (s *Service) DescribeBackupVault(ctx context.Context, in any) (any, error) { return nil, nil }
