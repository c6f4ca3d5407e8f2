package service

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
)

// updateVault applies fn to the vault of the call region named name, in
// one store transaction, and maps a missing vault to AWS's message.
func (s *Service) updateVault(ctx context.Context, name string, fn func(*backup.Vault) error) (backup.Vault, error) {
	key, err := s.vaultKey(ctx, name)
	if err != nil {
		return backup.Vault{}, err
	}
	v, err := s.store.UpdateVault(ctx, key, fn)
	if err != nil && backup.KindOf(err) == backup.KindNotFound {
		// fn returns no NotFound of its own, so this is the vault.
		return backup.Vault{}, vaultNotFound(key)
	}
	return v, err
}

// --- access policy -------------------------------------------------------

// PutBackupVaultAccessPolicy stores a vault's resource policy. The policy
// must be a JSON object with a Statement (an IAM policy document); it is
// kept byte for byte and returned by GetBackupVaultAccessPolicy. Coffer
// does not enforce it yet.
func (s *Service) PutBackupVaultAccessPolicy(ctx context.Context, in *backupapi.PutBackupVaultAccessPolicyInput) (*backupapi.PutBackupVaultAccessPolicyOutput, error) {
	policy := str(in.Policy)
	if err := validatePolicy(policy); err != nil {
		return nil, apiError(err)
	}
	_, err := s.updateVault(ctx, str(in.BackupVaultName), func(v *backup.Vault) error {
		v.AccessPolicy = policy
		return nil
	})
	if err != nil {
		return nil, apiError(err)
	}
	return &backupapi.PutBackupVaultAccessPolicyOutput{}, nil
}

// maxPolicyBytes bounds an access policy (IAM's limit for resource-based
// policies is of this order).
const maxPolicyBytes = 20 << 10

// validatePolicy checks that p is an IAM policy document: a JSON object
// with a Statement that is an object or a non-empty array.
func validatePolicy(p string) error {
	if p == "" {
		return backup.MissingParameterf("Missing value for Policy: an access policy document is required")
	}
	if len(p) > maxPolicyBytes {
		return backup.InvalidParameterf("Invalid value for Policy: the policy is %d bytes, more than the %d allowed", len(p), maxPolicyBytes)
	}
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader([]byte(p)))
	if err := dec.Decode(&doc); err != nil || dec.More() || doc == nil {
		return backup.InvalidParameterf("Invalid value for Policy: the policy is not a JSON object")
	}
	var one map[string]json.RawMessage
	var list []map[string]json.RawMessage
	st := doc["Statement"]
	if json.Unmarshal(st, &one) == nil && one != nil {
		return nil
	}
	if json.Unmarshal(st, &list) == nil && len(list) > 0 {
		return nil
	}
	return backup.InvalidParameterf("Invalid value for Policy: the policy document needs a Statement (an object or a non-empty list of objects)")
}

// GetBackupVaultAccessPolicy returns a vault's resource policy;
// ResourceNotFoundException when the vault has none.
func (s *Service) GetBackupVaultAccessPolicy(ctx context.Context, in *backupapi.GetBackupVaultAccessPolicyInput) (*backupapi.GetBackupVaultAccessPolicyOutput, error) {
	key, err := s.vaultKey(ctx, str(in.BackupVaultName))
	if err != nil {
		return nil, apiError(err)
	}
	v, err := s.getVault(ctx, key)
	if err != nil {
		return nil, apiError(err)
	}
	if v.AccessPolicy == "" {
		return nil, apiError(backup.NotFoundf("Backup vault %s has no access policy", key.Name))
	}
	return &backupapi.GetBackupVaultAccessPolicyOutput{
		BackupVaultName: &v.Name,
		BackupVaultArn:  &v.ARN,
		Policy:          &v.AccessPolicy,
	}, nil
}

// DeleteBackupVaultAccessPolicy removes a vault's resource policy; removing
// a policy the vault does not have succeeds.
func (s *Service) DeleteBackupVaultAccessPolicy(ctx context.Context, in *backupapi.DeleteBackupVaultAccessPolicyInput) (*backupapi.DeleteBackupVaultAccessPolicyOutput, error) {
	_, err := s.updateVault(ctx, str(in.BackupVaultName), func(v *backup.Vault) error {
		v.AccessPolicy = ""
		return nil
	})
	if err != nil {
		return nil, apiError(err)
	}
	return &backupapi.DeleteBackupVaultAccessPolicyOutput{}, nil
}

// --- notifications -------------------------------------------------------

