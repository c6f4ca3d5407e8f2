package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/clock"
	"github.com/coffer/coffer/internal/meta"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the database file's name inside the data directory.
const FileName = "coffer.db"

// Synchronous levels (PRAGMA synchronous) Options accepts.
const (
	// SyncNormal: in WAL mode, commits are not fsync'd; the WAL is synced at
	// checkpoints. Survives any process crash; a power loss or OS crash may
	// roll back the most recent commits, never corrupt the database.
	SyncNormal = "NORMAL"
	// SyncFull: every commit fsyncs the WAL. Survives power loss, at the
	// cost of one fsync per write transaction.
	SyncFull = "FULL"
)

// Options configures Open. The zero value is the default.
type Options struct {
	// Synchronous is SyncNormal (default) or SyncFull; see the package
	// comment for the trade-off.
	Synchronous string
	// Readers is the number of read connections (default: max(4,
	// GOMAXPROCS)).
	Readers int
	// BusyTimeout bounds how long a connection waits for a lock held by
	// another process sharing the file (default 10 s). Within one process
	// the single writer connection means writers queue in Go instead.
	BusyTimeout time.Duration
	// Logger receives the store's few log lines (migrations applied).
	// Default: discard.
	Logger *slog.Logger
	// Clock stamps schema_migrations rows (the store takes every other
	// time from its callers). Default: clock.Real{}.
	Clock clock.Clock

	ckpt ckptTuning // tests only
}

// ErrInUse: another Store, in this process or another, has the database
// open (see "One owner" in the package comment). Open fails with it.
var ErrInUse = errors.New("the metadata database is in use by another Coffer process or store")

// Store is the SQLite metadata store. It implements meta.Store.
type Store struct {
	path  string
	log   *slog.Logger
	clock clock.Clock
	w     *sql.DB   // the writer pool: exactly one connection
	wconn *sql.Conn // that connection, used only by the writer goroutine
	r     *sql.DB   // read-only connections

	writes     chan *writeReq // to the writer goroutine
	quit       chan struct{}  // closed by Close
	writerDone chan struct{}  // closed when the writer goroutine exits

	mu     sync.Mutex
	stmts  map[stmtKey]*sql.Stmt
	closed atomic.Bool

	vaults *vaultCache // loaded at Open; see vaultcache.go
	lock   *os.File    // the ownership lock (lockFile), held until Close

	ckpt ckptState // the checkpointer; see checkpoint.go
}

var _ meta.Store = (*Store)(nil)

type stmtKey struct {
	write bool
	query string
}

// maxCachedStmts bounds the prepared-statement cache (list queries are
// built from filters, so their number is bounded but can be large).
const maxCachedStmts = 512

// Open opens (creating if needed) dataDir/coffer.db and applies pending
// migrations. dataDir is created with mode 0700 if it does not exist.
func Open(ctx context.Context, dataDir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	return OpenFile(ctx, filepath.Join(dataDir, FileName), opts)
}

