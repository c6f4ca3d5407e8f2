package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/clock"
	"github.com/coffer/coffer/internal/meta"
)

// Store is what the runner needs from the metadata store: the jobs and
// their queue.
type Store interface {
	meta.JobStore
	meta.JobQueue
}

// Defaults of Options.
const (
	DefaultWorkers       = 2
	DefaultLease         = 30 * time.Second
	DefaultPollInterval  = time.Second
	DefaultWatchInterval = time.Second
	DefaultSettleTimeout = 2 * time.Minute
)

// Options configure a Runner. Store is required.
type Options struct {
	Store  Store
	Clock  clock.Clock  // default clock.Real{}
	Logger *slog.Logger // default: discard
	// Workers is the number of jobs run at once (default DefaultWorkers;
	// config limits.workers).
	Workers int
	// NodeID names this node in a shared queue; default the host name.
	// Two processes sharing a queue at the same time must have different
	// node IDs (an earlier incarnation of a node is presumed dead when the
	// node starts again).
	NodeID string
	// LeaseDuration is how long a claimed job stays leased without renewal
	// (default DefaultLease); leases are renewed every third of it. A job of
	// a process that died is taken over at most this long after its last
	// renewal.
	LeaseDuration time.Duration
	// PollInterval is how often idle workers look at the queue without
	// being poked and how often the janitor runs (default
	// DefaultPollInterval). It is pacing in real time; every decision
	// (leases, windows) reads Clock.
	PollInterval time.Duration
	// WatchInterval is how often the state of each running job is checked
	// (stopped from another node, completion window) and its progress
	// written (default DefaultWatchInterval).
	WatchInterval time.Duration
	// SettleTimeout bounds Settle calls and the final writes of a job
	// during shutdown (default DefaultSettleTimeout).
	SettleTimeout time.Duration
	// AfterAttempt, when set, is called by the worker after each attempt
	// it ran has ended and its outcome is recorded, before the worker
	// looks for more work (the server collects the job's garbage there).
	AfterAttempt func()
}

// Runner runs jobs. Create it with New, Register handlers, Start it, and
// Close it. It is safe for concurrent use.
type Runner struct {
	store Store
	clock clock.Clock
	log   *slog.Logger
	opts  Options

	node, incarnation string
	handlers          map[backup.JobKind]Handler
	kinds             []backup.JobKind

	ctx    context.Context
	cancel context.CancelCauseFunc
	wake   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	started  bool
	closed   bool
	running  map[string]*attempt
	periodic []periodicTask
}

type periodicTask struct {
	name     string
	interval time.Duration
	fn       func(context.Context) error
}

// New checks opts and returns a Runner that is not started.
func New(opts Options) (*Runner, error) {
	if opts.Store == nil {
		return nil, errors.New("jobs: Options.Store is required")
	}
	if opts.Workers < 0 || opts.LeaseDuration < 0 || opts.PollInterval < 0 || opts.WatchInterval < 0 || opts.SettleTimeout < 0 {
		return nil, errors.New("jobs: negative Options value")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = DefaultLease
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.WatchInterval == 0 {
		opts.WatchInterval = DefaultWatchInterval
	}
	if opts.SettleTimeout == 0 {
		opts.SettleTimeout = DefaultSettleTimeout
	}
	if opts.NodeID == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "node"
		}
		opts.NodeID = h
	}
	if strings.Contains(opts.NodeID, "/") {
		return nil, fmt.Errorf("jobs: Options.NodeID %q must not contain '/'", opts.NodeID)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	r := &Runner{
		store:       opts.Store,
		clock:       opts.Clock,
		log:         opts.Logger,
		opts:        opts,
		node:        opts.NodeID,
		incarnation: hex.EncodeToString(b[:]),
		handlers:    map[backup.JobKind]Handler{},
		wake:        make(chan struct{}, opts.Workers),
		running:     map[string]*attempt{},
	}
	r.ctx, r.cancel = context.WithCancelCause(context.Background())
	return r, nil
}

