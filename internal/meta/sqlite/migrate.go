package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/coffer/coffer/internal/meta"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one embedded schema change: migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. Versions
// must be 1, 2, 3, … without gaps (checked by a test).
func migrations() ([]migration, error) {
	return loadMigrations(migrationFS, "migrations")
}

func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(n, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlite: migration file %q is not named NNNN_name.sql", n)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("sqlite: read migration %s: %w", n, err)
		}
		ms = append(ms, migration{version: v, name: rest, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlite: migrations must be numbered 1, 2, 3… without gaps or duplicates; found %d at position %d", m.version, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion returns the schema version this binary's migrations reach.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate brings the database to the latest schema. All pending migrations
// run in one write transaction together with their schema_migrations rows,
// so an upgrade is applied completely or not at all. A database whose
// schema is newer than the binary's is refused with meta.ErrSchemaTooNew.
//
// Foreign key enforcement is off while migrations run (SQLite's procedure
// for rebuilding a table: a migration may create a table's new version,
// copy the rows, drop the old one and rename the new one), and
// PRAGMA foreign_key_check must find no violation before the COMMIT.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return s.applyMigrations(ctx, ms)
}

func (s *Store) applyMigrations(ctx context.Context, ms []migration) error {
	var current, latest int
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}
	applied := 0
	err := s.txRaw(ctx, func(t *wtx) (err error) {
		// PRAGMA foreign_keys is a no-op inside a transaction: switch it
		// off before BEGIN and on again after COMMIT or ROLLBACK.
		if err := t.execScript(`PRAGMA foreign_keys = OFF`); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		defer func() {
			if ferr := t.execScript(`PRAGMA foreign_keys = ON`); ferr != nil && err == nil {
				err = fmt.Errorf("sqlite: migrate: enable foreign keys: %w", ferr)
			}
		}()
		if err := t.execScript(`BEGIN IMMEDIATE`); err != nil {
			return fmt.Errorf("sqlite: migrate: %w", err)
		}
		defer func() {
			if err == nil {
				if err = t.execScript(`COMMIT`); err == nil {
					return
				}
				err = fmt.Errorf("sqlite: migrate: commit: %w", err)
			}
			_ = t.execScript(`ROLLBACK`)
		}()
		if err := t.execScript(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER NOT NULL PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at TEXT    NOT NULL
		)`); err != nil {
			return fmt.Errorf("sqlite: migrate: create schema_migrations: %w", err)
		}
		if err := s.wconn.QueryRowContext(t.ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("sqlite: migrate: read schema version: %w", err)
		}
		if current > latest {
			return fmt.Errorf("sqlite: %s has schema version %d but this binary knows versions up to %d; use a newer Coffer: %w", s.path, current, latest, meta.ErrSchemaTooNew)
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			if err := t.execScript(m.sql); err != nil {
				return fmt.Errorf("sqlite: migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := s.wconn.ExecContext(t.ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, s.clock.Now().UTC().Format(time.RFC3339)); err != nil {
				return fmt.Errorf("sqlite: record migration %d: %w", m.version, err)
			}
			applied++
		}
		if applied > 0 {
			return foreignKeyCheck(t)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if applied > 0 {
		s.log.Info("metadata schema migrated", slog.String("path", s.path), slog.Int("from", current), slog.Int("to", latest))
	}
	return nil
}

// foreignKeyCheck fails when PRAGMA foreign_key_check reports a violation.
func foreignKeyCheck(t *wtx) (err error) {
	rows, err := t.s.wconn.QueryContext(t.ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: foreign key check: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return fmt.Errorf("sqlite: migrate: foreign key check: %w", err)
		}
		return fmt.Errorf("sqlite: migrate: the migrated schema violates a foreign key of table %s (parent %s)", table, parent)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: migrate: foreign key check: %w", err)
	}
	return nil
}
