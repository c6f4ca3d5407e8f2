// Package postgres is the connector for RDS resources: one PostgreSQL
// database, backed up as a consistent logical dump (pg_dump in custom
// format, uncompressed so that the repository's content-defined chunking
// deduplicates consecutive dumps and its zstd compresses them) streamed into
// the engine, and restored into a new database with pg_restore.
//
// Vocabulary:
//
//   - DSN: the resource's Target, a PostgreSQL connection string (URL or
//     key=value). It may hold a password: it is never logged, never put on a
//     command line (the tools get PGHOST, PGPORT, PGUSER, PGDATABASE,
//     PGPASSWORD and PGSSLMODE in their environment) and never appears in
//     an error.
//   - Dump: pg_dump --format=custom --compress=0 of the DSN's database. It
//     runs in one repeatable-read transaction, so it is consistent. If
//     pg_dump fails part way (the database goes away), the stream fails and
//     no snapshot is committed.
//   - Restore: CREATE DATABASE on the server the target DSN names, then
//     pg_restore --single-transaction --exit-on-error --no-owner --no-acl
//     from the snapshot's stream. A failed restore drops the new database.
package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/coffer/coffer/internal/clock"
	"io"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector"
)

// Default tool paths.
const (
	DefaultPgDump    = "/usr/bin/pg_dump"
	DefaultPgRestore = "/usr/bin/pg_restore"
)

// Connector backs up and restores PostgreSQL databases.
type Connector struct {
	// PgDump and PgRestore are the tools' paths (defaults DefaultPgDump,
	// DefaultPgRestore; a bare name is looked up in PATH).
	PgDump, PgRestore string
	// ConnectTimeout bounds connecting (default 10 s).
	ConnectTimeout time.Duration
}

var _ connector.Connector = (*Connector)(nil)

// Type returns RDS.
func (c *Connector) Type() backup.ResourceType { return backup.RDS }

// target is a parsed connection string.
type target struct {
	cfg     *pgx.ConnConfig
	sslmode string
}

// label describes the database for messages: "db on host:port".
func (t *target) label() string {
	return fmt.Sprintf("database %q on %s:%d", t.cfg.Database, t.cfg.Host, t.cfg.Port)
}

var kvSSLMode = regexp.MustCompile(`(?:^|\s)sslmode\s*=\s*'?([a-z-]+)`)

func (c *Connector) parse(dsn string) (*target, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the string: never return them.
		return nil, errors.New("the connection string does not parse")
	}
	to := c.ConnectTimeout
	if to <= 0 {
		to = 10 * time.Second
	}
	cfg.ConnectTimeout = to
	t := &target{cfg: cfg}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		t.sslmode = u.Query().Get("sslmode")
	} else if m := kvSSLMode.FindStringSubmatch(dsn); m != nil {
		t.sslmode = m[1]
	}
	if t.sslmode == "" {
		t.sslmode = "prefer"
	}
	return t, nil
}

// env returns the environment for pg_dump and pg_restore connecting to
// database db of t.
func (t *target) env(db, app string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"LC_ALL=C",
		"PGHOST=" + t.cfg.Host,
		"PGPORT=" + strconv.Itoa(int(t.cfg.Port)),
		"PGUSER=" + t.cfg.User,
		"PGDATABASE=" + db,
		"PGSSLMODE=" + t.sslmode,
		"PGCONNECT_TIMEOUT=" + strconv.Itoa(max(1, int(t.cfg.ConnectTimeout/time.Second))),
		"PGAPPNAME=" + app,
	}
	if t.cfg.Password != "" {
		env = append(env, "PGPASSWORD="+t.cfg.Password)
	}
	return env
}

// info is what Backup learns from the server before dumping.
type info struct {
	db      string
	size    int64
	version string
	port    string
}

func (c *Connector) query(ctx context.Context, r backup.Resource, t *target) (*info, error) {
	conn, err := pgx.ConnectConfig(ctx, t.cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: database %s (%s) does not answer: %v", connector.ErrUnavailable, r.ID, t.label(), safeErr(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var in info
	err = conn.QueryRow(ctx, `SELECT current_database(), pg_database_size(current_database()), current_setting('server_version'), current_setting('port')`).
		Scan(&in.db, &in.size, &in.version, &in.port)
	if err != nil {
		return nil, fmt.Errorf("%w: database %s (%s): %v", connector.ErrUnavailable, r.ID, t.label(), safeErr(err))
	}
	return &in, nil
}

// safeErr strips what a pgx error could quote of the connection string.
func safeErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, "password="); i >= 0 {
		s = s[:i] + "password=[REDACTED]"
	}
	return s
}

