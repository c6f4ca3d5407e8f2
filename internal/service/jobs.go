package service

import (
	"context"
	"strings"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
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

// tokenReused is the InvalidRequest for an idempotency token that job j
// used within the TTL with other parameters.
func (s *Service) tokenReused(token string, j backup.Job) error {
	return backup.InvalidRequestf("IdempotencyToken %q was already used within the last %s for %s job %s with different parameters; use a new token for a different request",
		token, s.data.IdempotencyTTL, strings.ToLower(string(j.Kind)), j.ID)
}

// checkSubmitted accepts a job Submit returned without creating it (its
// idempotency token was used within the TTL) only as a retry: the same
// kind and the same request.
func (s *Service) checkSubmitted(stored backup.Job, created bool, kind backup.JobKind, token, hash string) error {
	if created || (stored.Kind == kind && stored.RequestHash == hash) {
		return nil
	}
	return s.tokenReused(token, stored)
}

// findRetry looks among the jobs matching f (every page) for one created
// with token: ok with that job when its request hash is hash, tokenReused
// when it differs.
func (s *Service) findRetry(ctx context.Context, f meta.JobFilter, token, hash string) (backup.Job, bool, error) {
	p := meta.Page{MaxResults: meta.MaxResultsLimit}
	for {
		list, next, err := s.store.ListJobs(ctx, f, p)
		if err != nil {
			return backup.Job{}, false, err
		}
		for _, j := range list {
			if j.IdempotencyToken != token {
				continue
			}
			if j.RequestHash != hash {
				return backup.Job{}, false, s.tokenReused(token, j)
			}
			return j, true, nil
		}
		if next == "" {
			return backup.Job{}, false, nil
		}
		p.NextToken = next
	}
}
