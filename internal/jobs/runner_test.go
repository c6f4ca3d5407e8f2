package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/clock"
	"github.com/coffer/coffer/internal/jobs"
	"github.com/coffer/coffer/internal/meta"
	"github.com/coffer/coffer/internal/meta/sqlite"
)

const (
	account = "111122223333"
	region  = "us-east-1"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// handler is a scriptable Handler: run decides each job's attempt by
// resource ARN; settles records every Settle call.
type handler struct {
	run func(ctx context.Context, t *jobs.Task) (jobs.Outcome, error)

	mu      sync.Mutex
	settles map[string][]jobs.Reason
	// settleDone, when set, is returned by Settle for Interrupted.
	settleDone *jobs.Outcome

	running, maxRunning atomic.Int32
}

func (h *handler) Run(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
	n := h.running.Add(1)
	defer h.running.Add(-1)
	for {
		m := h.maxRunning.Load()
		if n <= m || h.maxRunning.CompareAndSwap(m, n) {
			break
		}
	}
	return h.run(ctx, t)
}

func (h *handler) Settle(ctx context.Context, job backup.Job, why jobs.Reason) (jobs.Outcome, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.settles == nil {
		h.settles = map[string][]jobs.Reason{}
	}
	h.settles[job.ID] = append(h.settles[job.ID], why)
	if why == jobs.Interrupted && h.settleDone != nil {
		return *h.settleDone, true, nil
	}
	return jobs.Outcome{}, false, nil
}

func (h *handler) settled(id string) []jobs.Reason {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]jobs.Reason(nil), h.settles[id]...)
}

type env struct {
	store *sqlite.Store
	clock *clock.Fake
	dir   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &env{store: st, clock: clock.NewFake(t0), dir: dir}
}

