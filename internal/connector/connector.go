package connector

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/clock"
)

// Sentinel errors of connectors. Connectors wrap them with %w and a message
// that names the resource (never a connection string's password).
var (
	// ErrUnavailable: the resource cannot be read now (a directory or image
	// that is missing or unreadable, a database that does not answer).
	ErrUnavailable = errors.New("connector: resource unavailable")
	// ErrSourceFailed: reading the resource failed part way (a file that
	// became unreadable, a database that went away); nothing was committed.
	ErrSourceFailed = errors.New("connector: reading the resource failed")
	// ErrTargetExists: a restore target already exists (and Overwrite was
	// not given, or the target type cannot be overwritten).
	ErrTargetExists = errors.New("connector: restore target exists")
	// ErrNotSupported: the connector cannot do what was asked (a restore to a
	// block device, include paths for a volume).
	ErrNotSupported = errors.New("connector: not supported")
)

// Progress is a backup's or restore's live state as connectors report it.
type Progress struct {
	// BytesDone are bytes read from the source (backup) or written to the
	// target (restore); BytesTotal the expected total, 0 when unknown.
	BytesDone, BytesTotal int64
	// ItemsDone and ItemsTotal count files (directories) or blocks.
	ItemsDone, ItemsTotal int64
	// Percent is 0…100, an estimate when the total is not known exactly.
	Percent float64
}

// BackupRequest says where and how to back up a resource.
type BackupRequest struct {
	// Repo receives the data; the backup commits exactly one snapshot.
	Repo archive.Repo
	// Parent is the snapshot of the resource's previous backup in Repo
	// (incremental: unchanged files or blocks are not read again); nil for a
	// full backup. Connectors that cannot use it ignore it.
	Parent *archive.ID
	// Hostname, Tags and Meta are recorded in the snapshot.
	Hostname string
	Tags     map[string]string
	Meta     map[string]string
	// Progress, if set, is called about every second from a goroutine the
	// backup owns, and once at the end.
	Progress func(Progress)
	Logger   *slog.Logger // default: discard
	Clock    clock.Clock  // default clock.Real{}
}

// BackupResult describes a committed backup.
type BackupResult struct {
	// Snapshot is the committed snapshot's ID.
	Snapshot archive.ID
	// Kind is archive.KindTree or archive.KindStream.
	Kind string
	// LogicalBytes is the size of the resource's data the snapshot
	// describes (the files' content, the volume size, the dump size).
	LogicalBytes int64
	// BytesRead were read from the source; BytesNew are the plaintext bytes
	// of blobs the repository did not have (the delta this backup stored).
	BytesRead, BytesNew int64
	// Files counts files (directories) or 1 (volumes, databases).
	Files int64
	// Stats are the directory archiver's counters (zero for streams).
	Stats archive.Stats
	// Warnings are what the backup could not capture exactly (skipped
	// sockets and FIFOs, files that changed while read).
	Warnings []archive.Warning
	// RestoreMetadata are the resource-specific keys
	// GetRecoveryPointRestoreMetadata reports (volumeSize, dbName, ...);
	// the service adds the vault-specific ones.
	RestoreMetadata map[string]string
}

// RestoreRequest says what to restore where.
type RestoreRequest struct {
	// Repo and Snapshot name the data.
	Repo     archive.Repo
	Snapshot archive.ID
	// Target is where to restore: EFS a directory (created if missing), EBS
	// a new image file, RDS the connection string of the PostgreSQL server
	// to create the database on. Never logged (a connection string may
	// hold a password).
	Target string
	// Database is, for RDS, the name of the new database (it must not
	// exist).
	Database string
	// Staging is, for RDS, the name of the database the dump is restored
	// into before it is renamed to Database, so that Database never holds
	// a partial restore; "" derives one from Database. A caller that must
	// clean up after a crash (Discarder) chooses it and remembers it.
	Staging string
	// Size is, for EBS, the new image's size when it is to be larger than
	// the snapshot's (a bigger volume; the extra space is a hole); 0 keeps
	// the snapshot's size. A smaller size is an error.
	Size int64
	// Include lists paths to restore (EFS only); empty means everything.
	Include []string
	// Overwrite replaces existing files (EFS) or an existing image (EBS).
	Overwrite bool
	// RootMeta gives a restored directory tree's root the backed-up root's
	// mode, owner and times (a new file system).
	RootMeta bool
	Progress func(Progress)
	Logger   *slog.Logger
	Clock    clock.Clock
}

