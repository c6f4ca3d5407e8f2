package backup

import (
	"fmt"
	"strconv"
	"time"
)

// JobKind is the kind of a job.
type JobKind string

// Job kinds.
const (
	BackupJob  JobKind = "BACKUP"
	CopyJob    JobKind = "COPY"
	RestoreJob JobKind = "RESTORE"
)

// JobKinds lists every kind.
var JobKinds = []JobKind{BackupJob, CopyJob, RestoreJob}

// Valid reports whether k is one of the three kinds.
func (k JobKind) Valid() bool { return k == BackupJob || k == CopyJob || k == RestoreJob }

// JobState is a job's state: BackupJobState and CopyJobState values, and
// RestoreJobStatus values (restore jobs call the field Status).
type JobState string

// Job states.
const (
	JobCreated   JobState = "CREATED"
	JobPending   JobState = "PENDING"
	JobRunning   JobState = "RUNNING"
	JobAborting  JobState = "ABORTING"
	JobAborted   JobState = "ABORTED"
	JobCompleted JobState = "COMPLETED"
	JobFailed    JobState = "FAILED"
	JobExpired   JobState = "EXPIRED"
	JobPartial   JobState = "PARTIAL"
)

// MessageSuccess is the MessageCategory of a job that completed without
// issues.
const MessageSuccess = "SUCCESS"

// Message categories Coffer sets on failed jobs (AWS's are free-form; these
// follow its examples).
const (
	MessageAccessDenied      = "ACCESS_DENIED"
	MessageInvalidParameters = "INVALID_PARAMETERS"
	MessageAborted           = "ABORTED"
	MessageTimeout           = "TIMEOUT"
	MessageInterrupted       = "INTERRUPTED"
	MessageStorageError      = "STORAGE_ERROR"
	MessageResourceError     = "RESOURCE_ERROR"
	MessageInternalError     = "INTERNAL_ERROR"
)

// stateMachine is one kind's states: the initial one, the transitions and
// which states are terminal or queued.
type stateMachine struct {
	initial  JobState
	next     map[JobState][]JobState
	terminal map[JobState]bool
	queued   []JobState
}

// Backup: CREATED (within the start window) → PENDING (queued behind
// another job on the resource, or waiting for a retry) → RUNNING →
// COMPLETED | FAILED | PARTIAL; StopBackupJob: → ABORTING → ABORTED (a
// queued job goes straight to ABORTED); the start window passing before
// RUNNING → EXPIRED; a retryable failure or an interrupted run RUNNING →
// PENDING.
var backupMachine = stateMachine{
	initial: JobCreated,
	next: map[JobState][]JobState{
		JobCreated:  {JobPending, JobRunning, JobAborted, JobExpired, JobFailed},
		JobPending:  {JobRunning, JobAborted, JobExpired, JobFailed},
		JobRunning:  {JobCompleted, JobFailed, JobPartial, JobAborting, JobAborted, JobExpired, JobPending},
		JobAborting: {JobAborted, JobFailed, JobCompleted},
	},
	terminal: map[JobState]bool{JobAborted: true, JobCompleted: true, JobFailed: true, JobExpired: true, JobPartial: true},
	queued:   []JobState{JobCreated, JobPending},
}

// Copy: CREATED → RUNNING → COMPLETED | FAILED | PARTIAL; a system error
// sends a RUNNING copy back to CREATED for its retry phase; a queued copy
// whose retry phase ends, or that cannot start, → FAILED.
var copyMachine = stateMachine{
	initial: JobCreated,
	next: map[JobState][]JobState{
		JobCreated: {JobRunning, JobFailed},
		JobRunning: {JobCompleted, JobFailed, JobPartial, JobCreated},
	},
	terminal: map[JobState]bool{JobCompleted: true, JobFailed: true, JobPartial: true},
	queued:   []JobState{JobCreated},
}

