package metatest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func testVaults(t *testing.T, open Opener) {
	t.Run("CreateGet", func(t *testing.T) {
		s := open(t)
		want := fullVault("v1", t0)
		tags := map[string]string{"team": "infra", "env": "prod"}
		got, err := s.CreateVault(ctx(), want, tags)
		must(t, "CreateVault", err)
		equal(t, "CreateVault result", got, want)
		got, err = s.GetVault(ctx(), want.Key())
		must(t, "GetVault", err)
		equal(t, "GetVault", got, want)
		gotTags, err := s.ListTags(ctx(), want.ARN)
		must(t, "ListTags", err)
		equal(t, "vault tags", gotTags, tags)

		// ARN is filled in when empty.
		p := plainVault("v2")
		got, err = s.CreateVault(ctx(), p, nil)
		must(t, "CreateVault without ARN", err)
		if got.ARN != vkey("v2").ARN() {
			t.Fatalf("CreateVault filled ARN %q, want %q", got.ARN, vkey("v2").ARN())
		}
	})

	t.Run("CreateErrors", func(t *testing.T) {
		s := open(t)
		first := fullVault("dup", t0)
		_, err := s.CreateVault(ctx(), first, nil)
		must(t, "CreateVault", err)
		second := fullVault("dup", t0.Add(1))
		second.CreatorRequestID = "other"
		_, err = s.CreateVault(ctx(), second, nil)
		mustKind(t, "CreateVault duplicate", err, backup.KindAlreadyExists)
		var de *backup.Error
		if !errors.As(err, &de) || de.Arn != first.ARN || de.CreatorRequestID != first.CreatorRequestID {
			t.Fatalf("AlreadyExists error = %+v; want Arn %q CreatorRequestID %q of the existing vault", de, first.ARN, first.CreatorRequestID)
		}
		got, err := s.GetVault(ctx(), first.Key())
		must(t, "GetVault", err)
		equal(t, "vault after failed duplicate", got, first)

		// Same name in another region or account is another vault.
		other := plainVault("dup")
		other.Region = region2
		_, err = s.CreateVault(ctx(), other, nil)
		must(t, "CreateVault in another region", err)
		other = plainVault("dup")
		other.AccountID = account2
		_, err = s.CreateVault(ctx(), other, nil)
		must(t, "CreateVault in another account", err)

		bad := plainVault("")
		_, err = s.CreateVault(ctx(), bad, nil)
		mustKind(t, "CreateVault without name", err, backup.KindMissingParameter)
		bad = plainVault("mismatch")
		bad.ARN = vkey("other").ARN()
		_, err = s.CreateVault(ctx(), bad, nil)
		mustKind(t, "CreateVault with mismatched ARN", err, backup.KindInvalidParameter)

		many := map[string]string{}
		for i := 0; i <= meta.MaxTagsPerResource; i++ {
			many[fmt.Sprint("k", i)] = "v"
		}
		_, err = s.CreateVault(ctx(), plainVault("tagged"), many)
		mustKind(t, "CreateVault with 51 tags", err, backup.KindLimitExceeded)
		_, err = s.GetVault(ctx(), vkey("tagged"))
		mustKind(t, "GetVault after refused create", err, backup.KindNotFound)
	})

	t.Run("GetMissing", func(t *testing.T) {
		s := open(t)
		_, err := s.GetVault(ctx(), vkey("nope"))
		mustKind(t, "GetVault missing", err, backup.KindNotFound)
		_, err = s.CountRecoveryPoints(ctx(), vkey("nope"))
		mustKind(t, "CountRecoveryPoints missing vault", err, backup.KindNotFound)
	})

	t.Run("Update", func(t *testing.T) {
		s := open(t)
		v, err := s.CreateVault(ctx(), plainVault("u"), nil)
		must(t, "CreateVault", err)
		lock := &backup.VaultLock{MinRetentionDays: backup.Days(1), AppliedAt: t0}
		got, err := s.UpdateVault(ctx(), v.Key(), func(v *backup.Vault) error {
			v.Lock = lock
			v.AccessPolicy = "{}"
			v.Notifications = &backup.VaultNotifications{SNSTopicArn: "arn:aws:sns:us-east-1:123456789012:t", Events: []string{"COPY_JOB_FAILED"}}
			v.Shared = true
			return nil
		})
		must(t, "UpdateVault", err)
		want := v
		want.Lock, want.AccessPolicy, want.Shared = lock, "{}", true
		want.Notifications = &backup.VaultNotifications{SNSTopicArn: "arn:aws:sns:us-east-1:123456789012:t", Events: []string{"COPY_JOB_FAILED"}}
		equal(t, "UpdateVault result", got, want)
		got, err = s.GetVault(ctx(), v.Key())
		must(t, "GetVault", err)
		equal(t, "vault after update", got, want)

		_, err = s.UpdateVault(ctx(), v.Key(), func(v *backup.Vault) error {
			v.AccessPolicy = "changed"
			return errStop
		})
		if !errors.Is(err, errStop) {
			t.Fatalf("UpdateVault with failing fn = %v, want the fn's error", err)
		}
		_, err = s.UpdateVault(ctx(), v.Key(), func(v *backup.Vault) error { v.Name = "renamed"; return nil })
		mustKind(t, "UpdateVault renaming", err, backup.KindInvalidRequest)
		got, _ = s.GetVault(ctx(), v.Key())
		equal(t, "vault after refused updates", got, want)

		_, err = s.UpdateVault(ctx(), vkey("nope"), func(*backup.Vault) error { return nil })
		mustKind(t, "UpdateVault missing", err, backup.KindNotFound)
	})

	t.Run("ListFilters", func(t *testing.T) {
		s := open(t)
		for i, vt := range []backup.VaultType{backup.VaultTypeBackup, backup.VaultTypeLogicallyAirGapped, backup.VaultTypeBackup} {
			v := plainVault(fmt.Sprint("v", i))
			v.VaultType = vt
			v.Shared = i == 2
			_, err := s.CreateVault(ctx(), v, nil)
			must(t, "CreateVault", err)
		}
		o := plainVault("elsewhere")
		o.Region = region2
		_, err := s.CreateVault(ctx(), o, nil)
		must(t, "CreateVault", err)
		yes, no := true, false
		tests := []struct {
			name string
			f    meta.VaultFilter
			want []string
		}{
			{"all", meta.VaultFilter{Region: region, AccountID: account}, []string{"v0", "v1", "v2"}},
			{"type", meta.VaultFilter{Region: region, AccountID: account, VaultType: backup.VaultTypeLogicallyAirGapped}, []string{"v1"}},
			{"shared", meta.VaultFilter{Region: region, AccountID: account, Shared: &yes}, []string{"v2"}},
			{"not shared", meta.VaultFilter{Region: region, AccountID: account, Shared: &no}, []string{"v0", "v1"}},
			{"other region", meta.VaultFilter{Region: region2, AccountID: account}, []string{"elsewhere"}},
			{"other account", meta.VaultFilter{Region: region, AccountID: account2}, nil},
		}
		for _, tt := range tests {
			vs, next, err := s.ListVaults(ctx(), tt.f, meta.Page{})
			must(t, "ListVaults "+tt.name, err)
			var names []string
			for _, v := range vs {
				names = append(names, v.Name)
			}
			equal(t, "ListVaults "+tt.name, names, tt.want)
			if next != "" {
				t.Fatalf("ListVaults %s: NextToken %q on the only page", tt.name, next)
			}
		}
		_, _, err = s.ListVaults(ctx(), meta.VaultFilter{}, meta.Page{})
		if err == nil {
			t.Fatalf("ListVaults without region and account: nil error")
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		ids := newIDs(1)
		err := s.DeleteVault(ctx(), vkey("nope"))
		mustKind(t, "DeleteVault missing", err, backup.KindNotFound)
		v, err := s.CreateVault(ctx(), plainVault("d"), map[string]string{"a": "b"})
		must(t, "CreateVault", err)
		rp := point(ids, "d", efsARN(1), t0, backup.RecoveryPointCompleted)
		must(t, "CreateRecoveryPoint", s.CreateRecoveryPoint(ctx(), rp, nil))
		got, err := s.GetVault(ctx(), v.Key())
		must(t, "GetVault", err)
		if got.NumberOfRecoveryPoints != 1 {
			t.Fatalf("NumberOfRecoveryPoints = %d, want 1", got.NumberOfRecoveryPoints)
		}
		err = s.DeleteVault(ctx(), v.Key())
		mustKind(t, "DeleteVault non-empty", err, backup.KindInvalidRequest)
		var de *backup.Error
		if !errors.As(err, &de) || de.Context != "1" || !strings.Contains(de.Message, "contains recovery points") {
			t.Fatalf("DeleteVault non-empty error = %+v; want Context \"1\" and a message saying it contains recovery points", de)
		}
		must(t, "DeleteRecoveryPoint", s.DeleteRecoveryPoint(ctx(), rp.ARN))
		must(t, "DeleteVault empty", s.DeleteVault(ctx(), v.Key()))
		_, err = s.GetVault(ctx(), v.Key())
		mustKind(t, "GetVault after delete", err, backup.KindNotFound)
		tags, err := s.ListTags(ctx(), v.ARN)
		must(t, "ListTags", err)
		if len(tags) != 0 {
			t.Fatalf("tags after DeleteVault = %v, want none", tags)
		}
		err = s.DeleteVault(ctx(), v.Key())
		mustKind(t, "DeleteVault twice", err, backup.KindNotFound)
		_, err = s.CreateVault(ctx(), plainVault("d"), nil)
		must(t, "CreateVault after delete", err)
	})
}

func testTags(t *testing.T, open Opener) {
	s := open(t)
	arn := vkey("t").ARN()
	got, err := s.ListTags(ctx(), arn)
	must(t, "ListTags unknown", err)
	if got == nil || len(got) != 0 {
		t.Fatalf("ListTags unknown ARN = %#v, want an empty non-nil map", got)
	}
	must(t, "TagResource", s.TagResource(ctx(), arn, map[string]string{"a": "1", "b": "2"}))
	must(t, "TagResource merge", s.TagResource(ctx(), arn, map[string]string{"b": "3", "c": "4"}))
	got, _ = s.ListTags(ctx(), arn)
	equal(t, "tags after merge", got, map[string]string{"a": "1", "b": "3", "c": "4"})
	must(t, "UntagResource", s.UntagResource(ctx(), arn, []string{"a", "missing"}))
	got, _ = s.ListTags(ctx(), arn)
	equal(t, "tags after untag", got, map[string]string{"b": "3", "c": "4"})

	// Limit: 50 per resource, checked after merging.
	fill := map[string]string{}
	for i := 0; i < 46; i++ {
		fill[fmt.Sprint("f", i)] = "x"
	}
	must(t, "TagResource to 48", s.TagResource(ctx(), arn, fill))
	err = s.TagResource(ctx(), arn, map[string]string{"n1": "", "n2": "", "n3": ""})
	mustKind(t, "TagResource to 51", err, backup.KindLimitExceeded)
	got, _ = s.ListTags(ctx(), arn)
	if len(got) != 48 {
		t.Fatalf("after refused TagResource: %d tags, want 48 (unchanged)", len(got))
	}
	must(t, "TagResource to 50", s.TagResource(ctx(), arn, map[string]string{"n1": "", "n2": ""}))
	must(t, "TagResource overwrite at 50", s.TagResource(ctx(), arn, map[string]string{"n1": "new", "b": "x"}))
	got, _ = s.ListTags(ctx(), arn)
	if len(got) != 50 || got["n1"] != "new" {
		t.Fatalf("after overwrite at the limit: %d tags, n1=%q; want 50 and \"new\"", len(got), got["n1"])
	}
	// Tags of different ARNs are independent.
	other, _ := s.ListTags(ctx(), vkey("u").ARN())
	if len(other) != 0 {
		t.Fatalf("tags leaked to another ARN: %v", other)
	}
}
