package service

import (
	"context"
	"strings"

	"github.com/coffer/coffer/internal/backup"
)

// getJob returns the job of that kind and ID if it belongs to the call's
// region and account, and NotFound otherwise (a job of another kind, region or
// account is not found, as in AWS). member names the request member that
// carried the ID, for the message when it is empty.
func (s *Service) getJob(ctx context.Context, kind backup.JobKind, member, id string) (backup.Job, error) {
	region, err := s.region(ctx)
	if err != nil {
		return backup.Job{}, err
	}
	if id == "" {
		return backup.Job{}, backup.MissingParameterf("%s is required", member)
	}
	word := strings.ToLower(string(kind)) + " job"
	j, err := s.store.GetJob(ctx, id)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return backup.Job{}, backup.NotFoundf("%s %s not found", word, id)
		}
		return backup.Job{}, err
	}
	if j.Kind != kind || j.Region != region || j.AccountID != s.account || (kind == backup.RestoreJob && j.Restore == nil) {
		return backup.Job{}, backup.NotFoundf("%s %s not found in region %s", word, id, region)
	}
	return j, nil
}