// Register makes h run the jobs of kind k. It must be called before Start;
// registering a kind twice is an error.
func (r *Runner) Register(k backup.JobKind, h Handler) error {
	if !k.Valid() || h == nil {
		return fmt.Errorf("jobs: Register: bad kind %q or nil handler", k)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return fmt.Errorf("jobs: Register(%s) after Start", k)
	}
	if _, dup := r.handlers[k]; dup {
		return fmt.Errorf("jobs: a handler for %s jobs is already registered", k)
	}
	r.handlers[k] = h
	r.kinds = append(r.kinds, k)
	return nil
}

// Every makes the runner call fn every interval from a goroutine it owns,
// from Start until Close (first call one interval after Start). fn's
// context is cancelled by Close. Errors are logged. It must be called
// before Start.
func (r *Runner) Every(name string, interval time.Duration, fn func(context.Context) error) error {
	if interval <= 0 || fn == nil {
		return fmt.Errorf("jobs: Every(%s): bad interval or nil function", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return fmt.Errorf("jobs: Every(%s) after Start", name)
	}
	r.periodic = append(r.periodic, periodicTask{name: name, interval: interval, fn: fn})
	return nil
}

// NodeID returns the node ID; WorkerPrefix the prefix of this
// incarnation's worker IDs ("<node>/<incarnation>/").
func (r *Runner) NodeID() string { return r.node }

// WorkerPrefix returns "<node>/<incarnation>/".
func (r *Runner) WorkerPrefix() string { return r.node + "/" + r.incarnation + "/" }

// Start recovers the jobs of earlier incarnations of this node (see the
// package comment) and starts the workers, the janitor, the watcher and
// the periodic tasks. ctx bounds only the recovery; the goroutines run
// until Close.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started || r.closed {
		r.mu.Unlock()
		return errors.New("jobs: Start called twice or after Close")
	}
	r.started = true
	periodic := slices.Clone(r.periodic)
	r.mu.Unlock()

	if err := r.releaseDeadIncarnations(ctx); err != nil {
		return err
	}
	r.janitor(ctx)
	for i := range r.opts.Workers {
		id := fmt.Sprintf("%sw%d", r.WorkerPrefix(), i+1)
		r.goLoop(func() { r.workerLoop(id) })
	}
	r.goLoop(r.janitorLoop)
	r.goLoop(r.watchLoop)
	for _, p := range periodic {
		r.goLoop(func() { r.periodicLoop(p) })
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "job runner started", slog.String("node", r.node),
		slog.String("incarnation", r.incarnation), slog.Int("workers", r.opts.Workers), slog.Any("kinds", r.kinds))
	return nil
}

func (r *Runner) goLoop(fn func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn()
	}()
}

// Close stops the runner: running jobs are cancelled (cause ErrShutdown),
// settled and put back in the queue; Close waits for every goroutine the
// runner started. It is idempotent.
func (r *Runner) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel(ErrShutdown)
	r.wg.Wait()
	return nil
}

// Poke wakes an idle worker to look at the queue now (after a job was
// created). It never blocks.
func (r *Runner) Poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Submit stores a new job (meta.JobStore.CreateJob with the idempotency
// TTL) and wakes a worker. created is false when an earlier job with the
// same idempotency token was returned instead.
func (r *Runner) Submit(ctx context.Context, job backup.Job, idempotencyTTL time.Duration) (stored backup.Job, created bool, err error) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return backup.Job{}, false, ErrClosed
	}
	stored, created, err = r.store.CreateJob(ctx, job, idempotencyTTL)
	if err == nil && created {
		r.Poke()
	}
	return stored, created, err
}

