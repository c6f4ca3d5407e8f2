package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// attempt is a job this runner is running.
type attempt struct {
	id     string
	worker string
	cancel context.CancelCauseFunc
	task   *Task

	completeBy time.Time

	// mu guards renewedAt, when the lease was last renewed (runner clock);
	// it also serializes renewals of one job.
	mu        sync.Mutex
	renewedAt time.Time
}

// Task is a running job as its Handler sees it.
type Task struct {
	// Job is the job as it was when the attempt started (RUNNING).
	Job backup.Job
	// Worker is the worker ID holding the job's lease.
	Worker string
	// Logger carries the job ID.
	Logger *slog.Logger

	r  *Runner
	mu sync.Mutex
	// progress is the latest reported progress; dirty when not yet written.
	progress backup.JobProgress
	dirty    bool
}

// Progress records the job's live progress. It is cheap and never blocks
// on I/O: the runner writes the latest value every WatchInterval and at the
// end. UpdatedAt is set by the runner.
func (t *Task) Progress(p backup.JobProgress) {
	t.mu.Lock()
	t.progress, t.dirty = p, true
	t.mu.Unlock()
}

// LastProgress returns the latest progress reported.
func (t *Task) LastProgress() backup.JobProgress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.progress
}

// Update changes the job in the store while this worker holds its lease
// (kind-specific fields such as the base recovery point). fn must not
// change the state; if the lease was lost it fails with meta.ErrLeaseLost.
func (t *Task) Update(ctx context.Context, fn func(*backup.Job) error) (backup.Job, error) {
	return t.r.store.UpdateJob(ctx, t.Job.ID, func(j *backup.Job) error {
		if j.LeaseOwner != t.Worker {
			return meta.LeaseLost(j.ID, t.Worker)
		}
		state := j.State
		if err := fn(j); err != nil {
			return err
		}
		if j.State != state {
			return fmt.Errorf("jobs: Task.Update of job %s changed its state", j.ID)
		}
		return nil
	})
}

// Now returns the runner's clock time in UTC.
func (t *Task) Now() time.Time { return t.r.clock.Now().UTC() }

func (t *Task) takeProgress() (backup.JobProgress, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, d := t.progress, t.dirty
	t.dirty = false
	return p, d
}

func (r *Runner) workerLoop(id string) {
	for {
		if r.ctx.Err() != nil {
			return
		}
		worked, err := r.claimAndRun(id)
		if err != nil && r.ctx.Err() == nil {
			r.log.LogAttrs(r.ctx, slog.LevelWarn, "job worker error", slog.String("worker", id), slog.String("error", err.Error()))
		}
		if worked {
			continue // look for more work at once
		}
		if !r.sleep(r.opts.PollInterval, true) {
			return
		}
	}
}

// claimAndRun claims one job and runs it to its end. worked is false when
// the queue had nothing runnable.
func (r *Runner) claimAndRun(worker string) (worked bool, err error) {
	now := r.clock.Now().UTC()
	job, ok, err := r.store.ClaimJob(r.ctx, worker, r.kinds, now, r.opts.LeaseDuration)
	if err != nil || !ok {
		return false, err
	}
	log := r.log.With(slog.String("job", job.ID), slog.String("kind", string(job.Kind)), slog.String("worker", worker))
	h := r.handlers[job.Kind]
	if !job.StartBy.IsZero() && now.After(job.StartBy) {
		r.endQueued(r.ctx, job, worker, StartWindowExpired)
		return true, nil
	}
	ctx, cancel := context.WithCancelCause(r.ctx)
	defer cancel(nil)
	// The attempt is registered before the job turns RUNNING: from then on
	// the janitor renews its lease before releasing expired ones, so a
	// jump of the clock between the two steps cannot make it look
	// abandoned (TestCompleteWindowExpires caught the janitor ending such
	// a job as interrupted).
	task := &Task{Job: job, Worker: worker, Logger: log, r: r}
	a := &attempt{id: job.ID, worker: worker, cancel: cancel, task: task, renewedAt: now, completeBy: job.CompleteBy}
	r.mu.Lock()
	r.running[job.ID] = a
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.running, job.ID)
		r.mu.Unlock()
	}()
	job, err = r.store.UpdateJob(ctx, job.ID, func(j *backup.Job) error {
		if j.LeaseOwner != worker {
			return meta.LeaseLost(j.ID, worker)
		}
		j.StatusMessage, j.MessageCategory = "", ""
		j.Progress = backup.JobProgress{}
		return j.SetState(backup.JobRunning, now)
	})
	if err != nil {
		if errors.Is(err, meta.ErrLeaseLost) || backup.KindOf(err) == backup.KindInvalidRequest {
			// Stopped (ABORTED) or taken over between the claim and the
			// start: nothing to do.
			log.LogAttrs(ctx, slog.LevelInfo, "job not started: it changed after it was claimed", slog.String("reason", err.Error()))
			return true, nil
		}
		return true, fmt.Errorf("start job %s: %w", job.ID, err)
	}
	task.Job = job
	log.LogAttrs(ctx, slog.LevelInfo, "job started", slog.Int("attempt", job.Attempt))

	out, runErr := r.run(ctx, h, task)
	r.finish(ctx, a, out, runErr)
	if r.opts.AfterAttempt != nil {
		r.opts.AfterAttempt()
	}
	return true, nil
}

