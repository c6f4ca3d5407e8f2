package meta

import (
	"context"
	"errors"
	"time"

	"github.com/coffer/coffer/internal/backup"
)

// Limits the store enforces.
const (
	// MaxResultsLimit is the largest Page.MaxResults (the model's range is
	// 1…1000).
	MaxResultsLimit = 1000
	// DefaultMaxResults is the page size when Page.MaxResults is 0.
	DefaultMaxResults = 1000
	// MaxTagsPerResource is the AWS-wide tag limit, enforced by TagResource
	// and by the create methods that take tags.
	MaxTagsPerResource = 50
)

// Sentinel errors of the store's own abstractions. They are always wrapped
// in a *backup.Error that gives them a Kind, so the API layer needs no
// special case: test with errors.Is(err, meta.ErrLeaseLost).
var (
	// ErrLeaseLost: the worker no longer holds the job's lease (it expired
	// and another worker took the job over, or the lease was released).
	// Kind Conflict. The worker must stop working on the job.
	ErrLeaseLost = errors.New("meta: job lease is not held by this worker")
	// ErrSchemaTooNew: the database was written by a newer Coffer whose
	// schema this binary does not know. Open fails with it; nothing is
	// changed.
	ErrSchemaTooNew = errors.New("meta: database schema is newer than this binary")
)

// Page selects one page of a list: at most MaxResults items (0 means
// DefaultMaxResults; outside 0…MaxResultsLimit is an InvalidParameter error)
// after the position NextToken names ("" for the first page). List methods
// return the token of the next page, "" on the last page.
//
// Tokens are opaque, keyset-based cursors (the sort key of the last item
// returned), so paging is stable: items that exist for the whole listing are
// returned exactly once, in order, even while other items are created or
// deleted. A token is only valid for the same list method and filter; a
// malformed token is an InvalidParameter error.
type Page struct {
	MaxResults int
	NextToken  string
}

// VaultFilter selects vaults for ListVaults. Region and AccountID are
// required; the rest is optional.
type VaultFilter struct {
	Region    string
	AccountID string
	// VaultType, when set, keeps only vaults of that type.
	VaultType backup.VaultType
	// Shared, when non-nil, keeps only vaults whose Shared equals it.
	Shared *bool
}

// VaultStore holds backup vaults. Vaults are ordered by name.
type VaultStore interface {
	// CreateVault stores a new vault and its tags in one transaction and
	// returns it as stored. Name, Region and AccountID are required; ARN is
	// filled in when empty (and must match the key when given). If a vault
	// with the same name exists in the region and account, it fails with
	// an AlreadyExists error whose Arn and CreatorRequestID describe the
	// existing vault (the caller implements CreatorRequestId idempotency
	// from them). Of several concurrent creates of one name exactly one
	// succeeds. More than MaxTagsPerResource tags → LimitExceeded.
	CreateVault(ctx context.Context, v backup.Vault, tags map[string]string) (backup.Vault, error)

	// GetVault returns the vault with NumberOfRecoveryPoints filled in, or
	// a NotFound error.
	GetVault(ctx context.Context, key backup.VaultKey) (backup.Vault, error)

	// ListVaults returns one page of the vaults matching f, ordered by name.
	ListVaults(ctx context.Context, f VaultFilter, p Page) ([]backup.Vault, string, error)

	// UpdateVault reads the vault, calls fn on a copy and stores the result,
	// all in one transaction: concurrent updates of a vault are serialized,
	// and fn sees the latest state. If fn returns an error nothing is
	// stored and that error is returned as is. fn must not change the
	// vault's name, region, account or ARN (InvalidRequest);
	// NumberOfRecoveryPoints is ignored. NotFound when there is no vault.
	// fn may be called more than once and must not have side effects.
	UpdateVault(ctx context.Context, key backup.VaultKey, fn func(*backup.Vault) error) (backup.Vault, error)

	// DeleteVault removes the vault and its tags. It refuses, with an
	// InvalidRequest error whose Context is the number of points, a vault
	// that holds recovery points in any status; the check and the delete
	// are one transaction, so no recovery point can be created into a
	// vault that is being deleted (CreateRecoveryPoint then fails with
	// NotFound). NotFound when there is no vault.
	DeleteVault(ctx context.Context, key backup.VaultKey) error
}

