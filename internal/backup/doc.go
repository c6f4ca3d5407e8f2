// Package backup is Coffer's domain model: the things the AWS Backup API
// talks about, their identifiers, and the rules that govern them. It is
// pure (standard library only, no I/O) so that the API layer, the metadata
// store, the job runner and the scheduler all share one definition.
//
// Vocabulary:
//
//   - Vault: a named container of recovery points, unique per region and
//     account, identified by a VaultKey and by its ARN
//     arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME. It has an encryption
//     key, an optional vault lock, access policy and notifications.
//   - Resource: something Coffer backs up. Three types are supported: EFS (a
//     directory tree), EBS (a volume image or block device) and RDS (a
//     PostgreSQL database), named by AWS-style ARNs. Other AWS types are
//     recognised (ResourceTypeOf) and refused as "not supported by Coffer".
//     A ProtectedResource is a resource that has backups.
//   - RecoveryPoint: one backup of one resource in one vault. Its ARN
//     follows the resource type as AWS's does: EFS
//     arn:aws:backup:R:A:recovery-point:<uuid>, EBS
//     arn:aws:ec2:R::snapshot/snap-<hex>, RDS
//     arn:aws:rds:R:A:snapshot:awsbackup:job-<uuid>. Its EngineRef locates
//     the data in the repository engine.
//   - Lifecycle: when a recovery point moves to cold storage and when it is
//     deleted, in days after its creation; CalculatedLifecycle is the
//     resulting instants. ValidateLifecycle holds AWS's rules.
//   - VaultLock: governance (changeable any time) or compliance (immutable
//     from its LockDate) limits on retention; CheckRetention,
//     CheckRecoveryPointDelete and CheckLifecycleUpdate apply it.
//   - Job: a backup, copy or restore job, with a per-kind state machine
//     (CanTransition, IsTerminal, QueuedStates) and runner bookkeeping
//     (lease, attempt, progress).
//   - Error: a domain error with a Kind (NotFound, AlreadyExists,
//     InvalidParameter, InvalidRequest, ...). The API layer maps each Kind
//     to one modeled AWS exception (KindOf, errors.As). Messages are meant
//     for the API caller.
//   - IDs: the generator of job IDs (uppercase UUIDs), recovery point
//     UUIDs, snapshot, file-system and volume IDs, plan and version IDs,
//     with an injectable random source for tests.
//
// Time is never read here: every rule that depends on it takes "now" as an
// argument (callers get it from internal/clock).
package backup
