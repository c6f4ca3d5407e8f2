package repo

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/clock"
	"github.com/coffer/coffer/internal/repo/chunker"
	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/coffer/coffer/internal/repo/index"
	"github.com/coffer/coffer/internal/repo/pack"
	"github.com/klauspost/compress/zstd"
)

// Defaults of Options.
const (
	// DefaultPackSize: 16 MiB packs keep object counts low on S3 (65,536
	// per TiB, one PUT per 16 MiB), make one pack one efficient sequential
	// read, and bound the pipeline's memory to about Uploads × 17 MiB
	// ≈ 34 MiB — peak RSS matters as much as throughput. Larger packs (32
	// MiB) would halve object counts but double that memory and make
	// garbage collection coarser (a pack is deleted or repacked whole).
	DefaultPackSize = 16 << 20
	// DefaultHeartbeat is how often an open repository refreshes its
	// session marker.
	DefaultHeartbeat = 5 * time.Minute
	// DefaultUploads is the number of packs uploaded concurrently.
	DefaultUploads = 2
	minPackSize    = 64 << 10
	maxPackSize    = 1 << 30
	maxPackEntries = 65536
)

// Compression modes.
const (
	CompressAuto    = "auto"    // zstd default level, skipping incompressible data (default)
	CompressFastest = "fastest" // zstd fastest level
	CompressMax     = "max"     // zstd best level (slow)
	CompressOff     = "off"     // store everything uncompressed
)

// Options configure a Repository. The zero value selects the defaults.
type Options struct {
	Logger *slog.Logger // default: discard
	Clock  clock.Clock  // default: clock.Real{}
	// PackSize is the target pack size in bytes (default DefaultPackSize).
	PackSize int
	// CacheDir keeps the local index cache (segments) across runs, under
	// CacheDir/<repository ID>/. "" = no persistent cache: the index is
	// kept in a private temporary directory removed by Close (it is still
	// on disk and memory-mapped, not in the Go heap).
	CacheDir string
	// Workers is the compression/encryption parallelism (default
	// GOMAXPROCS).
	Workers int
	// Uploads is the number of packs uploaded concurrently (default
	// DefaultUploads). Memory is about max(2, Uploads) × PackSize.
	Uploads int
	// Compression is one of the Compress* modes (default CompressAuto).
	Compression string
	// GroupMax: data blobs of at most GroupMax bytes are compressed
	// together in group records (see package pack; default
	// DefaultGroupMax, at most MaxGroupMax). Negative: every blob is
	// sealed alone. Writing only; any repository reads both.
	GroupMax int
	// ChunkerParams, at Init only, adopts another repository's chunker
	// parameters (see package chunker: copies then deduplicate against
	// direct backups). nil = default sizes with a seed from the new key.
	ChunkerParams *chunker.Params
	// Domain, at Init only, makes the new repository a member of a
	// deduplication domain: its blob ID key and chunker seed are derived
	// from this shared secret instead of from its own data key. Members of
	// one domain name equal content with equal IDs and cut it at equal
	// boundaries, so a copy between them moves blobs as stored (decrypted
	// and re-encrypted under the destination's key, never decompressed or
	// re-hashed). Each member keeps its own data key: reading one member's
	// data still needs that member's KEK. The derived ID key is kept in
	// the sealed config, so opening never needs the domain secret. The
	// zero KEK (default) derives both from the data key.
	Domain KEK
	// ReadOnly opens without a writer session: nothing is written to the
	// store (for inspection and disaster recovery on read-only storage).
	// Reads of a repository under concurrent garbage collection may then
	// fail if GC deletes a pack being read.
	ReadOnly bool
	// HeartbeatInterval is how often the session marker is refreshed
	// (default DefaultHeartbeat). GC must use a SessionTimeout several
	// times larger.
	HeartbeatInterval time.Duration
}

func (o *Options) setDefaults() error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.PackSize == 0 {
		o.PackSize = DefaultPackSize
	}
	if o.GroupMax == 0 {
		o.GroupMax = DefaultGroupMax
	}
	if o.GroupMax > MaxGroupMax {
		return fmt.Errorf("repo: group max %d above %d", o.GroupMax, MaxGroupMax)
	}
	if o.PackSize < minPackSize || o.PackSize > maxPackSize {
		return fmt.Errorf("repo: pack size %d outside [%d, %d]", o.PackSize, minPackSize, maxPackSize)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Uploads <= 0 {
		o.Uploads = DefaultUploads
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeat
	}
	switch o.Compression {
	case "":
		o.Compression = CompressAuto
	case CompressAuto, CompressFastest, CompressMax, CompressOff:
	default:
		return fmt.Errorf("repo: unknown compression mode %q", o.Compression)
	}
	return nil
}

