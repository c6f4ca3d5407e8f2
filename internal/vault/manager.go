package vault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/coffer/coffer/internal/archive/repoadapt"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/clock"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/repo/chunker"
)

// ErrRegionNotServed: a vault of a region that has no storage here.
var ErrRegionNotServed = errors.New("vault: region has no storage")

// Options configure a Manager. Regions and Keystore are required.
type Options struct {
	// Regions maps each served region to its storage root. The Manager
	// owns these stores from New on and closes them in Close.
	Regions map[string]blob.Store
	// Keystore holds the key-encryption keys, one per EncryptionKeyArn.
	Keystore *repo.Keystore
	// Repo is the template for the repositories' options (pack size,
	// uploads, workers, compression, cache directory); Logger and Clock
	// default to the Manager's.
	Repo   repo.Options
	Logger *slog.Logger // default: discard
	Clock  clock.Clock  // default clock.Real{}
}

// Manager maps vaults to their repositories and keeps them open. It is
// safe for concurrent use.
type Manager struct {
	regions  map[string]blob.Store
	keys     *repo.Keystore
	repoOpts repo.Options
	log      *slog.Logger

	mu     sync.Mutex
	open   map[string]*entry // by Prefix(v) + region
	closed bool
	// gcMu serializes garbage collections per repository.
	gcMu map[string]*sync.Mutex
}

type entry struct {
	ready chan struct{}
	repo  *Repo
	err   error
}

// Repo is an open vault repository. It stays valid until Manager.Close;
// callers never close it.
type Repo struct {
	// Repository is the engine; Archive adapts it to archive.Repo.
	Repository *repo.Repository
	Archive    *repoadapt.Adapter
	// Region is the vault's region; Prefix the repository's place in the
	// region's storage; Location a description for messages and
	// recovery points ("/var/lib/coffer/storage/us-east-1/vaults/v/1717…"
	// or "s3://bucket/prefix/vaults/v/1717…").
	Region, Prefix, Location string
	// ID is the repository's stable identifier (repo.Repository.RepoID).
	ID string
}

// EngineRef returns the EngineRef fields that locate a snapshot in this
// repository.
func (r *Repo) EngineRef(snapshotID string) backup.EngineRef {
	return backup.EngineRef{Repository: r.ID, SnapshotID: snapshotID, StorageRegion: r.Region, StorageLocation: r.Location}
}

