package metatest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func testQueue(t *testing.T, open Opener) {
	lease := time.Minute
	all := []backup.JobKind(nil)

	t.Run("ClaimOrderAndKinds", func(t *testing.T) {
		s := open(t)
		ids := newIDs(11)
		_, ok, err := s.ClaimJob(ctx(), "w1", all, t0, lease)
		must(t, "ClaimJob on empty queue", err)
		if ok {
			t.Fatalf("ClaimJob on empty queue: ok = true")
		}
		b1 := backupJob(ids, efsARN(1), "v", t0.Add(2*time.Second))
		c1 := copyJob(ids, efsARN(2), "v", backup.VaultARN(region2, account, "d"), "arn:rp", t0.Add(time.Second))
		r1 := restoreJob(ids, efsARN(3), "v", "arn:rp", t0, t0)
		later := backupJob(ids, efsARN(4), "v", t0.Add(-time.Hour))
		later.NotBefore = t0.Add(10 * time.Minute)
		for _, j := range []backup.Job{b1, c1, r1, later} {
			_, _, err := s.CreateJob(ctx(), j, 0)
			must(t, "CreateJob", err)
		}
		now := t0.Add(time.Minute)
		got, ok, err := s.ClaimJob(ctx(), "w1", []backup.JobKind{backup.BackupJob}, now, lease)
		must(t, "ClaimJob backup", err)
		if !ok || got.ID != b1.ID {
			t.Fatalf("ClaimJob(backup) = %s, %v; want %s (the other backup is not due yet)", got.ID, ok, b1.ID)
		}
		if got.LeaseOwner != "w1" || !got.LeaseExpiry.Equal(now.Add(lease)) || got.Attempt != 1 || got.State != backup.JobCreated {
			t.Fatalf("claimed job lease = %q until %v attempt %d state %s; want w1 until %v, attempt 1, state unchanged", got.LeaseOwner, got.LeaseExpiry, got.Attempt, got.State, now.Add(lease))
		}
		stored, _ := s.GetJob(ctx(), b1.ID)
		equal(t, "claimed job as stored", stored, got)
		got, ok, _ = s.ClaimJob(ctx(), "w1", all, now, lease)
		if !ok || got.ID != r1.ID {
			t.Fatalf("ClaimJob(all) = %s, %v; want the oldest, restore %s", got.ID, ok, r1.ID)
		}
		got, ok, _ = s.ClaimJob(ctx(), "w1", all, now, lease)
		if !ok || got.ID != c1.ID {
			t.Fatalf("ClaimJob(all) = %s, %v; want copy %s", got.ID, ok, c1.ID)
		}
		_, ok, _ = s.ClaimJob(ctx(), "w1", all, now, lease)
		if ok {
			t.Fatalf("ClaimJob claimed a job whose NotBefore has not passed")
		}
		got, ok, _ = s.ClaimJob(ctx(), "w1", all, t0.Add(10*time.Minute), lease)
		if !ok || got.ID != later.ID {
			t.Fatalf("ClaimJob after NotBefore = %s, %v; want %s", got.ID, ok, later.ID)
		}
		_, _, err = s.ClaimJob(ctx(), "", all, now, lease)
		if err == nil {
			t.Fatalf("ClaimJob without worker ID: nil error")
		}
	})

	t.Run("OnePerResource", func(t *testing.T) {
		s := open(t)
		ids := newIDs(12)
		res := efsARN(1)
		b1 := backupJob(ids, res, "v", t0)
		b2 := backupJob(ids, res, "v", t0.Add(time.Second))
		c1 := copyJob(ids, res, "v", backup.VaultARN(region2, account, "d"), "arn:rp", t0.Add(2*time.Second))
		r1 := restoreJob(ids, res, "v", "arn:rp", t0, t0.Add(3*time.Second))
		other := backupJob(ids, efsARN(2), "v", t0.Add(4*time.Second))
		for _, j := range []backup.Job{b1, b2, c1, r1, other} {
			_, _, err := s.CreateJob(ctx(), j, 0)
			must(t, "CreateJob", err)
		}
		now := t0.Add(time.Minute)
		claim := func(want string, at time.Time) {
			t.Helper()
			got, ok, err := s.ClaimJob(ctx(), "w", all, at, lease)
			must(t, "ClaimJob", err)
			if want == "" && ok {
				t.Fatalf("ClaimJob = %s (%s of %s), want nothing runnable", got.ID, got.Kind, got.ResourceArn)
			}
			if want != "" && (!ok || got.ID != want) {
				t.Fatalf("ClaimJob = %s, %v; want %s", got.ID, ok, want)
			}
		}
		claim(b1.ID, now)
		claim(r1.ID, now)    // restores are not exclusive; b2 and c1 wait for b1
		claim(other.ID, now) // another resource
		claim("", now)
		for _, id := range []string{r1.ID, other.ID} {
			_, err := s.UpdateJob(ctx(), id, func(j *backup.Job) error { return j.SetState(backup.JobFailed, now) })
			must(t, "UpdateJob FAILED", err)
		}
		// b1 runs; its lease expires but it is still RUNNING: the resource stays busy.
		_, err := s.UpdateJob(ctx(), b1.ID, func(j *backup.Job) error { return j.SetState(backup.JobRunning, now) })
		must(t, "UpdateJob RUNNING", err)
		claim("", now.Add(time.Hour))
		// b1 finishes: b2 becomes runnable, then c1 after b2.
		_, err = s.UpdateJob(ctx(), b1.ID, func(j *backup.Job) error {
			j.LeaseOwner, j.LeaseExpiry = "", time.Time{}
			return j.SetState(backup.JobCompleted, now.Add(time.Hour))
		})
		must(t, "UpdateJob COMPLETED", err)
		at := now.Add(time.Hour)
		claim(b2.ID, at)
		claim("", at)
		// b2's lease expires while it is still queued: b2 and c1 are both
		// runnable again, and b2 is older.
		claim(b2.ID, at.Add(2*lease))
		got, _ := s.GetJob(ctx(), b2.ID)
		if got.Attempt != 2 {
			t.Fatalf("re-claimed job Attempt = %d, want 2", got.Attempt)
		}
		// b2 ends while still holding its lease: a terminal job holds no
		// lease, so c1 is runnable at once.
		got, err = s.UpdateJob(ctx(), b2.ID, func(j *backup.Job) error { return j.SetState(backup.JobFailed, at) })
		must(t, "UpdateJob FAILED", err)
		if got.LeaseOwner != "" || !got.LeaseExpiry.IsZero() {
			t.Fatalf("terminal job keeps lease %q until %v; want it released", got.LeaseOwner, got.LeaseExpiry)
		}
		claim(c1.ID, at.Add(2*lease))
	})

	t.Run("Leases", func(t *testing.T) {
		s := open(t)
		ids := newIDs(13)
		j := backupJob(ids, efsARN(1), "v", t0)
		_, _, err := s.CreateJob(ctx(), j, 0)
		must(t, "CreateJob", err)
		mustKind(t, "RenewLease of an unleased job", s.RenewLease(ctx(), j.ID, "w1", t0, lease), backup.KindConflict)
		_, ok, err := s.ClaimJob(ctx(), "w1", nil, t0, lease)
		must(t, "ClaimJob", err)
		if !ok {
			t.Fatalf("ClaimJob: nothing claimed")
		}
		must(t, "RenewLease", s.RenewLease(ctx(), j.ID, "w1", t0.Add(30*time.Second), lease))
		got, _ := s.GetJob(ctx(), j.ID)
		if !got.LeaseExpiry.Equal(t0.Add(30*time.Second + lease)) {
			t.Fatalf("LeaseExpiry after renew = %v, want %v", got.LeaseExpiry, t0.Add(30*time.Second+lease))
		}
		err = s.RenewLease(ctx(), j.ID, "w2", t0, lease)
		if !errors.Is(err, meta.ErrLeaseLost) || backup.KindOf(err) != backup.KindConflict {
			t.Fatalf("RenewLease by another worker = %v; want ErrLeaseLost of kind Conflict", err)
		}
		mustKind(t, "RenewLease missing job", s.RenewLease(ctx(), "NOPE", "w1", t0, lease), backup.KindNotFound)

		p := backup.JobProgress{BytesDone: 10, BytesTotal: 100, ItemsDone: 1, ItemsTotal: 10, Percent: 10, UpdatedAt: t0.Add(time.Second)}
		must(t, "UpdateProgress", s.UpdateProgress(ctx(), j.ID, "w1", p))
		got, _ = s.GetJob(ctx(), j.ID)
		equal(t, "progress", got.Progress, p)
		if got.PercentDone() != "10.0" || got.BytesTransferred() != 10 {
			t.Fatalf("PercentDone %q BytesTransferred %d", got.PercentDone(), got.BytesTransferred())
		}
		listed, _, err := s.ListJobs(ctx(), meta.JobFilter{}, meta.Page{})
		must(t, "ListJobs", err)
		equal(t, "progress in ListJobs", listed[0].Progress, p)
		err = s.UpdateProgress(ctx(), j.ID, "w2", backup.JobProgress{BytesDone: 99})
		if !errors.Is(err, meta.ErrLeaseLost) {
			t.Fatalf("UpdateProgress by another worker = %v, want ErrLeaseLost", err)
		}
		mustKind(t, "UpdateProgress missing job", s.UpdateProgress(ctx(), "NOPE", "w1", p), backup.KindNotFound)
		// UpdateJob keeps the progress.
		got, err = s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error { return j.SetState(backup.JobRunning, t0) })
		must(t, "UpdateJob", err)
		equal(t, "progress after UpdateJob", got.Progress, p)
		// Releasing the lease in UpdateJob makes RenewLease fail.
		_, err = s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error { j.LeaseOwner, j.LeaseExpiry = "", time.Time{}; return nil })
		must(t, "UpdateJob releasing the lease", err)
		if err := s.RenewLease(ctx(), j.ID, "w1", t0, lease); !errors.Is(err, meta.ErrLeaseLost) {
			t.Fatalf("RenewLease after release = %v, want ErrLeaseLost", err)
		}
	})

	t.Run("ReleaseExpired", func(t *testing.T) {
		s := open(t)
		ids := newIDs(14)
		running := backupJob(ids, efsARN(1), "v", t0)
		orphan := restoreJob(ids, efsARN(2), "v", "arn:rp", t0, t0.Add(time.Second))
		queued := copyJob(ids, efsARN(3), "v", backup.VaultARN(region2, account, "d"), "arn:rp", t0.Add(2*time.Second))
		done := backupJob(ids, efsARN(4), "v", t0.Add(3*time.Second))
		for _, j := range []backup.Job{running, orphan, queued, done} {
			_, _, err := s.CreateJob(ctx(), j, 0)
			must(t, "CreateJob", err)
		}
		for i := 0; i < 4; i++ {
			_, ok, err := s.ClaimJob(ctx(), "w1", nil, t0, lease)
			must(t, "ClaimJob", err)
			if !ok {
				t.Fatalf("ClaimJob %d: nothing claimed", i)
			}
		}
		must2 := func(id string, fn func(*backup.Job) error) {
			_, err := s.UpdateJob(ctx(), id, fn)
			must(t, "UpdateJob", err)
		}
		must2(running.ID, func(j *backup.Job) error { return j.SetState(backup.JobRunning, t0) })
		must2(orphan.ID, func(j *backup.Job) error {
			j.LeaseOwner, j.LeaseExpiry = "", time.Time{}
			return j.SetState(backup.JobRunning, t0)
		})
		must2(done.ID, func(j *backup.Job) error {
			if err := j.SetState(backup.JobRunning, t0); err != nil {
				return err
			}
			return j.SetState(backup.JobCompleted, t0)
		})
		got, err := s.ReleaseExpired(ctx(), "w2", t0.Add(30*time.Second), lease)
		must(t, "ReleaseExpired before expiry", err)
		if len(got) != 1 || got[0].ID != orphan.ID {
			t.Fatalf("ReleaseExpired before expiry = %v; want only the unleased RUNNING job %s", jobIDs(got), orphan.ID)
		}
		if got[0].LeaseOwner != "w2" || got[0].Attempt != 2 {
			t.Fatalf("released job lease %q attempt %d; want w2, 2", got[0].LeaseOwner, got[0].Attempt)
		}
		at := t0.Add(lease)
		got, err = s.ReleaseExpired(ctx(), "w3", at, lease)
		must(t, "ReleaseExpired after expiry", err)
		if len(got) != 1 || got[0].ID != running.ID || got[0].LeaseOwner != "w3" || !got[0].LeaseExpiry.Equal(at.Add(lease)) {
			t.Fatalf("ReleaseExpired after expiry = %+v; want %s leased to w3 until %v", got, running.ID, at.Add(lease))
		}
		got, err = s.ReleaseExpired(ctx(), "w4", at, lease)
		must(t, "ReleaseExpired again", err)
		if len(got) != 0 {
			t.Fatalf("ReleaseExpired again = %v; want nothing (the jobs have fresh leases)", jobIDs(got))
		}
		if err := s.RenewLease(ctx(), running.ID, "w1", at, lease); !errors.Is(err, meta.ErrLeaseLost) {
			t.Fatalf("old worker RenewLease = %v, want ErrLeaseLost", err)
		}
		_, err = s.ReleaseExpired(ctx(), "", at, lease)
		if err == nil {
			t.Fatalf("ReleaseExpired without worker: nil error")
		}
	})
}

