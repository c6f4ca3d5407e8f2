package service

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// Tag rules shared by AWS services.
const (
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// tagCharsRe is the character set AWS allows in tag keys and values:
// letters, digits, white space and _ . : / = + - @.
var tagCharsRe = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// validateTags checks tags given in member field. Messages never echo keys
// or values (the model marks tags sensitive).
func validateTags(field string, tags map[string]string) error {
	if len(tags) > meta.MaxTagsPerResource {
		return backup.LimitExceededf("%s has %d tags; a resource can have at most %d", field, len(tags), meta.MaxTagsPerResource)
	}
	for k, v := range tags {
		if err := validateTagKey(field, k); err != nil {
			return err
		}
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxTagValueLen || !tagCharsRe.MatchString(v) {
			return backup.InvalidParameterf("Invalid value for %s: a tag value must be at most %d characters of letters, digits, spaces and _ . : / = + - @", field, maxTagValueLen)
		}
	}
	return nil
}

func validateTagKey(field, k string) error {
	if k == "" || !utf8.ValidString(k) || utf8.RuneCountInString(k) > maxTagKeyLen || !tagCharsRe.MatchString(k) {
		return backup.InvalidParameterf("Invalid value for %s: a tag key must be 1 to %d characters of letters, digits, spaces and _ . : / = + - @", field, maxTagKeyLen)
	}
	if len(k) >= 4 && strings.EqualFold(k[:4], "aws:") {
		return backup.InvalidParameterf("Invalid value for %s: tag keys starting with \"aws:\" are reserved for AWS", field)
	}
	return nil
}

// checkTaggable returns nil when arn names something Coffer holds that can
// carry tags: a backup vault or a recovery point of a served region and
// the configured account. A malformed ARN is InvalidParameter naming
// ResourceArn; anything else is NotFound. Other taggable kinds (backup
// plans, legal holds, frameworks, report and restore testing plans) are
// added here as they are implemented.
func (s *Service) checkTaggable(ctx context.Context, arn string) error {
	a, err := backup.ParseARN(arn)
	if err != nil {
		return backup.ForField("ResourceArn", err)
	}
	switch {
	case a.Service == "backup" && strings.HasPrefix(a.Resource, string(backup.BackupVaultKind)+":"):
		key, err := backup.ParseVaultARN(arn)
		if err != nil {
			return backup.ForField("ResourceArn", err)
		}
		if err := s.checkServed(arn, key.Region, key.AccountID, "backup vault"); err != nil {
			return err
		}
		if _, err := s.store.GetVault(ctx, key); err != nil {
			if backup.KindOf(err) == backup.KindNotFound {
				return backup.NotFoundf("backup vault %s not found", arn)
			}
			return err
		}
		return nil
	case a.Service == "backup" && strings.HasPrefix(a.Resource, string(backup.RecoveryPointKind)+":"),
		a.Service == "ec2" && strings.HasPrefix(a.Resource, "snapshot/"),
		a.Service == "rds" && strings.HasPrefix(a.Resource, "snapshot:awsbackup:"):
		ref, err := backup.ParseRecoveryPointARN(arn)
		if err != nil {
			return backup.ForField("ResourceArn", err)
		}
		if err := s.checkServed(arn, ref.Region, ref.AccountID, "recovery point"); err != nil {
			return err
		}
		if _, err := s.store.GetRecoveryPoint(ctx, arn); err != nil {
			if backup.KindOf(err) == backup.KindNotFound {
				return backup.NotFoundf("recovery point %s not found", arn)
			}
			return err
		}
		return nil
	}
	if err := s.checkServed(arn, a.Region, a.AccountID, "resource"); err != nil {
		return err
	}
	return backup.NotFoundf("resource %s not found: Coffer holds tags for backup vaults and recovery points", arn)
}

// TagResource adds tags to a vault or recovery point, replacing the values
// of keys it already has. More than 50 tags in all → LimitExceededException.
func (s *Service) TagResource(ctx context.Context, in *backupapi.TagResourceInput) (*backupapi.TagResourceOutput, error) {
	arn := str(in.ResourceArn)
	if err := validateTags("Tags", in.Tags); err != nil {
		return nil, apiError(err)
	}
	if err := s.checkTaggable(ctx, arn); err != nil {
		return nil, apiError(err)
	}
	if err := s.store.TagResource(ctx, arn, in.Tags); err != nil {
		return nil, apiError(err)
	}
	return &backupapi.TagResourceOutput{}, nil
}

// UntagResource removes tag keys from a vault or recovery point; keys it
// does not have are ignored.
func (s *Service) UntagResource(ctx context.Context, in *backupapi.UntagResourceInput) (*backupapi.UntagResourceOutput, error) {
	arn := str(in.ResourceArn)
	for _, k := range in.TagKeyList {
		if err := validateTagKey("TagKeyList", k); err != nil {
			return nil, apiError(err)
		}
	}
	if err := s.checkTaggable(ctx, arn); err != nil {
		return nil, apiError(err)
	}
	if err := s.store.UntagResource(ctx, arn, in.TagKeyList); err != nil {
		return nil, apiError(err)
	}
	return &backupapi.UntagResourceOutput{}, nil
}

// tagsScope names ListTags page tokens.
const tagsScope = "tags"

// ListTags returns the tags of a vault or recovery point, ordered by key,
// with NextToken/MaxResults paging.
func (s *Service) ListTags(ctx context.Context, in *backupapi.ListTagsInput) (*backupapi.ListTagsOutput, error) {
	out, err := s.listTags(ctx, in)
	return out, apiError(err)
}

func (s *Service) listTags(ctx context.Context, in *backupapi.ListTagsInput) (*backupapi.ListTagsOutput, error) {
	arn := str(in.ResourceArn)
	p := page(in.MaxResults, in.NextToken)
	limit, err := meta.Limit(p)
	if err != nil {
		return nil, backup.ForField("MaxResults", err)
	}
	cur, after, err := meta.DecodeCursor(tagsScope, p.NextToken)
	if err != nil {
		return nil, backup.ForField("NextToken", err)
	}
	if err := s.checkTaggable(ctx, arn); err != nil {
		return nil, err
	}
	all, err := s.store.ListTags(ctx, arn)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		if !after || k > cur.K {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := &backupapi.ListTagsOutput{}
	if len(keys) > limit {
		keys = keys[:limit]
		out.NextToken = optString(meta.EncodeCursor(meta.Cursor{Scope: tagsScope, K: keys[limit-1]}))
	}
	out.Tags = make(map[string]string, len(keys))
	for _, k := range keys {
		out.Tags[k] = all[k]
	}
	return out, nil
}
