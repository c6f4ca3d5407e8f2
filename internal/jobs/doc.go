// Package jobs is Coffer's durable job runner: it executes the backup, copy
// and restore jobs stored in the metadata store's queue (meta.JobQueue) with
// a bounded pool of workers, reports their live progress, stops them on
// request, enforces their start and completion windows, and settles every
// job whose process died — so that no job stays RUNNING forever.
//
// Vocabulary:
//
//   - Job: a backup.Job in the metadata store. It is persisted when the API
//     accepts it (Runner.Submit, or the store's CreateJob followed by
//     Runner.Poke), so an accepted job survives any crash.
//   - Handler: the code that does the work of one job kind, registered with
//     Runner.Register before Start. Run does the work; Settle cleans up after
//     an attempt that did not end with Run's own Outcome.
//   - Node, incarnation, worker: a node is one Coffer process's identity in a
//     shared queue (Options.NodeID, default the host name); each start of the
//     runner is a new incarnation (random); a worker ID is
//     "<node>/<incarnation>/w<n>". Jobs are leased to worker IDs, never
//     locked, so several nodes can share one queue (PostgreSQL later).
//   - Lease: a worker holds a job until its lease expiry and renews it every
//     LeaseDuration/3 while it works. A job whose lease expired while it was
//     RUNNING or ABORTING belongs to a dead worker: the janitor takes it
//     over (meta.JobQueue.ReleaseExpired) and settles it. On Start, jobs
//     leased to an earlier incarnation of this node are released at once
//     instead of waiting for their leases to expire: that process is dead.
//   - Attempt: one lease of a job by one worker: claim, RUNNING, Run, finish.
//   - Outcome: how a job ended — its terminal state, StatusMessage and
//     MessageCategory, and kind-specific result fields (Outcome.Apply).
//   - Reason: why an attempt ended without an Outcome from Run (Failed,
//     Stopped, StartWindowExpired, CompleteWindowExpired, Interrupted,
//     Shutdown). The Handler's Settle gets it.
//   - Janitor: the runner's maintenance loop, every PollInterval: settles
//     interrupted jobs and expires queued jobs whose start window ended.
//   - Periodic task: a function the runner calls at a fixed interval from a
//     goroutine it owns (the recovery point lifecycle sweeper, garbage
//     collection), added with Runner.Every.
//
// Decisions (where AWS is silent or Coffer chooses):
//
//   - Interrupted jobs end FAILED, they are not resumed: a job found RUNNING
//     or ABORTING with an expired lease, or leased to a dead earlier
//     incarnation of this node, is settled (the handler removes what the
//     attempt left, e.g. the CREATING recovery point) and ends FAILED with
//     MessageCategory INTERRUPTED and a StatusMessage saying that the Coffer
//     process running it stopped. A handler may report that the attempt had
//     in fact finished (its recovery point was committed): then the job ends
//     with that outcome instead. Data of an interrupted backup is never
//     visible as a COMPLETED recovery point.
//   - A graceful shutdown (Close) is not a crash: running jobs are cancelled,
//     settled, and put back in the queue (backup PENDING, copy CREATED,
//     restore PENDING) with a StatusMessage saying so; they run again after
//     the restart, within their start window. Their repository data is
//     deduplicated, so the second attempt does not store it twice.
//   - Start window: a queued job whose StartBy has passed is never started:
//     it ends EXPIRED (backup) or FAILED (kinds without EXPIRED).
//   - Completion window: a RUNNING job whose CompleteBy passes is cancelled
//     and ends EXPIRED with "Backup job expired before completion" (what AWS
//     reports for backup jobs; kinds without EXPIRED end FAILED).
//   - Stop: a queued job goes straight to ABORTED; a RUNNING job goes to
//     ABORTING at once and to ABORTED when its worker has stopped (within
//     about a second, also on another node: workers poll their job's state
//     every WatchInterval). Only kinds whose state machine has ABORTING can
//     be stopped (AWS has StopBackupJob only).
//   - One backup or copy job per resource at a time is enforced by the
//     queue (ClaimJob); the runner adds nothing to it.
//
// How to add a job kind (copy, restore):
//
//  1. Write a type with the Handler methods. Run gets a *Task: Task.Job is
//     the job as claimed (already RUNNING), Task.Progress records live
//     progress (cheap; the runner writes it at most every ProgressInterval),
//     Task.Update changes kind-specific job fields while the lease is held.
//     Return an Outcome for a finished job (COMPLETED, PARTIAL or FAILED with
//     a message), or an error: the runner then calls Settle with the Reason
//     (Failed, or Stopped/CompleteWindowExpired/Shutdown when the context was
//     cancelled for that cause — see CauseReason) and records FAILED with
//     the error's message (Failure sets the category).
//  2. Settle must be idempotent and fast: it is called for failed, stopped,
//     expired and interrupted attempts — the latter possibly on another node,
//     after a crash, with the job as last stored.
//  3. Register it: runner.Register(backup.CopyJob, handler) before Start
//     (the service does this in service.New when Deps.Jobs is set).
//  4. Accept jobs with Runner.Submit (persist + wake a worker).
package jobs
