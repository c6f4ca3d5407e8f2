package metatest

import (
	"fmt"
	"testing"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func testPagination(t *testing.T, open Opener) {
	t.Run("PageSizes", func(t *testing.T) {
		s := open(t)
		var names []string
		for i := 0; i < 23; i++ {
			n := fmt.Sprintf("v%02d", i)
			names = append(names, n)
			_, err := s.CreateVault(ctx(), plainVault(n), nil)
			must(t, "CreateVault", err)
		}
		f := meta.VaultFilter{Region: region, AccountID: account}
		for _, size := range []int{1, 5, 22, 23, 24, 1000, 0} {
			var got []string
			p := meta.Page{MaxResults: size}
			pages := 0
			for {
				vs, next, err := s.ListVaults(ctx(), f, p)
				must(t, "ListVaults", err)
				pages++
				if size > 0 && len(vs) > size {
					t.Fatalf("page of %d for MaxResults %d", len(vs), size)
				}
				for _, v := range vs {
					got = append(got, v.Name)
				}
				if next == "" {
					break
				}
				p.NextToken = next
			}
			equal(t, fmt.Sprintf("names with page size %d", size), got, names)
			eff := size
			if eff == 0 {
				eff = meta.DefaultMaxResults
			}
			if want := (23 + eff - 1) / eff; pages != want {
				t.Fatalf("page size %d: %d pages, want %d (no empty last page)", size, pages, want)
			}
		}
	})

	t.Run("StableWhileChanging", func(t *testing.T) {
		s := open(t)
		for i := 0; i < 20; i++ {
			_, err := s.CreateVault(ctx(), plainVault(fmt.Sprintf("v%02d", i)), nil)
			must(t, "CreateVault", err)
		}
		f := meta.VaultFilter{Region: region, AccountID: account}
		vs, next, err := s.ListVaults(ctx(), f, meta.Page{MaxResults: 4})
		must(t, "ListVaults", err)
		seen := map[string]int{}
		for _, v := range vs {
			seen[v.Name]++
		}
		// Changes while paging: one before the cursor, one after, one
		// not-yet-seen vault deleted.
		for _, n := range []string{"a-before", "v035-after"} {
			_, err := s.CreateVault(ctx(), plainVault(n), nil)
			must(t, "CreateVault during paging", err)
		}
		must(t, "DeleteVault during paging", s.DeleteVault(ctx(), vkey("v10")))
		last := ""
		for next != "" {
			vs, next, err = s.ListVaults(ctx(), f, meta.Page{MaxResults: 4, NextToken: next})
			must(t, "ListVaults", err)
			for _, v := range vs {
				seen[v.Name]++
				if v.Name <= last {
					t.Fatalf("ListVaults went backwards: %s after %s", v.Name, last)
				}
				last = v.Name
			}
		}
		for i := 0; i < 20; i++ {
			n := fmt.Sprintf("v%02d", i)
			want := 1
			if n == "v10" {
				want = 0
			}
			if seen[n] != want {
				t.Fatalf("vault %s seen %d times, want %d", n, seen[n], want)
			}
		}
		if seen["v035-after"] != 1 || seen["a-before"] != 0 {
			t.Fatalf("vaults created during paging: after-cursor seen %d (want 1), before-cursor seen %d (want 0)", seen["v035-after"], seen["a-before"])
		}
	})

	t.Run("BadPages", func(t *testing.T) {
		s := open(t)
		f := meta.VaultFilter{Region: region, AccountID: account}
		for _, p := range []meta.Page{{MaxResults: -1}, {MaxResults: meta.MaxResultsLimit + 1}, {NextToken: "garbage!"}, {NextToken: "e30"}} {
			_, _, err := s.ListVaults(ctx(), f, p)
			mustKind(t, fmt.Sprintf("ListVaults with %+v", p), err, backup.KindInvalidParameter)
		}
		// A token of one list is refused by another.
		ids := newIDs(17)
		for i := 0; i < 3; i++ {
			_, _, err := s.CreateJob(ctx(), backupJob(ids, efsARN(i), "v", t0), 0)
			must(t, "CreateJob", err)
		}
		_, next, err := s.ListJobs(ctx(), meta.JobFilter{}, meta.Page{MaxResults: 1})
		must(t, "ListJobs", err)
		if next == "" {
			t.Fatalf("ListJobs: no NextToken with more jobs left")
		}
		_, _, err = s.ListVaults(ctx(), f, meta.Page{NextToken: next})
		mustKind(t, "ListVaults with a ListJobs token", err, backup.KindInvalidParameter)
		_, _, err = s.ListRecoveryPoints(ctx(), meta.RecoveryPointFilter{}, meta.Page{NextToken: next})
		mustKind(t, "ListRecoveryPoints with a ListJobs token", err, backup.KindInvalidParameter)
	})
}