// TagStore holds tags per resource ARN (vaults, recovery points, plans,
// anything with an ARN). It does not check that the ARN names something
// that exists: the caller does.
type TagStore interface {
	// ListTags returns the tags of arn, an empty non-nil map when it has
	// none.
	ListTags(ctx context.Context, arn string) (map[string]string, error)

	// TagResource adds tags to arn, replacing the values of existing keys.
	// If arn would then have more than MaxTagsPerResource tags it fails with
	// LimitExceeded and changes nothing. Atomic.
	TagResource(ctx context.Context, arn string, tags map[string]string) error

	// UntagResource removes the keys from arn; keys it does not have are
	// ignored. Atomic.
	UntagResource(ctx context.Context, arn string, keys []string) error
}

// RecoveryPointFilter selects recovery points. Every field is optional; the
// zero filter selects all points.
type RecoveryPointFilter struct {
	// Vault keeps the points stored in that vault.
	Vault *backup.VaultKey
	// ResourceArn keeps the points of that resource (in any vault when
	// Vault is nil: ListRecoveryPointsByResource).
	ResourceArn  string
	ResourceType backup.ResourceType
	// BackupPlanID keeps the points created by that plan.
	BackupPlanID string
	// CreatedAfter/CreatedBefore keep points whose CreationDate is strictly
	// after/before the instant (zero: no bound).
	CreatedAfter  time.Time
	CreatedBefore time.Time
	// ParentRecoveryPointArn keeps the members of a composite point.
	ParentRecoveryPointArn string
	// Statuses keeps points in any of these statuses.
	Statuses []backup.RecoveryPointStatus
	// ExpiresBefore keeps points whose calculated DeleteAt is set and
	// strictly before the instant (the lifecycle sweeper's query).
	ExpiresBefore time.Time
	// ColdBefore keeps WARM points whose calculated MoveToColdStorageAt is
	// set and strictly before the instant.
	ColdBefore time.Time
}

// RecoveryPointStore holds recovery points. Lists are ordered newest first
// by CreationDate, ties broken by ARN descending.
type RecoveryPointStore interface {
	// CreateRecoveryPoint stores a new point and its tags, and adds it to
	// its vault's count, in one transaction. ARN, VaultName, Region,
	// AccountID, ResourceArn and CreationDate are required; VaultArn is
	// filled in when empty. NotFound when the vault does not exist (also
	// when it is deleted concurrently); AlreadyExists when the ARN is
	// taken; LimitExceeded for too many tags.
	CreateRecoveryPoint(ctx context.Context, rp backup.RecoveryPoint, tags map[string]string) error

	// GetRecoveryPoint returns the point with that ARN in whatever vault
	// holds it, or NotFound. Callers that were given a vault name check
	// it (see GetRecoveryPointInVault).
	GetRecoveryPoint(ctx context.Context, arn string) (backup.RecoveryPoint, error)

	// UpdateRecoveryPoint is the transaction-function update of one point
	// (see UpdateVault for the contract). fn must not change the ARN or the
	// vault (InvalidRequest).
	UpdateRecoveryPoint(ctx context.Context, arn string, fn func(*backup.RecoveryPoint) error) (backup.RecoveryPoint, error)

	// DeleteRecoveryPoint removes the point and its tags and takes it off
	// its vault's count, in one transaction. NotFound when it does not
	// exist. Callers mark the point DELETING and delete its data first.
	DeleteRecoveryPoint(ctx context.Context, arn string) error

	// ListRecoveryPoints returns one page of the points matching f.
	ListRecoveryPoints(ctx context.Context, f RecoveryPointFilter, p Page) ([]backup.RecoveryPoint, string, error)

	// CountRecoveryPoints returns the number of points in the vault, or
	// NotFound when the vault does not exist.
	CountRecoveryPoints(ctx context.Context, key backup.VaultKey) (int64, error)

	// LatestRecoveryPoint returns the newest usable (COMPLETED or
	// AVAILABLE) point of the resource in the vault — the parent of an
	// incremental backup — or NotFound when there is none.
	LatestRecoveryPoint(ctx context.Context, key backup.VaultKey, resourceArn string) (backup.RecoveryPoint, error)
}

