package backup

import (
	"strings"
	"time"
)

// ResourceType is AWS Backup's name for a kind of protected resource, as it
// appears in ResourceType fields ("EFS", "EBS", "RDS", ...).
type ResourceType string

// Resource types Coffer supports.
const (
	EFS ResourceType = "EFS" // a directory tree
	EBS ResourceType = "EBS" // a volume image file or block device
	RDS ResourceType = "RDS" // a PostgreSQL database
)

// Resource types AWS Backup knows and Coffer recognises but does not
// support.
const (
	Aurora         ResourceType = "Aurora"
	CloudFormation ResourceType = "CloudFormation"
	DocumentDB     ResourceType = "DocumentDB"
	DynamoDB       ResourceType = "DynamoDB"
	EC2            ResourceType = "EC2"
	EKS            ResourceType = "EKS"
	FSx            ResourceType = "FSx"
	Neptune        ResourceType = "Neptune"
	Redshift       ResourceType = "Redshift"
	S3             ResourceType = "S3"
	SAPHANA        ResourceType = "SAP HANA on Amazon EC2"
	StorageGateway ResourceType = "Storage Gateway"
	Timestream     ResourceType = "Timestream"
	VirtualMachine ResourceType = "VirtualMachine"
)

// SupportedResourceTypes lists the types Coffer backs up and restores, in
// the order GetSupportedResourceTypes reports them.
var SupportedResourceTypes = []ResourceType{EBS, EFS, RDS}

// KnownResourceTypes lists every type AWS Backup's model names.
var KnownResourceTypes = []ResourceType{Aurora, CloudFormation, DocumentDB, DynamoDB, EBS, EC2, EFS, EKS, FSx, Neptune, RDS, Redshift, S3, SAPHANA, StorageGateway, Timestream, VirtualMachine}

// Supported reports whether Coffer supports the type.
func (t ResourceType) Supported() bool { return t == EFS || t == EBS || t == RDS }

// Known reports whether AWS Backup knows the type.
func (t ResourceType) Known() bool {
	for _, k := range KnownResourceTypes {
		if k == t {
			return true
		}
	}
	return false
}

// CheckSupportedResourceType returns nil for a supported type and an
// InvalidParameter error naming the supported ones otherwise.
func CheckSupportedResourceType(t ResourceType) error {
	if t.Supported() {
		return nil
	}
	if t.Known() {
		return InvalidParameterf("resource type %q is not supported by Coffer; supported types are %s", string(t), supportedList())
	}
	return InvalidParameterf("%q is not a resource type; supported types are %s", string(t), supportedList())
}