// config is the repository's sealed configuration object.
type config struct {
	Version int            `json:"version"`
	RepoID  string         `json:"repo_id"`
	Chunker chunker.Params `json:"chunker"`
	Created time.Time      `json:"created"`
	// IDKey, when set (a member of a deduplication domain, see
	// Options.Domain), replaces the ID key derived from the data key.
	IDKey []byte `json:"id_key,omitempty"`
}

const (
	configName     = "config"
	indexPrefix    = "index/"
	snapshotPrefix = "snapshots/"
	sessionPrefix  = "sessions/"
	gcPlanPrefix   = "gc/"
	gcLockName     = "locks/gc"
	// formatVersion is written by Init. 2: packs carry their own key
	// (pack.HeaderSize-byte header); 3: packs may hold group records
	// (pack trailer "CPK3", index objects "CFIX0002"). Open accepts
	// minFormatVersion..formatVersion: the version 2 encodings are still
	// read, and new packs in a version 2 repository use version 3's.
	formatVersion    = 3
	minFormatVersion = 2
	metaADPrefix     = "coffer meta v1\x00"
	snapshotIDLabel  = "coffer snapshot id v1\x00"
	indexIDLabel     = "coffer index id v1\x00"
)

// Repository is an open repository. All methods are safe for concurrent
// use.
type Repository struct {
	st   blob.Store
	opts Options
	log  *slog.Logger
	clk  clock.Clock

	id       string
	cfg      config
	dataKey  []byte
	keys     crypto.Subkeys
	aead     *crypto.AEAD // the repository's key: metadata, pack headers and trailers
	packKeys packKeys     // opened keys of packs read or written lately
	hasher   *crypto.Hasher
	enc      *zstd.Encoder
	sample   *zstd.Encoder
	dec      *zstd.Decoder
	idx      *index.Set
	saver    *saver
	sess     *session
	syncMu   sync.Mutex // serializes index syncs
	bg       context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup
	closed   atomic.Bool
	closeMu  sync.Mutex
}

// Init creates a repository in an empty store: a random data key wrapped by
// kek, and the configuration. It fails with ErrRepositoryExists if the store
// already holds one.
func Init(ctx context.Context, st blob.Store, kek KEK, opts Options) (*Repository, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		return nil, fmt.Errorf("%w: cannot init", ErrReadOnly)
	}
	if !kek.ok {
		return nil, fmt.Errorf("repo: init: no key given")
	}
	if _, err := st.Stat(ctx, configName); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrRepositoryExists, st.Location())
	} else if !errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("repo: init %s: %w", st.Location(), err)
	}
	rid := crypto.RandomKey()
	repoID := hex.EncodeToString(rid[:16])
	dk := crypto.RandomKey()
	keys := crypto.Derive(dk[:])
	now := opts.Clock.Now()
	ko, err := wrapDataKey(kek, repoID, dk[:], now)
	if err != nil {
		return nil, err
	}
	keyName := keysPrefix + hex.EncodeToString(rid[16:])
	if err := st.Put(ctx, keyName, ko); err != nil {
		return nil, fmt.Errorf("repo: init: write key: %w", err)
	}
	var idKey []byte
	if opts.Domain.ok {
		dom := crypto.Derive(opts.Domain.key[:])
		keys.ID, keys.Chunker = dom.ID, dom.Chunker
		idKey = dom.ID[:]
	}
	params := chunker.DefaultParams(keys.Chunker)
	if opts.ChunkerParams != nil {
		params = *opts.ChunkerParams
	}
	if err := params.Validate(); err != nil {
		_ = st.Delete(ctx, keyName)
		return nil, fmt.Errorf("repo: init: %w", err)
	}
	cfg := config{Version: formatVersion, RepoID: repoID, Chunker: params, Created: now.UTC(), IDKey: idKey}
	plain, _ := json.Marshal(cfg)
	aead, _ := crypto.NewAEAD(keys.Enc[:])
	if err := st.PutIfAbsent(ctx, configName, aead.Seal(nil, plain, metaAD("config"))); err != nil {
		_ = st.Delete(ctx, keyName)
		if errors.Is(err, blob.ErrExists) {
			return nil, fmt.Errorf("%w: %s", ErrRepositoryExists, st.Location())
		}
		return nil, fmt.Errorf("repo: init: write config: %w", err)
	}
	// The 256 pack directories (and those of the other objects) exist from
	// the start where storage has directories: the first pack written to
	// each would otherwise create and sync one (restic's init does the same).
	dirs := []string{strings.TrimSuffix(indexPrefix, "/"), strings.TrimSuffix(snapshotPrefix, "/"), strings.TrimSuffix(sessionPrefix, "/")}
	for i := range 256 {
		dirs = append(dirs, fmt.Sprintf("%s%02x", pack.Prefix, i))
	}
	if err := blob.PrepareDirs(ctx, st, dirs); err != nil {
		return nil, fmt.Errorf("repo: init: %w", err)
	}
	opts.Logger.Info("repository created", "location", st.Location(), "repo_id", repoID, "kek", kek.name)
	return Open(ctx, st, kek, opts)
}

