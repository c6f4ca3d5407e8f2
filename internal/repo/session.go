package repo

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/coffer/coffer/internal/repo/index"
	"golang.org/x/sync/errgroup"
)

// sessionMarker is stored sealed under sessions/<id> while a Repository is
// open for writing. Garbage collection waits for sessions that may hold a
// view of the index older than its plan (see the package comment).
type sessionMarker struct {
	ID        string    `json:"id"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
}

type session struct {
	r        *Repository
	mu       sync.Mutex // serializes marker writes and rotation
	id       string
	started  time.Time
	active   atomic.Bool // a dedup decision happened since the last heartbeat
	used     atomic.Bool // a dedup decision happened in this session
	expired  atomic.Bool
	disabled bool
}

func newSession(r *Repository) *session {
	return &session{r: r, disabled: r.opts.ReadOnly}
}

func randomHex(n int) string {
	k := crypto.RandomKey()
	return hex.EncodeToString(k[:n])
}

func (s *session) name() string { return sessionPrefix + s.id }

func (s *session) marker(now time.Time) []byte {
	host, _ := os.Hostname()
	b, _ := json.Marshal(sessionMarker{ID: s.id, Host: host, PID: os.Getpid(), Started: s.started.UTC(), Heartbeat: now.UTC()})
	return s.r.sealMeta("session", b)
}

// start writes a new session marker.
func (s *session) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked(ctx)
}

func (s *session) startLocked(ctx context.Context) error {
	s.id = randomHex(12)
	s.used.Store(false)
	s.started = s.r.clk.Now()
	if err := s.r.st.Put(ctx, s.name(), s.marker(s.started)); err != nil {
		return fmt.Errorf("repo: write session marker: %w", err)
	}
	return nil
}

// end deletes the session marker.
func (s *session) end(ctx context.Context) {
	if s.disabled {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id == "" {
		return
	}
	if err := s.r.st.Delete(ctx, s.name()); err != nil {
		s.r.log.Warn("deleting session marker failed; garbage collection will expire it", "session", s.id, "err", err)
	}
	s.id = ""
}

// ID returns the current session ID ("" when read-only).
func (s *session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// touch records a dedup decision (SaveBlob, HasBlob) under the session.
func (s *session) touch() {
	s.active.Store(true)
	s.used.Store(true)
}

// heartbeat refreshes the marker. If the marker is gone, a garbage
// collection expired this session: writes are refused from now on.
func (s *session) heartbeat(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.id == "" || s.expired.Load() {
		return nil
	}
	if _, err := s.r.st.Stat(ctx, s.name()); errors.Is(err, blob.ErrNotFound) {
		s.expired.Store(true)
		s.r.log.Error("writer session expired by garbage collection; refusing writes", "session", s.id)
		return ErrSessionExpired
	} else if err != nil {
		return err
	}
	return s.r.st.Put(ctx, s.name(), s.marker(s.r.clk.Now()))
}

// rotate replaces the session by a new one and refreshes the view of
// condemned packs and of the index. It is called when the repository has
// been idle (no dedup decision, nothing pending) for a whole heartbeat
// interval, so a long-lived Repository does not hold garbage collection back
// forever. It is not done at commits: another backup running on the same
// Repository may still rely on dedup decisions made under the old session.
// The new marker is written before the old one is deleted, so the process is
// never without a session.
func (s *session) rotate(ctx context.Context) error {
	if s.disabled {
		return nil
	}
	s.mu.Lock()
	old := s.id
	if old == "" || s.expired.Load() {
		s.mu.Unlock()
		return nil
	}
	if err := s.startLocked(ctx); err != nil {
		s.id = old
		s.mu.Unlock()
		return err
	}
	if err := s.r.st.Delete(ctx, sessionPrefix+old); err != nil {
		s.r.log.Warn("deleting old session marker failed", "session", old, "err", err)
	}
	s.mu.Unlock()
	if err := s.r.refreshPlans(ctx); err != nil {
		return err
	}
	return s.r.syncIndex(ctx)
}

// checkAlive fails if garbage collection expired this session.
func (s *session) checkAlive(ctx context.Context) error {
	if s.disabled {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expired.Load() {
		return ErrSessionExpired
	}
	if _, err := s.r.st.Stat(ctx, s.name()); errors.Is(err, blob.ErrNotFound) {
		s.expired.Store(true)
		return ErrSessionExpired
	} else if err != nil {
		return fmt.Errorf("repo: check session marker: %w", err)
	}
	return nil
}

func (r *Repository) heartbeatLoop() {
	for {
		select {
		case <-r.bg.Done():
			return
		case <-r.clk.After(r.opts.HeartbeatInterval):
		}
		if err := r.sess.heartbeat(r.bg); err != nil {
			if r.bg.Err() == nil {
				r.log.Warn("session heartbeat failed", "err", err)
			}
			continue
		}
		// Idle: no dedup decision during a whole interval and nothing
		// pending. Rotate so garbage collection can proceed.
		if !r.sess.active.Swap(false) && !r.saver.busy() {
			if err := r.sess.rotate(r.bg); err != nil && r.bg.Err() == nil {
				r.log.Warn("session rotation failed", "err", err)
			}
		}
	}
}

// listSessions returns all session markers; unreadable ones are returned
// with only the ID set (and Heartbeat zero).
func (r *Repository) listSessions(ctx context.Context) ([]sessionMarker, error) {
	var names []string
	if err := r.st.List(ctx, sessionPrefix, func(i blob.Info) error { names = append(names, i.Name); return nil }); err != nil {
		return nil, fmt.Errorf("repo: list sessions: %w", err)
	}
	var out []sessionMarker
	for _, n := range names {
		id := strings.TrimPrefix(n, sessionPrefix)
		p, err := r.readMeta(ctx, "session", n)
		if errors.Is(err, blob.ErrNotFound) {
			continue
		}
		var m sessionMarker
		if err == nil {
			err = json.Unmarshal(p, &m)
		}
		if err != nil || m.ID != id {
			r.log.Warn("unreadable session marker", "name", n, "err", err)
			m = sessionMarker{ID: id}
		}
		out = append(out, m)
	}
	return out, nil
}

// refreshPlans loads the garbage collection plans and excludes their
// condemned packs from lookups.
func (r *Repository) refreshPlans(ctx context.Context) error {
	plans, err := r.loadPlans(ctx, false)
	if err != nil {
		return err
	}
	var condemned [][32]byte
	for _, p := range plans {
		for _, id := range p.Packs {
			condemned = append(condemned, id)
		}
	}
	r.idx.Exclude(condemned)
	return nil
}

// syncIndex brings the index up to date with the index objects in storage.
// New objects are added. Objects the index holds that are gone were
// rewritten by garbage collection (or rebuild-index): if the new objects
// say they supersede them, the packs they dropped are tombstoned and the
// cache stays; otherwise the index is rebuilt from all objects.
func (r *Repository) syncIndex(ctx context.Context) error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	var names []string
	if err := r.st.List(ctx, indexPrefix, func(i blob.Info) error { names = append(names, i.Name); return nil }); err != nil {
		return fmt.Errorf("repo: list index: %w", err)
	}
	have := r.idx.Names()
	inStore := make(map[string]bool, len(names))
	for _, n := range names {
		inStore[n] = true
	}
	var missing []string
	for n := range have {
		if !inStore[n] {
			missing = append(missing, n)
		}
	}
	var todo []string
	for _, n := range names {
		if !have[n] {
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 && len(missing) == 0 {
		return nil
	}
	if len(missing) == 0 && len(todo) <= 8 {
		// A few objects (another writer's recent backups): into the overlay.
		var objs []*index.Object
		loaded, err := r.loadIndexObjects(ctx, todo, func(o *index.Object) { objs = append(objs, o) })
		if err != nil {
			return err
		}
		for i, o := range objs {
			packs, entries := index.ObjectEntries(o)
			if err := r.idx.Add(loaded[i], packs, entries); err != nil {
				return err
			}
		}
		return nil
	}
	b := r.idx.NewBuilder()
	superseded := map[string]bool{}
	var dropped [][32]byte
	loaded, err := r.loadIndexObjects(ctx, todo, func(o *index.Object) {
		b.AddObject(o)
		for _, id := range o.Supersedes {
			superseded[indexPrefix+hex.EncodeToString(id[:])] = true
		}
		dropped = append(dropped, o.Dropped...)
	})
	if err != nil {
		b.Discard()
		return err
	}
	incremental := true
	for _, n := range missing {
		if !superseded[n] {
			incremental = false
			break
		}
	}
	if !incremental {
		b.Discard()
		r.log.Info("index objects were rewritten; rebuilding the local index", "objects", len(names))
		return r.idx.Replace(func(b *index.Builder) ([]string, error) {
			return r.loadIndexObjects(ctx, names, b.AddObject)
		})
	}
	if err := r.idx.FinishInto(b, loaded); err != nil {
		return err
	}
	r.idx.Drop(dropped)
	r.idx.Forget(missing)
	return nil
}

// loadIndexObjects fetches, authenticates and decodes index objects (four
// at a time) and calls add for each, serially. Damaged objects are logged
// and skipped (their blobs look missing until RebuildIndex); the names of
// the objects loaded are returned.
func (r *Repository) loadIndexObjects(ctx context.Context, names []string, add func(*index.Object)) ([]string, error) {
	var mu sync.Mutex
	var loaded []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, n := range names {
		g.Go(func() error {
			o, err := r.readIndexObject(gctx, n)
			if errors.Is(err, blob.ErrNotFound) {
				return nil // deleted meanwhile by garbage collection
			}
			if errors.Is(err, ErrCorrupt) {
				r.log.Error("skipping damaged index object; run check and rebuild-index", "name", n, "err", err)
				return nil
			}
			if err != nil {
				return err
			}
			mu.Lock()
			add(o)
			loaded = append(loaded, n)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return loaded, nil
}

// readIndexObject fetches, authenticates and decodes one index object,
// checking that its name is the keyed hash of its content.
func (r *Repository) readIndexObject(ctx context.Context, name string) (*index.Object, error) {
	plain, err := r.readMeta(ctx, "index", name)
	if err != nil {
		return nil, err
	}
	id := r.hasher.SumParts([]byte(indexIDLabel), plain)
	if indexPrefix+hex.EncodeToString(id[:]) != name {
		return nil, fmt.Errorf("%w: index object %s: content does not match its name", ErrCorrupt, name)
	}
	o, err := index.DecodeObject(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: index object %s: %v", ErrCorrupt, name, err)
	}
	return o, nil
}