// Check connects to the database and reads its size.
func (c *Connector) Check(ctx context.Context, r backup.Resource) error {
	t, err := c.parse(r.Target)
	if err != nil {
		return fmt.Errorf("%w: database %s: %v", connector.ErrUnavailable, r.ID, err)
	}
	_, err = c.query(ctx, r, t)
	return err
}

func tool(p, def string) string {
	if p == "" {
		p = def
	}
	return p
}

// tail keeps the last bytes written to it (a tool's stderr).
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = t.buf[len(t.buf)-tailMax:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(bytes.ToValidUTF8(t.buf, []byte("?"))))
}

// dumpReader reads pg_dump's output and turns its failure into a read
// error, so that a dump cut short is never committed as complete.
type dumpReader struct {
	r      io.Reader
	wait   func() error
	stderr *tail
	what   string
	n      int64
	err    error
}

func (d *dumpReader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.r.Read(p)
	d.n += int64(n)
	if err == io.EOF {
		if werr := d.wait(); werr != nil {
			msg := d.stderr.String()
			if msg == "" {
				msg = werr.Error()
			}
			d.err = fmt.Errorf("%w: pg_dump of %s failed after %d bytes: %s", connector.ErrSourceFailed, d.what, d.n, msg)
			return n, d.err
		}
	}
	if err != nil {
		d.err = err
	}
	return n, err
}

// Backup dumps the database into the repository as one stream snapshot.
func (c *Connector) Backup(ctx context.Context, r backup.Resource, req connector.BackupRequest) (*connector.BackupResult, error) {
	t, err := c.parse(r.Target)
	if err != nil {
		return nil, fmt.Errorf("%w: database %s: %v", connector.ErrUnavailable, r.ID, err)
	}
	in, err := c.query(ctx, r, t)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, tool(c.PgDump, DefaultPgDump), "--format=custom", "--compress=0", "--no-password")
	cmd.Env = t.env(t.cfg.Database, "coffer-backup")
	stderr := &tail{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pg_dump: %w", err)
	}
	var once sync.Once
	var werr error
	wait := func() error {
		once.Do(func() { werr = cmd.Wait() })
		return werr
	}
	defer func() {
		_ = cmd.Process.Kill() // no-op once it has exited
		_ = wait()
	}()
	dr := &dumpReader{r: out, wait: wait, stderr: stderr, what: fmt.Sprintf("database %s (%s)", r.ID, t.label())}
	meta := map[string]string{"coffer.pg.database": in.db, "coffer.pg.version": in.version}
	for k, v := range req.Meta {
		meta[k] = v
	}
	opts := archive.StreamOptions{
		Hostname: req.Hostname,
		Paths:    []string{"postgres:" + r.ID + "/" + in.db},
		Tags:     req.Tags,
		Meta:     meta,
		Clock:    req.Clock,
		Logger:   req.Logger,
	}
	if req.Progress != nil {
		opts.Progress = func(p archive.Progress) {
			pct := connector.Percent(p.BytesDone, in.size)
			if pct > 99 {
				pct = 99
			}
			req.Progress(connector.Progress{BytesDone: p.BytesRead, BytesTotal: in.size, ItemsDone: 0, ItemsTotal: 1, Percent: pct})
		}
	}
	res, err := archive.BackupStream(ctx, req.Repo, dr, in.db+".dump", opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		if errors.Is(dr.err, connector.ErrSourceFailed) {
			return nil, dr.err
		}
		return nil, fmt.Errorf("backing up database %s: %w", r.ID, err)
	}
	if err := wait(); err != nil { // BackupStream read to EOF, so this has run
		return nil, fmt.Errorf("%w: pg_dump of database %s: %s", connector.ErrSourceFailed, r.ID, stderr.String())
	}
	st := res.Stats
	return &connector.BackupResult{
		Snapshot:     res.ID,
		Kind:         archive.KindStream,
		LogicalBytes: res.Snapshot.Size,
		BytesRead:    res.Snapshot.Size,
		BytesNew:     st.BytesNew,
		Files:        1,
		Stats:        st,
		Warnings:     res.Warnings,
		RestoreMetadata: map[string]string{
			"dbInstanceIdentifier": r.ID,
			"dbName":               in.db,
			"engine":               "postgres",
			"engineVersion":        in.version,
			"port":                 in.port,
			"allocatedStorage":     strconv.FormatInt(max(1, (in.size+(1<<30-1))>>30), 10),
			"multiAz":              "false",
		},
	}, nil
}

var dbNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,62}$`)

var (
	_ connector.TargetChecker = (*Connector)(nil)
	_ connector.Discarder     = (*Connector)(nil)
)

// staging returns the staging database name of req.
func staging(req connector.RestoreRequest) string {
	if req.Staging != "" {
		return req.Staging
	}
	s := "coffer_restore_" + req.Database
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// checkNames validates the database and staging names of req.
func checkNames(req connector.RestoreRequest) error {
	if !dbNameRe.MatchString(req.Database) {
		return fmt.Errorf("invalid database name %q: 1 to 63 letters, digits, '_' and '-', not starting with a digit", req.Database)
	}
	if st := staging(req); !dbNameRe.MatchString(st) || st == req.Database {
		return fmt.Errorf("invalid staging database name %q", st)
	}
	return nil
}

// connectTarget connects to the server of req.Target.
func (c *Connector) connectTarget(ctx context.Context, req connector.RestoreRequest) (*target, *pgx.Conn, error) {
	t, err := c.parse(req.Target)
	if err != nil {
		return nil, nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, t.cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: restore target %s does not answer: %v", connector.ErrUnavailable, t.label(), safeErr(err))
	}
	return t, conn, nil
}

func dbExists(ctx context.Context, conn *pgx.Conn, t *target, name string) (bool, error) {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("restore target %s: %v", t.label(), safeErr(err))
	}
	return exists, nil
}

// CheckTarget reports ErrTargetExists when database req.Database exists on
// the server of req.Target.
func (c *Connector) CheckTarget(ctx context.Context, req connector.RestoreRequest) error {
	if err := checkNames(req); err != nil {
		return err
	}
	t, conn, err := c.connectTarget(ctx, req)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	exists, err := dbExists(ctx, conn, t, req.Database)
	if err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("%w: database %q exists on %s:%d", connector.ErrTargetExists, req.Database, t.cfg.Host, t.cfg.Port)
	}
	return nil
}

// Discard drops the staging database of req, if it exists.
func (c *Connector) Discard(ctx context.Context, req connector.RestoreRequest) error {
	if err := checkNames(req); err != nil {
		return err
	}
	t, conn, err := c.connectTarget(ctx, req)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return dropDatabase(ctx, conn, t, staging(req))
}

// dropDatabase drops a database, cutting off any session still connected
// to it (a pg_restore killed with its process).
func dropDatabase(ctx context.Context, conn *pgx.Conn, t *target, name string) error {
	_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	if err != nil {
		return fmt.Errorf("drop database %q on %s: %v", name, t.label(), safeErr(err))
	}
	return nil
}

// Restore creates database req.Database on the server of req.Target and
// restores the dump into it: into a staging database first (req.Staging),
// renamed to req.Database only when pg_restore has succeeded, so that
// req.Database never holds a partial restore. A failed restore drops the
// staging database.
func (c *Connector) Restore(ctx context.Context, req connector.RestoreRequest) (*connector.RestoreResult, error) {
	if len(req.Include) > 0 {
		return nil, fmt.Errorf("%w: include paths for a database restore", connector.ErrNotSupported)
	}
	if err := checkNames(req); err != nil {
		return nil, err
	}
	t, conn, err := c.connectTarget(ctx, req)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	exists, err := dbExists(ctx, conn, t, req.Database)
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, fmt.Errorf("%w: database %q exists on %s:%d", connector.ErrTargetExists, req.Database, t.cfg.Host, t.cfg.Port)
	}
	stage := staging(req)
	if err := dropDatabase(ctx, conn, t, stage); err != nil { // a leftover of an earlier attempt
		return nil, err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{stage}.Sanitize()+" TEMPLATE template0"); err != nil {
		return nil, fmt.Errorf("create database %q: %v", stage, safeErr(err))
	}
	sreq := req
	sreq.Database = stage
	n, err := c.pgRestore(ctx, t, sreq)
	if err == nil {
		_, err = conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{stage}.Sanitize()+" RENAME TO "+pgx.Identifier{req.Database}.Sanitize())
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42P04" { // duplicate_database: created meanwhile
				err = fmt.Errorf("%w: database %q was created on %s:%d while the restore ran", connector.ErrTargetExists, req.Database, t.cfg.Host, t.cfg.Port)
			} else {
				err = fmt.Errorf("rename database %q to %q: %v", stage, req.Database, safeErr(err))
			}
		}
	}
	if err != nil {
		_ = dropDatabase(context.WithoutCancel(ctx), conn, t, stage)
		return nil, err
	}
	dsn, err := WithDatabase(req.Target, req.Database)
	if err != nil {
		return nil, err
	}
	return &connector.RestoreResult{Bytes: n, Files: 1, Target: dsn}, nil
}

// WithDatabase returns the connection string dsn (URL or key=value form)
// with its database replaced by db. It never returns dsn's text in an
// error (it may hold a password).
func WithDatabase(dsn, db string) (string, error) {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + db
		u.RawPath = ""
		return u.String(), nil
	}
	if _, err := pgx.ParseConfig(dsn); err != nil {
		return "", errors.New("the connection string does not parse")
	}
	// key=value: drop any dbname setting and append ours. Values may be
	// quoted with single quotes and backslash escapes.
	var out []string
	for _, kv := range splitKV(dsn) {
		k, _, _ := strings.Cut(kv, "=")
		if strings.TrimSpace(k) == "dbname" {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "dbname='"+strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(db)+"'")
	return strings.Join(out, " "), nil
}

// splitKV splits a key=value connection string into its settings, each
// "key=value" with the value as written (quotes and escapes kept); spaces
// around '=' are dropped.
func splitKV(s string) []string {
	var out []string
	i := 0
	space := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		space()
		if i >= len(s) {
			return out
		}
		k := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
			i++
		}
		key := s[k:i]
		space()
		if i < len(s) && s[i] == '=' {
			i++
		}
		space()
		v := i
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i+1, len(s))
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			i = min(i, len(s))
		}
		out = append(out, key+"="+s[v:i])
	}
}

func (c *Connector) pgRestore(ctx context.Context, t *target, req connector.RestoreRequest) (int64, error) {
	cmd := exec.CommandContext(ctx, tool(c.PgRestore, DefaultPgRestore), "--no-password", "--dbname="+req.Database,
		"--no-owner", "--no-acl", "--single-transaction", "--exit-on-error")
	cmd.Env = t.env(req.Database, "coffer-restore")
	stderr := &tail{}
	cmd.Stderr = stderr
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start pg_restore: %w", err)
	}
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	var w io.Writer = pw
	if req.Progress != nil {
		w = newFeedProgress(ctx, req, pw)
	}
	go func() {
		n, err := archive.RestoreStream(ctx, req.Repo, req.Snapshot, w)
		pw.CloseWithError(err)
		done <- result{n, err}
	}()
	werr := cmd.Wait()
	pr.CloseWithError(errors.New("pg_restore exited")) // unblock the writer
	res := <-done
	if res.err != nil && werr == nil {
		return 0, fmt.Errorf("reading the dump from the repository: %w", res.err)
	}
	if werr != nil {
		msg := stderr.String()
		if msg == "" {
			msg = werr.Error()
		}
		if res.err != nil && !strings.Contains(res.err.Error(), "pg_restore exited") {
			msg += " (reading the dump: " + res.err.Error() + ")"
		}
		return 0, fmt.Errorf("pg_restore into database %q failed: %s", req.Database, msg)
	}
	return res.n, nil
}

// feedProgress counts the dump bytes fed to pg_restore and reports them
// through req.Progress at most once a second. pg_restore reads its input
// as it restores (the pipe holds 64 KiB), so the bytes fed track the
// restore; the percentage stops at 99 until pg_restore has finished (it
// still builds indexes and commits after reading the last byte).
type feedProgress struct {
	w     io.Writer
	req   connector.RestoreRequest
	clk   clock.Clock
	total int64
	done  int64
	last  time.Time
}

func newFeedProgress(ctx context.Context, req connector.RestoreRequest, w io.Writer) *feedProgress {
	clk := req.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	var total int64
	if n, _, err := archive.StreamNode(ctx, req.Repo, req.Snapshot); err == nil {
		total = n.Size
	}
	return &feedProgress{w: w, req: req, clk: clk, total: total, last: clk.Now()}
}

func (f *feedProgress) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.done += int64(n)
	if now := f.clk.Now(); now.Sub(f.last) >= time.Second {
		f.last = now
		f.req.Progress(connector.Progress{BytesDone: f.done, BytesTotal: f.total, ItemsDone: 0, ItemsTotal: 1,
			Percent: min(connector.Percent(f.done, f.total), 99)})
	}
	return n, err
}