// Restore: PENDING → RUNNING → COMPLETED | FAILED | ABORTED; a queued
// restore may be aborted or fail; an interrupted run RUNNING → PENDING.
var restoreMachine = stateMachine{
	initial: JobPending,
	next: map[JobState][]JobState{
		JobPending: {JobRunning, JobAborted, JobFailed},
		JobRunning: {JobCompleted, JobFailed, JobAborted, JobPending},
	},
	terminal: map[JobState]bool{JobCompleted: true, JobFailed: true, JobAborted: true},
	queued:   []JobState{JobPending},
}

func machine(k JobKind) *stateMachine {
	switch k {
	case BackupJob:
		return &backupMachine
	case CopyJob:
		return &copyMachine
	case RestoreJob:
		return &restoreMachine
	}
	return nil
}

// InitialState returns the state a new job of kind k starts in: CREATED for
// backup and copy jobs, PENDING for restore jobs ("" for an unknown kind).
func InitialState(k JobKind) JobState {
	if m := machine(k); m != nil {
		return m.initial
	}
	return ""
}

// States returns every state a job of kind k can be in, in enum order.
func States(k JobKind) []JobState {
	switch k {
	case BackupJob:
		return []JobState{JobCreated, JobPending, JobRunning, JobAborting, JobAborted, JobCompleted, JobFailed, JobExpired, JobPartial}
	case CopyJob:
		return []JobState{JobCreated, JobRunning, JobCompleted, JobFailed, JobPartial}
	case RestoreJob:
		return []JobState{JobPending, JobRunning, JobCompleted, JobAborted, JobFailed}
	}
	return nil
}

// ValidState reports whether s is a state of kind k.
func ValidState(k JobKind, s JobState) bool {
	for _, x := range States(k) {
		if x == s {
			return true
		}
	}
	return false
}