// New returns a Manager.
func New(opts Options) (*Manager, error) {
	if len(opts.Regions) == 0 {
		return nil, errors.New("vault: Options.Regions needs at least one region")
	}
	if opts.Keystore == nil {
		return nil, errors.New("vault: Options.Keystore is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	ro := opts.Repo
	if ro.Logger == nil {
		ro.Logger = opts.Logger
	}
	if ro.Clock == nil {
		ro.Clock = opts.Clock
	}
	ro.ReadOnly = false
	ro.ChunkerParams = nil
	domain, err := opts.Keystore.GetOrCreate(DomainKeyName)
	if err != nil {
		return nil, fmt.Errorf("vault: deduplication domain key: %w", err)
	}
	ro.Domain = domain
	return &Manager{
		regions:  maps.Clone(opts.Regions),
		keys:     opts.Keystore,
		repoOpts: ro,
		log:      opts.Logger,
		open:     map[string]*entry{},
		gcMu:     map[string]*sync.Mutex{},
	}, nil
}

// Prefix returns where a vault's repository lives in its region's storage:
// "vaults/<name>/<creation time in Unix milliseconds>". The creation time
// makes a vault that is deleted and created again with the same name a new
// repository.
func Prefix(v backup.Vault) string {
	return "vaults/" + v.Name + "/" + strconv.FormatInt(v.CreationDate.UnixMilli(), 10)
}

// DomainKeyName is the keystore name of the secret that makes the vault
// repositories of one deployment a deduplication domain (repo.Options.Domain):
// every vault created by this keystore's servers names chunks with the same
// ID key and cuts them at the same boundaries, so copies between vaults and
// regions move chunks as stored. It is read only when a vault's repository
// is created; disaster recovery of a vault does not need it.
const DomainKeyName = "coffer:deduplication-domain"

// KeyName returns the name of the key-encryption key of a vault: its
// EncryptionKeyArn (vaults without one use a name derived from the vault
// ARN). Vaults that share a KMS key share a KEK; each repository still has
// its own data key.
func KeyName(v backup.Vault) string {
	if v.EncryptionKeyArn != "" {
		return v.EncryptionKeyArn
	}
	return "coffer:vault:" + v.Key().ARN()
}

// OpenOptions adjust Open.
type OpenOptions struct {
	// ChunkerParams, when the repository does not exist yet and is created
	// now, adopts another repository's chunker parameters (a copy's
	// destination, so that later backups into it deduplicate against the
	// copied data). Ignored for an existing repository.
	ChunkerParams *chunker.Params
}

// Open returns the vault's repository, creating it in storage on first use
// (with a data key wrapped by the vault's KEK, created in the keystore if
// needed). Concurrent calls for one vault open it once. Errors: a region
// without storage wraps ErrRegionNotServed; a KEK that does not open an
// existing repository wraps repo.ErrWrongKey; storage failures wrap the
// blob sentinels.
func (m *Manager) Open(ctx context.Context, v backup.Vault) (*Repo, error) {
	return m.OpenWith(ctx, v, OpenOptions{})
}

// OpenWith is Open with options.
func (m *Manager) OpenWith(ctx context.Context, v backup.Vault, o OpenOptions) (*Repo, error) {
	key := v.Region + "|" + Prefix(v)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("vault: manager closed")
	}
	e, ok := m.open[key]
	if !ok {
		e = &entry{ready: make(chan struct{})}
		m.open[key] = e
		m.mu.Unlock()
		e.repo, e.err = m.openRepo(ctx, v, o)
		if e.err != nil {
			m.mu.Lock()
			delete(m.open, key)
			m.mu.Unlock()
		}
		close(e.ready)
		return e.repo, e.err
	}
	m.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return e.repo, e.err
}

func (m *Manager) openRepo(ctx context.Context, v backup.Vault, o OpenOptions) (*Repo, error) {
	root, ok := m.regions[v.Region]
	if !ok {
		return nil, fmt.Errorf("vault %s: %w: %s", v.Name, ErrRegionNotServed, v.Region)
	}
	st, err := NewPrefixStore(root, Prefix(v))
	if err != nil {
		return nil, err
	}
	kek, err := m.keys.GetOrCreate(KeyName(v))
	if err != nil {
		return nil, fmt.Errorf("vault %s: key: %w", v.Name, err)
	}
	opts := m.repoOpts
	r, err := repo.Open(ctx, st, kek, opts)
	if errors.Is(err, repo.ErrNotRepository) {
		io := opts
		io.ChunkerParams = o.ChunkerParams
		r, err = repo.Init(ctx, st, kek, io)
		if errors.Is(err, repo.ErrRepositoryExists) { // another node won the race
			r, err = repo.Open(ctx, st, kek, opts)
		} else if err == nil {
			m.log.LogAttrs(ctx, slog.LevelInfo, "vault repository created", slog.String("vault", v.Name),
				slog.String("region", v.Region), slog.String("location", st.Location()))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("vault %s: open repository at %s: %w", v.Name, st.Location(), err)
	}
	return &Repo{
		Repository: r,
		Archive:    repoadapt.New(r),
		Region:     v.Region,
		Prefix:     st.Prefix(),
		Location:   st.Location(),
		ID:         r.RepoID(),
	}, nil
}

// GC removes the data of deleted snapshots from the vault's repository
// (repo.Repository.GC with the archive tree decoder). Collections of one
// repository are serialized; others run concurrently.
func (m *Manager) GC(ctx context.Context, v backup.Vault, opts repo.GCOptions) (*repo.GCReport, error) {
	r, err := m.Open(ctx, v)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	mu := m.gcMu[r.ID]
	if mu == nil {
		mu = &sync.Mutex{}
		m.gcMu[r.ID] = mu
	}
	m.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if opts.TreeRefs == nil {
		opts.TreeRefs = repoadapt.TreeRefs
	}
	return r.Repository.GC(ctx, opts)
}

// Remove deletes a vault's repository from its region's storage once the
// vault is gone from the metadata store (DeleteBackupVault refuses a vault
// that still holds recovery points, so nothing stored there is referenced):
// it closes the repository if open, deletes every object under Prefix(v) —
// the key objects and the config last, so that an interrupted removal
// still leaves a recognisable repository — and removes its local index
// cache. It returns the number of objects deleted; calling it again after
// an interruption finishes the job, and for a vault that never stored
// anything it deletes nothing. Callers must not use a Repo of the vault
// afterwards.
func (m *Manager) Remove(ctx context.Context, v backup.Vault) (int, error) {
	root, ok := m.regions[v.Region]
	if !ok {
		return 0, fmt.Errorf("vault %s: %w: %s", v.Name, ErrRegionNotServed, v.Region)
	}
	st, err := NewPrefixStore(root, Prefix(v))
	if err != nil {
		return 0, err
	}
	repoIDs, err := repo.StoredRepoIDs(ctx, st)
	if err != nil {
		return 0, fmt.Errorf("vault %s: %w", v.Name, err)
	}
	if err := m.Forget(v); err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "closing a removed vault's repository", slog.String("vault", v.Name), slog.String("error", err.Error()))
	}
	var names []string
	if err := st.List(ctx, "", func(i blob.Info) error { names = append(names, i.Name); return nil }); err != nil {
		return 0, fmt.Errorf("vault %s: list %s: %w", v.Name, st.Location(), err)
	}
	last := func(n string) int { // data first, then key objects, then the config
		switch {
		case n == "config":
			return 2
		case strings.HasPrefix(n, "keys/"):
			return 1
		}
		return 0
	}
	slices.SortStableFunc(names, func(a, b string) int { return last(a) - last(b) })
	for i, n := range names {
		if err := st.Delete(ctx, n); err != nil {
			return i, fmt.Errorf("vault %s: delete %s: %w", v.Name, n, err)
		}
	}
	if err := blob.PruneDirs(ctx, st, ""); err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "removing a removed vault's empty directories", slog.String("vault", v.Name), slog.String("error", err.Error()))
	}
	for _, id := range repoIDs {
		if m.repoOpts.CacheDir == "" || id == "" || strings.ContainsAny(id, `/\.`) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(m.repoOpts.CacheDir, id)); err != nil {
			m.log.LogAttrs(ctx, slog.LevelWarn, "removing a removed vault's index cache", slog.String("vault", v.Name), slog.String("error", err.Error()))
		}
	}
	m.log.LogAttrs(ctx, slog.LevelInfo, "vault repository removed", slog.String("vault", v.Name),
		slog.String("region", v.Region), slog.String("location", st.Location()), slog.Int("objects", len(names)))
	return len(names), nil
}