// run calls the handler, turning a panic into an error.
func (r *Runner) run(ctx context.Context, h Handler, t *Task) (out Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Fail(backup.MessageInternalError, "internal error while running the job: %v", p)
			t.Logger.LogAttrs(ctx, slog.LevelError, "job handler panicked", slog.Any("panic", p))
		}
	}()
	return h.Run(ctx, t)
}

// finishCtx returns a context for the writes that end a job: detached from
// the job's cancellation (the job may have been cancelled by Close), with
// the settle timeout.
func (r *Runner) finishCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), r.opts.SettleTimeout)
}

// finish records how an attempt ended.
func (r *Runner) finish(ctx context.Context, a *attempt, out Outcome, runErr error) {
	t := a.task
	why := CauseReason(ctx)
	if runErr == nil && why == LeaseLost {
		runErr = ErrLeaseLost
	}
	fctx, cancel := r.finishCtx()
	defer cancel()
	prog, _ := t.takeProgress()
	now := r.clock.Now().UTC()
	if runErr == nil {
		if out.State == "" || !backup.IsTerminal(t.Job.Kind, out.State) {
			runErr = fmt.Errorf("jobs: handler returned non-terminal outcome state %q", out.State)
		} else {
			if out.State == backup.JobCompleted {
				prog.Percent = 100
			}
			err := r.end(fctx, t.Job.ID, a.worker, out, prog, now)
			if err != nil {
				t.Logger.LogAttrs(fctx, slog.LevelError, "recording the job's outcome failed", slog.String("error", err.Error()))
				return
			}
			t.Logger.LogAttrs(fctx, slog.LevelInfo, "job ended", slog.String("state", string(out.State)), slog.String("message", out.Message))
			return
		}
	}
	if why == 0 {
		why = Failed
	}
	if why == LeaseLost || errors.Is(runErr, meta.ErrLeaseLost) {
		t.Logger.LogAttrs(fctx, slog.LevelWarn, "job lease lost; another worker settles the job")
		return
	}
	job, err := r.store.GetJob(fctx, t.Job.ID)
	if err != nil {
		t.Logger.LogAttrs(fctx, slog.LevelError, "reading the job to settle it failed", slog.String("error", err.Error()))
		return
	}
	o, done := r.settle(fctx, job, why)
	if !done {
		o = reasonOutcome(job.Kind, why, runErr)
	}
	if why == Shutdown && !done {
		if err := r.requeue(fctx, job.ID, a.worker, now); err != nil {
			t.Logger.LogAttrs(fctx, slog.LevelError, "requeueing the job at shutdown failed", slog.String("error", err.Error()))
		} else {
			t.Logger.LogAttrs(fctx, slog.LevelInfo, "job interrupted by shutdown; requeued")
		}
		return
	}
	if err := r.end(fctx, job.ID, a.worker, o, prog, now); err != nil {
		t.Logger.LogAttrs(fctx, slog.LevelError, "recording the job's end failed", slog.String("error", err.Error()))
		return
	}
	t.Logger.LogAttrs(fctx, slog.LevelInfo, "job ended", slog.String("state", string(o.State)),
		slog.String("reason", why.String()), slog.String("message", o.Message))
}