// CanTransition reports whether a job of kind k may move from one state to
// another. Staying in the same state is not a transition (false).
func CanTransition(k JobKind, from, to JobState) bool {
	m := machine(k)
	if m == nil {
		return false
	}
	for _, s := range m.next[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CanReach reports whether a job of kind k can get from one state to
// another through one or more allowed transitions (false for from == to).
// Stores use it to check an update that may take several steps at once
// (RUNNING then COMPLETED); terminal states reach nothing.
func CanReach(k JobKind, from, to JobState) bool {
	m := machine(k)
	if m == nil {
		return false
	}
	seen := map[JobState]bool{from: true}
	queue := []JobState{from}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range m.next[s] {
			if n == to {
				return true
			}
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return false
}

// IsTerminal reports whether s is a final state for kind k.
func IsTerminal(k JobKind, s JobState) bool {
	m := machine(k)
	return m != nil && m.terminal[s]
}

// QueuedStates returns the states in which a job of kind k waits for a
// worker: CREATED and PENDING (backup), CREATED (copy), PENDING (restore).
func QueuedStates(k JobKind) []JobState {
	if m := machine(k); m != nil {
		return append([]JobState(nil), m.queued...)
	}
	return nil
}

// IsQueued reports whether s is a queued state of kind k.
func IsQueued(k JobKind, s JobState) bool {
	for _, q := range QueuedStates(k) {
		if q == s {
			return true
		}
	}
	return false
}

// IsActive reports whether a job of kind k in state s is being worked on:
// neither queued nor terminal (RUNNING, ABORTING).
func IsActive(k JobKind, s JobState) bool {
	return ValidState(k, s) && !IsQueued(k, s) && !IsTerminal(k, s)
}

// ExclusivePerResource reports whether jobs of kind k count towards the
// "one concurrent backup or copy job per resource" rule.
func ExclusivePerResource(k JobKind) bool { return k == BackupJob || k == CopyJob }

// JobProgress is a running job's progress. Updated often and cheaply by the
// runner (see meta.JobQueue.UpdateProgress).
type JobProgress struct {
	// BytesDone is BytesTransferred: bytes read (backup) or written
	// (restore, copy) so far.
	BytesDone int64 `json:"bytesDone,omitempty"`
	// BytesTotal is the expected total, 0 when unknown.
	BytesTotal int64 `json:"bytesTotal,omitempty"`
	// ItemsDone and ItemsTotal count files (EFS) or chunks.
	ItemsDone  int64 `json:"itemsDone,omitempty"`
	ItemsTotal int64 `json:"itemsTotal,omitempty"`
	// Percent is 0…100.
	Percent   float64   `json:"percent,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// FormatPercent formats a percentage the way AWS's PercentDone string does:
// one decimal, "0.0" … "100.0". Out-of-range values are clamped.
func FormatPercent(p float64) string {
	if p != p || p < 0 { // NaN or negative
		p = 0
	}
	if p > 100 {
		p = 100
	}
	return strconv.FormatFloat(p, 'f', 1, 64)
}

// Job is a backup, copy or restore job: everything Describe*Job returns for
// its kind, the request parameters needed to run it, and the runner's
// bookkeeping. Exactly one of Backup, Copy and Restore is set, matching
// Kind.
//
// Common field meanings per kind:
//   - ResourceArn/ResourceType/ResourceName: the protected resource (for a
//     restore: SourceResourceArn, and the requested ResourceType).
//   - BackupSizeInBytes: the backup's size (backup, copy) or the restored
//     resource's size (restore).
//   - CreatedBy: the plan and rule (backup, copy) or the restore testing
//     plan (restore).
type Job struct {
	ID        string   `json:"id"`
	Kind      JobKind  `json:"kind"`
	Region    string   `json:"region"`
	AccountID string   `json:"account"`
	State     JobState `json:"state"`

	StatusMessage   string `json:"statusMessage,omitempty"`
	MessageCategory string `json:"messageCategory,omitempty"`

	CreationDate   time.Time `json:"creationDate"`
	InitiationDate time.Time `json:"initiationDate,omitzero"`
	CompletionDate time.Time `json:"completionDate,omitzero"`
	// StartBy is the end of the start window: a queued job not started by
	// then ends EXPIRED (backup) or FAILED (copy retry phase). Zero: none.
	StartBy time.Time `json:"startBy,omitzero"`
	// CompleteBy is the end of the completion window. Zero: none.
	CompleteBy             time.Time `json:"completeBy,omitzero"`
	ExpectedCompletionDate time.Time `json:"expectedCompletionDate,omitzero"`

	ResourceArn  string       `json:"resourceArn"`
	ResourceType ResourceType `json:"resourceType"`
	ResourceName string       `json:"resourceName,omitempty"`
	IamRoleArn   string       `json:"iamRoleArn,omitempty"`

	BackupSizeInBytes int64   `json:"backupSizeInBytes,omitempty"`
	CreatedBy         Creator `json:"createdBy,omitzero"`

	IsParent                  bool               `json:"isParent,omitempty"`
	ParentJobID               string             `json:"parentJobId,omitempty"`
	NumberOfChildJobs         int64              `json:"numberOfChildJobs,omitempty"`
	ChildJobsInState          map[JobState]int64 `json:"childJobsInState,omitempty"`
	CompositeMemberIdentifier string             `json:"compositeMemberIdentifier,omitempty"`

	// IdempotencyToken is the request's token ("" when none);
	// RequestHash fingerprints the request parameters so that a retry with
	// the same token but different parameters can be told apart.
	IdempotencyToken string `json:"idempotencyToken,omitempty"`
	RequestHash      string `json:"requestHash,omitempty"`

	// Runner bookkeeping. LeaseOwner is the worker holding the job ("" when
	// none) until LeaseExpiry; Attempt counts the leases taken; NotBefore
	// delays a queued job (retry back-off, scheduled start).
	LeaseOwner  string      `json:"leaseOwner,omitempty"`
	LeaseExpiry time.Time   `json:"leaseExpiry,omitzero"`
	Attempt     int         `json:"attempt,omitempty"`
	NotBefore   time.Time   `json:"notBefore,omitzero"`
	Progress    JobProgress `json:"progress,omitzero"`

	Backup  *BackupDetails  `json:"backup,omitempty"`
	Copy    *CopyDetails    `json:"copy,omitempty"`
	Restore *RestoreDetails `json:"restore,omitempty"`
}

// BackupDetails are the backup-job fields.
type BackupDetails struct {
	BackupVaultName  string `json:"backupVaultName"`
	BackupVaultArn   string `json:"backupVaultArn"`
	VaultType        string `json:"vaultType,omitempty"`
	VaultLockState   string `json:"vaultLockState,omitempty"`
	EncryptionKeyArn string `json:"encryptionKeyArn,omitempty"`
	IsEncrypted      bool   `json:"isEncrypted"`
	// Lifecycle is RecoveryPointLifecycle: the lifecycle the new point gets.
	Lifecycle             *Lifecycle        `json:"lifecycle,omitempty"`
	RecoveryPointTags     map[string]string `json:"recoveryPointTags,omitempty"`
	BackupOptions         map[string]string `json:"backupOptions,omitempty"`
	BackupType            string            `json:"backupType,omitempty"`
	StartWindowMinutes    int64             `json:"startWindowMinutes,omitempty"`
	CompleteWindowMinutes int64             `json:"completeWindowMinutes,omitempty"`
	// Index is the StartBackupJob Index request member (ENABLED, DISABLED).
	Index                            string `json:"index,omitempty"`
	LogicallyAirGappedBackupVaultArn string `json:"logicallyAirGappedBackupVaultArn,omitempty"`

	// RecoveryPointArn is the point the job creates. It is chosen when the
	// job is created (StartBackupJob returns it for EFS) and the point
	// exists, CREATING, once the job runs.
	RecoveryPointArn string `json:"recoveryPointArn,omitempty"`
	// BaseRecoveryPointArn is the point the backup runs incrementally
	// against, chosen when it starts ("" for a full backup).
	BaseRecoveryPointArn string `json:"baseRecoveryPointArn,omitempty"`
}

// CopyDetails are the copy-job fields.
type CopyDetails struct {
	SourceBackupVaultArn      string `json:"sourceBackupVaultArn"`
	SourceRecoveryPointArn    string `json:"sourceRecoveryPointArn"`
	DestinationBackupVaultArn string `json:"destinationBackupVaultArn"`
	// DestinationRegion is the region of DestinationBackupVaultArn (kept
	// separately for the per-region concurrency limit).
	DestinationRegion           string `json:"destinationRegion"`
	DestinationVaultType        string `json:"destinationVaultType,omitempty"`
	DestinationVaultLockState   string `json:"destinationVaultLockState,omitempty"`
	DestinationEncryptionKeyArn string `json:"destinationEncryptionKeyArn,omitempty"`
	// Lifecycle is the request's Lifecycle (nil when none was given);
	// DestinationRecoveryPointLifecycle is the lifecycle the copy gets
	// (from the request or inherited from the source).
	Lifecycle                         *Lifecycle `json:"lifecycle,omitempty"`
	DestinationRecoveryPointLifecycle *Lifecycle `json:"destinationRecoveryPointLifecycle,omitempty"`
	CreatedByBackupJobID              string     `json:"createdByBackupJobId,omitempty"`

	// DestinationRecoveryPointArn is the copy, set when the job creates it.
	DestinationRecoveryPointArn string `json:"destinationRecoveryPointArn,omitempty"`
}

// RestoreDetails are the restore-job fields.
type RestoreDetails struct {
	RecoveryPointArn string `json:"recoveryPointArn"`
	// BackupVaultArn is the vault holding RecoveryPointArn.
	BackupVaultArn            string    `json:"backupVaultArn"`
	RecoveryPointCreationDate time.Time `json:"recoveryPointCreationDate"`
	// Metadata is the restore metadata actually used (GetRestoreJobMetadata):
	// the request's map after defaults are filled in. Sensitive: never log.
	Metadata                         map[string]string `json:"metadata,omitempty"`
	CopySourceTagsToRestoredResource bool              `json:"copySourceTags,omitempty"`
	ExpectedCompletionTimeMinutes    int64             `json:"expectedCompletionTimeMinutes,omitempty"`
	ValidationStatus                 string            `json:"validationStatus,omitempty"`
	ValidationStatusMessage          string            `json:"validationStatusMessage,omitempty"`
	DeletionStatus                   string            `json:"deletionStatus,omitempty"`
	DeletionStatusMessage            string            `json:"deletionStatusMessage,omitempty"`

	// CreatedResourceArn is the restored resource, set when the job
	// creates it.
	CreatedResourceArn string `json:"createdResourceArn,omitempty"`
	// Target is where the current attempt writes, recorded before it
	// writes anything so that cleaning up after a crash (possibly on
	// another node) finds it: the aws-backup-restore_<timestamp> directory
	// of an EFS restore, the image file of an EBS restore, the staging
	// database of an RDS restore. Internal: never returned by the API.
	Target string `json:"target,omitempty"`
}

// PercentDone returns the PercentDone string ("0.0" … "100.0").
func (j *Job) PercentDone() string { return FormatPercent(j.Progress.Percent) }

// BytesTransferred returns the BytesTransferred field.
func (j *Job) BytesTransferred() int64 { return j.Progress.BytesDone }

// VaultName returns the backup job's target vault name ("" for other kinds).
func (j *Job) VaultName() string {
	if j.Backup != nil {
		return j.Backup.BackupVaultName
	}
	return ""
}

// Validate checks the job's structure: a known kind with its details (and
// only those) set, an ID, a valid state for the kind, a resource ARN, a
// region, an account and a creation date.
func (j *Job) Validate() error {
	if !j.Kind.Valid() {
		return InvalidParameterf("job %s has unknown kind %q", j.ID, j.Kind)
	}
	if j.ID == "" {
		return MissingParameterf("job ID is empty")
	}
	if !ValidState(j.Kind, j.State) {
		return InvalidParameterf("%q is not a state of a %s job", j.State, j.Kind)
	}
	n := 0
	if j.Backup != nil {
		n++
	}
	if j.Copy != nil {
		n++
	}
	if j.Restore != nil {
		n++
	}
	ok := n == 1 && ((j.Kind == BackupJob && j.Backup != nil) || (j.Kind == CopyJob && j.Copy != nil) || (j.Kind == RestoreJob && j.Restore != nil))
	if !ok {
		return InvalidParameterf("job %s of kind %s must carry exactly its own details", j.ID, j.Kind)
	}
	switch {
	case j.ResourceArn == "":
		return MissingParameterf("job %s has no resource ARN", j.ID)
	case j.Region == "" || j.AccountID == "":
		return MissingParameterf("job %s has no region or account", j.ID)
	case j.CreationDate.IsZero():
		return MissingParameterf("job %s has no creation date", j.ID)
	}
	return nil
}

// SetState moves the job to state to at now, enforcing CanTransition. It
// sets InitiationDate on the first move to RUNNING and CompletionDate on a
// terminal state. Setting the current state again is a no-op.
func (j *Job) SetState(to JobState, now time.Time) error {
	if j.State == to {
		return nil
	}
	if !CanTransition(j.Kind, j.State, to) {
		return InvalidRequestf("%s job %s cannot go from %s to %s", kindWord(j.Kind), j.ID, j.State, to)
	}
	j.State = to
	now = now.UTC()
	if to == JobRunning && j.InitiationDate.IsZero() {
		j.InitiationDate = now
	}
	if IsTerminal(j.Kind, to) {
		j.CompletionDate = now
	}
	return nil
}

// Terminal reports whether the job is in a final state.
func (j *Job) Terminal() bool { return IsTerminal(j.Kind, j.State) }

func kindWord(k JobKind) string {
	switch k {
	case BackupJob:
		return "backup"
	case CopyJob:
		return "copy"
	case RestoreJob:
		return "restore"
	}
	return fmt.Sprintf("%q", string(k))
}
