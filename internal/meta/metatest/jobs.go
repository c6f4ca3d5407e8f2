package metatest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/clock"
	"github.com/coffer/coffer/internal/meta"
)

func testJobs(t *testing.T, open Opener) {
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		ids := newIDs(5)
		rpArn := ids.RecoveryPointARN(backup.EFS, region, account)
		jobs := []backup.Job{
			backupJob(ids, efsARN(1), "v", t0),
			copyJob(ids, efsARN(1), "v", backup.VaultARN(region2, account, "dst"), rpArn, t0.Add(time.Second)),
			restoreJob(ids, efsARN(1), "v", rpArn, t0.Add(-time.Hour), t0.Add(2*time.Second)),
		}
		// Fill the rest of the fields so the round trip covers them.
		jobs[0].IdempotencyToken, jobs[0].RequestHash = "tok", "hash"
		jobs[0].ParentJobID, jobs[0].IsParent, jobs[0].NumberOfChildJobs = "PARENT", false, 0
		jobs[0].ChildJobsInState = map[backup.JobState]int64{backup.JobCompleted: 2}
		jobs[0].Backup.RecoveryPointArn = rpArn
		jobs[0].NotBefore = t0.Add(time.Minute)
		jobs[1].Copy.DestinationRecoveryPointLifecycle = &backup.Lifecycle{DeleteAfterDays: backup.Days(60)}
		jobs[2].CreatedBy.RestoreTestingPlanArn = "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:p"
		jobs[2].Restore.ExpectedCompletionTimeMinutes = 5
		for _, j := range jobs {
			got, created, err := s.CreateJob(ctx(), j, time.Hour)
			must(t, "CreateJob "+string(j.Kind), err)
			if !created {
				t.Fatalf("CreateJob %s: created = false, want true", j.Kind)
			}
			equal(t, "CreateJob result", got, j)
			got, err = s.GetJob(ctx(), j.ID)
			must(t, "GetJob", err)
			equal(t, "GetJob "+string(j.Kind), got, j)
		}
		_, _, err := s.CreateJob(ctx(), jobs[1], time.Hour)
		mustKind(t, "CreateJob duplicate ID", err, backup.KindAlreadyExists)
		bad := backupJob(ids, efsARN(1), "v", t0)
		bad.Copy = &backup.CopyDetails{}
		_, _, err = s.CreateJob(ctx(), bad, time.Hour)
		if err == nil {
			t.Fatalf("CreateJob of an invalid job: nil error")
		}
		_, err = s.GetJob(ctx(), "NOPE")
		mustKind(t, "GetJob missing", err, backup.KindNotFound)
	})

	t.Run("Idempotency", func(t *testing.T) {
		s := open(t)
		ids := newIDs(6)
		clk := clock.NewFake(t0)
		ttl := time.Hour
		first := backupJob(ids, efsARN(1), "v", clk.Now())
		first.IdempotencyToken, first.RequestHash = "token-1", "h1"
		_, created, err := s.CreateJob(ctx(), first, ttl)
		must(t, "CreateJob", err)
		if !created {
			t.Fatalf("first CreateJob not created")
		}
		try := func(what string, mod func(*backup.Job)) (backup.Job, bool) {
			j := backupJob(ids, efsARN(1), "v", clk.Now())
			j.IdempotencyToken, j.RequestHash = "token-1", "h2"
			if mod != nil {
				mod(&j)
			}
			got, created, err := s.CreateJob(ctx(), j, ttl)
			must(t, what, err)
			return got, created
		}
		clk.Advance(30 * time.Minute)
		got, created := try("retry within TTL", nil)
		if created || got.ID != first.ID || got.RequestHash != "h1" {
			t.Fatalf("retry within TTL: created=%v ID %s hash %q; want the first job %s with hash h1", created, got.ID, got.RequestHash, first.ID)
		}
		if n, _ := s.CountJobs(ctx(), meta.JobFilter{}); n != 1 {
			t.Fatalf("jobs after deduplicated retry = %d, want 1", n)
		}
		if _, created := try("other kind", func(j *backup.Job) {
			*j = restoreJob(ids, efsARN(1), "v", "arn:rp", t0, clk.Now())
			j.IdempotencyToken = "token-1"
		}); !created {
			t.Fatalf("same token, other kind: not created")
		}
		if _, created := try("other account", func(j *backup.Job) { j.AccountID = account2 }); !created {
			t.Fatalf("same token, other account: not created")
		}
		if _, created := try("no token", func(j *backup.Job) { j.IdempotencyToken = "" }); !created {
			t.Fatalf("no token: not created")
		}
		clk.Advance(31 * time.Minute) // 61 minutes after the first
		got, created = try("retry after TTL", nil)
		if !created || got.ID == first.ID {
			t.Fatalf("retry after TTL: created=%v ID %s; want a new job", created, got.ID)
		}
		// The newest job with the token now answers.
		clk.Advance(time.Minute)
		again, created := try("retry of the new job", nil)
		if created || again.ID != got.ID {
			t.Fatalf("retry of the new job: created=%v ID %s, want %s", created, again.ID, got.ID)
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		ids := newIDs(7)
		j := backupJob(ids, efsARN(1), "v", t0)
		_, _, err := s.CreateJob(ctx(), j, 0)
		must(t, "CreateJob", err)
		now := t0.Add(time.Minute)
		got, err := s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error {
			j.StatusMessage = "started"
			return j.SetState(backup.JobRunning, now)
		})
		must(t, "UpdateJob to RUNNING", err)
		if got.State != backup.JobRunning || !got.InitiationDate.Equal(now) || got.StatusMessage != "started" {
			t.Fatalf("after UpdateJob: %+v", got)
		}
		stored, _ := s.GetJob(ctx(), j.ID)
		equal(t, "job after update", stored, got)

		_, err = s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error { j.State = backup.JobCreated; return nil })
		mustKind(t, "UpdateJob RUNNING -> CREATED", err, backup.KindInvalidRequest)
		_, err = s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error { j.State = backup.JobCompleted; return errStop })
		if !errors.Is(err, errStop) {
			t.Fatalf("UpdateJob failing fn = %v, want its error", err)
		}
		_, err = s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error { j.ID = "OTHER"; return nil })
		mustKind(t, "UpdateJob changing ID", err, backup.KindInvalidRequest)
		_, err = s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error { j.Kind = backup.CopyJob; return nil })
		mustKind(t, "UpdateJob changing kind", err, backup.KindInvalidRequest)
		stored2, _ := s.GetJob(ctx(), j.ID)
		equal(t, "job after refused updates", stored2, stored)

		got, err = s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error {
			j.MessageCategory = backup.MessageSuccess
			j.BackupSizeInBytes = 42
			return j.SetState(backup.JobCompleted, now.Add(time.Minute))
		})
		must(t, "UpdateJob to COMPLETED", err)
		if !got.CompletionDate.Equal(now.Add(time.Minute)) {
			t.Fatalf("CompletionDate = %v, want %v", got.CompletionDate, now.Add(time.Minute))
		}
		_, err = s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error { j.State = backup.JobRunning; return nil })
		mustKind(t, "UpdateJob COMPLETED -> RUNNING", err, backup.KindInvalidRequest)
		_, err = s.UpdateJob(ctx(), "NOPE", func(*backup.Job) error { return nil })
		mustKind(t, "UpdateJob missing", err, backup.KindNotFound)
	})

	t.Run("ListFilters", func(t *testing.T) { testJobFilters(t, open) })

	t.Run("Counts", func(t *testing.T) {
		s := open(t)
		ids := newIDs(9)
		day := 24 * time.Hour
		mk := func(at time.Time, res string, final backup.JobState, cat string) {
			j := backupJob(ids, res, "v", at)
			_, _, err := s.CreateJob(ctx(), j, 0)
			must(t, "CreateJob", err)
			if final != backup.JobCreated {
				_, err = s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error {
					j.MessageCategory = cat
					if err := j.SetState(backup.JobRunning, at); err != nil {
						return err
					}
					return j.SetState(final, at.Add(time.Minute))
				})
				must(t, "UpdateJob", err)
			}
		}
		mk(t0, efsARN(1), backup.JobCompleted, backup.MessageSuccess)
		mk(t0.Add(time.Hour), efsARN(2), backup.JobCompleted, backup.MessageSuccess)
		mk(t0.Add(2*time.Hour), efsARN(3), backup.JobFailed, "ACCESS_DENIED")
		mk(t0.Add(day), efsARN(4), backup.JobCompleted, backup.MessageSuccess)
		mk(t0.Add(5*day), efsARN(5), backup.JobCreated, "")
		r := restoreJob(ids, efsARN(1), "v", "arn:rp", t0, t0)
		_, _, err := s.CreateJob(ctx(), r, 0)
		must(t, "CreateJob restore", err)

		rows, err := s.JobCounts(ctx(), backup.BackupJob, t0.Truncate(day), t0.Add(2*day))
		must(t, "JobCounts", err)
		sort.Slice(rows, func(i, j int) bool {
			a, b := rows[i], rows[j]
			if !a.Day.Equal(b.Day) {
				return a.Day.Before(b.Day)
			}
			return a.State < b.State
		})
		d0 := t0.Truncate(day)
		want := []meta.JobCount{
			{Day: d0, Region: region, AccountID: account, State: backup.JobCompleted, ResourceType: backup.EFS, MessageCategory: backup.MessageSuccess, Count: 2},
			{Day: d0, Region: region, AccountID: account, State: backup.JobFailed, ResourceType: backup.EFS, MessageCategory: "ACCESS_DENIED", Count: 1},
			{Day: d0.Add(day), Region: region, AccountID: account, State: backup.JobCompleted, ResourceType: backup.EFS, MessageCategory: backup.MessageSuccess, Count: 1},
		}
		equal(t, "JobCounts", rows, want)
		n, err := s.CountJobs(ctx(), meta.JobFilter{Kinds: []backup.JobKind{backup.BackupJob}, States: []backup.JobState{backup.JobCompleted}})
		must(t, "CountJobs", err)
		if n != 3 {
			t.Fatalf("CountJobs(completed backups) = %d, want 3", n)
		}
	})
}