// settle calls the kind's handler's Settle with a timeout, logging errors.
func (r *Runner) settle(ctx context.Context, job backup.Job, why Reason) (Outcome, bool) {
	h := r.handlers[job.Kind]
	if h == nil {
		return Outcome{}, false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.SettleTimeout)
	defer cancel()
	o, done, err := func() (o Outcome, done bool, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("jobs: Settle panicked: %v", p)
			}
		}()
		return h.Settle(ctx, job, why)
	}()
	if err != nil {
		r.log.LogAttrs(ctx, slog.LevelError, "settling the job failed", slog.String("job", job.ID),
			slog.String("reason", why.String()), slog.String("error", err.Error()))
		return Outcome{}, false
	}
	if done && !backup.IsTerminal(job.Kind, o.State) {
		return Outcome{}, false
	}
	return o, done
}

// reasonOutcome is the outcome the runner records for a reason when the
// handler did not report one.
func reasonOutcome(k backup.JobKind, why Reason, err error) Outcome {
	expired := backup.JobExpired
	if !backup.ValidState(k, expired) {
		expired = backup.JobFailed
	}
	switch why {
	case Stopped:
		s := backup.JobAborted
		if !backup.ValidState(k, s) {
			s = backup.JobFailed
		}
		return Outcome{State: s, Message: "Job stopped by StopBackupJob.", Category: backup.MessageAborted}
	case StartWindowExpired:
		return Outcome{State: expired, Message: "Job expired: it could not start before the end of its start window.", Category: backup.MessageTimeout}
	case CompleteWindowExpired:
		return Outcome{State: expired, Message: "Backup job expired before completion: it did not finish within its completion window.", Category: backup.MessageTimeout}
	case Interrupted:
		return Outcome{State: backup.JobFailed, Message: "Job interrupted: the Coffer process running it stopped (crash, kill or lost lease) before it finished; nothing it wrote was kept. Start the job again.", Category: backup.MessageInterrupted}
	}
	msg, cat := "Job failed.", backup.MessageInternalError
	if err != nil {
		msg, cat = describe(err)
	}
	return Outcome{State: backup.JobFailed, Message: msg, Category: cat}
}

// end stores a terminal outcome if worker (or, with worker "", anybody)
// still holds the job.
func (r *Runner) end(ctx context.Context, id, worker string, o Outcome, prog backup.JobProgress, now time.Time) error {
	_, err := r.store.UpdateJob(ctx, id, func(j *backup.Job) error {
		if worker != "" && j.LeaseOwner != worker {
			return meta.LeaseLost(j.ID, worker)
		}
		if j.Terminal() {
			return nil
		}
		state := o.State
		if !backup.CanReach(j.Kind, j.State, state) {
			// e.g. a stop arrived after the handler finished: ABORTING
			// can still reach COMPLETED and FAILED; anything else ends
			// FAILED.
			state = backup.JobFailed
		}
		j.StatusMessage = o.Message
		j.MessageCategory = o.Category
		if j.MessageCategory == "" && state == backup.JobCompleted {
			j.MessageCategory = backup.MessageSuccess
		}
		if prog != (backup.JobProgress{}) {
			prog.UpdatedAt = now
			j.Progress = prog
		}
		if o.Apply != nil {
			o.Apply(j)
		}
		if err := walk(j, state, now); err != nil {
			return err
		}
		j.LeaseOwner, j.LeaseExpiry = "", time.Time{}
		return nil
	})
	return err
}

// walk moves j to state through allowed transitions (at most two steps,
// e.g. RUNNING → ABORTING → ABORTED is not needed, but PENDING → RUNNING →
// COMPLETED can be).
func walk(j *backup.Job, state backup.JobState, now time.Time) error {
	if backup.CanTransition(j.Kind, j.State, state) {
		return j.SetState(state, now)
	}
	for _, mid := range backup.States(j.Kind) {
		if backup.CanTransition(j.Kind, j.State, mid) && backup.CanTransition(j.Kind, mid, state) {
			if err := j.SetState(mid, now); err != nil {
				return err
			}
			return j.SetState(state, now)
		}
	}
	return backup.InvalidRequestf("%s job %s cannot go from %s to %s", j.Kind, j.ID, j.State, state)
}

