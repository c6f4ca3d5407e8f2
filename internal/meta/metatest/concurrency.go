package metatest

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func testConcurrency(t *testing.T, open Opener) {
	t.Run("CreateSameVault", func(t *testing.T) {
		s := open(t)
		const n = 16
		var wg sync.WaitGroup
		var ok, exists atomic.Int32
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				v := plainVault("contended")
				v.CreatorRequestID = fmt.Sprint("req-", i)
				_, err := s.CreateVault(ctx(), v, map[string]string{"creator": fmt.Sprint(i)})
				switch backup.KindOf(err) {
				case backup.KindInternal:
					if err != nil {
						errs <- err
						return
					}
					ok.Add(1)
				case backup.KindAlreadyExists:
					exists.Add(1)
				default:
					errs <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent CreateVault: %v", err)
		}
		if ok.Load() != 1 || exists.Load() != n-1 {
			t.Fatalf("concurrent CreateVault: %d succeeded, %d AlreadyExists; want 1 and %d", ok.Load(), exists.Load(), n-1)
		}
		v, err := s.GetVault(ctx(), vkey("contended"))
		must(t, "GetVault", err)
		tags, _ := s.ListTags(ctx(), v.ARN)
		if len(tags) != 1 || tags["creator"] != v.CreatorRequestID[len("req-"):] {
			t.Fatalf("winner's tags = %v, CreatorRequestID %q: the tags must be the winner's", tags, v.CreatorRequestID)
		}
	})

	t.Run("DeleteNonEmptyVaultRace", func(t *testing.T) {
		s := open(t)
		ids := newIDs(18)
		var idsMu sync.Mutex
		for round := 0; round < 6; round++ {
			name := fmt.Sprint("race", round)
			_, err := s.CreateVault(ctx(), plainVault(name), nil)
			must(t, "CreateVault", err)
			var wg sync.WaitGroup
			var created atomic.Int32
			var deleted atomic.Bool
			errs := make(chan error, 8)
			start := make(chan struct{})
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					for k := 0; k < 5; k++ {
						idsMu.Lock()
						p := point(ids, name, efsARN(w), t0, backup.RecoveryPointCreating)
						idsMu.Unlock()
						err := s.CreateRecoveryPoint(ctx(), p, nil)
						if err == nil {
							created.Add(1)
						} else if backup.KindOf(err) != backup.KindNotFound {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < round; i++ {
					runtime.Gosched()
				}
				err := s.DeleteVault(ctx(), vkey(name))
				switch backup.KindOf(err) {
				case backup.KindInternal:
					if err != nil {
						errs <- err
						return
					}
					deleted.Store(true)
				case backup.KindInvalidRequest:
				default:
					errs <- err
				}
			}()
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("round %d: %v", round, err)
			}
			vk := vkey(name)
			pts, _, err := s.ListRecoveryPoints(ctx(), meta.RecoveryPointFilter{Vault: &vk}, meta.Page{})
			must(t, "ListRecoveryPoints", err)
			switch {
			case deleted.Load() && created.Load() > 0:
				t.Fatalf("round %d: the vault was deleted and %d recovery points were created into it", round, created.Load())
			case deleted.Load():
				if len(pts) != 0 {
					t.Fatalf("round %d: deleted vault still has %d recovery points", round, len(pts))
				}
				_, err := s.GetVault(ctx(), vk)
				mustKind(t, "GetVault of deleted vault", err, backup.KindNotFound)
			default:
				if created.Load() == 0 {
					t.Fatalf("round %d: DeleteVault refused an empty vault", round)
				}
				n, err := s.CountRecoveryPoints(ctx(), vk)
				must(t, "CountRecoveryPoints", err)
				if n != int64(created.Load()) || len(pts) != int(n) {
					t.Fatalf("round %d: count %d, listed %d, created %d", round, n, len(pts), created.Load())
				}
			}
		}
	})

	t.Run("ParallelClaim", func(t *testing.T) { parallelClaims(t, open(t)) })

	t.Run("IdempotentCreateJob", func(t *testing.T) { concurrentIdempotentCreate(t, open(t)) })

	t.Run("ParallelTagging", func(t *testing.T) {
		s := open(t)
		arn := vkey("tagged").ARN()
		var wg sync.WaitGroup
		var limited atomic.Int32
		for i := 0; i < 60; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := s.TagResource(ctx(), arn, map[string]string{fmt.Sprint("k", i): "v"})
				if backup.KindOf(err) == backup.KindLimitExceeded {
					limited.Add(1)
				} else if err != nil {
					t.Errorf("TagResource: %v", err)
				}
			}()
		}
		wg.Wait()
		tags, _ := s.ListTags(ctx(), arn)
		if len(tags) != meta.MaxTagsPerResource || limited.Load() != 10 {
			t.Fatalf("60 parallel single-tag TagResource calls: %d tags, %d refused; want %d and 10", len(tags), limited.Load(), meta.MaxTagsPerResource)
		}
	})
}

func testClose(t *testing.T, open Opener) {
	s := open(t)
	_, err := s.CreateVault(ctx(), plainVault("c"), nil)
	must(t, "CreateVault", err)
	must(t, "Close", s.Close())
	must(t, "Close again", s.Close())
	if _, err := s.GetVault(ctx(), vkey("c")); err == nil {
		t.Fatalf("GetVault after Close: nil error")
	}
	if _, err := s.CreateVault(ctx(), plainVault("d"), nil); err == nil {
		t.Fatalf("CreateVault after Close: nil error")
	}
	if _, _, err := s.ClaimJob(ctx(), "w", nil, t0, 1); err == nil {
		t.Fatalf("ClaimJob after Close: nil error")
	}
}