// testJobFilters creates a varied set of jobs and checks every JobFilter
// field against a predicate, with several page sizes.
func testJobFilters(t *testing.T, open Opener) {
	s := open(t)
	ids := newIDs(8)
	dstA, dstB := backup.VaultARN(region2, account, "dst"), backup.VaultARN(region, account, "near")
	rpA, rpB := ids.RecoveryPointARN(backup.EFS, region, account), ids.RecoveryPointARN(backup.EFS, region, account)
	var all []backup.Job
	add := func(j backup.Job, final backup.JobState, cat string, doneAt time.Time) {
		_, _, err := s.CreateJob(ctx(), j, 0)
		must(t, "CreateJob", err)
		if final != j.State {
			j, err = s.UpdateJob(ctx(), j.ID, func(j *backup.Job) error {
				j.MessageCategory = cat
				if err := j.SetState(backup.JobRunning, j.CreationDate); err != nil {
					return err
				}
				if final == backup.JobRunning {
					return nil
				}
				return j.SetState(final, doneAt)
			})
			must(t, "UpdateJob", err)
		}
		all = append(all, j)
	}
	for i := 0; i < 12; i++ {
		at := t0.Add(time.Duration(i) * time.Hour)
		res := efsARN(i % 3)
		switch i % 4 {
		case 0:
			j := backupJob(ids, res, fmt.Sprint("vault", i%2), at)
			if i == 4 {
				j.ParentJobID = "PARENT-1"
				j.AccountID = account2
			}
			add(j, backup.JobCompleted, backup.MessageSuccess, at.Add(30*time.Minute))
		case 1:
			j := copyJob(ids, res, "vault0", dstA, rpA, at)
			if i == 5 {
				j.Copy.DestinationBackupVaultArn, j.Copy.DestinationRegion, j.Copy.SourceRecoveryPointArn = dstB, region, rpB
			}
			add(j, backup.JobFailed, "ACCESS_DENIED", at.Add(10*time.Minute))
		case 2:
			j := restoreJob(ids, res, "vault0", rpA, t0.Add(-time.Duration(i)*time.Hour), at)
			if i == 6 {
				j.CreatedBy.RestoreTestingPlanArn = "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:p"
				j.Region = region2
			}
			add(j, backup.JobRunning, "", time.Time{})
		case 3:
			j := backupJob(ids, res, "vault1", at)
			j.ResourceType = backup.EBS
			add(j, backup.JobCreated, "", time.Time{})
		}
	}
	// Two jobs with the same creation time: tie broken by ID.
	tie := backupJob(ids, efsARN(7), "vault0", t0.Add(3*time.Hour))
	add(tie, backup.JobCreated, "", time.Time{})

	mid := t0.Add(5*time.Hour + 30*time.Minute)
	tests := []struct {
		name string
		f    meta.JobFilter
		keep func(j backup.Job) bool
	}{
		{"all", meta.JobFilter{}, func(backup.Job) bool { return true }},
		{"backup kind", meta.JobFilter{Kinds: []backup.JobKind{backup.BackupJob}}, func(j backup.Job) bool { return j.Kind == backup.BackupJob }},
		{"copy and restore", meta.JobFilter{Kinds: []backup.JobKind{backup.CopyJob, backup.RestoreJob}}, func(j backup.Job) bool { return j.Kind != backup.BackupJob }},
		{"account", meta.JobFilter{AccountID: account2}, func(j backup.Job) bool { return j.AccountID == account2 }},
		{"region", meta.JobFilter{Region: region2}, func(j backup.Job) bool { return j.Region == region2 }},
		{"state", meta.JobFilter{States: []backup.JobState{backup.JobFailed, backup.JobCreated}}, func(j backup.Job) bool {
			return j.State == backup.JobFailed || j.State == backup.JobCreated
		}},
		{"resource", meta.JobFilter{ResourceArn: efsARN(1)}, func(j backup.Job) bool { return j.ResourceArn == efsARN(1) }},
		{"resource type", meta.JobFilter{ResourceType: backup.EBS}, func(j backup.Job) bool { return j.ResourceType == backup.EBS }},
		{"vault name", meta.JobFilter{Kinds: []backup.JobKind{backup.BackupJob}, VaultName: "vault0"}, func(j backup.Job) bool {
			return j.Kind == backup.BackupJob && j.Backup.BackupVaultName == "vault0"
		}},
		{"destination vault", meta.JobFilter{DestinationVaultArn: dstB}, func(j backup.Job) bool {
			return j.Copy != nil && j.Copy.DestinationBackupVaultArn == dstB
		}},
		{"destination region", meta.JobFilter{DestinationRegion: region2}, func(j backup.Job) bool { return j.Copy != nil && j.Copy.DestinationRegion == region2 }},
		{"source recovery point", meta.JobFilter{Kinds: []backup.JobKind{backup.CopyJob}, RecoveryPointArn: rpA}, func(j backup.Job) bool {
			return j.Copy != nil && j.Copy.SourceRecoveryPointArn == rpA
		}},
		{"restored point", meta.JobFilter{Kinds: []backup.JobKind{backup.RestoreJob}, RecoveryPointArn: rpA}, func(j backup.Job) bool { return j.Restore != nil }},
		{"parent", meta.JobFilter{ParentJobID: "PARENT-1"}, func(j backup.Job) bool { return j.ParentJobID == "PARENT-1" }},
		{"message category", meta.JobFilter{MessageCategory: "ACCESS_DENIED"}, func(j backup.Job) bool { return j.MessageCategory == "ACCESS_DENIED" }},
		{"restore testing plan", meta.JobFilter{RestoreTestingPlanArn: "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:p"}, func(j backup.Job) bool {
			return j.CreatedBy.RestoreTestingPlanArn != ""
		}},
		{"created after", meta.JobFilter{CreatedAfter: mid}, func(j backup.Job) bool { return j.CreationDate.After(mid) }},
		{"created before", meta.JobFilter{CreatedBefore: mid}, func(j backup.Job) bool { return j.CreationDate.Before(mid) }},
		{"created at exactly", meta.JobFilter{CreatedAfter: t0.Add(3 * time.Hour), CreatedBefore: t0.Add(4 * time.Hour)}, func(backup.Job) bool { return false }},
		{"completed after", meta.JobFilter{CompletedAfter: mid}, func(j backup.Job) bool { return !j.CompletionDate.IsZero() && j.CompletionDate.After(mid) }},
		{"completed before", meta.JobFilter{CompletedBefore: mid}, func(j backup.Job) bool { return !j.CompletionDate.IsZero() && j.CompletionDate.Before(mid) }},
		{"recovery point created", meta.JobFilter{Kinds: []backup.JobKind{backup.RestoreJob}, ResourceArn: efsARN(2), RecoveryPointCreatedAfter: t0.Add(-7 * time.Hour), RecoveryPointCreatedBefore: t0},
			func(j backup.Job) bool {
				return j.Restore != nil && j.ResourceArn == efsARN(2) && j.Restore.RecoveryPointCreationDate.After(t0.Add(-7*time.Hour)) && j.Restore.RecoveryPointCreationDate.Before(t0)
			}},
	}
	for _, tt := range tests {
		var want []backup.Job
		for _, j := range all {
			if tt.keep(j) {
				want = append(want, j)
			}
		}
		sort.Slice(want, func(a, b int) bool {
			if !want[a].CreationDate.Equal(want[b].CreationDate) {
				return want[a].CreationDate.After(want[b].CreationDate)
			}
			return want[a].ID > want[b].ID
		})
		for _, size := range []int{0, 1, 3} {
			got := listJobs(t, s, tt.f, size)
			equal(t, fmt.Sprintf("ListJobs %s (page size %d)", tt.name, size), got, want)
		}
		n, err := s.CountJobs(ctx(), tt.f)
		must(t, "CountJobs", err)
		if n != int64(len(want)) {
			t.Fatalf("CountJobs %s = %d, want %d", tt.name, n, len(want))
		}
	}
}