// JobFilter selects jobs. Every field is optional; string fields match
// exactly ("" = any). Callers translate AWS's special values first (account
// "*", message category "ANY"/"AGGREGATE_ALL" → "").
type JobFilter struct {
	// Kinds keeps jobs of these kinds (nil: all kinds).
	Kinds        []backup.JobKind
	AccountID    string
	Region       string
	States       []backup.JobState
	ResourceArn  string
	ResourceType backup.ResourceType
	// VaultName: a backup job's target vault (ListBackupJobs
	// backupVaultName).
	VaultName string
	// DestinationVaultArn and DestinationRegion: a copy job's destination.
	DestinationVaultArn string
	DestinationRegion   string
	// RecoveryPointArn: a copy job's source point (ListCopyJobs
	// sourceRecoveryPointArn), a restore job's point, a backup job's
	// created point.
	RecoveryPointArn      string
	ParentJobID           string
	MessageCategory       string
	RestoreTestingPlanArn string
	// Creation and completion bounds are strict (after: >, before: <); a
	// completion bound excludes jobs that have not completed.
	CreatedAfter    time.Time
	CreatedBefore   time.Time
	CompletedAfter  time.Time
	CompletedBefore time.Time
	// RecoveryPointCreatedAfter/Before bound a restore job's
	// RecoveryPointCreationDate (ListRestoreJobsByProtectedResource).
	RecoveryPointCreatedAfter  time.Time
	RecoveryPointCreatedBefore time.Time
}

// JobCount is one row of JobCounts: how many jobs of one kind were created
// on one UTC day with the same region, account, state, resource type and
// message category.
type JobCount struct {
	// Day is the UTC midnight starting the day.
	Day             time.Time
	Region          string
	AccountID       string
	State           backup.JobState
	ResourceType    backup.ResourceType
	MessageCategory string
	Count           int64
}

// JobStore holds backup, copy and restore jobs. Lists are ordered newest
// first by CreationDate, ties broken by job ID descending.
type JobStore interface {
	// CreateJob stores a new job (which must pass Job.Validate). When the job
	// has an IdempotencyToken and a job of the same kind, account and token
	// was created less than idempotencyTTL before job.CreationDate, nothing
	// is stored and that job is returned with created == false: the caller
	// compares RequestHash to tell a retry from a different request reusing
	// the token. The lookup and the insert are one transaction, so of
	// concurrent creates with one token exactly one creates. A job ID that
	// exists → AlreadyExists.
	CreateJob(ctx context.Context, job backup.Job, idempotencyTTL time.Duration) (stored backup.Job, created bool, err error)

	// GetJob returns the job with that ID (any kind), or NotFound.
	GetJob(ctx context.Context, id string) (backup.Job, error)

	// UpdateJob is the transaction-function update of one job (see
	// UpdateVault). fn must not change ID or Kind, and the new state must
	// be reachable from the stored one (backup.CanReach: fn may take
	// several steps, e.g. RUNNING then COMPLETED; a terminal job never
	// changes state) — InvalidRequest otherwise. fn may set or clear lease
	// fields (a worker clears its lease when it requeues the job); a job
	// that ends in a terminal state loses its lease automatically. Progress
	// set by fn is stored too.
	UpdateJob(ctx context.Context, id string, fn func(*backup.Job) error) (backup.Job, error)

	// ListJobs returns one page of the jobs matching f.
	ListJobs(ctx context.Context, f JobFilter, p Page) ([]backup.Job, string, error)

	// CountJobs returns how many jobs match f (for concurrency limits).
	CountJobs(ctx context.Context, f JobFilter) (int64, error)

	// JobCounts returns the number of jobs of kind created in [from, to),
	// grouped by UTC day, region, account, state, resource type and message
	// category, in no particular order. The *JobSummaries operations
	// aggregate these rows (ANY, AGGREGATE_ALL, 1/7/14-day periods) in the
	// caller.
	JobCounts(ctx context.Context, kind backup.JobKind, from, to time.Time) ([]JobCount, error)
}