func supportedList() string {
	s := make([]string, len(SupportedResourceTypes))
	for i, t := range SupportedResourceTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// VaultType is BACKUP_VAULT, LOGICALLY_AIR_GAPPED_BACKUP_VAULT or
// RESTORE_ACCESS_BACKUP_VAULT.
type VaultType string

// Vault types.
const (
	VaultTypeBackup             VaultType = "BACKUP_VAULT"
	VaultTypeLogicallyAirGapped VaultType = "LOGICALLY_AIR_GAPPED_BACKUP_VAULT"
	VaultTypeRestoreAccess      VaultType = "RESTORE_ACCESS_BACKUP_VAULT"
)

// VaultState is CREATING, AVAILABLE or FAILED.
type VaultState string

// Vault states.
const (
	VaultCreating  VaultState = "CREATING"
	VaultAvailable VaultState = "AVAILABLE"
	VaultFailed    VaultState = "FAILED"
)

// EncryptionKeyType is AWS_OWNED_KMS_KEY or CUSTOMER_MANAGED_KMS_KEY.
type EncryptionKeyType string

// Encryption key types.
const (
	AWSOwnedKey        EncryptionKeyType = "AWS_OWNED_KMS_KEY"
	CustomerManagedKey EncryptionKeyType = "CUSTOMER_MANAGED_KMS_KEY"
)

// Vault is a backup vault: a named container of recovery points in one
// region and account, with its own encryption key.
//
// The json tags are the form the metadata store persists; renaming a Go
// field must keep its tag.
type Vault struct {
	Name      string `json:"name"`
	ARN       string `json:"arn"`
	Region    string `json:"region"`
	AccountID string `json:"account"`

	// EncryptionKeyArn is the KMS key ARN the vault was created with (or
	// Coffer's default key ARN for the vault when none was given).
	EncryptionKeyArn  string            `json:"encryptionKeyArn,omitempty"`
	EncryptionKeyType EncryptionKeyType `json:"encryptionKeyType,omitempty"`
	CreatorRequestID  string            `json:"creatorRequestId,omitempty"`
	CreationDate      time.Time         `json:"creationDate"`
	VaultType         VaultType         `json:"vaultType"`
	VaultState        VaultState        `json:"vaultState"`
	// SourceBackupVaultArn is set on restore-access vaults.
	SourceBackupVaultArn string `json:"sourceBackupVaultArn,omitempty"`
	// Shared is true when the vault is shared with other accounts (the
	// ListBackupVaults "shared" filter). Coffer does not share vaults yet.
	Shared bool `json:"shared,omitempty"`

	// Lock is the vault lock configuration, nil when the vault is not locked.
	Lock *VaultLock `json:"lock,omitempty"`
	// AccessPolicy is the resource policy JSON document, "" when none.
	AccessPolicy string `json:"accessPolicy,omitempty"`
	// Notifications is the SNS notification configuration, nil when none.
	Notifications *VaultNotifications `json:"notifications,omitempty"`

	// StorageKey names the key material that encrypts the vault's data in
	// the repository engine (a key ID in the region's key store; never the
	// key itself).
	StorageKey string `json:"storageKey,omitempty"`

	// GCRequested is when data of the vault's repository was last left
	// unreferenced (recovery points deleted, failed jobs); zero when the
	// last garbage collection covered every request. Kept in the store so
	// that a collection owed survives a restart. Not part of the API.
	GCRequested time.Time `json:"gcRequested,omitzero"`

	// NumberOfRecoveryPoints is derived by the store on every read: the
	// recovery points currently recorded in the vault, in any status. It is
	// ignored on writes.
	NumberOfRecoveryPoints int64 `json:"-"`
}

// Key returns the vault's VaultKey.
func (v *Vault) Key() VaultKey {
	return VaultKey{Region: v.Region, AccountID: v.AccountID, Name: v.Name}
}

// Locked reports whether a vault lock protects the vault (DescribeBackupVault
// Locked): true for any lock configuration, governance or compliance.
func (v *Vault) Locked() bool { return v.Lock != nil }

// LockState returns "LOCKED" or "UNLOCKED" for the VaultLockState and
// DestinationVaultLockState job fields.
func (v *Vault) LockState() string {
	if v.Lock != nil {
		return "LOCKED"
	}
	return "UNLOCKED"
}

// VaultNotifications is a vault's notification configuration.
type VaultNotifications struct {
	SNSTopicArn string   `json:"snsTopicArn"`
	Events      []string `json:"events"`
}

// VaultEvents lists the BackupVaultEvent values of the model.
var VaultEvents = []string{
	"BACKUP_JOB_STARTED", "BACKUP_JOB_COMPLETED", "BACKUP_JOB_SUCCESSFUL", "BACKUP_JOB_FAILED",
	"BACKUP_JOB_EXPIRED", "RESTORE_JOB_STARTED", "RESTORE_JOB_COMPLETED", "RESTORE_JOB_SUCCESSFUL",
	"RESTORE_JOB_FAILED", "COPY_JOB_STARTED", "COPY_JOB_SUCCESSFUL", "COPY_JOB_FAILED",
	"RECOVERY_POINT_MODIFIED", "BACKUP_PLAN_CREATED", "BACKUP_PLAN_MODIFIED", "S3_BACKUP_OBJECT_FAILED",
	"S3_RESTORE_OBJECT_FAILED", "CONTINUOUS_BACKUP_INTERRUPTED", "RECOVERY_POINT_INDEX_COMPLETED",
	"RECOVERY_POINT_INDEX_DELETED", "RECOVERY_POINT_INDEXING_FAILED", "EKS_RESTORE_OBJECT_FAILED",
	"EKS_RESTORE_OBJECT_SKIPPED", "EKS_BACKUP_OBJECT_FAILED",
}

// ValidateNotifications checks a PutBackupVaultNotifications request: an SNS
// topic ARN and at least one known event, without duplicates.
func ValidateNotifications(n VaultNotifications) error {
	if n.SNSTopicArn == "" {
		return MissingParameterf("SNSTopicArn is required")
	}
	if _, err := ParseSNSTopicARN(n.SNSTopicArn); err != nil {
		return ForField("SNSTopicArn", err)
	}
	if len(n.Events) == 0 {
		return MissingParameterf("BackupVaultEvents must name at least one event")
	}
	seen := map[string]bool{}
	for _, e := range n.Events {
		known := false
		for _, k := range VaultEvents {
			known = known || k == e
		}
		if !known {
			return InvalidParameterf("Invalid value for BackupVaultEvents: %q is not a backup vault event", e)
		}
		if seen[e] {
			return InvalidParameterf("Invalid value for BackupVaultEvents: %q is listed twice", e)
		}
		seen[e] = true
	}
	return nil
}

// RecoveryPointStatus is the status of a recovery point.
type RecoveryPointStatus string

// Recovery point statuses.
const (
	RecoveryPointCompleted RecoveryPointStatus = "COMPLETED"
	RecoveryPointPartial   RecoveryPointStatus = "PARTIAL"
	RecoveryPointDeleting  RecoveryPointStatus = "DELETING"
	RecoveryPointExpired   RecoveryPointStatus = "EXPIRED"
	RecoveryPointAvailable RecoveryPointStatus = "AVAILABLE"
	RecoveryPointStopped   RecoveryPointStatus = "STOPPED"
	RecoveryPointCreating  RecoveryPointStatus = "CREATING"
)

// Usable reports whether a point in this status holds complete, restorable
// data: COMPLETED or AVAILABLE. Only usable points may be restored, copied
// or serve as the parent of an incremental backup.
func (s RecoveryPointStatus) Usable() bool {
	return s == RecoveryPointCompleted || s == RecoveryPointAvailable
}

// StorageClass is WARM, COLD or DELETED.
type StorageClass string

// Storage classes.
const (
	StorageWarm    StorageClass = "WARM"
	StorageCold    StorageClass = "COLD"
	StorageDeleted StorageClass = "DELETED"
)

// Creator says which backup plan and rule created a recovery point or job
// (RecoveryPointCreator), or which restore testing plan created a restore
// job (RestoreJobCreator). All fields are empty for on-demand jobs.
type Creator struct {
	BackupPlanArn         string `json:"backupPlanArn,omitempty"`
	BackupPlanID          string `json:"backupPlanId,omitempty"`
	BackupPlanName        string `json:"backupPlanName,omitempty"`
	BackupPlanVersion     string `json:"backupPlanVersion,omitempty"`
	BackupRuleCron        string `json:"backupRuleCron,omitempty"`
	BackupRuleID          string `json:"backupRuleId,omitempty"`
	BackupRuleName        string `json:"backupRuleName,omitempty"`
	BackupRuleTimezone    string `json:"backupRuleTimezone,omitempty"`
	RestoreTestingPlanArn string `json:"restoreTestingPlanArn,omitempty"`
}

// IsZero reports whether no field is set.
func (c Creator) IsZero() bool { return c == Creator{} }

// RecoveryPoint is one backup of one resource, stored in one vault. A copy
// is a separate recovery point with its own ARN in its own vault.
type RecoveryPoint struct {
	ARN       string `json:"arn"`
	VaultName string `json:"vaultName"`
	VaultArn  string `json:"vaultArn"`
	Region    string `json:"region"`
	AccountID string `json:"account"`

	// SourceBackupVaultArn is the vault the point was originally backed up
	// in; set on copies.
	SourceBackupVaultArn string       `json:"sourceBackupVaultArn,omitempty"`
	ResourceArn          string       `json:"resourceArn"`
	ResourceType         ResourceType `json:"resourceType"`
	ResourceName         string       `json:"resourceName,omitempty"`
	CreatedBy            Creator      `json:"createdBy,omitzero"`
	IamRoleArn           string       `json:"iamRoleArn,omitempty"`

	Status        RecoveryPointStatus `json:"status"`
	StatusMessage string              `json:"statusMessage,omitempty"`

	// CreationDate is when the backup was taken; copies keep the source's.
	CreationDate   time.Time `json:"creationDate"`
	InitiationDate time.Time `json:"initiationDate,omitzero"`
	CompletionDate time.Time `json:"completionDate,omitzero"`
	// EnteredVaultAt is when the point was added to this vault (the start
	// of the backup or copy job that created it). Vault lock rules apply to
	// points that entered the vault after the lock was set.
	EnteredVaultAt time.Time `json:"enteredVaultAt"`

	BackupSizeInBytes int64 `json:"backupSizeInBytes"`
	// Lifecycle is the point's lifecycle; nil keeps it forever.
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`

	EncryptionKeyArn  string            `json:"encryptionKeyArn,omitempty"`
	EncryptionKeyType EncryptionKeyType `json:"encryptionKeyType,omitempty"`
	IsEncrypted       bool              `json:"isEncrypted"`
	StorageClass      StorageClass      `json:"storageClass,omitempty"`
	LastRestoreTime   time.Time         `json:"lastRestoreTime,omitzero"`

	// ParentRecoveryPointArn is the composite parent point (not the
	// incremental base; see Engine.BaseRecoveryPointArn).
	ParentRecoveryPointArn    string    `json:"parentRecoveryPointArn,omitempty"`
	CompositeMemberIdentifier string    `json:"compositeMemberIdentifier,omitempty"`
	IsParent                  bool      `json:"isParent,omitempty"`
	VaultType                 VaultType `json:"vaultType,omitempty"`
	IndexStatus               string    `json:"indexStatus,omitempty"`
	IndexStatusMessage        string    `json:"indexStatusMessage,omitempty"`

	// RestoreMetadata is what GetRecoveryPointRestoreMetadata returns: the
	// restore metadata keys for the resource type, recorded at backup time.
	RestoreMetadata map[string]string `json:"restoreMetadata,omitempty"`

	// CreatedByJobID is the backup or copy job that created the point.
	CreatedByJobID string `json:"createdByJobId,omitempty"`
	// SourceRecoveryPointArn is, for a copy, the point it was copied from.
	SourceRecoveryPointArn string `json:"sourceRecoveryPointArn,omitempty"`

	// Engine is where the point's data lives in the repository engine.
	Engine EngineRef `json:"engine,omitzero"`
}

// CalculatedLifecycle returns the point's CalculatedLifecycle from its
// CreationDate and Lifecycle.
func (rp *RecoveryPoint) CalculatedLifecycle() CalculatedLifecycle {
	return CalculateLifecycle(rp.CreationDate, rp.Lifecycle)
}

// BackupPlanID returns CreatedBy.BackupPlanID (the recovery point list
// filter "backupPlanId").
func (rp *RecoveryPoint) BackupPlanID() string { return rp.CreatedBy.BackupPlanID }

// EngineRef locates a recovery point's data in the repository engine.
type EngineRef struct {
	// Repository identifies the repository (one per region storage
	// location and vault key) that holds the snapshot.
	Repository string `json:"repository,omitempty"`
	// SnapshotID is the engine's snapshot ID.
	SnapshotID string `json:"snapshotId,omitempty"`
	// StorageRegion is the region whose storage holds the data.
	StorageRegion string `json:"storageRegion,omitempty"`
	// StorageLocation describes the storage for messages, e.g.
	// "/var/lib/coffer/us-east-1" or "s3://bucket/prefix".
	StorageLocation string `json:"storageLocation,omitempty"`
	// StoredBytes is the size of the data the snapshot added to the
	// repository (after dedup and compression).
	StoredBytes int64 `json:"storedBytes,omitempty"`
	// LogicalBytes is the size of the resource's data the snapshot
	// describes.
	LogicalBytes int64 `json:"logicalBytes,omitempty"`
	// FileCount is the number of files (EFS) or objects in the snapshot.
	FileCount int64 `json:"fileCount,omitempty"`
	// BaseRecoveryPointArn is the point this one was taken incrementally
	// against, "" for a full backup.
	BaseRecoveryPointArn string `json:"baseRecoveryPointArn,omitempty"`
}

// Resource is something Coffer can back up: a directory tree (EFS), a
// volume image or block device (EBS), or a PostgreSQL database (RDS).
// Resources come from the config file, or are created by restores.
type Resource struct {
	ARN       string       `json:"arn"`
	Type      ResourceType `json:"type"`
	Region    string       `json:"region"`
	AccountID string       `json:"account"`
	// ID is the resource's own ID: "fs-…", "vol-…" or the DB identifier.
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Target is what the resource points at: a directory path, an image
	// file or device path, or a PostgreSQL connection string. A connection
	// string may hold a password: never log or return Target.
	Target string `json:"target"`
	// Origin is "config" for declared resources and "restore" for
	// resources created by a restore job.
	Origin string `json:"origin,omitempty"`
	// CreationToken is the EFS restore CreationToken that created the
	// resource, so that a retried restore finds it instead of making a
	// second one.
	CreationToken string `json:"creationToken,omitempty"`
	// CreatedByJobID is the restore job that created the resource.
	CreatedByJobID string    `json:"createdByJobId,omitempty"`
	CreationDate   time.Time `json:"creationDate,omitzero"`
	// Options holds type-specific settings (Encrypted, KmsKeyId,
	// PerformanceMode for file systems; volume size for volumes).
	Options map[string]string `json:"options,omitempty"`
}

// ProtectedResource is a resource that has at least one backup; what
// DescribeProtectedResource and ListProtectedResources report.
type ProtectedResource struct {
	ResourceArn  string       `json:"resourceArn"`
	ResourceType ResourceType `json:"resourceType"`
	ResourceName string       `json:"resourceName,omitempty"`
	Region       string       `json:"region"`
	AccountID    string       `json:"account"`

	LastBackupTime       time.Time `json:"lastBackupTime,omitzero"`
	LastBackupVaultArn   string    `json:"lastBackupVaultArn,omitempty"`
	LastRecoveryPointArn string    `json:"lastRecoveryPointArn,omitempty"`

	LatestRestoreExecutionTimeMinutes      int64     `json:"latestRestoreExecutionTimeMinutes,omitempty"`
	LatestRestoreJobCreationDate           time.Time `json:"latestRestoreJobCreationDate,omitzero"`
	LatestRestoreRecoveryPointCreationDate time.Time `json:"latestRestoreRecoveryPointCreationDate,omitzero"`
}

// RegionSettings are the per-region settings of DescribeRegionSettings.
type RegionSettings struct {
	Region    string `json:"region"`
	AccountID string `json:"account"`
	// ResourceTypeOptInPreference: which resource types AWS Backup may
	// protect in the region.
	ResourceTypeOptInPreference map[ResourceType]bool `json:"optIn,omitempty"`
	// ResourceTypeManagementPreference: whether AWS Backup fully manages
	// the type's backups (DynamoDB, EFS).
	ResourceTypeManagementPreference map[ResourceType]bool `json:"management,omitempty"`
}

// GlobalSettings are the account-wide settings of DescribeGlobalSettings,
// e.g. "isCrossAccountBackupEnabled" → "false".
type GlobalSettings struct {
	AccountID      string            `json:"account"`
	Settings       map[string]string `json:"settings,omitempty"`
	LastUpdateTime time.Time         `json:"lastUpdateTime,omitzero"`
}