func metaAD(kind string) []byte { return []byte(metaADPrefix + kind) }

// Open opens the repository in st with kek. A KEK that does not open it
// fails with ErrWrongKey (never garbage); a store without a repository with
// ErrNotRepository.
func Open(ctx context.Context, st blob.Store, kek KEK, opts Options) (*Repository, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	sealedCfg, err := blob.ReadAll(ctx, st, configName)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s has no config", ErrNotRepository, st.Location())
	}
	if err != nil {
		return nil, fmt.Errorf("repo: open %s: read config: %w", st.Location(), err)
	}
	cands, err := unwrapKeys(ctx, st, kek)
	if err != nil {
		return nil, err
	}
	r := &Repository{st: st, opts: opts, log: opts.Logger, clk: opts.Clock}
	found := false
	for _, c := range cands {
		keys := crypto.Derive(c.dataKey)
		aead, _ := crypto.NewAEAD(keys.Enc[:])
		plain, err := aead.Open(nil, sealedCfg, metaAD("config"))
		if err != nil {
			continue // a key object left by an interrupted Init
		}
		if err := json.Unmarshal(plain, &r.cfg); err != nil || r.cfg.RepoID != c.repoID {
			return nil, fmt.Errorf("%w: config of %s does not parse", ErrCorrupt, st.Location())
		}
		if r.cfg.Version < minFormatVersion || r.cfg.Version > formatVersion {
			return nil, fmt.Errorf("%w: %s has format version %d; this Coffer reads versions %d to %d only (back it up again, or restore it with the Coffer that wrote it)",
				ErrUnsupportedFormat, st.Location(), r.cfg.Version, minFormatVersion, formatVersion)
		}
		switch len(r.cfg.IDKey) {
		case 0:
		case crypto.KeySize:
			copy(keys.ID[:], r.cfg.IDKey)
		default:
			return nil, fmt.Errorf("%w: config of %s has an ID key of %d bytes", ErrCorrupt, st.Location(), len(r.cfg.IDKey))
		}
		r.keys, r.aead, r.id, r.dataKey, found = keys, aead, c.repoID, c.dataKey, true
		break
	}
	if !found {
		return nil, fmt.Errorf("%w: key %q unwraps a data key but it does not decrypt the config of %s (config or key damaged)", ErrCorrupt, kek.name, st.Location())
	}
	if err := r.cfg.Chunker.Validate(); err != nil {
		return nil, fmt.Errorf("%w: config: %v", ErrCorrupt, err)
	}
	r.hasher = crypto.NewHasher(r.keys.ID)
	if err := r.initCodecs(); err != nil {
		return nil, err
	}
	if err := r.openIndex(); err != nil {
		r.closeCodecs()
		return nil, err
	}
	r.bg, r.stop = context.WithCancel(context.WithoutCancel(ctx))
	r.sess = newSession(r)
	if !opts.ReadOnly {
		// The session marker goes first: from here on, a garbage collection
		// either sees this session or this process sees its plan.
		if err := r.sess.start(ctx); err != nil {
			r.abortOpen()
			return nil, err
		}
	}
	if err := r.refreshPlans(ctx); err != nil {
		r.abortOpen()
		return nil, err
	}
	if err := r.syncIndex(ctx); err != nil {
		r.abortOpen()
		return nil, err
	}
	r.saver = newSaver(r)
	if !opts.ReadOnly {
		r.wg.Go(r.heartbeatLoop)
	}
	return r, nil
}

