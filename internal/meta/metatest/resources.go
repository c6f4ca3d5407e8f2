package metatest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func testProtectedResources(t *testing.T, open Opener) {
	s := open(t)
	ids := newIDs(16)
	r1 := efsARN(1)
	_, err := s.GetProtectedResource(ctx(), r1)
	mustKind(t, "GetProtectedResource missing", err, backup.KindNotFound)

	first := backup.ProtectedResource{ResourceArn: r1, ResourceType: backup.EFS, ResourceName: "data", Region: region, AccountID: account,
		LastBackupTime: t0, LastBackupVaultArn: vkey("a").ARN(), LastRecoveryPointArn: "arn:rp1"}
	got, err := s.UpsertProtectedResource(ctx(), r1, func(pr *backup.ProtectedResource, exists bool) error {
		if exists || pr.ResourceArn != r1 {
			return fmt.Errorf("first upsert saw exists=%v arn=%q", exists, pr.ResourceArn)
		}
		*pr = first
		return nil
	})
	must(t, "UpsertProtectedResource create", err)
	equal(t, "created protected resource", got, first)
	second := first
	second.LastBackupTime, second.LastRecoveryPointArn = t0.Add(time.Hour), "arn:rp2"
	got, err = s.UpsertProtectedResource(ctx(), r1, func(pr *backup.ProtectedResource, exists bool) error {
		if !exists {
			return errors.New("second upsert saw exists=false")
		}
		equal(t, "upsert sees the stored resource", *pr, first)
		pr.LastBackupTime, pr.LastRecoveryPointArn = second.LastBackupTime, second.LastRecoveryPointArn
		return nil
	})
	must(t, "UpsertProtectedResource update", err)
	equal(t, "updated protected resource", got, second)
	_, err = s.UpsertProtectedResource(ctx(), r1, func(pr *backup.ProtectedResource, _ bool) error { pr.ResourceName = "x"; return errStop })
	if !errors.Is(err, errStop) {
		t.Fatalf("Upsert failing fn = %v, want its error", err)
	}
	_, err = s.UpsertProtectedResource(ctx(), r1, func(pr *backup.ProtectedResource, _ bool) error { pr.ResourceArn = "other"; return nil })
	mustKind(t, "Upsert changing ARN", err, backup.KindInvalidRequest)
	got, err = s.GetProtectedResource(ctx(), r1)
	must(t, "GetProtectedResource", err)
	equal(t, "stored protected resource", got, second)

	// Listing: by region/account, and by vault (resources with points there).
	var arns []string
	for i := 2; i <= 6; i++ {
		arn := efsARN(i)
		reg := region
		if i == 6 {
			reg = region2
		}
		_, err := s.UpsertProtectedResource(ctx(), arn, func(pr *backup.ProtectedResource, _ bool) error {
			pr.ResourceType, pr.Region, pr.AccountID = backup.EFS, reg, account
			return nil
		})
		must(t, "UpsertProtectedResource", err)
		arns = append(arns, arn)
	}
	_, err = s.CreateVault(ctx(), plainVault("a"), nil)
	must(t, "CreateVault", err)
	for _, arn := range []string{efsARN(3), efsARN(5), efsARN(5)} {
		must(t, "CreateRecoveryPoint", s.CreateRecoveryPoint(ctx(), point(ids, "a", arn, t0, backup.RecoveryPointCompleted), nil))
	}
	va := vkey("a")
	tests := []struct {
		name string
		f    meta.ProtectedResourceFilter
		want []string
	}{
		{"region", meta.ProtectedResourceFilter{Region: region, AccountID: account}, sortedStrings([]string{r1, efsARN(2), efsARN(3), efsARN(4), efsARN(5)})},
		{"all", meta.ProtectedResourceFilter{}, sortedStrings(append([]string{r1}, arns...))},
		{"vault", meta.ProtectedResourceFilter{Vault: &va}, sortedStrings([]string{efsARN(3), efsARN(5)})},
	}
	for _, tt := range tests {
		for _, size := range []int{0, 1, 2} {
			var got []string
			p := meta.Page{MaxResults: size}
			for {
				prs, next, err := s.ListProtectedResources(ctx(), tt.f, p)
				must(t, "ListProtectedResources", err)
				for _, pr := range prs {
					got = append(got, pr.ResourceArn)
				}
				if next == "" {
					break
				}
				p.NextToken = next
			}
			equal(t, fmt.Sprintf("ListProtectedResources %s (size %d)", tt.name, size), got, tt.want)
		}
	}
}