// JobQueue is the work queue over the jobs of a JobStore. Jobs are leased,
// not locked: a worker holds a job until LeaseExpiry and renews the lease
// while it works; a lease that expires (the worker or the process died) lets
// another worker, possibly on another node, take the job over. Times are
// passed in (from the caller's clock); the store never reads the time.
type JobQueue interface {
	// ClaimJob atomically picks the oldest runnable job of one of kinds and
	// leases it to workerID until now+leaseFor, incrementing Attempt. A job
	// is runnable when it is in a queued state (backup.QueuedStates), its
	// NotBefore has passed, it holds no unexpired lease, and — for backup
	// and copy jobs — no other backup or copy job of the same resource is
	// active (RUNNING, ABORTING) or holds an unexpired lease ("one
	// concurrent backup or copy job per resource"). The state is not
	// changed: the worker moves the job on with UpdateJob. ok is false when
	// no job is runnable. Concurrent claims never return the same job.
	ClaimJob(ctx context.Context, workerID string, kinds []backup.JobKind, now time.Time, leaseFor time.Duration) (job backup.Job, ok bool, err error)

	// RenewLease extends the lease workerID holds on the job to
	// now+leaseFor. ErrLeaseLost (kind Conflict) when workerID does not
	// hold it; NotFound when there is no such job.
	RenewLease(ctx context.Context, id, workerID string, now time.Time, leaseFor time.Duration) error

	// ReleaseExpired finds active jobs (neither queued nor terminal: RUNNING,
	// ABORTING) whose lease has expired at now or that have no lease — their
	// worker died — and hands each to workerID with a fresh lease until
	// now+leaseFor (Attempt incremented), atomically, so that one caller
	// gets each job. The caller resumes them or ends them FAILED with a
	// StatusMessage saying they were interrupted.
	ReleaseExpired(ctx context.Context, workerID string, now time.Time, leaseFor time.Duration) ([]backup.Job, error)

	// UpdateProgress records the job's progress if workerID holds its lease.
	// It writes only the progress (one small UPDATE, no read of the job), so
	// it is cheap enough to call every second per job. ErrLeaseLost or
	// NotFound as RenewLease.
	UpdateProgress(ctx context.Context, id, workerID string, p backup.JobProgress) error
}

// ProtectedResourceFilter selects protected resources. All fields are
// optional.
type ProtectedResourceFilter struct {
	Region    string
	AccountID string
	// Vault keeps resources that have at least one recovery point in the
	// vault (ListProtectedResourcesByBackupVault).
	Vault *backup.VaultKey
}

// ProtectedResourceStore holds the resources that have backups. Lists are
// ordered by resource ARN.
type ProtectedResourceStore interface {
	// UpsertProtectedResource reads the resource (exists == false and a
	// zero value with ResourceArn set when there is none), calls fn and
	// stores the result, in one transaction. fn's error aborts and is
	// returned. fn must not change ResourceArn.
	UpsertProtectedResource(ctx context.Context, arn string, fn func(pr *backup.ProtectedResource, exists bool) error) (backup.ProtectedResource, error)

	// GetProtectedResource returns the resource, or NotFound.
	GetProtectedResource(ctx context.Context, arn string) (backup.ProtectedResource, error)

	// ListProtectedResources returns one page of resources matching f.
	ListProtectedResources(ctx context.Context, f ProtectedResourceFilter, p Page) ([]backup.ProtectedResource, string, error)
}

// ResourceFilter selects resources of the runtime inventory. All fields are
// optional.
type ResourceFilter struct {
	Region        string
	AccountID     string
	Type          backup.ResourceType
	Origin        string
	CreationToken string
}