func (r *Repository) abortOpen() {
	if r.sess != nil {
		r.sess.end(context.Background())
	}
	r.stop()
	r.idx.Close()
	r.closeCodecs()
}

func (r *Repository) initCodecs() error {
	level := zstd.SpeedDefault
	switch r.opts.Compression {
	case CompressFastest:
		level = zstd.SpeedFastest
	case CompressMax:
		level = zstd.SpeedBestCompression
	}
	var err error
	r.enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(r.opts.Workers),
		zstd.WithWindowSize(zstdWindow), zstd.WithEncoderCRC(false))
	if err != nil {
		return fmt.Errorf("repo: zstd: %w", err)
	}
	r.sample, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(r.opts.Workers),
		zstd.WithWindowSize(64<<10), zstd.WithEncoderCRC(false))
	if err != nil {
		return fmt.Errorf("repo: zstd: %w", err)
	}
	r.dec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(r.opts.Workers), zstd.WithDecoderMaxMemory(uint64(pack.MaxBlobSize)))
	if err != nil {
		return fmt.Errorf("repo: zstd: %w", err)
	}
	return nil
}

// zstdWindow is the compression window. 1 MiB: on ~1 MiB chunks it
// compresses as well as an 8 MiB window (measured on text: identical ratio)
// while each concurrent encoder needs ~4 MiB instead of ~18 MiB — peak RSS
// matters as much as throughput.
const zstdWindow = 1 << 20

func (r *Repository) closeCodecs() {
	if r.enc != nil {
		r.enc.Close()
	}
	if r.sample != nil {
		r.sample.Close()
	}
	if r.dec != nil {
		r.dec.Close()
	}
}

func (r *Repository) openIndex() error {
	o := index.Options{MACKey: r.keys.Cache}
	if r.opts.CacheDir != "" {
		o.Dir = filepath.Join(r.opts.CacheDir, r.id, "index")
		o.Persistent = true
	} else {
		d, err := os.MkdirTemp("", "coffer-index-")
		if err != nil {
			return fmt.Errorf("repo: index dir: %w", err)
		}
		o.Dir = d
	}
	set, err := index.OpenSet(o)
	if err != nil {
		return err
	}
	r.idx = set
	return nil
}

// Close stops background work and releases resources. Blobs saved since the
// last successful Flush are discarded (they are not referenced by any
// snapshot; garbage collection removes anything already uploaded). The
// local index cache is saved.
func (r *Repository) Close() error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if r.closed.Swap(true) {
		return nil
	}
	r.stop()
	r.saver.close()
	r.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.sess.end(ctx)
	err := r.idx.Save()
	if cerr := r.idx.Close(); err == nil {
		err = cerr
	}
	r.closeCodecs()
	return err
}

// RepoID returns the repository's random, stable, non-secret identifier.
func (r *Repository) RepoID() string { return r.id }

// Location describes the underlying store, for messages.
func (r *Repository) Location() string { return r.st.Location() }

// Hash returns the ID of data under this repository's key.
func (r *Repository) Hash(data []byte) ID { return r.hasher.Sum(data) }

// ChunkerParams returns the repository's content-defined chunking
// parameters (pass them to chunker.New).
func (r *Repository) ChunkerParams() chunker.Params { return r.cfg.Chunker }

func (r *Repository) writable() error {
	switch {
	case r.closed.Load():
		return ErrClosed
	case r.opts.ReadOnly:
		return ErrReadOnly
	case r.sess.expired.Load():
		return fmt.Errorf("%w: reopen the repository and redo the backup", ErrSessionExpired)
	}
	return r.saver.failure()
}

// sealMeta and openMeta seal metadata objects with their kind as associated
// data.
func (r *Repository) sealMeta(kind string, plain []byte) []byte {
	return r.aead.Seal(nil, plain, metaAD(kind))
}

func (r *Repository) openMeta(kind, name string, sealed []byte) ([]byte, error) {
	p, err := r.aead.Open(nil, sealed, metaAD(kind))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %v", ErrCorrupt, kind, name, err)
	}
	return p, nil
}

func (r *Repository) readMeta(ctx context.Context, kind, name string) ([]byte, error) {
	b, err := blob.ReadAll(ctx, r.st, name)
	if err != nil {
		return nil, err
	}
	return r.openMeta(kind, name, b)
}

// waitCtx waits for wg, or for ctx to end.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