// OpenFile opens the database at path, which must not contain '?'.
func OpenFile(ctx context.Context, path string, opts Options) (*Store, error) {
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?' or '#'", path)
	}
	syncMode := strings.ToUpper(opts.Synchronous)
	switch syncMode {
	case "":
		syncMode = SyncNormal
	case SyncNormal, SyncFull:
	default:
		return nil, fmt.Errorf("sqlite: synchronous must be %s or %s, got %q", SyncNormal, SyncFull, opts.Synchronous)
	}
	readers := opts.Readers
	if readers <= 0 {
		readers = max(4, runtime.GOMAXPROCS(0))
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			unlockFile(lock)
		}
	}()

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+syncMode+")")
	// No checkpoint inside a commit: the checkpointer does them (see
	// checkpoint.go). journal_size_limit shrinks a WAL file that grew
	// beyond it when the WAL restarts.
	q.Add("_pragma", "wal_autocheckpoint(0)")
	q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walSizeLimit))
	q.Add("_txlock", "immediate")
	w, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	s := &Store{path: path, log: log, clock: clk, w: w, stmts: map[stmtKey]*sql.Stmt{},
		writes: make(chan *writeReq), quit: make(chan struct{}), writerDone: make(chan struct{}), lock: lock}
	s.ckpt.init(opts.ckpt)
	// Writes use this one connection directly, with explicit BEGIN
	// IMMEDIATE/COMMIT, so that statements prepared on it stay prepared
	// (database/sql re-prepares a connection's statements inside each Tx).
	s.wconn, err = w.Conn(ctx)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	go s.writer()
	err = s.migrate(ctx)
	if err == nil {
		err = s.loadVaults(ctx)
	}
	if err != nil {
		s.stopWriter()
		s.wconn.Close()
		w.Close()
		return nil, err
	}

	rq := url.Values{}
	rq.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	rq.Add("_pragma", "foreign_keys(1)")
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err == nil {
		err = r.PingContext(ctx)
	}
	if err != nil {
		s.stopWriter()
		s.wconn.Close()
		w.Close()
		if r != nil {
			r.Close()
		}
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	s.r = r
	if err := s.startCheckpointer(ctx, path, busy, syncMode); err != nil {
		s.stopWriter()
		s.wconn.Close()
		w.Close()
		r.Close()
		return nil, err
	}
	ok = true
	return s, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close checkpoints the WAL into the database file and closes all
// connections. It is idempotent.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Finish the batch in flight; writers still queued get errClosed.
	s.stopWriter()
	s.stopCheckpointer()
	s.mu.Lock()
	for k, st := range s.stmts {
		st.Close()
		delete(s.stmts, k)
	}
	s.mu.Unlock()
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	// Fold the WAL into the main file (best effort) so that a clean
	// shutdown leaves one self-contained file.
	_, _ = s.wconn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	errs = append(errs, s.wconn.Close(), s.w.Close())
	unlockFile(s.lock)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// errClosed is returned by every method after Close.
var errClosed = &backup.Error{Kind: backup.KindUnavailable, Message: "the metadata store is closed"}

// stmt returns the cached prepared statement for query on the writer
// connection (write; only the writer goroutine asks) or the reader pool.
// When the cache is full it returns nil and the caller runs the query
// unprepared.
func (s *Store) stmt(ctx context.Context, write bool, query string) (*sql.Stmt, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	k := stmtKey{write, query}
	s.mu.Lock()
	st, full := s.stmts[k], len(s.stmts) >= maxCachedStmts
	s.mu.Unlock()
	if st != nil || full {
		return st, nil
	}
	var err error
	if write {
		st, err = s.wconn.PrepareContext(ctx, query)
	} else {
		st, err = s.r.PrepareContext(ctx, query)
	}
	if err != nil {
		return nil, dbErr("prepare", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.stmts[k]; old != nil {
		st.Close()
		return old, nil
	}
	if s.closed.Load() {
		st.Close()
		return nil, errClosed
	}
	s.stmts[k] = st
	return st, nil
}

// Writes and group commit.
//
// Every write runs as a function on the writer goroutine, which owns the
// single writer connection. It takes the writes that are waiting (up to
// maxBatch), runs them in one BEGIN IMMEDIATE … COMMIT, each inside its
// own SAVEPOINT so that a failing one is rolled back alone, and answers
// every caller only after the COMMIT (or with the COMMIT's error). Under
// concurrent load this spreads the cost of a commit (WAL frames, locks)
// over many writes; a lone write runs without savepoint. No writer of this
// process ever waits on an SQLite lock.

// maxBatch bounds the writes committed together.
const maxBatch = 64

type writeReq struct {
	ctx  context.Context
	fn   func(*wtx) error
	raw  bool // run alone, outside a transaction (txRaw)
	err  error
	done chan struct{}
}

// tx runs fn in a write transaction on the writer goroutine and returns
// fn's error, or the commit's. Once fn has started it runs to the end (its
// statements ignore ctx cancellation, so that an interrupt cannot abort the
// transaction other writes share); a ctx that ends while the write is
// queued cancels it.
func (s *Store) tx(ctx context.Context, fn func(*wtx) error) error {
	return s.send(ctx, &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})})
}

// txRaw runs fn alone on the writer goroutine, with the writer connection
// outside any transaction: fn begins and ends its own (migrations, which
// must switch foreign keys off outside a transaction). fn must not
// register commit hooks.
func (s *Store) txRaw(ctx context.Context, fn func(*wtx) error) error {
	return s.send(ctx, &writeReq{ctx: ctx, fn: fn, raw: true, done: make(chan struct{})})
}

func (s *Store) send(ctx context.Context, r *writeReq) error {
	if s.closed.Load() {
		return errClosed
	}
	select {
	case s.writes <- r:
	case <-s.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	<-r.done
	return r.err
}

func (s *Store) stopWriter() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	<-s.writerDone
}

