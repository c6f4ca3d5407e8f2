package metatest

import (
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func testRecoveryPoints(t *testing.T, open Opener) {
	t.Run("CRUD", func(t *testing.T) {
		s := open(t)
		ids := newIDs(2)
		rp := point(ids, "v", efsARN(1), t0, backup.RecoveryPointCreating)
		err := s.CreateRecoveryPoint(ctx(), rp, nil)
		mustKind(t, "CreateRecoveryPoint into missing vault", err, backup.KindNotFound)
		_, err = s.CreateVault(ctx(), plainVault("v"), nil)
		must(t, "CreateVault", err)
		rp.VaultArn = "" // filled in by the store
		tags := map[string]string{"x": "y"}
		must(t, "CreateRecoveryPoint", s.CreateRecoveryPoint(ctx(), rp, tags))
		rp.VaultArn = vkey("v").ARN()
		got, err := s.GetRecoveryPoint(ctx(), rp.ARN)
		must(t, "GetRecoveryPoint", err)
		equal(t, "GetRecoveryPoint", got, rp)
		gotTags, _ := s.ListTags(ctx(), rp.ARN)
		equal(t, "point tags", gotTags, tags)
		err = s.CreateRecoveryPoint(ctx(), rp, nil)
		mustKind(t, "CreateRecoveryPoint duplicate", err, backup.KindAlreadyExists)
		n, err := s.CountRecoveryPoints(ctx(), vkey("v"))
		must(t, "CountRecoveryPoints", err)
		if n != 1 {
			t.Fatalf("CountRecoveryPoints = %d, want 1", n)
		}

		got, err = meta.GetRecoveryPointInVault(ctx(), s, vkey("v"), rp.ARN)
		must(t, "GetRecoveryPointInVault", err)
		equal(t, "GetRecoveryPointInVault", got, rp)
		_, err = meta.GetRecoveryPointInVault(ctx(), s, vkey("w"), rp.ARN)
		mustKind(t, "GetRecoveryPointInVault wrong vault", err, backup.KindNotFound)
		_, err = s.GetRecoveryPoint(ctx(), "arn:aws:backup:us-east-1:123456789012:recovery-point:nope")
		mustKind(t, "GetRecoveryPoint missing", err, backup.KindNotFound)

		bad := point(ids, "v", "", t0, backup.RecoveryPointCreating)
		mustKind(t, "CreateRecoveryPoint without resource", s.CreateRecoveryPoint(ctx(), bad, nil), backup.KindMissingParameter)

		// Update.
		done := t0.Add(time.Hour)
		got, err = s.UpdateRecoveryPoint(ctx(), rp.ARN, func(p *backup.RecoveryPoint) error {
			p.Status = backup.RecoveryPointCompleted
			p.CompletionDate = done
			p.Lifecycle = &backup.Lifecycle{DeleteAfterDays: backup.Days(5)}
			return nil
		})
		must(t, "UpdateRecoveryPoint", err)
		rp.Status, rp.CompletionDate, rp.Lifecycle = backup.RecoveryPointCompleted, done, &backup.Lifecycle{DeleteAfterDays: backup.Days(5)}
		equal(t, "UpdateRecoveryPoint result", got, rp)
		got, _ = s.GetRecoveryPoint(ctx(), rp.ARN)
		equal(t, "point after update", got, rp)
		_, err = s.UpdateRecoveryPoint(ctx(), rp.ARN, func(p *backup.RecoveryPoint) error { p.Status = backup.RecoveryPointDeleting; return errStop })
		if !errors.Is(err, errStop) {
			t.Fatalf("UpdateRecoveryPoint failing fn = %v, want its error", err)
		}
		_, err = s.UpdateRecoveryPoint(ctx(), rp.ARN, func(p *backup.RecoveryPoint) error { p.VaultName = "w"; return nil })
		mustKind(t, "UpdateRecoveryPoint moving vault", err, backup.KindInvalidRequest)
		_, err = s.UpdateRecoveryPoint(ctx(), "nope", func(*backup.RecoveryPoint) error { return nil })
		mustKind(t, "UpdateRecoveryPoint missing", err, backup.KindNotFound)
		got, _ = s.GetRecoveryPoint(ctx(), rp.ARN)
		equal(t, "point after refused updates", got, rp)

		// Delete.
		must(t, "DeleteRecoveryPoint", s.DeleteRecoveryPoint(ctx(), rp.ARN))
		_, err = s.GetRecoveryPoint(ctx(), rp.ARN)
		mustKind(t, "GetRecoveryPoint after delete", err, backup.KindNotFound)
		mustKind(t, "DeleteRecoveryPoint twice", s.DeleteRecoveryPoint(ctx(), rp.ARN), backup.KindNotFound)
		n, _ = s.CountRecoveryPoints(ctx(), vkey("v"))
		if n != 0 {
			t.Fatalf("CountRecoveryPoints after delete = %d, want 0", n)
		}
		gotTags, _ = s.ListTags(ctx(), rp.ARN)
		if len(gotTags) != 0 {
			t.Fatalf("tags after DeleteRecoveryPoint = %v, want none", gotTags)
		}
	})

	t.Run("ListAndLatest", func(t *testing.T) {
		s := open(t)
		ids := newIDs(3)
		for _, n := range []string{"a", "b"} {
			_, err := s.CreateVault(ctx(), plainVault(n), nil)
			must(t, "CreateVault", err)
		}
		r1, r2 := efsARN(1), efsARN(2)
		type pt struct {
			vault, res string
			at         time.Duration
			status     backup.RecoveryPointStatus
			plan       string
			parent     string
		}
		specs := []pt{
			{"a", r1, 0, backup.RecoveryPointCompleted, "p1", ""},
			{"a", r1, time.Hour, backup.RecoveryPointAvailable, "p2", ""},
			{"a", r1, 2 * time.Hour, backup.RecoveryPointCreating, "p1", ""},
			{"a", r2, time.Hour, backup.RecoveryPointCompleted, "p1", "parent-x"},
			{"b", r1, 3 * time.Hour, backup.RecoveryPointCompleted, "p1", ""},
			{"a", r2, time.Hour, backup.RecoveryPointExpired, "", "parent-x"}, // same time as another: tie-break by ARN
		}
		var pts []backup.RecoveryPoint
		for _, sp := range specs {
			p := point(ids, sp.vault, sp.res, t0.Add(sp.at), sp.status)
			p.CreatedBy.BackupPlanID = sp.plan
			p.ParentRecoveryPointArn = sp.parent
			must(t, "CreateRecoveryPoint", s.CreateRecoveryPoint(ctx(), p, nil))
			pts = append(pts, p)
		}
		// arns returns the ARNs of pts[idx...] newest first, ties by ARN
		// descending: the order every list must use.
		arns := func(idx ...int) []string {
			sel := make([]backup.RecoveryPoint, 0, len(idx))
			for _, i := range idx {
				sel = append(sel, pts[i])
			}
			sort.Slice(sel, func(i, j int) bool {
				if !sel[i].CreationDate.Equal(sel[j].CreationDate) {
					return sel[i].CreationDate.After(sel[j].CreationDate)
				}
				return sel[i].ARN > sel[j].ARN
			})
			out := make([]string, len(sel))
			for i, p := range sel {
				out[i] = p.ARN
			}
			if len(out) == 0 {
				return nil
			}
			return out
		}
		va, vb := vkey("a"), vkey("b")
		tests := []struct {
			name string
			f    meta.RecoveryPointFilter
			want []string
		}{
			{"vault a", meta.RecoveryPointFilter{Vault: &va}, arns(0, 1, 2, 3, 5)},
			{"vault b", meta.RecoveryPointFilter{Vault: &vb}, arns(4)},
			{"resource r1 across vaults", meta.RecoveryPointFilter{ResourceArn: r1}, arns(0, 1, 2, 4)},
			{"vault a resource r2", meta.RecoveryPointFilter{Vault: &va, ResourceArn: r2}, arns(3, 5)},
			{"plan p2", meta.RecoveryPointFilter{Vault: &va, BackupPlanID: "p2"}, arns(1)},
			{"created after", meta.RecoveryPointFilter{Vault: &va, CreatedAfter: t0.Add(time.Hour)}, arns(2)},
			{"created before", meta.RecoveryPointFilter{Vault: &va, CreatedBefore: t0.Add(time.Hour)}, arns(0)},
			{"parent", meta.RecoveryPointFilter{ParentRecoveryPointArn: "parent-x"}, arns(3, 5)},
			{"statuses", meta.RecoveryPointFilter{Vault: &va, Statuses: []backup.RecoveryPointStatus{backup.RecoveryPointCreating, backup.RecoveryPointExpired}}, arns(2, 5)},
			{"resource type", meta.RecoveryPointFilter{Vault: &vb, ResourceType: backup.EBS}, nil},
			{"all", meta.RecoveryPointFilter{}, arns(0, 1, 2, 3, 4, 5)},
		}
		for _, tt := range tests {
			for _, size := range []int{0, 1, 2} {
				got := listPointARNs(t, s, tt.f, size)
				equal(t, tt.name, got, tt.want)
			}
		}

		latest, err := s.LatestRecoveryPoint(ctx(), va, r1)
		must(t, "LatestRecoveryPoint", err)
		if latest.ARN != pts[1].ARN {
			t.Fatalf("LatestRecoveryPoint(a, r1) = %s, want the AVAILABLE point %s (the newer one is CREATING)", latest.ARN, pts[1].ARN)
		}
		latest, err = s.LatestRecoveryPoint(ctx(), vb, r1)
		must(t, "LatestRecoveryPoint b", err)
		if latest.ARN != pts[4].ARN {
			t.Fatalf("LatestRecoveryPoint(b, r1) = %s, want %s", latest.ARN, pts[4].ARN)
		}
		_, err = s.LatestRecoveryPoint(ctx(), vb, r2)
		mustKind(t, "LatestRecoveryPoint none", err, backup.KindNotFound)
	})

	t.Run("LifecycleQueries", func(t *testing.T) {
		s := open(t)
		ids := newIDs(4)
		_, err := s.CreateVault(ctx(), plainVault("v"), nil)
		must(t, "CreateVault", err)
		mk := func(l *backup.Lifecycle, class backup.StorageClass) backup.RecoveryPoint {
			p := point(ids, "v", efsARN(1), t0, backup.RecoveryPointCompleted)
			p.Lifecycle, p.StorageClass = l, class
			must(t, "CreateRecoveryPoint", s.CreateRecoveryPoint(ctx(), p, nil))
			return p
		}
		forever := mk(nil, backup.StorageWarm)
		short := mk(&backup.Lifecycle{DeleteAfterDays: backup.Days(1)}, backup.StorageWarm)
		long := mk(&backup.Lifecycle{MoveToColdStorageAfterDays: backup.Days(2), DeleteAfterDays: backup.Days(100)}, backup.StorageWarm)
		cold := mk(&backup.Lifecycle{MoveToColdStorageAfterDays: backup.Days(1), DeleteAfterDays: backup.Days(100)}, backup.StorageCold)
		_ = forever
		got := listPointARNs(t, s, meta.RecoveryPointFilter{ExpiresBefore: t0.Add(50 * 24 * time.Hour)}, 0)
		equal(t, "expires before day 50", got, []string{short.ARN})
		got = listPointARNs(t, s, meta.RecoveryPointFilter{ColdBefore: t0.Add(3 * 24 * time.Hour)}, 0)
		equal(t, "cold before day 3 (warm only)", got, []string{long.ARN})
		// Updating the lifecycle moves the point in these queries.
		_, err = s.UpdateRecoveryPoint(ctx(), cold.ARN, func(p *backup.RecoveryPoint) error {
			p.Lifecycle = &backup.Lifecycle{MoveToColdStorageAfterDays: backup.Days(1), DeleteAfterDays: backup.Days(91)}
			return nil
		})
		must(t, "UpdateRecoveryPoint", err)
		got = listPointARNs(t, s, meta.RecoveryPointFilter{ExpiresBefore: t0.Add(95 * 24 * time.Hour)}, 0)
		equal(t, "expires before day 95", sortedStrings(got), sortedStrings([]string{short.ARN, cold.ARN}))
	})
}

// listPointARNs pages through a recovery point list with the given page
// size (0: one default page) and returns the ARNs.
func listPointARNs(t *testing.T, s meta.Store, f meta.RecoveryPointFilter, size int) []string {
	t.Helper()
	var out []string
	p := meta.Page{MaxResults: size}
	for i := 0; ; i++ {
		pts, next, err := s.ListRecoveryPoints(ctx(), f, p)
		must(t, "ListRecoveryPoints", err)
		if size > 0 && len(pts) > size {
			t.Fatalf("ListRecoveryPoints returned %d items for MaxResults %d", len(pts), size)
		}
		for _, p := range pts {
			out = append(out, p.ARN)
		}
		if next == "" {
			return out
		}
		if len(pts) == 0 {
			t.Fatalf("ListRecoveryPoints returned an empty page with a NextToken")
		}
		if i > 10000 {
			t.Fatalf("ListRecoveryPoints does not end")
		}
		p.NextToken = next
	}
}
