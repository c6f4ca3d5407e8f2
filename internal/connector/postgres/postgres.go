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

// Restore creates database req.Database on the server of req.Target and
// restores the dump into it.
func (c *Connector) Restore(ctx context.Context, req connector.RestoreRequest) (*connector.RestoreResult, error) {
	if len(req.Include) > 0 {
		return nil, fmt.Errorf("%w: include paths for a database restore", connector.ErrNotSupported)
	}
	if !dbNameRe.MatchString(req.Database) {
		return nil, fmt.Errorf("invalid database name %q: 1 to 63 letters, digits, '_' and '-', not starting with a digit", req.Database)
	}
	t, err := c.parse(req.Target)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, t.cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: restore target %s does not answer: %v", connector.ErrUnavailable, t.label(), safeErr(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, req.Database).Scan(&exists); err != nil {
		return nil, fmt.Errorf("restore target %s: %v", t.label(), safeErr(err))
	}
	if exists {
		return nil, fmt.Errorf("%w: database %q exists on %s:%d", connector.ErrTargetExists, req.Database, t.cfg.Host, t.cfg.Port)
	}
	ident := pgx.Identifier{req.Database}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		return nil, fmt.Errorf("create database %q: %v", req.Database, safeErr(err))
	}
	n, err := c.pgRestore(ctx, t, req)
	if err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+ident)
		return nil, err
	}
	return &connector.RestoreResult{Bytes: n, Files: 1}, nil
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
	go func() {
		n, err := archive.RestoreStream(ctx, req.Repo, req.Snapshot, pw)
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
