// Package meta is Coffer's metadata store: the durable record of vaults,
// recovery points, jobs (and the job queue), protected resources, tags and
// settings. It holds no backup data — that lives in the repository engine —
// only what the API reports and the runner needs.
//
// Vocabulary:
//
//   - Store: the whole interface, the union of small per-area interfaces
//     (VaultStore, TagStore, RecoveryPointStore, JobStore, JobQueue,
//     ProtectedResourceStore, ResourceStore, SettingsStore) so that a
//     consumer can depend on just the part it uses. Drivers: meta/sqlite
//     (embedded, the default); a PostgreSQL driver is planned (see below).
//     meta/metatest is the conformance suite every driver passes.
//   - Transaction function: updates take func(*T) error, called on the
//     current value inside one transaction (read, modify, write); an error
//     from it aborts and is returned as is. This gives compare-and-set
//     semantics without version fields.
//   - Page and token: lists are keyset-paginated; a NextToken is an opaque
//     cursor (the last item's sort key, see Cursor), so paging is stable
//     while items come and go.
//   - Lease: the queue hands a job to a worker until a lease expiry; the
//     worker renews it while it works. A lease that runs out means the
//     worker is gone: ClaimJob (queued jobs) and ReleaseExpired (running
//     jobs) let another worker take the job over.
//
// Errors: every method returns *backup.Error values (errors.As / KindOf):
// NotFound, AlreadyExists, InvalidRequest, InvalidParameter, LimitExceeded,
// Conflict (a lost lease, ErrLeaseLost), Unavailable (busy or full disk),
// Internal (anything else; the driver's own error is only the cause, never
// the message). The store never reads the clock: callers pass times in.
//
// Idempotency: CreateVault is idempotent by name (AlreadyExists carries the
// existing vault's ARN and CreatorRequestId); CreateJob by kind, account,
// region and IdempotencyToken within a TTL the caller chooses, returning
// the existing job and leaving the "same token, different parameters"
// decision to the caller (RequestHash).
//
// # Sharing one queue between nodes (PostgreSQL)
//
// The queue is designed so that several Coffer nodes can share it in
// PostgreSQL. The SQLite driver gets atomicity from its single writer; a
// PostgreSQL driver keeps the same method contracts and differs like this:
//
//   - ClaimJob selects the candidate with the same conditions and
//     `ORDER BY created, seq LIMIT 1 FOR UPDATE SKIP LOCKED`, then sets the
//     lease in the same transaction, so concurrent claimers skip each
//     other's rows instead of waiting. The "one backup or copy job per
//     resource" check cannot rely on row locks of other rows; it takes
//     pg_try_advisory_xact_lock(hashtext(resource_arn)) for backup and copy
//     candidates (skipping the candidate when the lock is taken) before the
//     NOT EXISTS check, or uses a resource_leases table with a unique key
//     on the resource.
//   - ReleaseExpired uses `FOR UPDATE SKIP LOCKED` likewise, so two nodes
//     sweeping at once split the expired jobs.
//   - CreateJob's idempotency lookup runs under
//     pg_advisory_xact_lock(hashtext(kind||account||token)) (a unique index
//     cannot express "within the TTL"); CreateVault relies on the primary
//     key and ON CONFLICT DO NOTHING.
//   - Counts (NumberOfRecoveryPoints) are maintained in the same
//     transactions as here; DeleteVault locks the vault row (SELECT … FOR
//     UPDATE) and CreateRecoveryPoint does too (FOR SHARE), which gives the
//     same "no point created into a vault being deleted" guarantee.
//   - Times stay integers (Unix nanoseconds) or become timestamptz; JSON
//     columns become jsonb; placeholders become $n. Migrations are the
//     driver's own (DDL is not portable); queries use only standard SQL plus
//     ON CONFLICT, which PostgreSQL shares with SQLite.
package meta