// ResourceStore is the runtime resource inventory: resources created by
// restores (and, if the caller wants, the declared ones), so that they can
// be backed up and found again after a restart. Lists are ordered by ARN.
type ResourceStore interface {
	// CreateResource stores a new resource. AlreadyExists when the ARN is
	// taken, or when CreationToken is set and another resource of the same
	// region and account has it (Error.Arn names that resource, so that a
	// retried restore finds what the first attempt created).
	CreateResource(ctx context.Context, r backup.Resource) error

	// PutResource stores r, replacing any resource with the same ARN.
	PutResource(ctx context.Context, r backup.Resource) error

	// GetResource returns the resource, or NotFound.
	GetResource(ctx context.Context, arn string) (backup.Resource, error)

	// ListResources returns one page of resources matching f.
	ListResources(ctx context.Context, f ResourceFilter, p Page) ([]backup.Resource, string, error)

	// DeleteResource removes the resource; NotFound when there is none.
	DeleteResource(ctx context.Context, arn string) error
}

// SettingsStore holds region and global settings.
type SettingsStore interface {
	// GetRegionSettings returns the settings of the region, or NotFound when
	// they were never updated (the caller applies its defaults).
	GetRegionSettings(ctx context.Context, accountID, region string) (backup.RegionSettings, error)

	// UpdateRegionSettings is a transaction-function update; fn gets the
	// stored settings, or a zero value with Region and AccountID set and
	// empty maps when there are none. fn's error aborts and is returned.
	UpdateRegionSettings(ctx context.Context, accountID, region string, fn func(*backup.RegionSettings) error) (backup.RegionSettings, error)

	// GetGlobalSettings returns the account's global settings, or NotFound.
	GetGlobalSettings(ctx context.Context, accountID string) (backup.GlobalSettings, error)

	// UpdateGlobalSettings is UpdateRegionSettings for global settings.
	UpdateGlobalSettings(ctx context.Context, accountID string, fn func(*backup.GlobalSettings) error) (backup.GlobalSettings, error)
}

// Store is the whole metadata store. All methods are safe for concurrent
// use. Every method is atomic: it is applied completely or not at all, and
// a method that returned nil is durable against a crash of the process (see
// the driver for power loss). Not-found conditions are backup NotFound
// errors; driver failures are backup Internal (or Unavailable, when
// retrying may help) errors that never expose SQL to the caller's message.
type Store interface {
	VaultStore
	TagStore
	RecoveryPointStore
	JobStore
	JobQueue
	ProtectedResourceStore
	ResourceStore
	SettingsStore

	// Close releases the store. Calls after Close fail; Close is idempotent.
	Close() error
}

// GetRecoveryPointInVault returns the point only if it is stored in the vault
// named by key, and a NotFound error naming both otherwise (what
// DescribeRecoveryPoint and friends need).
func GetRecoveryPointInVault(ctx context.Context, s RecoveryPointStore, key backup.VaultKey, arn string) (backup.RecoveryPoint, error) {
	rp, err := s.GetRecoveryPoint(ctx, arn)
	if err != nil {
		if backup.KindOf(err) == backup.KindNotFound {
			return backup.RecoveryPoint{}, backup.NotFoundf("recovery point %s not found in backup vault %s", arn, key.Name)
		}
		return backup.RecoveryPoint{}, err
	}
	if rp.VaultName != key.Name || rp.Region != key.Region || rp.AccountID != key.AccountID {
		return backup.RecoveryPoint{}, backup.NotFoundf("recovery point %s not found in backup vault %s", arn, key.Name)
	}
	return rp, nil
}

// LeaseLost returns the error RenewLease and UpdateProgress return when
// workerID does not hold the job's lease: kind Conflict, wrapping
// ErrLeaseLost.
func LeaseLost(jobID, workerID string) error {
	return &backup.Error{Kind: backup.KindConflict, Message: "job " + jobID + " is not leased to worker " + workerID, Err: ErrLeaseLost}
}