// RestoreResult describes a finished restore.
type RestoreResult struct {
	// Bytes is the size of the restored data; Files the number of files
	// (1 for volumes and databases).
	Bytes, Files int64
	// Target is the Target of the resource the restore created, for
	// registering it (backup.Resource.Target): the directory, the image
	// file, or for RDS the connection string of the new database (it may
	// hold a password: never log it).
	Target string
}

// Source reads a resource for backups.
type Source interface {
	// Check reports whether r can be backed up now: nil, or an error
	// wrapping ErrUnavailable that says why (it never changes anything).
	Check(ctx context.Context, r backup.Resource) error

	// Backup reads r into req.Repo and commits one snapshot. On error
	// nothing was committed: a source that fails part way (a database that
	// goes away, a directory that becomes unreadable) fails the backup with
	// an error wrapping ErrSourceFailed or ErrUnavailable and naming the
	// cause. ctx cancellation stops it promptly.
	Backup(ctx context.Context, r backup.Resource, req BackupRequest) (*BackupResult, error)
}

// Target writes a snapshot into a new resource for restores.
type Target interface {
	// Restore writes req.Snapshot into req.Target. It never writes outside
	// the target. On error what was written stays (the caller removes or
	// reports it).
	Restore(ctx context.Context, req RestoreRequest) (*RestoreResult, error)
}

// TargetChecker is implemented by Targets that can tell, before a restore
// job is accepted, that its restore would be refused.
type TargetChecker interface {
	// CheckTarget reports whether req (Snapshot and Repo are not needed)
	// could be restored now: nil, an error wrapping ErrTargetExists when
	// its final target exists (a database of that name), or another error
	// when that cannot be told now (a server that does not answer). It
	// changes nothing.
	CheckTarget(ctx context.Context, req RestoreRequest) error
}

// Discarder is implemented by Targets whose interrupted restores can leave
// something behind that only they know how to remove (a staging database).
type Discarder interface {
	// Discard removes what an interrupted or failed Restore of req left
	// behind (req.Staging must be the name that Restore used). It never
	// removes req's final target. It is idempotent: nothing left behind is
	// not an error.
	Discard(ctx context.Context, req RestoreRequest) error
}

// Connector is a Source and a Target for one resource type.
type Connector interface {
	Type() backup.ResourceType
	Source
	Target
}

// Set holds one Connector per resource type.
type Set struct {
	m map[backup.ResourceType]Connector
}

// NewSet returns a Set of the connectors (a later one of the same type
// wins).
func NewSet(cs ...Connector) *Set {
	s := &Set{m: map[backup.ResourceType]Connector{}}
	for _, c := range cs {
		s.m[c.Type()] = c
	}
	return s
}

// Get returns the connector for t, or an InvalidParameter error.
func (s *Set) Get(t backup.ResourceType) (Connector, error) {
	if s != nil {
		if c, ok := s.m[t]; ok {
			return c, nil
		}
	}
	return nil, backup.InvalidParameterf("Coffer has no connector for resource type %s", t)
}

// Types returns the types the set handles, sorted.
func (s *Set) Types() []backup.ResourceType {
	var ts []backup.ResourceType
	for t := range s.m {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// CheckAll runs every resource's connector Check concurrently (at most 8 at
// a time, each bounded by timeout) and returns the failures by ARN.
func (s *Set) CheckAll(ctx context.Context, rs []backup.Resource, timeout time.Duration) map[string]error {
	out := map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, r := range rs {
		c, err := s.Get(r.Type)
		if err != nil {
			out[r.ARN] = err
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if err := c.Check(cctx, r); err != nil {
				mu.Lock()
				out[r.ARN] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// Percent returns done/total as a percentage in 0…100 (0 when total is 0).
func Percent(done, total int64) float64 {
	if total <= 0 {
		return 0
	}
	p := float64(done) * 100 / float64(total)
	if p > 100 {
		p = 100
	}
	return p
}
