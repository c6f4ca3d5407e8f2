package service

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/jobs"
	"github.com/coffer/coffer/internal/vault"
)

// DataDeps is what the operations that move data need (Deps.Data): backup
// jobs, recovery points and protected resources here; copy and restore
// jobs build on the same runner, vault manager and connectors. With Jobs
// nil those operations answer ServiceUnavailableException (the vault, tag
// and settings operations work without them).
type DataDeps struct {
	// Jobs runs the jobs. New registers the service's job handlers with it
	// (backup now) and its periodic tasks (lifecycle sweeper, garbage
	// collection), so New must be called before Jobs.Start.
	Jobs *jobs.Runner
	// Vaults opens vault repositories. Required with Jobs.
	Vaults *vault.Manager
	// Resources is the declared resource inventory (config resources:);
	// resources created by restores are found in the metadata store.
	Resources *connector.Inventory
	// Connectors back up and restore each resource type. Required with
	// Jobs.
	Connectors *connector.Set
	// IdempotencyTTL is how long a Start*Job idempotency token maps to its
	// job (config limits.idempotency_token_ttl; default one hour, AWS's).
	IdempotencyTTL time.Duration
	// IDs generates job and recovery point IDs (default crypto/rand).
	IDs *backup.IDs
	// Hostname is recorded in snapshots (default os.Hostname).
	Hostname string
	// SweepInterval is how often expired recovery points are deleted and
	// due ones moved to cold storage (default one minute; negative: never,
	// tests call SweepLifecycles).
	SweepInterval time.Duration
	// GCInterval is how often the repositories of vaults whose recovery
	// points were deleted are garbage collected (default ten minutes;
	// negative: never, tests call CollectGarbage).
	GCInterval time.Duration
	// CopyJobsPerDestinationRegion and CopyJobsPerDestinationVault are
	// StartCopyJob's concurrency limits (config limits.copy_jobs_per_*;
	// zero: AWS's 100 and 5; see StartCopyJob).
	CopyJobsPerDestinationRegion int
	CopyJobsPerDestinationVault  int
	// RestoreRoot is where restores create new file systems (directories)
	// and new volumes (image files) (config restore_root). Empty: such
	// restores are refused with InvalidRequestException (restores into an
	// existing file system, or to a volume path given in the metadata,
	// still work).
	RestoreRoot string
}

// Defaults of DataDeps.
const (
	DefaultIdempotencyTTL = time.Hour
	DefaultSweepInterval  = time.Minute
	DefaultGCInterval     = 10 * time.Minute
)

// dataDeps is DataDeps with defaults, plus the state the data operations
// share.
type dataDeps struct {
	DataDeps

	// gcMu guards dirty, the vaults whose repositories hold data of deleted
	// recovery points, to be garbage collected (besides those whose
	// Vault.GCRequested is set in the store: dirty keeps the requests that
	// could not be stored), and removed, the deleted vaults whose
	// repositories are to be removed from storage.
	gcMu    sync.Mutex
	dirty   map[backup.VaultKey]bool
	removed []backup.Vault

	// copyAdmit serializes StartCopyJob's limit check with its insert.
	copyAdmit sync.Mutex
}

// initData checks d, fills in defaults and registers the job handlers and
// periodic tasks.
func (s *Service) initData(d DataDeps) error {
	s.data.DataDeps = d
	s.data.dirty = map[backup.VaultKey]bool{}
	dd := &s.data.DataDeps
	if dd.IdempotencyTTL < 0 {
		return errors.New("service: Deps.Data.IdempotencyTTL is negative")
	}
	if dd.IdempotencyTTL == 0 {
		dd.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if dd.IDs == nil {
		dd.IDs = backup.NewIDs(nil)
	}
	if dd.Hostname == "" {
		dd.Hostname, _ = os.Hostname()
	}
	if dd.SweepInterval == 0 {
		dd.SweepInterval = DefaultSweepInterval
	}
	if dd.GCInterval == 0 {
		dd.GCInterval = DefaultGCInterval
	}
	if dd.Jobs == nil {
		return nil
	}
	if dd.Vaults == nil || dd.Connectors == nil {
		return errors.New("service: Deps.Data.Jobs needs Deps.Data.Vaults and Deps.Data.Connectors")
	}
	if err := dd.Jobs.Register(backup.BackupJob, &backupHandler{s: s}); err != nil {
		return err
	}
	if err := dd.Jobs.Register(backup.CopyJob, &copyHandler{s: s}); err != nil {
		return err
	}
	if err := dd.Jobs.Register(backup.RestoreJob, &restoreHandler{s: s}); err != nil {
		return err
	}
	if dd.SweepInterval > 0 {
		if err := dd.Jobs.Every("recovery point lifecycle", dd.SweepInterval, s.SweepLifecycles); err != nil {
			return err
		}
	}
	if dd.GCInterval > 0 {
		if err := dd.Jobs.Every("garbage collection", dd.GCInterval, s.CollectGarbage); err != nil {
			return err
		}
	}
	return nil
}

// needJobs returns a ServiceUnavailable error when the service runs
// without a job runner.
func (s *Service) needJobs() error {
	if s.data.Jobs == nil || s.data.Vaults == nil {
		return backup.Errorf(backup.KindUnavailable, "this Coffer endpoint was started without a job runner and storage; backups, restores and copies are not available")
	}
	return nil
}

// markDirty records that a vault's repository holds data of deleted
// recovery points: in the store (Vault.GCRequested), so that the
// collection is owed across restarts, or in memory when that fails.
func (s *Service) markDirty(k backup.VaultKey) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := s.clock.Now()
	_, err := s.store.UpdateVault(ctx, k, func(v *backup.Vault) error {
		v.GCRequested = now
		return nil
	})
	if err == nil || backup.KindOf(err) == backup.KindNotFound {
		return
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "recording a garbage collection request; kept in memory", slog.String("vault", k.Name), slog.String("error", err.Error()))
	s.data.gcMu.Lock()
	s.data.dirty[k] = true
	s.data.gcMu.Unlock()
}

// queueRemoval closes a deleted vault's repository now (its session
// marker stops being refreshed) and schedules its removal from storage
// (vault.Manager.Remove) at the next garbage collection run.
func (s *Service) queueRemoval(v backup.Vault) {
	if s.data.Vaults == nil {
		return
	}
	if err := s.data.Vaults.Forget(v); err != nil {
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "closing a deleted vault's repository", slog.String("vault", v.ARN), slog.String("error", err.Error()))
	}
	s.data.gcMu.Lock()
	s.data.removed = append(s.data.removed, v)
	s.data.gcMu.Unlock()
}