func testResources(t *testing.T, open Opener) {
	s := open(t)
	r := backup.Resource{ARN: efsARN(1), Type: backup.EFS, Region: region, AccountID: account, ID: "fs-00000001", Name: "restored",
		Target: "/srv/restores/fs-00000001", Origin: "restore", CreationToken: "tok-1", CreatedByJobID: "JOB", CreationDate: t0,
		Options: map[string]string{"Encrypted": "true"}}
	_, err := s.GetResource(ctx(), r.ARN)
	mustKind(t, "GetResource missing", err, backup.KindNotFound)
	must(t, "CreateResource", s.CreateResource(ctx(), r))
	got, err := s.GetResource(ctx(), r.ARN)
	must(t, "GetResource", err)
	equal(t, "GetResource", got, r)
	mustKind(t, "CreateResource same ARN", s.CreateResource(ctx(), r), backup.KindAlreadyExists)
	dup := r
	dup.ARN, dup.ID = efsARN(2), "fs-00000002"
	err = s.CreateResource(ctx(), dup)
	mustKind(t, "CreateResource same token", err, backup.KindAlreadyExists)
	var de *backup.Error
	if !errors.As(err, &de) || de.Arn != r.ARN {
		t.Fatalf("same-token error = %+v, want Arn %s of the first resource", de, r.ARN)
	}
	dup.CreationToken = ""
	must(t, "CreateResource without token", s.CreateResource(ctx(), dup))
	decl := backup.Resource{ARN: backup.ResourceARN(backup.EBS, region, account, "vol-00000001"), Type: backup.EBS, Region: region, AccountID: account, ID: "vol-00000001", Target: "/dev/x", Origin: "config"}
	must(t, "PutResource", s.PutResource(ctx(), decl))
	decl.Target = "/dev/y"
	must(t, "PutResource replace", s.PutResource(ctx(), decl))
	got, _ = s.GetResource(ctx(), decl.ARN)
	equal(t, "replaced resource", got, decl)
	mustKind(t, "CreateResource incomplete", s.CreateResource(ctx(), backup.Resource{ARN: "x"}), backup.KindMissingParameter)

	list := func(f meta.ResourceFilter) []string {
		var out []string
		p := meta.Page{MaxResults: 1}
		for {
			rs, next, err := s.ListResources(ctx(), f, p)
			must(t, "ListResources", err)
			for _, r := range rs {
				out = append(out, r.ARN)
			}
			if next == "" {
				return out
			}
			p.NextToken = next
		}
	}
	equal(t, "ListResources all", list(meta.ResourceFilter{}), sortedStrings([]string{r.ARN, dup.ARN, decl.ARN}))
	equal(t, "ListResources by token", list(meta.ResourceFilter{Region: region, AccountID: account, CreationToken: "tok-1"}), []string{r.ARN})
	equal(t, "ListResources by type", list(meta.ResourceFilter{Type: backup.EBS}), []string{decl.ARN})
	equal(t, "ListResources by origin", list(meta.ResourceFilter{Origin: "restore"}), sortedStrings([]string{r.ARN, dup.ARN}))
	must(t, "DeleteResource", s.DeleteResource(ctx(), r.ARN))
	mustKind(t, "DeleteResource twice", s.DeleteResource(ctx(), r.ARN), backup.KindNotFound)
	// The token is free again.
	dup2 := r
	must(t, "CreateResource after delete", s.CreateResource(ctx(), dup2))
}

func testSettings(t *testing.T, open Opener) {
	s := open(t)
	_, err := s.GetRegionSettings(ctx(), account, region)
	mustKind(t, "GetRegionSettings never set", err, backup.KindNotFound)
	got, err := s.UpdateRegionSettings(ctx(), account, region, func(rs *backup.RegionSettings) error {
		if rs.ResourceTypeOptInPreference == nil || rs.ResourceTypeManagementPreference == nil || rs.Region != region || rs.AccountID != account {
			return fmt.Errorf("first update got %+v; want empty maps and the key", rs)
		}
		rs.ResourceTypeOptInPreference[backup.EFS] = true
		rs.ResourceTypeOptInPreference[backup.DynamoDB] = false
		return nil
	})
	must(t, "UpdateRegionSettings", err)
	equal(t, "UpdateRegionSettings's result", got.ResourceTypeOptInPreference, map[backup.ResourceType]bool{backup.EFS: true, backup.DynamoDB: false})
	_, err = s.UpdateRegionSettings(ctx(), account, region, func(rs *backup.RegionSettings) error {
		rs.ResourceTypeManagementPreference[backup.EFS] = true
		return nil
	})
	must(t, "UpdateRegionSettings merge", err)
	want := backup.RegionSettings{Region: region, AccountID: account,
		ResourceTypeOptInPreference:      map[backup.ResourceType]bool{backup.EFS: true, backup.DynamoDB: false},
		ResourceTypeManagementPreference: map[backup.ResourceType]bool{backup.EFS: true}}
	got, err = s.GetRegionSettings(ctx(), account, region)
	must(t, "GetRegionSettings", err)
	equal(t, "region settings", got, want)
	_, err = s.UpdateRegionSettings(ctx(), account, region, func(rs *backup.RegionSettings) error { rs.ResourceTypeOptInPreference = nil; return errStop })
	if !errors.Is(err, errStop) {
		t.Fatalf("UpdateRegionSettings failing fn = %v", err)
	}
	got, _ = s.GetRegionSettings(ctx(), account, region)
	equal(t, "region settings after failed update", got, want)
	_, err = s.GetRegionSettings(ctx(), account, region2)
	mustKind(t, "GetRegionSettings other region", err, backup.KindNotFound)

	_, err = s.GetGlobalSettings(ctx(), account)
	mustKind(t, "GetGlobalSettings never set", err, backup.KindNotFound)
	gs, err := s.UpdateGlobalSettings(ctx(), account, func(g *backup.GlobalSettings) error {
		if g.Settings == nil {
			return errors.New("nil settings map")
		}
		g.Settings["isCrossAccountBackupEnabled"] = "false"
		g.LastUpdateTime = t0
		return nil
	})
	must(t, "UpdateGlobalSettings", err)
	wantG := backup.GlobalSettings{AccountID: account, Settings: map[string]string{"isCrossAccountBackupEnabled": "false"}, LastUpdateTime: t0}
	equal(t, "UpdateGlobalSettings result", gs, wantG)
	gs, err = s.GetGlobalSettings(ctx(), account)
	must(t, "GetGlobalSettings", err)
	equal(t, "global settings", gs, wantG)
}
