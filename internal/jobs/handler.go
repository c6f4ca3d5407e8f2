package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/coffer/coffer/internal/backup"
)

// Handler runs the jobs of one kind. Its methods are called from the
// runner's goroutines, several at once for different jobs.
type Handler interface {
	// Run does the work of t.Job, which the runner has claimed and moved to
	// RUNNING. ctx is cancelled when the job is stopped, its completion
	// window ends, its lease is lost or the runner closes; CauseReason(ctx)
	// tells which. Run returns the Outcome of a finished job, whose State
	// must be terminal for the kind and reachable from RUNNING (or
	// ABORTING). It returns an error when the attempt did not finish; the
	// runner then calls Settle and records the job as the cause requires
	// (FAILED with the error's message by default). Run must not change the
	// job's state itself.
	Run(ctx context.Context, t *Task) (Outcome, error)

	// Settle cleans up after an attempt of job that ended without an
	// Outcome from Run, for the given reason: Run failed, the job was
	// stopped, its start or completion window ended, the process running it
	// died (Interrupted, called later and possibly on another node, with the
	// job as last stored), or the runner is shutting down. It removes what
	// the attempt left behind (a CREATING recovery point, a half-written
	// target) so that the job can end or run again. It must be idempotent.
	//
	// For Interrupted it may find that the attempt did finish (for example
	// its recovery point was committed before the crash): then it returns
	// done == true and the Outcome to record. Otherwise done is false and
	// the runner records the reason's state. An error is logged and does not
	// keep the job from ending.
	Settle(ctx context.Context, job backup.Job, why Reason) (o Outcome, done bool, err error)
}

// Outcome is how a job ended.
type Outcome struct {
	// State is the terminal state: COMPLETED, PARTIAL, FAILED, ...
	State backup.JobState
	// Message becomes StatusMessage ("" clears it) and Category
	// MessageCategory (default SUCCESS for COMPLETED, the reason's category
	// otherwise).
	Message  string
	Category string
	// Apply, if set, sets kind-specific result fields (BackupSizeInBytes,
	// the created recovery point or resource) on the job before it is
	// stored. It may be called more than once and must not have side
	// effects.
	Apply func(*backup.Job)
}

// Reason says why an attempt ended without an Outcome from Run.
type Reason int

// Reasons.
const (
	// Failed: Run returned an error.
	Failed Reason = iota + 1
	// Stopped: Stop*Job.
	Stopped
	// StartWindowExpired: the job was never started within its start window.
	StartWindowExpired
	// CompleteWindowExpired: the job ran past its completion window.
	CompleteWindowExpired
	// Interrupted: the worker running the job died (crash, kill, lost
	// lease); found by the janitor or at start.
	Interrupted
	// Shutdown: the runner is closing; the job goes back to the queue.
	Shutdown
	// LeaseLost: this worker lost the job's lease (another worker took it
	// over after this one failed to renew in time). The runner records
	// nothing: the new owner settles the job. Settle is not called.
	LeaseLost
)

var reasonNames = map[Reason]string{
	Failed: "failed", Stopped: "stopped", StartWindowExpired: "start window expired",
	CompleteWindowExpired: "completion window expired", Interrupted: "interrupted",
	Shutdown: "shutdown", LeaseLost: "lease lost",
}

// String names the reason.
func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Cancellation causes of a running job's context (context.Cause). They
// wrap context.Canceled, so code that checks for cancellation sees it.
var (
	// ErrStopped: the job was stopped (StopBackupJob).
	ErrStopped = fmt.Errorf("jobs: job stopped: %w", context.Canceled)
	// ErrCompleteWindow: the job's completion window ended.
	ErrCompleteWindow = fmt.Errorf("jobs: completion window ended: %w", context.Canceled)
	// ErrShutdown: the runner is closing.
	ErrShutdown = fmt.Errorf("jobs: runner shutting down: %w", context.Canceled)
	// ErrLeaseLost: the worker lost the job's lease.
	ErrLeaseLost = fmt.Errorf("jobs: job lease lost: %w", context.Canceled)
	// ErrNoHandler: a job of a kind no handler is registered for.
	ErrNoHandler = errors.New("jobs: no handler registered for the job kind")
	// ErrClosed: the runner is closed.
	ErrClosed = errors.New("jobs: runner closed")
)

// CauseReason returns the Reason a running job's context was cancelled
// for, or 0 when it was not cancelled by the runner.
func CauseReason(ctx context.Context) Reason {
	switch context.Cause(ctx) {
	case ErrStopped:
		return Stopped
	case ErrCompleteWindow:
		return CompleteWindowExpired
	case ErrShutdown:
		return Shutdown
	case ErrLeaseLost:
		return LeaseLost
	}
	return 0
}

// Failure is an error with a MessageCategory: what a Handler returns (or
// wraps) to say why a job failed. Message is the StatusMessage; it must not
// hold secrets (connection strings, keys).
type Failure struct {
	Category string
	Message  string
	Err      error
}

// Fail returns a *Failure with the category and a formatted message.
// A %w verb wraps the cause.
func Fail(category, format string, args ...any) *Failure {
	err := fmt.Errorf(format, args...)
	return &Failure{Category: category, Message: err.Error(), Err: errors.Unwrap(err)}
}

// Error returns the message.
func (f *Failure) Error() string { return f.Message }

// Unwrap returns the cause.
func (f *Failure) Unwrap() error { return f.Err }

// describe returns the StatusMessage and MessageCategory for a job that
// failed with err.
func describe(err error) (msg, category string) {
	var f *Failure
	if errors.As(err, &f) {
		cat := f.Category
		if cat == "" {
			cat = backup.MessageInternalError
		}
		return f.Message, cat
	}
	var be *backup.Error
	if errors.As(err, &be) && be.Message != "" {
		cat := backup.MessageInternalError
		switch be.Kind {
		case backup.KindInvalidParameter, backup.KindMissingParameter, backup.KindInvalidRequest:
			cat = backup.MessageInvalidParameters
		case backup.KindNotFound:
			cat = backup.MessageResourceError
		case backup.KindUnavailable:
			cat = backup.MessageStorageError
		}
		return be.Message, cat
	}
	return err.Error(), backup.MessageInternalError
}