// requeue puts a running job back in the queue after a shutdown.
func (r *Runner) requeue(ctx context.Context, id, worker string, now time.Time) error {
	_, err := r.store.UpdateJob(ctx, id, func(j *backup.Job) error {
		if j.LeaseOwner != worker {
			return meta.LeaseLost(j.ID, worker)
		}
		var to backup.JobState
		for _, q := range backup.QueuedStates(j.Kind) {
			if backup.CanTransition(j.Kind, j.State, q) {
				to = q
				break
			}
		}
		if to == "" {
			// ABORTING (stopped during shutdown) or a kind that cannot go
			// back: end it.
			o := reasonOutcome(j.Kind, Stopped, nil)
			if j.State != backup.JobAborting {
				o = Outcome{State: backup.JobFailed, Message: "Job interrupted by a shutdown of Coffer.", Category: backup.MessageInterrupted}
			}
			j.StatusMessage, j.MessageCategory = o.Message, o.Category
			return walk(j, o.State, now)
		}
		j.StatusMessage = "Interrupted by a shutdown of Coffer at " + now.Format(time.RFC3339) + "; the job will run again when Coffer restarts."
		j.MessageCategory = backup.MessageInterrupted
		j.LeaseOwner, j.LeaseExpiry = "", time.Time{}
		j.Progress = backup.JobProgress{}
		return j.SetState(to, now)
	})
	return err
}

// endQueued ends a queued job that will not run (start window passed),
// after settling it. worker is the lease holder ("" for none).
func (r *Runner) endQueued(ctx context.Context, job backup.Job, worker string, why Reason) {
	fctx, cancel := r.finishCtx()
	defer cancel()
	o, done := r.settle(fctx, job, why)
	if !done {
		o = reasonOutcome(job.Kind, why, nil)
	}
	now := r.clock.Now().UTC()
	_, err := r.store.UpdateJob(fctx, job.ID, func(j *backup.Job) error {
		if !backup.IsQueued(j.Kind, j.State) {
			return errNotQueued
		}
		if worker != "" && j.LeaseOwner != worker {
			return meta.LeaseLost(j.ID, worker)
		}
		if worker == "" && j.LeaseOwner != "" && j.LeaseExpiry.After(now) {
			return errNotQueued // claimed meanwhile; its worker decides
		}
		j.StatusMessage, j.MessageCategory = o.Message, o.Category
		j.LeaseOwner, j.LeaseExpiry = "", time.Time{}
		return walk(j, o.State, now)
	})
	if err != nil && !errors.Is(err, errNotQueued) {
		r.log.LogAttrs(ctx, slog.LevelError, "ending a queued job failed", slog.String("job", job.ID), slog.String("error", err.Error()))
		return
	}
	if err == nil {
		r.log.LogAttrs(ctx, slog.LevelInfo, "queued job ended", slog.String("job", job.ID), slog.String("reason", why.String()), slog.String("state", string(o.State)))
	}
}

var errNotQueued = errors.New("jobs: job is no longer queued")

// watchLoop renews the leases of running jobs, writes their progress,
// notices jobs stopped from another node and enforces completion windows.
func (r *Runner) watchLoop() {
	for r.sleep(r.opts.WatchInterval, false) {
		r.watch(r.ctx)
	}
}

func (r *Runner) snapshotRunning() []*attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*attempt, 0, len(r.running))
	for _, a := range r.running {
		out = append(out, a)
	}
	return out
}

func (r *Runner) watch(ctx context.Context) {
	for _, a := range r.snapshotRunning() {
		now := r.clock.Now().UTC()
		if err := r.renew(ctx, a, now, false); err != nil {
			continue
		}
		if p, dirty := a.task.takeProgress(); dirty {
			p.UpdatedAt = now
			if err := r.store.UpdateProgress(ctx, a.id, a.worker, p); err != nil {
				if errors.Is(err, meta.ErrLeaseLost) {
					a.cancel(ErrLeaseLost)
					continue
				}
				if ctx.Err() == nil {
					r.log.LogAttrs(ctx, slog.LevelWarn, "writing job progress failed", slog.String("job", a.id), slog.String("error", err.Error()))
				}
			}
		}
		if !a.completeBy.IsZero() && now.After(a.completeBy) {
			a.cancel(ErrCompleteWindow)
			continue
		}
		j, err := r.store.GetJob(ctx, a.id)
		if err != nil {
			continue
		}
		switch {
		case j.LeaseOwner != a.worker:
			a.cancel(ErrLeaseLost)
		case j.State == backup.JobAborting:
			a.cancel(ErrStopped)
		}
	}
}