func jobIDs(js []backup.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.ID
	}
	return out
}

// parallelClaims runs workers that claim until the queue is dry: no job
// may be claimed twice, every job on its own resource is claimed, and of
// the jobs sharing one resource exactly one is.
func parallelClaims(t *testing.T, s meta.Store) {
	ids := newIDs(15)
	const distinct, shared, workers = 40, 10, 6
	for i := 0; i < distinct; i++ {
		j := backupJob(ids, efsARN(1000+i), "v", t0.Add(time.Duration(i)*time.Millisecond))
		_, _, err := s.CreateJob(ctx(), j, 0)
		must(t, "CreateJob", err)
	}
	for i := 0; i < shared; i++ {
		var j backup.Job
		if i%2 == 0 {
			j = backupJob(ids, efsARN(1), "v", t0.Add(time.Duration(i)*time.Millisecond))
		} else {
			j = copyJob(ids, efsARN(1), "v", backup.VaultARN(region2, account, "d"), "arn:rp", t0.Add(time.Duration(i)*time.Millisecond))
		}
		_, _, err := s.CreateJob(ctx(), j, 0)
		must(t, "CreateJob", err)
	}
	var mu sync.Mutex
	claimed := map[string]string{}
	sharedClaims := 0
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker := string(rune('A' + w))
			for {
				j, ok, err := s.ClaimJob(ctx(), worker, nil, t0.Add(time.Second), time.Hour)
				if err != nil {
					errs <- err
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				if prev, dup := claimed[j.ID]; dup {
					mu.Unlock()
					errs <- errors.New("job " + j.ID + " claimed by both " + prev + " and " + worker)
					return
				}
				claimed[j.ID] = worker
				if j.ResourceArn == efsARN(1) {
					sharedClaims++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimed) != distinct+1 || sharedClaims != 1 {
		t.Fatalf("claimed %d jobs (%d of the shared resource); want %d and 1", len(claimed), sharedClaims, distinct+1)
	}
}