// PutBackupVaultNotifications stores a vault's SNS topic and events (a
// valid SNS topic ARN; known events, each once). Coffer does not publish
// to SNS yet.
func (s *Service) PutBackupVaultNotifications(ctx context.Context, in *backupapi.PutBackupVaultNotificationsInput) (*backupapi.PutBackupVaultNotificationsOutput, error) {
	n := backup.VaultNotifications{SNSTopicArn: str(in.SNSTopicArn), Events: make([]string, len(in.BackupVaultEvents))}
	for i, e := range in.BackupVaultEvents {
		n.Events[i] = string(e)
	}
	if err := backup.ValidateNotifications(n); err != nil {
		return nil, apiError(err)
	}
	_, err := s.updateVault(ctx, str(in.BackupVaultName), func(v *backup.Vault) error {
		c := n
		v.Notifications = &c
		return nil
	})
	if err != nil {
		return nil, apiError(err)
	}
	return &backupapi.PutBackupVaultNotificationsOutput{}, nil
}

// GetBackupVaultNotifications returns a vault's notification configuration;
// ResourceNotFoundException when it has none.
func (s *Service) GetBackupVaultNotifications(ctx context.Context, in *backupapi.GetBackupVaultNotificationsInput) (*backupapi.GetBackupVaultNotificationsOutput, error) {
	key, err := s.vaultKey(ctx, str(in.BackupVaultName))
	if err != nil {
		return nil, apiError(err)
	}
	v, err := s.getVault(ctx, key)
	if err != nil {
		return nil, apiError(err)
	}
	if v.Notifications == nil {
		return nil, apiError(backup.NotFoundf("Backup vault %s has no notification configuration", key.Name))
	}
	out := &backupapi.GetBackupVaultNotificationsOutput{
		BackupVaultName:   &v.Name,
		BackupVaultArn:    &v.ARN,
		SNSTopicArn:       &v.Notifications.SNSTopicArn,
		BackupVaultEvents: make([]backupapi.BackupVaultEvent, len(v.Notifications.Events)),
	}
	for i, e := range v.Notifications.Events {
		out.BackupVaultEvents[i] = backupapi.BackupVaultEvent(e)
	}
	return out, nil
}

// DeleteBackupVaultNotifications removes a vault's notification
// configuration; removing one the vault does not have succeeds.
func (s *Service) DeleteBackupVaultNotifications(ctx context.Context, in *backupapi.DeleteBackupVaultNotificationsInput) (*backupapi.DeleteBackupVaultNotificationsOutput, error) {
	_, err := s.updateVault(ctx, str(in.BackupVaultName), func(v *backup.Vault) error {
		v.Notifications = nil
		return nil
	})
	if err != nil {
		return nil, apiError(err)
	}
	return &backupapi.DeleteBackupVaultNotificationsOutput{}, nil
}

// --- vault lock ------------------------------------------------------------

// PutBackupVaultLockConfiguration sets or replaces a vault's lock:
// governance mode without ChangeableForDays, compliance mode with it (lock
// date = now + ChangeableForDays). Limits: MinRetentionDays and
// MaxRetentionDays 1…36,500 with Min ≤ Max, ChangeableForDays 3…36,500. A
// compliance lock whose lock date has passed cannot be changed
// (InvalidRequestException).
func (s *Service) PutBackupVaultLockConfiguration(ctx context.Context, in *backupapi.PutBackupVaultLockConfigurationInput) (*backupapi.PutBackupVaultLockConfigurationOutput, error) {
	req := backup.VaultLockInput{
		MinRetentionDays:  in.MinRetentionDays,
		MaxRetentionDays:  in.MaxRetentionDays,
		ChangeableForDays: in.ChangeableForDays,
	}
	if err := backup.ValidateVaultLockInput(req); err != nil {
		return nil, apiError(err)
	}
	now := s.now()
	v, err := s.updateVault(ctx, str(in.BackupVaultName), func(v *backup.Vault) error {
		l, err := backup.PutVaultLock(v.Lock, req, now)
		if err != nil {
			return err
		}
		v.Lock = l
		return nil
	})
	if err != nil {
		return nil, apiError(err)
	}
	attrs := []slog.Attr{slog.String("vault", v.ARN), slog.String("mode", v.Lock.Mode().String())}
	if !v.Lock.LockDate.IsZero() {
		attrs = append(attrs, slog.Time("lock_date", v.Lock.LockDate))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "vault lock configured", attrs...)
	return &backupapi.PutBackupVaultLockConfigurationOutput{}, nil
}

// DeleteBackupVaultLockConfiguration removes a vault's lock, unless it is
// a compliance lock whose lock date has passed (InvalidRequestException).
// Removing a lock the vault does not have succeeds.
func (s *Service) DeleteBackupVaultLockConfiguration(ctx context.Context, in *backupapi.DeleteBackupVaultLockConfigurationInput) (*backupapi.DeleteBackupVaultLockConfigurationOutput, error) {
	now := s.now()
	v, err := s.updateVault(ctx, str(in.BackupVaultName), func(v *backup.Vault) error {
		if err := backup.CheckDeleteVaultLock(v.Lock, now); err != nil {
			return err
		}
		v.Lock = nil
		return nil
	})
	if err != nil {
		return nil, apiError(err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "vault lock removed", slog.String("vault", v.ARN))
	return &backupapi.DeleteBackupVaultLockConfigurationOutput{}, nil
}