// Stop stops a job (StopBackupJob): a queued job ends ABORTED at once and
// is settled; a RUNNING job goes to ABORTING and its worker is cancelled —
// at once on this node, within WatchInterval on another — and it ends
// ABORTED when the worker has stopped. It returns the job as stored after
// the change. Stopping an ABORTING job again changes nothing. A job of a
// kind that cannot be stopped, or a job that has ended, is an
// InvalidRequest error; an unknown job NotFound.
func (r *Runner) Stop(ctx context.Context, id string) (backup.Job, error) {
	now := r.clock.Now().UTC()
	var queued bool
	j, err := r.store.UpdateJob(ctx, id, func(j *backup.Job) error {
		queued = false
		if !backup.CanTransition(j.Kind, backup.JobRunning, backup.JobAborting) {
			return backup.InvalidRequestf("%s jobs cannot be stopped", strings.ToLower(string(j.Kind)))
		}
		switch {
		case j.State == backup.JobAborting:
			return nil
		case backup.IsQueued(j.Kind, j.State):
			queued = true
			j.StatusMessage = "Job stopped by StopBackupJob before it started."
			j.MessageCategory = backup.MessageAborted
			j.LeaseOwner, j.LeaseExpiry = "", time.Time{}
			return j.SetState(backup.JobAborted, now)
		case j.State == backup.JobRunning:
			j.StatusMessage = "Stopping: StopBackupJob was called."
			return j.SetState(backup.JobAborting, now)
		}
		return backup.InvalidRequestf("job %s has already ended (%s) and cannot be stopped", j.ID, j.State)
	})
	if err != nil {
		return backup.Job{}, err
	}
	if queued {
		r.settle(ctx, j, Stopped)
		return j, nil
	}
	r.mu.Lock()
	a := r.running[id]
	r.mu.Unlock()
	if a != nil {
		a.cancel(ErrStopped)
	}
	return j, nil
}

// Running returns the IDs of the jobs this runner is working on.
func (r *Runner) Running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.running))
	for id := range r.running {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// releaseDeadIncarnations clears the leases that earlier incarnations of
// this node hold: that process is gone, and its jobs should not wait for
// their leases to expire. The janitor then settles the active ones and the
// queue hands out the queued ones.
func (r *Runner) releaseDeadIncarnations(ctx context.Context) error {
	prefix := r.node + "/"
	mine := r.WorkerPrefix()
	f := meta.JobFilter{}
	p := meta.Page{MaxResults: meta.MaxResultsLimit}
	var stale []string
	for _, k := range backup.JobKinds {
		for _, s := range backup.States(k) {
			if backup.IsTerminal(k, s) {
				continue
			}
			f.States = append(f.States, s)
		}
	}
	slices.Sort(f.States)
	f.States = slices.Compact(f.States)
	for {
		list, next, err := r.store.ListJobs(ctx, f, p)
		if err != nil {
			return fmt.Errorf("jobs: list unfinished jobs: %w", err)
		}
		for _, j := range list {
			if strings.HasPrefix(j.LeaseOwner, prefix) && !strings.HasPrefix(j.LeaseOwner, mine) {
				stale = append(stale, j.ID)
			}
		}
		if next == "" {
			break
		}
		p.NextToken = next
	}
	for _, id := range stale {
		_, err := r.store.UpdateJob(ctx, id, func(j *backup.Job) error {
			if strings.HasPrefix(j.LeaseOwner, prefix) && !strings.HasPrefix(j.LeaseOwner, mine) {
				j.LeaseOwner, j.LeaseExpiry = "", time.Time{}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("jobs: release job %s of a dead incarnation: %w", id, err)
		}
		r.log.LogAttrs(ctx, slog.LevelInfo, "released job of an earlier run of this node", slog.String("job", id))
	}
	return nil
}

// sleep waits for d (real time), a poke when wake is set, or Close. It
// reports false on Close.
func (r *Runner) sleep(d time.Duration, wake bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	var w chan struct{}
	if wake {
		w = r.wake
	}
	select {
	case <-r.ctx.Done():
		return false
	case <-t.C:
	case <-w:
	}
	return true
}

func (r *Runner) periodicLoop(p periodicTask) {
	for r.sleep(p.interval, false) {
		if err := p.fn(r.ctx); err != nil && r.ctx.Err() == nil {
			r.log.LogAttrs(r.ctx, slog.LevelWarn, "periodic task failed", slog.String("task", p.name), slog.String("error", err.Error()))
		}
	}
}
