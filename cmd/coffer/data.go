package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/blob/retry"
	"github.com/coffer/coffer/internal/blob/s3"
	"github.com/coffer/coffer/internal/config"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/connector/dir"
	"github.com/coffer/coffer/internal/connector/postgres"
	"github.com/coffer/coffer/internal/connector/volume"
	"github.com/coffer/coffer/internal/jobs"
	"github.com/coffer/coffer/internal/meta"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/service"
	"github.com/coffer/coffer/internal/vault"
)

// Paths under data_dir used by the data plane.
const (
	keysDir  = "keys"  // key-encryption keys, one file per KMS key ARN
	cacheDir = "cache" // repository index caches
)

// dataPlane is what moves data: the region storages and vault repositories,
// the resource inventory and connectors, and the job runner. serveConfig
// builds it before the service (which registers its job handlers), starts
// it after, and closes it before the metadata store.
type dataPlane struct {
	deps   service.DataDeps
	runner *jobs.Runner
	vaults *vault.Manager
	log    *slog.Logger

	wg     sync.WaitGroup
	cancel context.CancelFunc
}

// openData builds the data plane of cfg over store. Region storage that
// cannot be opened fails the start (its vaults would be unusable); bad
// resource entries are only reported.
func openData(ctx context.Context, cfg *config.Config, store meta.Store, log *slog.Logger) (*dataPlane, error) {
	regions := map[string]blob.Store{}
	closeAll := func() {
		for _, s := range regions {
			s.Close()
		}
	}
	for _, r := range cfg.Regions {
		st, err := openStorage(ctx, r, log)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("region %s: storage: %w", r.Name, err)
		}
		regions[r.Name] = st
	}
	keys, err := repo.OpenKeystore(filepath.Join(cfg.DataDir, keysDir))
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("key store: %w", err)
	}
	vaults, err := vault.New(vault.Options{Regions: regions, Keystore: keys, Logger: log,
		Repo: repo.Options{CacheDir: filepath.Join(cfg.DataDir, cacheDir)}})
	if err != nil {
		closeAll()
		return nil, err
	}
	host, _ := os.Hostname()
	runner, err := jobs.New(jobs.Options{Store: store, Logger: log, Workers: cfg.Limits.Workers, NodeID: nodeID(host),
		AfterAttempt: collectJobGarbage(log)})
	if err != nil {
		vaults.Close()
		return nil, err
	}
	inv, problems := connector.NewInventory(cfg)
	reported := map[int]bool{}
	for _, p := range cfg.CheckResources() {
		reported[p.Index] = true // serveConfig logged these
	}
	for _, p := range problems {
		if !reported[p.Index] {
			log.LogAttrs(ctx, slog.LevelWarn, "resource not served", slog.String("problem", p.String()))
		}
	}
	conns := connector.NewSet(&dir.Connector{}, &volume.Connector{}, &postgres.Connector{})
	d := &dataPlane{runner: runner, vaults: vaults, log: log}
	d.deps = service.DataDeps{
		Jobs:                         runner,
		Vaults:                       vaults,
		Resources:                    inv,
		Connectors:                   conns,
		IdempotencyTTL:               cfg.Limits.IdempotencyTokenTTL,
		Hostname:                     host,
		RestoreRoot:                  cfg.RestoreRoot,
		CopyJobsPerDestinationRegion: cfg.Limits.CopyJobsPerDestinationRegion,
		CopyJobsPerDestinationVault:  cfg.Limits.CopyJobsPerDestinationVault,
	}
	return d, nil
}

// nodeID makes a host name usable as a job runner node ID.
func nodeID(host string) string {
	if host == "" {
		return "coffer"
	}
	b := []byte(host)
	for i, c := range b {
		if c == '/' {
			b[i] = '-'
		}
	}
	return string(b)
}

// openStorage opens a region's storage root: a local directory (created if
// missing) or an S3 bucket and prefix, behind the retry decorator.
func openStorage(ctx context.Context, r config.Region, log *slog.Logger) (blob.Store, error) {
	var st blob.Store
	var err error
	switch r.Storage.Type {
	case config.StorageLocal, "":
		st, err = localfs.New(ctx, localfs.Options{Root: r.Storage.Path, Create: true, Logger: log})
	case config.StorageS3:
		st, err = s3.New(ctx, s3.Options{
			Endpoint:  r.Storage.Endpoint,
			Insecure:  r.Storage.Insecure,
			Bucket:    r.Storage.Bucket,
			Prefix:    r.Storage.Prefix,
			Region:    r.Storage.Region,
			AccessKey: r.Storage.AccessKeyID,
			SecretKey: s3.Secret(r.Storage.SecretAccessKey.Reveal()),
			Logger:    log,
		})
	default:
		return nil, fmt.Errorf("unknown storage type %q", r.Storage.Type)
	}
	if err != nil {
		return nil, err
	}
	rs, err := retry.New(st, retry.Options{Logger: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	return rs, nil
}

// start starts the job runner (after the service registered its handlers)
// and checks in the background that the declared resources are reachable,
// reporting those that are not.
func (d *dataPlane) start(ctx context.Context) error {
	if err := d.runner.Start(ctx); err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		rs := d.deps.Resources.All()
		failed := d.deps.Connectors.CheckAll(cctx, rs, 10*time.Second)
		for _, r := range rs {
			if err, ok := failed[r.ARN]; ok && cctx.Err() == nil {
				d.log.LogAttrs(cctx, slog.LevelWarn, "resource unavailable", slog.String("arn", r.ARN), slog.String("problem", err.Error()))
			}
		}
		if cctx.Err() == nil {
			d.log.LogAttrs(cctx, slog.LevelInfo, "resources checked", slog.Int("declared", len(rs)), slog.Int("unavailable", len(failed)))
		}
	}()
	return nil
}

// close stops the runner (running jobs are requeued), then closes the
// repositories and storage.
func (d *dataPlane) close() error {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	return errors.Join(d.runner.Close(), d.vaults.Close())
}

// collectJobGarbage returns the job runner's AfterAttempt: a garbage
// collection as soon as a job has ended, so that the next job allocates
// from pages the process already has. A backup, copy or restore leaves
// tens of MiB of garbage, and at the server's GC target (serverGCPercent)
// the collector may not run again for several jobs: the next one then
// grows the heap into pages the process never touched, a page fault each.
// On the development VM a fault costs 16-21 µs. A first copy job of the
// copy benchmark took ~11,300 faults without the collection and
// ~1,300 with it; its time 0.77-0.82 s against 0.69-0.72 s (three
// alternating runs each). The collection takes 4-11 ms, after the job's
// outcome is recorded; run before each job instead, it lengthened small
// incremental copies by as much.
func collectJobGarbage(log *slog.Logger) func() {
	return func() {
		start := time.Now()
		runtime.GC()
		log.LogAttrs(context.Background(), slog.LevelDebug, "garbage collected after a job", slog.Duration("took", time.Since(start)))
	}
}