// writer is the writer goroutine; Close stops it (stopWriter) and waits.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		var raw *writeReq // a raw write that arrived while gathering
		select {
		case r := <-s.writes:
			if r.raw {
				s.runRaw(r)
				continue
			}
			batch = append(batch[:0], r)
		case <-s.quit:
			for {
				select {
				case r := <-s.writes:
					r.err = errClosed
					close(r.done)
				default:
					return
				}
			}
		}
		// Let writers that were just answered queue their next write, so
		// that it joins this batch instead of waiting for the next.
		runtime.Gosched()
	gather:
		for len(batch) < maxBatch {
			select {
			case r := <-s.writes:
				if r.raw {
					raw = r
					break gather
				}
				batch = append(batch, r)
			default:
				break gather
			}
		}
		if s.runBatch(batch) {
			s.ckpt.kick()
		}
		clear(batch)
		if raw != nil {
			s.runRaw(raw)
		}
		if s.ckpt.restartWanted.Load() {
			s.finishCheckpoint()
		}
	}
}

// runBatch runs and commits one batch, applies the commit hooks of the
// writes it committed, and answers its callers. It reports whether it
// committed anything.
func (s *Store) runBatch(batch []*writeReq) (committed bool) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	var live []*writeReq
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return false
	}
	bg := context.Background()
	exec := func(q string) error {
		_, err := (&wtx{s: s, ctx: bg}).exec(q)
		return err
	}
	failAll := func(err error) {
		_, _ = s.wconn.ExecContext(bg, "ROLLBACK")
		for _, r := range live {
			r.err = err
		}
	}
	if err := exec("BEGIN IMMEDIATE"); err != nil {
		failAll(err)
		return false
	}
	single := len(live) == 1
	var hooks []func(*vaultCache)
	n := 0
	for _, r := range live {
		if !single {
			if err := exec("SAVEPOINT w"); err != nil {
				failAll(err)
				return false
			}
		}
		t := &wtx{s: s, ctx: context.WithoutCancel(r.ctx)}
		err := runFn(r.fn, t)
		if err != nil {
			r.err = err
			if single {
				_, _ = s.wconn.ExecContext(bg, "ROLLBACK")
				return false
			}
			if rerr := exec("ROLLBACK TO w"); rerr != nil {
				failAll(rerr)
				return false
			}
		} else {
			n++
			hooks = append(hooks, t.hooks...)
		}
		if !single {
			if err := exec("RELEASE w"); err != nil {
				failAll(err)
				return false
			}
		}
	}
	if n == 0 {
		_, _ = s.wconn.ExecContext(bg, "ROLLBACK")
		return false
	}
	if err := exec("COMMIT"); err != nil {
		err = dbErr("commit", err)
		_, _ = s.wconn.ExecContext(bg, "ROLLBACK")
		for _, r := range live {
			if r.err == nil {
				r.err = err
			}
		}
		return false
	}
	if len(hooks) > 0 {
		// In commit order, before any writer of the batch is answered.
		s.vaults.mu.Lock()
		for _, h := range hooks {
			h(s.vaults)
		}
		s.vaults.mu.Unlock()
	}
	return true
}

// runRaw runs a txRaw write and answers its caller.
func (s *Store) runRaw(r *writeReq) {
	defer close(r.done)
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return
	}
	r.err = runFn(r.fn, &wtx{s: s, ctx: context.WithoutCancel(r.ctx)})
	s.ckpt.kick()
}

// runFn calls fn, turning a panic into an Internal error so that one bad
// write cannot take the writer goroutine (and the store) down.
func runFn(fn func(*wtx) error, t *wtx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &backup.Error{Kind: backup.KindInternal, Message: "metadata store: a write failed unexpectedly", Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	return fn(t)
}

// wtx is a write transaction in progress; its statements run on the writer
// connection and are cached.
type wtx struct {
	s     *Store
	ctx   context.Context
	hooks []func(*vaultCache)
}

// onCommit registers a change of the vault cache that the transaction
// makes. It runs (with the cache locked) after the COMMIT, and only if this
// write was committed; a write rolled back to its savepoint or a failed
// COMMIT drops it. fn must not keep or share anything the caller keeps.
func (t *wtx) onCommit(fn func(*vaultCache)) { t.hooks = append(t.hooks, fn) }

func (t *wtx) exec(query string, args ...any) (sql.Result, error) {
	st, err := t.s.stmt(t.ctx, true, query)
	if err != nil {
		return nil, err
	}
	var res sql.Result
	if st != nil {
		res, err = st.ExecContext(t.ctx, args...)
	} else {
		res, err = t.s.wconn.ExecContext(t.ctx, query, args...)
	}
	if err != nil {
		return nil, dbErr("write", err)
	}
	return res, nil
}

// execScript runs uncached, possibly multi-statement SQL (migrations).
func (t *wtx) execScript(script string) error {
	_, err := t.s.wconn.ExecContext(t.ctx, script)
	return err
}

func (t *wtx) queryRow(query string, args ...any) *sql.Row {
	st, err := t.s.stmt(t.ctx, true, query)
	if err != nil || st == nil {
		// Unprepared; on a failure to prepare, Scan reports it.
		return t.s.wconn.QueryRowContext(t.ctx, query, args...)
	}
	return st.QueryRowContext(t.ctx, args...)
}

func (t *wtx) query(query string, args ...any) (*sql.Rows, error) {
	st, err := t.s.stmt(t.ctx, true, query)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if st != nil {
		rows, err = st.QueryContext(t.ctx, args...)
	} else {
		rows, err = t.s.wconn.QueryContext(t.ctx, query, args...)
	}
	if err != nil {
		return nil, dbErr("read", err)
	}
	return rows, nil
}

// readRow runs a single-row query on the reader pool.
func (s *Store) readRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	st, err := s.stmt(ctx, false, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.r.QueryRowContext(ctx, query, args...), nil
	}
	return st.QueryRowContext(ctx, args...), nil
}

