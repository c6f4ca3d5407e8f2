package metatest

import (
	"testing"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// testRestart fills a store with one of everything, reopens it and checks
// that everything — including leases, progress and counters — is still
// there and still behaves.
func testRestart(t *testing.T, open Opener, reopen Reopener) {
	s := open(t)
	ids := newIDs(19)
	v, err := s.CreateVault(ctx(), fullVault("keep", t0), map[string]string{"a": "b"})
	must(t, "CreateVault", err)
	rp := point(ids, "keep", efsARN(1), t0, backup.RecoveryPointCompleted)
	must(t, "CreateRecoveryPoint", s.CreateRecoveryPoint(ctx(), rp, map[string]string{"c": "d"}))

	bj := backupJob(ids, efsARN(1), "keep", t0)
	bj.IdempotencyToken = "tok"
	cj := copyJob(ids, efsARN(2), "keep", backup.VaultARN(region2, account, "d"), rp.ARN, t0.Add(time.Second))
	rj := restoreJob(ids, efsARN(1), "keep", rp.ARN, t0, t0.Add(2*time.Second))
	for _, j := range []backup.Job{bj, cj, rj} {
		_, _, err := s.CreateJob(ctx(), j, time.Hour)
		must(t, "CreateJob", err)
	}
	claimed, ok, err := s.ClaimJob(ctx(), "w1", []backup.JobKind{backup.BackupJob}, t0, time.Hour)
	must(t, "ClaimJob", err)
	if !ok || claimed.ID != bj.ID {
		t.Fatalf("ClaimJob = %s, %v; want %s", claimed.ID, ok, bj.ID)
	}
	_, err = s.UpdateJob(ctx(), bj.ID, func(j *backup.Job) error { return j.SetState(backup.JobRunning, t0) })
	must(t, "UpdateJob", err)
	must(t, "UpdateProgress", s.UpdateProgress(ctx(), bj.ID, "w1", backup.JobProgress{BytesDone: 5, Percent: 50, UpdatedAt: t0}))
	_, err = s.UpdateJob(ctx(), rj.ID, func(j *backup.Job) error {
		if err := j.SetState(backup.JobRunning, t0); err != nil {
			return err
		}
		j.Restore.CreatedResourceArn = efsARN(9)
		return j.SetState(backup.JobCompleted, t0.Add(time.Minute))
	})
	must(t, "UpdateJob restore", err)
	_, err = s.UpsertProtectedResource(ctx(), efsARN(1), func(pr *backup.ProtectedResource, _ bool) error {
		pr.ResourceType, pr.Region, pr.AccountID, pr.LastBackupTime, pr.LastRecoveryPointArn = backup.EFS, region, account, t0, rp.ARN
		return nil
	})
	must(t, "UpsertProtectedResource", err)
	res := backup.Resource{ARN: efsARN(9), Type: backup.EFS, Region: region, AccountID: account, ID: "fs-00000009", Target: "/r", CreationToken: "ct"}
	must(t, "CreateResource", s.CreateResource(ctx(), res))
	_, err = s.UpdateRegionSettings(ctx(), account, region, func(rs *backup.RegionSettings) error {
		rs.ResourceTypeOptInPreference[backup.EFS] = true
		return nil
	})
	must(t, "UpdateRegionSettings", err)
	_, err = s.UpdateGlobalSettings(ctx(), account, func(g *backup.GlobalSettings) error {
		g.Settings["isCrossAccountBackupEnabled"] = "true"
		return nil
	})
	must(t, "UpdateGlobalSettings", err)

	// Snapshot everything through the API.
	type snapshot struct {
		vault     backup.Vault
		vaultTags map[string]string
		point     backup.RecoveryPoint
		pointTags map[string]string
		jobs      []backup.Job
		protected backup.ProtectedResource
		resource  backup.Resource
		region    backup.RegionSettings
		global    backup.GlobalSettings
	}
	take := func(s meta.Store) snapshot {
		var sn snapshot
		var err error
		sn.vault, err = s.GetVault(ctx(), v.Key())
		must(t, "GetVault", err)
		sn.vaultTags, _ = s.ListTags(ctx(), v.ARN)
		sn.point, err = s.GetRecoveryPoint(ctx(), rp.ARN)
		must(t, "GetRecoveryPoint", err)
		sn.pointTags, _ = s.ListTags(ctx(), rp.ARN)
		sn.jobs, _, err = s.ListJobs(ctx(), meta.JobFilter{}, meta.Page{})
		must(t, "ListJobs", err)
		sn.protected, err = s.GetProtectedResource(ctx(), efsARN(1))
		must(t, "GetProtectedResource", err)
		sn.resource, err = s.GetResource(ctx(), res.ARN)
		must(t, "GetResource", err)
		sn.region, err = s.GetRegionSettings(ctx(), account, region)
		must(t, "GetRegionSettings", err)
		sn.global, err = s.GetGlobalSettings(ctx(), account)
		must(t, "GetGlobalSettings", err)
		return sn
	}
	before := take(s)
	if before.vault.NumberOfRecoveryPoints != 1 || len(before.jobs) != 3 {
		t.Fatalf("before restart: %d points, %d jobs", before.vault.NumberOfRecoveryPoints, len(before.jobs))
	}
	s = reopen(t, s)
	after := take(s)
	equal(t, "state after restart", after, before)
	s = reopen(t, s)
	equal(t, "state after a second restart", take(s), before)

	// Behaviour survives too: the lease still holds, the token still
	// deduplicates, the vault is still not deletable.
	if _, ok, _ := s.ClaimJob(ctx(), "w2", nil, t0.Add(time.Minute), time.Hour); ok {
		// The copy job (another resource) may be claimed; nothing else.
		j, _ := s.GetJob(ctx(), cj.ID)
		if j.LeaseOwner != "w2" {
			t.Fatalf("after restart ClaimJob took something other than the copy job")
		}
	}
	if err := s.RenewLease(ctx(), bj.ID, "w1", t0.Add(time.Minute), time.Hour); err != nil {
		t.Fatalf("RenewLease by the lease holder after restart: %v", err)
	}
	dup := backupJob(ids, efsARN(1), "keep", t0.Add(time.Minute))
	dup.IdempotencyToken = "tok"
	got, created, err := s.CreateJob(ctx(), dup, time.Hour)
	must(t, "CreateJob", err)
	if created || got.ID != bj.ID {
		t.Fatalf("idempotent CreateJob after restart: created=%v ID %s, want %s", created, got.ID, bj.ID)
	}
	mustKind(t, "DeleteVault after restart", s.DeleteVault(ctx(), v.Key()), backup.KindInvalidRequest)
	_, err = s.CreateVault(ctx(), plainVault("keep"), nil)
	mustKind(t, "CreateVault duplicate after restart", err, backup.KindAlreadyExists)
}