func listJobs(t *testing.T, s meta.Store, f meta.JobFilter, size int) []backup.Job {
	t.Helper()
	var out []backup.Job
	p := meta.Page{MaxResults: size}
	for i := 0; ; i++ {
		js, next, err := s.ListJobs(ctx(), f, p)
		must(t, "ListJobs", err)
		if size > 0 && len(js) > size {
			t.Fatalf("ListJobs returned %d items for MaxResults %d", len(js), size)
		}
		out = append(out, js...)
		if next == "" {
			return out
		}
		if len(js) == 0 || i > 10000 {
			t.Fatalf("ListJobs returned an empty page with a NextToken, or does not end")
		}
		p.NextToken = next
	}
}

// concurrentIdempotentCreate creates the same tokened job from many
// goroutines: exactly one creates, all see the same job.
func concurrentIdempotentCreate(t *testing.T, s meta.Store) {
	const n = 8
	ids := newIDs(10)
	jobs := make([]backup.Job, n)
	for i := range jobs {
		jobs[i] = backupJob(ids, efsARN(1), "v", t0)
		jobs[i].IdempotencyToken = "same"
	}
	var wg sync.WaitGroup
	got := make([]backup.Job, n)
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], created[i], errs[i] = s.CreateJob(ctx(), jobs[i], time.Hour)
		}()
	}
	wg.Wait()
	nCreated := 0
	for i := range jobs {
		must(t, "concurrent CreateJob", errs[i])
		if created[i] {
			nCreated++
		}
		if got[i].ID != got[0].ID {
			t.Fatalf("concurrent CreateJob with one token returned jobs %s and %s", got[0].ID, got[i].ID)
		}
	}
	if nCreated != 1 {
		t.Fatalf("concurrent CreateJob with one token: %d created, want 1", nCreated)
	}
}