// Forget closes a vault's repository if it is open (after the vault was
// deleted). Callers must not use a Repo of the vault afterwards.
func (m *Manager) Forget(v backup.Vault) error {
	key := v.Region + "|" + Prefix(v)
	m.mu.Lock()
	e, ok := m.open[key]
	if ok {
		delete(m.open, key)
	}
	m.mu.Unlock()
	if !ok {
		return nil
	}
	<-e.ready
	if e.repo != nil {
		return e.repo.Repository.Close()
	}
	return nil
}

// Invalidate drops r from the cache and closes it, when it is still the
// cached repository of its vault: after a write failed (repo.ErrWriteFailed)
// or the writer session expired (repo.ErrSessionExpired) a Repository
// refuses writes, and the next Open must open the repository again. Other
// users of r see their writes fail as they would have anyway.
func (m *Manager) Invalidate(r *Repo) {
	key := r.Region + "|" + r.Prefix
	m.mu.Lock()
	e, ok := m.open[key]
	if ok && e.repo == r {
		delete(m.open, key)
	} else {
		ok = false
	}
	m.mu.Unlock()
	if ok {
		if err := r.Repository.Close(); err != nil {
			m.log.Warn("closing an invalidated repository", slog.String("location", r.Location), slog.String("error", err.Error()))
		}
	}
}

// NeedsReopen reports whether err means the Repository that returned it
// refuses further writes (see Invalidate).
func NeedsReopen(err error) bool {
	return errors.Is(err, repo.ErrWriteFailed) || errors.Is(err, repo.ErrSessionExpired) || errors.Is(err, repo.ErrClosed)
}

// Regions returns the regions with storage, sorted.
func (m *Manager) Regions() []string {
	return slices.Sorted(maps.Keys(m.regions))
}

// Location describes a region's storage root ("" when the region has
// none).
func (m *Manager) Location(region string) string {
	if s, ok := m.regions[region]; ok {
		return s.Location()
	}
	return ""
}

// Close closes every open repository (flushing nothing: blobs not yet
// committed by a snapshot are discarded) and the region stores.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	entries := slices.Collect(maps.Values(m.open))
	m.open = map[string]*entry{}
	m.mu.Unlock()
	var errs []error
	for _, e := range entries {
		<-e.ready
		if e.repo != nil {
			if err := e.repo.Repository.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, r := range m.Regions() {
		if err := m.regions[r].Close(); err != nil {
			errs = append(errs, fmt.Errorf("vault: close storage of %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}
