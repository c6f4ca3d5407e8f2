package service

import (
	"context"
	"errors"
	"log/slog"

	"github.com/coffer/coffer/internal/api/backupapi"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// CreateBackupVault creates a vault in the call region. Without
// EncryptionKeyArn the vault reports the region's default key
// (DefaultKeyARN) and AWS_OWNED_KMS_KEY; with one (a KMS key or alias ARN of
// the same region) it reports that key and CUSTOMER_MANAGED_KMS_KEY. A name
// that is taken gives AlreadyExistsException naming the existing vault's
// ARN and CreatorRequestId — unless the request carries the same
// CreatorRequestId as the existing vault: then it is a retry and the
// existing vault is returned.
func (s *Service) CreateBackupVault(ctx context.Context, in *backupapi.CreateBackupVaultInput) (*backupapi.CreateBackupVaultOutput, error) {
	out, err := s.createBackupVault(ctx, in)
	return out, apiError(err)
}

func (s *Service) createBackupVault(ctx context.Context, in *backupapi.CreateBackupVaultInput) (*backupapi.CreateBackupVaultOutput, error) {
	key, err := s.vaultKey(ctx, str(in.BackupVaultName))
	if err != nil {
		return nil, err
	}
	if err := backup.ValidateVaultName(key.Name); err != nil {
		return nil, backup.ForField("BackupVaultName", err)
	}
	keyArn, keyType := s.DefaultKeyARN(key.Region), backup.AWSOwnedKey
	if in.EncryptionKeyArn != nil {
		if err := s.checkKMSKey(*in.EncryptionKeyArn, key.Region); err != nil {
			return nil, backup.ForField("EncryptionKeyArn", err)
		}
		keyArn, keyType = *in.EncryptionKeyArn, backup.CustomerManagedKey
	}
	requestID := str(in.CreatorRequestId)
	if err := checkCreatorRequestID(requestID); err != nil {
		return nil, err
	}
	if err := validateTags("BackupVaultTags", in.BackupVaultTags); err != nil {
		return nil, err
	}
	if err := s.checkVaultQuota(ctx, key); err != nil {
		return nil, err
	}
	v := backup.Vault{
		Name:              key.Name,
		Region:            key.Region,
		AccountID:         key.AccountID,
		EncryptionKeyArn:  keyArn,
		EncryptionKeyType: keyType,
		CreatorRequestID:  requestID,
		CreationDate:      s.now(),
		VaultType:         backup.VaultTypeBackup,
		VaultState:        backup.VaultAvailable,
	}
	stored, err := s.store.CreateVault(ctx, v, in.BackupVaultTags)
	if err != nil {
		var existing *backup.Error
		if requestID != "" && asKind(err, backup.KindAlreadyExists, &existing) && existing.CreatorRequestID == requestID {
			// A retry of the create that made the vault.
			stored, err = s.store.GetVault(ctx, key)
		}
		if err != nil {
			return nil, err
		}
	}
	return &backupapi.CreateBackupVaultOutput{
		BackupVaultName: &stored.Name,
		BackupVaultArn:  &stored.ARN,
		CreationDate:    &stored.CreationDate,
	}, nil
}

// checkKMSKey validates an EncryptionKeyArn: a KMS key or alias ARN in the
// aws partition and the vault's region (KMS keys are regional).
func (s *Service) checkKMSKey(arn, region string) error {
	ref, err := backup.ParseKMSKeyARN(arn)
	if err != nil {
		return err
	}
	if ref.Partition != backup.PartitionAWS {
		return backup.InvalidParameterf("%q is in partition %s; Coffer serves %s", arn, ref.Partition, backup.PartitionAWS)
	}
	if ref.Region != region {
		return backup.InvalidParameterf("the KMS key %s is in region %s, but the backup vault is in region %s; a vault's key must be in its region", arn, ref.Region, region)
	}
	return nil
}

// checkCreatorRequestID checks the CreatorRequestId the model documents:
// 1 to 50 letters, digits, '-', '_' and '.'. Empty means absent.
func checkCreatorRequestID(id string) error {
	if id == "" {
		return nil
	}
	ok := len(id) <= 50
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	if !ok {
		return backup.InvalidParameterf("Invalid value for CreatorRequestId: it must be 1 to 50 letters, digits, '-', '_' and '.'")
	}
	return nil
}

// checkVaultQuota refuses a create when the region already holds
// MaxVaultsPerRegion vaults. A create of a name that exists is let through:
// CreateVault answers it (AlreadyExists, or the vault for a retry).
func (s *Service) checkVaultQuota(ctx context.Context, key backup.VaultKey) error {
	if s.maxVaults <= 0 {
		return nil
	}
	if _, err := s.store.GetVault(ctx, key); err == nil {
		return nil
	}
	f := meta.VaultFilter{Region: key.Region, AccountID: key.AccountID}
	p := meta.Page{MaxResults: meta.MaxResultsLimit}
	n := 0
	for {
		vs, next, err := s.store.ListVaults(ctx, f, p)
		if err != nil {
			return err
		}
		n += len(vs)
		if n >= s.maxVaults {
			return backup.LimitExceededf("region %s already holds %d backup vaults, the maximum for an account and region", key.Region, s.maxVaults)
		}
		if next == "" {
			return nil
		}
		p.NextToken = next
	}
}

// DescribeBackupVault returns every field of a vault of the call region.
// BackupVaultAccountId, when given, must be the configured account (Coffer
// holds no other account's vaults: another one is not found).
func (s *Service) DescribeBackupVault(ctx context.Context, in *backupapi.DescribeBackupVaultInput) (*backupapi.DescribeBackupVaultOutput, error) {
	out, err := s.describeBackupVault(ctx, in)
	return out, apiError(err)
}

func (s *Service) describeBackupVault(ctx context.Context, in *backupapi.DescribeBackupVaultInput) (*backupapi.DescribeBackupVaultOutput, error) {
	key, err := s.vaultKey(ctx, str(in.BackupVaultName))
	if err != nil {
		return nil, err
	}
	if err := s.checkVaultAccount(in.BackupVaultAccountId, key); err != nil {
		return nil, err
	}
	v, err := s.getVault(ctx, key)
	if err != nil {
		return nil, err
	}
	m := vaultMember(&v)
	return &backupapi.DescribeBackupVaultOutput{
		BackupVaultName:        m.BackupVaultName,
		BackupVaultArn:         m.BackupVaultArn,
		VaultType:              m.VaultType,
		VaultState:             m.VaultState,
		EncryptionKeyArn:       m.EncryptionKeyArn,
		EncryptionKeyType:      m.EncryptionKeyType,
		CreationDate:           m.CreationDate,
		CreatorRequestId:       m.CreatorRequestId,
		NumberOfRecoveryPoints: m.NumberOfRecoveryPoints,
		Locked:                 m.Locked,
		MinRetentionDays:       m.MinRetentionDays,
		MaxRetentionDays:       m.MaxRetentionDays,
		LockDate:               m.LockDate,
		SourceBackupVaultArn:   optString(v.SourceBackupVaultArn),
	}, nil
}

// checkVaultAccount checks an optional BackupVaultAccountId.
func (s *Service) checkVaultAccount(account *string, key backup.VaultKey) error {
	if account == nil || *account == key.AccountID {
		return nil
	}
	if err := backup.ValidateAccountID(*account); err != nil {
		return backup.ForField("BackupVaultAccountId", err)
	}
	return backup.NotFoundf("backup vault %s not found in account %s: this Coffer endpoint serves account %s only", key.Name, *account, key.AccountID)
}

// getVault reads a vault, with the not-found message AWS gives.
func (s *Service) getVault(ctx context.Context, key backup.VaultKey) (backup.Vault, error) {
	v, err := s.store.GetVault(ctx, key)
	if err != nil && backup.KindOf(err) == backup.KindNotFound {
		return backup.Vault{}, vaultNotFound(key)
	}
	return v, err
}

func vaultNotFound(key backup.VaultKey) error {
	return backup.NotFoundf("Backup vault %s not found in region %s", key.Name, key.Region)
}

// vaultMember is a vault as ListBackupVaults reports it; DescribeBackupVault
// reports the same fields and a few more.
func vaultMember(v *backup.Vault) backupapi.BackupVaultListMember {
	locked := v.Locked()
	n := v.NumberOfRecoveryPoints
	m := backupapi.BackupVaultListMember{
		BackupVaultName:        &v.Name,
		BackupVaultArn:         &v.ARN,
		VaultType:              backupapi.VaultType(v.VaultType),
		VaultState:             backupapi.VaultState(v.VaultState),
		EncryptionKeyArn:       optString(v.EncryptionKeyArn),
		EncryptionKeyType:      backupapi.EncryptionKeyType(v.EncryptionKeyType),
		CreationDate:           optTime(v.CreationDate),
		CreatorRequestId:       optString(v.CreatorRequestID),
		NumberOfRecoveryPoints: &n,
		Locked:                 &locked,
	}
	if l := v.Lock; l != nil {
		m.MinRetentionDays = l.MinRetentionDays
		m.MaxRetentionDays = l.MaxRetentionDays
		m.LockDate = optTime(l.LockDate)
	}
	return m
}

// ListBackupVaults lists the vaults of the call region, ordered by name,
// with the vaultType and shared filters and NextToken/MaxResults paging.
func (s *Service) ListBackupVaults(ctx context.Context, in *backupapi.ListBackupVaultsInput) (*backupapi.ListBackupVaultsOutput, error) {
	out, err := s.listBackupVaults(ctx, in)
	return out, apiError(err)
}

func (s *Service) listBackupVaults(ctx context.Context, in *backupapi.ListBackupVaultsInput) (*backupapi.ListBackupVaultsOutput, error) {
	region, err := s.region(ctx)
	if err != nil {
		return nil, err
	}
	f := meta.VaultFilter{Region: region, AccountID: s.account, VaultType: backup.VaultType(in.ByVaultType), Shared: in.ByShared}
	vs, next, err := s.store.ListVaults(ctx, f, page(in.MaxResults, in.NextToken))
	if err != nil {
		return nil, backup.ForField("NextToken", err)
	}
	out := &backupapi.ListBackupVaultsOutput{
		BackupVaultList: make([]backupapi.BackupVaultListMember, len(vs)),
		NextToken:       optString(next),
	}
	for i := range vs {
		out.BackupVaultList[i] = vaultMember(&vs[i])
	}
	return out, nil
}

// DeleteBackupVault deletes an empty vault of the call region. A vault
// that holds recovery points is refused with InvalidRequestException whose
// Context is their number; so is a vault under a compliance lock whose lock
// date has passed (AWS keeps such a vault for good).
func (s *Service) DeleteBackupVault(ctx context.Context, in *backupapi.DeleteBackupVaultInput) (*backupapi.DeleteBackupVaultOutput, error) {
	err := s.deleteBackupVault(ctx, in)
	if err != nil {
		return nil, apiError(err)
	}
	return &backupapi.DeleteBackupVaultOutput{}, nil
}

// msgVaultNotEmpty is AWS's message for deleting a vault with recovery
// points; the count goes in the exception's Context.
const msgVaultNotEmpty = "Backup vault cannot be deleted because it contains recovery points."

func (s *Service) deleteBackupVault(ctx context.Context, in *backupapi.DeleteBackupVaultInput) error {
	key, err := s.vaultKey(ctx, str(in.BackupVaultName))
	if err != nil {
		return err
	}
	v, err := s.getVault(ctx, key)
	if err != nil {
		return err
	}
	if v.Lock.Immutable(s.clock.Now()) {
		return backup.InvalidRequestf("Backup vault %s cannot be deleted: it is locked in compliance mode and its lock date %s has passed",
			key.Name, v.Lock.LockDate.UTC().Format("2006-01-02T15:04:05Z"))
	}
	err = s.store.DeleteVault(ctx, key)
	var e *backup.Error
	switch {
	case err == nil:
		s.log.LogAttrs(ctx, slog.LevelInfo, "vault deleted", slog.String("vault", v.ARN))
		s.queueRemoval(v)
		return nil
	case asKind(err, backup.KindNotFound, &e):
		return vaultNotFound(key)
	case asKind(err, backup.KindInvalidRequest, &e) && e.Context != "":
		return &backup.Error{Kind: backup.KindInvalidRequest, Message: msgVaultNotEmpty, Context: e.Context, Err: err}
	}
	return err
}

// asKind reports whether err holds a *backup.Error of kind k, and stores it
// in *target.
func asKind(err error, k backup.Kind, target **backup.Error) bool {
	var e *backup.Error
	if !errors.As(err, &e) || e.Kind != k {
		return false
	}
	*target = e
	return true
}