func (e *env) runner(t *testing.T, h jobs.Handler, mod func(*jobs.Options)) *jobs.Runner {
	t.Helper()
	o := jobs.Options{
		Store: e.store, Clock: e.clock, Workers: 2, NodeID: "node-a",
		LeaseDuration: time.Minute, PollInterval: 10 * time.Millisecond, WatchInterval: 10 * time.Millisecond,
	}
	if mod != nil {
		mod(&o)
	}
	r, err := jobs.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if h != nil {
		if err := r.Register(backup.BackupJob, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

var nextID atomic.Int64

// newJob returns a CREATED backup job of resource n.
func (e *env) newJob(n int) backup.Job {
	i := nextID.Add(1)
	return backup.Job{
		ID:           fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		Kind:         backup.BackupJob,
		Region:       region,
		AccountID:    account,
		State:        backup.JobCreated,
		CreationDate: e.clock.Now().Add(time.Duration(i) * time.Millisecond),
		ResourceArn:  fmt.Sprintf("arn:aws:elasticfilesystem:%s:%s:file-system/fs-%08x", region, account, n),
		ResourceType: backup.EFS,
		Backup:       &backup.BackupDetails{BackupVaultName: "vault", BackupVaultArn: backup.VaultARN(region, account, "vault")},
	}
}

func (e *env) submit(t *testing.T, r *jobs.Runner, j backup.Job) backup.Job {
	t.Helper()
	got, created, err := r.Submit(context.Background(), j, time.Hour)
	if err != nil || !created {
		t.Fatalf("Submit: created=%v err=%v", created, err)
	}
	return got
}

// waitState polls until the job is in one of the states.
func (e *env) waitState(t *testing.T, id string, states ...backup.JobState) backup.Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := e.store.GetJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if j.State == s {
				return j
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: got state %s (%s), want one of %v", id, j.State, j.StatusMessage, states)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blockUntilCancelled is a Run that reports progress and waits for its
// context.
func blockUntilCancelled(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
	t.Progress(backup.JobProgress{BytesDone: 42, Percent: 10})
	<-ctx.Done()
	return jobs.Outcome{}, context.Cause(ctx)
}

func TestRunCompletes(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	h := &handler{run: func(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
		t.Progress(backup.JobProgress{BytesDone: 1000, BytesTotal: 4000, Percent: 25})
		<-gate
		return jobs.Outcome{State: backup.JobCompleted, Apply: func(j *backup.Job) { j.BackupSizeInBytes = 4000 }}, nil
	}}
	r := e.runner(t, h, nil)
	j := e.submit(t, r, e.newJob(1))
	run := e.waitState(t, j.ID, backup.JobRunning)
	if run.InitiationDate.IsZero() {
		t.Errorf("got no InitiationDate on a RUNNING job")
	}
	// Live progress reaches the store while the job runs.
	deadline := time.Now().Add(5 * time.Second)
	for {
		cur, _ := e.store.GetJob(context.Background(), j.ID)
		if cur.Progress.BytesDone == 1000 {
			if cur.PercentDone() != "25.0" {
				t.Errorf("got PercentDone %s, want 25.0", cur.PercentDone())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("got progress %+v, want BytesDone 1000 while running", cur.Progress)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(gate)
	done := e.waitState(t, j.ID, backup.JobCompleted)
	checks := []struct {
		what      string
		got, want any
	}{
		{"BackupSizeInBytes", done.BackupSizeInBytes, int64(4000)},
		{"MessageCategory", done.MessageCategory, backup.MessageSuccess},
		{"PercentDone", done.PercentDone(), "100.0"},
		{"LeaseOwner", done.LeaseOwner, ""},
		{"CompletionDate set", !done.CompletionDate.IsZero(), true},
		{"settles", len(h.settled(j.ID)), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
}

func TestBoundedPoolAndOnePerResource(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	perResource := map[string]int{}
	violation := ""
	release := make(chan struct{})
	h := &handler{run: func(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
		mu.Lock()
		perResource[t.Job.ResourceArn]++
		if perResource[t.Job.ResourceArn] > 1 {
			violation = t.Job.ResourceArn
		}
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(50 * time.Millisecond):
		}
		mu.Lock()
		perResource[t.Job.ResourceArn]--
		mu.Unlock()
		return jobs.Outcome{State: backup.JobCompleted}, nil
	}}
	r := e.runner(t, h, func(o *jobs.Options) { o.Workers = 3 })
	var ids []string
	for i := range 12 {
		ids = append(ids, e.submit(t, r, e.newJob(i%4)).ID) // 4 resources, 3 jobs each
	}
	for _, id := range ids {
		e.waitState(t, id, backup.JobCompleted)
	}
	if got := h.maxRunning.Load(); got > 3 {
		t.Errorf("got %d jobs running at once, want at most 3 (Workers)", got)
	}
	if got := h.maxRunning.Load(); got < 2 {
		t.Errorf("got at most %d jobs running at once, want the pool used (>= 2)", got)
	}
	if violation != "" {
		t.Errorf("two jobs of resource %s ran at once", violation)
	}
}

func TestStopRunningJob(t *testing.T) {
	e := newEnv(t)
	h := &handler{run: blockUntilCancelled}
	r := e.runner(t, h, nil)
	j := e.submit(t, r, e.newJob(1))
	e.waitState(t, j.ID, backup.JobRunning)
	start := time.Now()
	got, err := r.Stop(context.Background(), j.ID)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got.State != backup.JobAborting && got.State != backup.JobAborted {
		t.Errorf("Stop returned state %s, want ABORTING", got.State)
	}
	done := e.waitState(t, j.ID, backup.JobAborted)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("stop took %v, want prompt", el)
	}
	if done.MessageCategory != backup.MessageAborted || !strings.Contains(done.StatusMessage, "StopBackupJob") {
		t.Errorf("got message %q (%s), want one naming StopBackupJob", done.StatusMessage, done.MessageCategory)
	}
	if s := h.settled(j.ID); len(s) != 1 || s[0] != jobs.Stopped {
		t.Errorf("got settles %v, want [stopped]", s)
	}
	// Stopping again: the job has ended.
	if _, err := r.Stop(context.Background(), j.ID); backup.KindOf(err) != backup.KindInvalidRequest {
		t.Errorf("second Stop: got %v, want InvalidRequest", err)
	}
	if _, err := r.Stop(context.Background(), "00000000-0000-4000-8000-999999999999"); backup.KindOf(err) != backup.KindNotFound {
		t.Errorf("Stop of an unknown job: got %v, want NotFound", err)
	}
}

// A stop written by another node (ABORTING in the store) reaches the
// worker through its watch.
func TestStopFromAnotherNode(t *testing.T) {
	e := newEnv(t)
	h := &handler{run: blockUntilCancelled}
	r := e.runner(t, h, nil)
	j := e.submit(t, r, e.newJob(1))
	e.waitState(t, j.ID, backup.JobRunning)
	other, err := jobs.New(jobs.Options{Store: e.store, Clock: e.clock, NodeID: "node-b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Stop(context.Background(), j.ID); err != nil {
		t.Fatalf("Stop from node-b: %v", err)
	}
	e.waitState(t, j.ID, backup.JobAborted)
	_ = r
}

func TestStopQueuedJob(t *testing.T) {
	e := newEnv(t)
	h := &handler{run: blockUntilCancelled}
	r := e.runner(t, h, nil)
	first := e.submit(t, r, e.newJob(1))
	e.waitState(t, first.ID, backup.JobRunning)
	second := e.submit(t, r, e.newJob(1)) // same resource: waits
	got, err := r.Stop(context.Background(), second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != backup.JobAborted {
		t.Errorf("got state %s, want ABORTED at once for a queued job", got.State)
	}
	if got.InitiationDate.IsZero() == false {
		t.Errorf("a job stopped before it started has InitiationDate %v", got.InitiationDate)
	}
	if _, err := r.Stop(context.Background(), first.ID); err != nil {
		t.Fatal(err)
	}
	e.waitState(t, first.ID, backup.JobAborted)
}

func TestHandlerErrorFails(t *testing.T) {
	e := newEnv(t)
	h := &handler{run: func(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
		if strings.HasSuffix(t.Job.ResourceArn, "2") {
			panic("boom")
		}
		return jobs.Outcome{}, jobs.Fail(backup.MessageResourceError, "cannot read the source directory: %w", errors.New("permission denied"))
	}}
	r := e.runner(t, h, nil)
	j := e.submit(t, r, e.newJob(1))
	done := e.waitState(t, j.ID, backup.JobFailed)
	if done.StatusMessage != "cannot read the source directory: permission denied" || done.MessageCategory != backup.MessageResourceError {
		t.Errorf("got %q (%s), want the handler's message and category", done.StatusMessage, done.MessageCategory)
	}
	if s := h.settled(j.ID); len(s) != 1 || s[0] != jobs.Failed {
		t.Errorf("got settles %v, want [failed]", s)
	}
	p := e.submit(t, r, e.newJob(2))
	done = e.waitState(t, p.ID, backup.JobFailed)
	if !strings.Contains(done.StatusMessage, "boom") {
		t.Errorf("a panicking handler: got message %q, want it to name the panic", done.StatusMessage)
	}
}

// TestAfterAttempt: the hook runs once per attempt, after the outcome is
// recorded (completed and failed alike).
func TestAfterAttempt(t *testing.T) {
	e := newEnv(t)
	var calls atomic.Int64
	h := &handler{run: func(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
		if strings.HasSuffix(t.Job.ResourceArn, "2") {
			return jobs.Outcome{}, jobs.Fail(backup.MessageResourceError, "cannot read the source")
		}
		return jobs.Outcome{State: backup.JobCompleted}, nil
	}}
	var (
		mu   sync.Mutex
		cur  string            // the job being run
		seen []backup.JobState // its state each time the hook ran
	)
	r := e.runner(t, h, func(o *jobs.Options) {
		o.AfterAttempt = func() {
			calls.Add(1)
			mu.Lock()
			defer mu.Unlock()
			if j, err := e.store.GetJob(context.Background(), cur); err == nil {
				seen = append(seen, j.State)
			}
		}
	})
	for i := 1; i <= 2; i++ {
		mu.Lock()
		cur = e.submit(t, r, e.newJob(i)).ID
		id := cur
		mu.Unlock()
		e.waitState(t, id, backup.JobCompleted, backup.JobFailed)
		deadline := time.Now().Add(5 * time.Second)
		for calls.Load() < int64(i) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	time.Sleep(50 * time.Millisecond) // idle polls must not call it
	mu.Lock()
	defer mu.Unlock()
	if calls.Load() != 2 {
		t.Errorf("AfterAttempt called %d times for two attempts, want 2", calls.Load())
	}
	if len(seen) != 2 || seen[0] != backup.JobCompleted || seen[1] != backup.JobFailed {
		t.Errorf("the jobs' states when AfterAttempt ran: %v, want [COMPLETED FAILED] (outcome recorded first)", seen)
	}
}

func TestStartWindowExpires(t *testing.T) {
	e := newEnv(t)
	h := &handler{run: blockUntilCancelled}
	r := e.runner(t, h, nil)
	first := e.submit(t, r, e.newJob(1))
	e.waitState(t, first.ID, backup.JobRunning)
	q := e.newJob(1)
	q.StartBy = e.clock.Now().Add(time.Hour)
	q = e.submit(t, r, q)
	time.Sleep(50 * time.Millisecond)
	if j, _ := e.store.GetJob(context.Background(), q.ID); j.State != backup.JobCreated {
		t.Fatalf("got %s, want the second job of the resource to wait in CREATED", j.State)
	}
	e.clock.Advance(61 * time.Minute)
	done := e.waitState(t, q.ID, backup.JobExpired)
	if done.MessageCategory != backup.MessageTimeout || !strings.Contains(done.StatusMessage, "start window") {
		t.Errorf("got %q (%s), want a start-window message", done.StatusMessage, done.MessageCategory)
	}
	if !done.InitiationDate.IsZero() {
		t.Errorf("an expired job that never started has InitiationDate %v", done.InitiationDate)
	}
	if s := h.settled(q.ID); len(s) != 1 || s[0] != jobs.StartWindowExpired {
		t.Errorf("got settles %v, want [start window expired]", s)
	}
	// The running job was not mistaken for an interrupted one by the jump.
	if j, _ := e.store.GetJob(context.Background(), first.ID); j.State != backup.JobRunning {
		t.Errorf("the running job is %s after the clock jump, want RUNNING", j.State)
	}
}

func TestCompleteWindowExpires(t *testing.T) {
	e := newEnv(t)
	h := &handler{run: blockUntilCancelled}
	r := e.runner(t, h, nil)
	j := e.newJob(1)
	j.CompleteBy = e.clock.Now().Add(2 * time.Hour)
	j = e.submit(t, r, j)
	e.waitState(t, j.ID, backup.JobRunning)
	e.clock.Advance(2*time.Hour + time.Second)
	done := e.waitState(t, j.ID, backup.JobExpired)
	if !strings.Contains(done.StatusMessage, "expired before completion") {
		t.Errorf("got %q, want AWS's 'expired before completion'", done.StatusMessage)
	}
	if s := h.settled(j.ID); len(s) != 1 || s[0] != jobs.CompleteWindowExpired {
		t.Errorf("got settles %v, want [completion window expired]", s)
	}
}

// putRunning stores a job as if a worker of another process had it
// RUNNING.
func (e *env) putRunning(t *testing.T, j backup.Job, owner string, expiry time.Time) backup.Job {
	t.Helper()
	ctx := context.Background()
	if _, _, err := e.store.CreateJob(ctx, j, 0); err != nil {
		t.Fatal(err)
	}
	got, err := e.store.UpdateJob(ctx, j.ID, func(j *backup.Job) error {
		j.LeaseOwner, j.LeaseExpiry = owner, expiry
		return j.SetState(backup.JobRunning, e.clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRecoveryOfInterruptedJobs(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	// A job of a dead earlier incarnation of this node, lease not expired.
	deadSelf := e.putRunning(t, e.newJob(1), "node-a/0123456789ab/w1", now.Add(time.Hour))
	// A job of another node whose lease has expired.
	deadOther := e.putRunning(t, e.newJob(2), "node-b/0123456789ab/w1", now.Add(-time.Second))
	// A job of another node that is alive (lease valid).
	alive := e.putRunning(t, e.newJob(3), "node-b/0123456789ab/w2", now.Add(time.Hour))

	h := &handler{run: blockUntilCancelled}
	e.runner(t, h, nil)
	for _, id := range []string{deadSelf.ID, deadOther.ID} {
		j := e.waitState(t, id, backup.JobFailed)
		if j.MessageCategory != backup.MessageInterrupted || !strings.Contains(j.StatusMessage, "interrupted") {
			t.Errorf("job %s: got %q (%s), want an interruption message", id, j.StatusMessage, j.MessageCategory)
		}
		if s := h.settled(id); len(s) != 1 || s[0] != jobs.Interrupted {
			t.Errorf("job %s: got settles %v, want [interrupted]", id, s)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if j, _ := e.store.GetJob(context.Background(), alive.ID); j.State != backup.JobRunning {
		t.Errorf("a job of a live node: got %s, want it left RUNNING", j.State)
	}
	// When that node stops renewing, its lease runs out and the job ends.
	e.clock.Advance(2 * time.Hour)
	e.waitState(t, alive.ID, backup.JobFailed)
}

func TestInterruptedJobThatHadFinished(t *testing.T) {
	e := newEnv(t)
	j := e.putRunning(t, e.newJob(1), "node-a/0123456789ab/w1", e.clock.Now().Add(time.Hour))
	h := &handler{run: blockUntilCancelled, settleDone: &jobs.Outcome{State: backup.JobCompleted, Message: "finished before the interruption"}}
	e.runner(t, h, nil)
	done := e.waitState(t, j.ID, backup.JobCompleted, backup.JobFailed)
	if done.State != backup.JobCompleted || done.MessageCategory != backup.MessageSuccess {
		t.Errorf("got %s (%s), want the handler's COMPLETED outcome", done.State, done.MessageCategory)
	}
}

func TestShutdownRequeuesAndRestartRuns(t *testing.T) {
	e := newEnv(t)
	h := &handler{run: blockUntilCancelled}
	r := e.runner(t, h, nil)
	j := e.submit(t, r, e.newJob(1))
	e.waitState(t, j.ID, backup.JobRunning)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := e.store.GetJob(context.Background(), j.ID)
	if got.State != backup.JobPending || got.LeaseOwner != "" || !strings.Contains(got.StatusMessage, "shutdown") {
		t.Fatalf("after Close: got %s owner %q %q, want PENDING, no lease, a shutdown message", got.State, got.LeaseOwner, got.StatusMessage)
	}
	if s := h.settled(j.ID); len(s) != 1 || s[0] != jobs.Shutdown {
		t.Errorf("got settles %v, want [shutdown]", s)
	}
	if len(r.Running()) != 0 {
		t.Errorf("got running %v after Close", r.Running())
	}
	h2 := &handler{run: func(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
		return jobs.Outcome{State: backup.JobCompleted}, nil
	}}
	e.runner(t, h2, nil)
	done := e.waitState(t, j.ID, backup.JobCompleted)
	if done.Attempt != 2 {
		t.Errorf("got attempt %d, want 2", done.Attempt)
	}
}

func TestLeaseLostStopsWithoutWriting(t *testing.T) {
	e := newEnv(t)
	entered := make(chan struct{})
	var once sync.Once
	h := &handler{run: func(ctx context.Context, t *jobs.Task) (jobs.Outcome, error) {
		once.Do(func() { close(entered) })
		<-ctx.Done()
		return jobs.Outcome{}, context.Cause(ctx)
	}}
	e.runner(t, h, nil)
	j := e.newJob(1)
	e.submit(t, nil2(t, e), j)
	<-entered
	// Another worker takes the job over (as if our lease had run out).
	if _, err := e.store.UpdateJob(context.Background(), j.ID, func(j *backup.Job) error {
		j.LeaseOwner, j.LeaseExpiry = "node-z/1/w1", e.clock.Now().Add(time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.settled(j.ID)) == 0 && h.running.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond)
	got, _ := e.store.GetJob(context.Background(), j.ID)
	if got.State != backup.JobRunning || got.LeaseOwner != "node-z/1/w1" {
		t.Errorf("got %s owned by %q, want it left RUNNING to its new owner", got.State, got.LeaseOwner)
	}
	if s := h.settled(j.ID); len(s) != 0 {
		t.Errorf("got settles %v, want none (the new owner settles)", s)
	}
}

// nil2 returns a runner that is never started, to Submit through (the
// store is shared).
func nil2(t *testing.T, e *env) *jobs.Runner {
	r, err := jobs.New(jobs.Options{Store: e.store, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEveryAndClose(t *testing.T) {
	e := newEnv(t)
	var n atomic.Int32
	r, err := jobs.New(jobs.Options{Store: e.store, Clock: e.clock, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Every("count", 5*time.Millisecond, func(ctx context.Context) error { n.Add(1); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(backup.CopyJob, &handler{}); err == nil {
		t.Errorf("Register after Start: got nil, want an error")
	}
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	after := n.Load()
	time.Sleep(30 * time.Millisecond)
	if n.Load() != after || after < 3 {
		t.Errorf("periodic task ran %d times, then %d after Close; want >= 3 and none after", after, n.Load())
	}
	if _, _, err := r.Submit(context.Background(), e.newJob(1), 0); !errors.Is(err, jobs.ErrClosed) {
		t.Errorf("Submit after Close: got %v, want ErrClosed", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	e := newEnv(t)
	for _, o := range []jobs.Options{{}, {Store: e.store, Workers: -1}, {Store: e.store, NodeID: "a/b"}} {
		if _, err := jobs.New(o); err == nil {
			t.Errorf("New(%+v): got nil, want an error", o)
		}
	}
	var _ meta.JobQueue = e.store
}