// renew renews a's lease when a third of the lease has passed (or always
// with force).
func (r *Runner) renew(ctx context.Context, a *attempt, now time.Time, force bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !force && now.Sub(a.renewedAt) < r.opts.LeaseDuration/3 {
		return nil
	}
	err := r.store.RenewLease(ctx, a.id, a.worker, now, r.opts.LeaseDuration)
	if err != nil {
		if errors.Is(err, meta.ErrLeaseLost) {
			a.cancel(ErrLeaseLost)
		} else if ctx.Err() == nil {
			r.log.LogAttrs(ctx, slog.LevelWarn, "renewing a job lease failed", slog.String("job", a.id), slog.String("error", err.Error()))
		}
		return err
	}
	a.renewedAt = now
	return nil
}

func (r *Runner) janitorLoop() {
	for r.sleep(r.opts.PollInterval, false) {
		r.janitor(r.ctx)
	}
}

// janitor settles interrupted jobs and expires queued jobs whose start
// window has ended.
func (r *Runner) janitor(ctx context.Context) {
	now := r.clock.Now().UTC()
	// Renew this runner's own leases first, with the same "now", so that a
	// jump of the clock never makes a live job of ours look abandoned.
	for _, a := range r.snapshotRunning() {
		_ = r.renew(ctx, a, now, true)
	}
	id := r.WorkerPrefix() + "janitor"
	list, err := r.store.ReleaseExpired(ctx, id, now, r.opts.LeaseDuration)
	if err != nil {
		if ctx.Err() == nil {
			r.log.LogAttrs(ctx, slog.LevelWarn, "janitor: releasing expired jobs failed", slog.String("error", err.Error()))
		}
		return
	}
	for _, j := range list {
		r.interrupted(ctx, j, id)
	}
	r.expireQueued(ctx, now)
}

// interrupted settles a job whose worker died.
func (r *Runner) interrupted(ctx context.Context, j backup.Job, holder string) {
	fctx, cancel := r.finishCtx()
	defer cancel()
	why := Interrupted
	o, done := r.settle(fctx, j, why)
	if !done {
		o = reasonOutcome(j.Kind, why, nil)
		if j.State == backup.JobAborting {
			o = reasonOutcome(j.Kind, Stopped, nil)
			o.Message = "Job stopped by StopBackupJob; the Coffer process running it stopped before it had finished stopping."
		}
	}
	if err := r.end(fctx, j.ID, holder, o, backup.JobProgress{}, r.clock.Now().UTC()); err != nil {
		r.log.LogAttrs(ctx, slog.LevelError, "ending an interrupted job failed", slog.String("job", j.ID), slog.String("error", err.Error()))
		return
	}
	r.log.LogAttrs(ctx, slog.LevelWarn, "interrupted job ended", slog.String("job", j.ID), slog.String("kind", string(j.Kind)),
		slog.String("state", string(o.State)), slog.String("previous_owner", "dead worker"))
}

// expireQueued ends queued jobs of the registered kinds whose StartBy has
// passed.
func (r *Runner) expireQueued(ctx context.Context, now time.Time) {
	var states []backup.JobState
	for _, k := range r.kinds {
		states = append(states, backup.QueuedStates(k)...)
	}
	if len(states) == 0 {
		return
	}
	f := meta.JobFilter{Kinds: r.kinds, States: states}
	p := meta.Page{MaxResults: meta.MaxResultsLimit}
	for {
		list, next, err := r.store.ListJobs(ctx, f, p)
		if err != nil {
			if ctx.Err() == nil {
				r.log.LogAttrs(ctx, slog.LevelWarn, "janitor: listing queued jobs failed", slog.String("error", err.Error()))
			}
			return
		}
		for _, j := range list {
			if !backup.IsQueued(j.Kind, j.State) || j.StartBy.IsZero() || !now.After(j.StartBy) {
				continue
			}
			if j.LeaseOwner != "" && j.LeaseExpiry.After(now) {
				continue // a worker claimed it; the worker expires it
			}
			r.endQueued(ctx, j, "", StartWindowExpired)
		}
		if next == "" {
			return
		}
		p.NextToken = next
	}
}