// read runs a query on the reader pool.
func (s *Store) read(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, false, query)
	if err != nil {
		return nil, err
	}
	var rows *sql.Rows
	if st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = s.r.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return nil, dbErr("read", err)
	}
	return rows, nil
}

// dbErr translates a driver error into a domain error: the caller's context
// errors pass through, lock contention is Unavailable (retrying may help),
// everything else is Internal. The SQL error is kept as the cause for logs
// and never appears in the message.
func dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *backup.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &backup.Error{Kind: backup.KindUnavailable, Message: "the metadata store is busy; retry the request", Err: err}
		case sqlite3.SQLITE_CONSTRAINT:
			// The methods check for duplicates before inserting, so this
			// only happens when another process wrote the same row.
			return &backup.Error{Kind: backup.KindConflict, Message: "a concurrent change conflicted with this one; retry the request", Err: err}
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
			return &backup.Error{Kind: backup.KindUnavailable, Message: "the metadata store cannot write to its disk", Err: err}
		}
	}
	return &backup.Error{Kind: backup.KindInternal, Message: "metadata store " + op + " failed", Err: err}
}

// Time columns hold Unix nanoseconds; a zero time is NULL.

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func nullNS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func fromNullNS(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNS(n.Int64)
}

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", &backup.Error{Kind: backup.KindInternal, Message: "metadata store: encoding a record failed", Err: err}
	}
	return string(b), nil
}

func decode(data string, v any) error {
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return &backup.Error{Kind: backup.KindInternal, Message: "metadata store: a stored record is corrupt", Err: err}
	}
	return nil
}

// scanErr maps sql.ErrNoRows to notFound and other errors through dbErr.
func scanErr(err error, notFound func() error) error {
	if errors.Is(err, sql.ErrNoRows) && notFound != nil {
		return notFound()
	}
	return dbErr("read", err)
}

// where accumulates SQL conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) in(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	ph := strings.TrimSuffix(strings.Repeat("?,", len(vals)), ",")
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	w.add(col+" IN ("+ph+")", args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// pageArgs decodes the page and returns the limit and cursor.
func pageArgs(scope string, p meta.Page) (limit int, c meta.Cursor, ok bool, err error) {
	limit, err = meta.Limit(p)
	if err != nil {
		return 0, meta.Cursor{}, false, err
	}
	c, ok, err = meta.DecodeCursor(scope, p.NextToken)
	return limit, c, ok, err
}

// readPage runs query (without its LIMIT, which readPage adds: one row
// more than limit), scans each row, and returns at most limit items and the
// cursor of the next page — cursor(last item returned) — or "" when this
// page is the last.
func readPage[T any](ctx context.Context, s *Store, query string, args []any, limit int,
	scan func(scanner) (T, error), cursor func(T) meta.Cursor) (out []T, next string, err error) {
	rows, err := s.read(ctx, query+` LIMIT `+strconv.Itoa(limit+1), args...)
	if err != nil {
		return nil, "", err
	}
	defer closeRows(rows, &err)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, "", dbErr("read", err)
	}
	if len(out) > limit {
		out = out[:limit]
		next = meta.EncodeCursor(cursor(out[limit-1]))
	}
	return out, next, nil
}

// scanData scans a row of one column, a record's JSON, and decodes it.
func scanData[T any](row scanner) (T, error) {
	var data string
	var v T
	if err := row.Scan(&data); err != nil {
		return v, dbErr("read", err)
	}
	err := decode(data, &v)
	return v, err
}

func closeRows(rows *sql.Rows, err *error) {
	if cerr := rows.Close(); cerr != nil && *err == nil {
		*err = dbErr("read", cerr)
	}
}
