package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

func TestEmbeddedMigrationsAreSequential(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || SchemaVersion() != len(ms) {
		t.Fatalf("got %d migrations, SchemaVersion %d; want at least one and equal", len(ms), SchemaVersion())
	}
}

func TestLoadMigrationsRejectsBadSets(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		msg   string
	}{
		{"gap", map[string]string{"m/0001_a.sql": "", "m/0003_c.sql": ""}, "without gaps"},
		{"duplicate", map[string]string{"m/0001_a.sql": "", "m/001_b.sql": ""}, "without gaps"},
		{"bad name", map[string]string{"m/first.sql": ""}, "NNNN_name.sql"},
		{"zero", map[string]string{"m/0000_a.sql": ""}, "NNNN_name.sql"},
	}
	for _, tt := range tests {
		fsys := fstest.MapFS{}
		for n, c := range tt.files {
			fsys[n] = &fstest.MapFile{Data: []byte(c)}
		}
		_, err := loadMigrations(fsys, "m")
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: loadMigrations error = %v, want one containing %q", tt.name, err, tt.msg)
		}
	}
	fsys := fstest.MapFS{"m/0002_b.sql": {}, "m/0001_a.sql": {}, "m/README": {}}
	ms, err := loadMigrations(fsys, "m")
	if err != nil || len(ms) != 2 || ms[0].name != "a" || ms[1].version != 2 {
		t.Errorf("loadMigrations(valid) = %+v, %v; want a then b", ms, err)
	}
}

func schemaRows(t *testing.T, path string) []int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestMigrationsRecordedOnceAndNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := s.Path()
	if path != filepath.Join(dir, FileName) {
		t.Fatalf("Path() = %q, want %q", path, filepath.Join(dir, FileName))
	}
	s.Close()
	s, err = OpenFile(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()
	want := make([]int, SchemaVersion())
	for i := range want {
		want[i] = i + 1
	}
	if got := schemaRows(t, path); len(got) != len(want) || got[len(got)-1] != SchemaVersion() {
		t.Fatalf("schema_migrations = %v, want %v (each version once)", got, want)
	}

	// A newer binary recorded version N+1: this one must refuse to open.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 'x')`, SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = OpenFile(ctx, path, Options{})
	if !errors.Is(err, meta.ErrSchemaTooNew) || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, _ := migrations()
	bad := append(ms, migration{version: len(ms) + 1, name: "broken", sql: "CREATE TABLE later_table (x INTEGER); THIS IS NOT SQL;"})
	if err := s.applyMigrations(ctx, bad); err == nil {
		t.Fatalf("applying a broken migration succeeded")
	}
	var n int
	if err := s.wconn.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'later_table'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("a failed migration left its table behind")
	}
	// The store still works.
	if _, err := s.CreateVault(ctx, backup.Vault{Name: "v1", Region: "us-east-1", AccountID: "123456789012"}, nil); err != nil {
		t.Fatalf("CreateVault after failed migration: %v", err)
	}
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, t.TempDir(), Options{Synchronous: "OFF"}); err == nil {
		t.Errorf("Synchronous OFF accepted")
	}
	if _, err := OpenFile(ctx, filepath.Join(t.TempDir(), "a?b.db"), Options{}); err == nil {
		t.Errorf("path with '?' accepted")
	}
	s, err := Open(ctx, t.TempDir(), Options{Synchronous: "full", Readers: 1})
	if err != nil {
		t.Fatalf("Synchronous full: %v", err)
	}
	defer s.Close()
	var mode int
	if err := s.wconn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&mode); err != nil || mode != 2 {
		t.Fatalf("PRAGMA synchronous = %d, %v; want 2 (FULL)", mode, err)
	}
	var jm string
	if err := s.wconn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&jm); err != nil || jm != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", jm, err)
	}
}

func TestCanceledContext(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.CreateVault(ctx, backup.Vault{Name: "v1", Region: "us-east-1", AccountID: "123456789012"}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateVault with canceled context = %v, want context.Canceled", err)
	}
	if _, err := s.GetVault(context.Background(), backup.VaultKey{Region: "us-east-1", AccountID: "123456789012", Name: "v1"}); backup.KindOf(err) != backup.KindNotFound {
		t.Fatalf("vault created despite canceled context: %v", err)
	}
}

func TestWritePanicIsContained(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	k := backup.VaultKey{Region: "us-east-1", AccountID: "123456789012", Name: "v1"}
	if _, err := s.CreateVault(ctx, backup.Vault{Name: k.Name, Region: k.Region, AccountID: k.AccountID}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateVault(ctx, k, func(v *backup.Vault) error {
		v.AccessPolicy = "x"
		var m map[string]int
		//lint:ignore SA5000 the panic is the point: UpdateVault must turn it into an error
		m["boom"] = 1
		return nil
	})
	if backup.KindOf(err) != backup.KindInternal || err == nil {
		t.Fatalf("UpdateVault with panicking fn = %v, want an Internal error", err)
	}
	v, err := s.GetVault(ctx, k)
	if err != nil || v.AccessPolicy != "" {
		t.Fatalf("after a panicking update: %+v, %v; want the vault unchanged", v, err)
	}
}

// TestMigration2KeepsVaultsAndPoints: a version 1 database with vaults,
// recovery points and tags is rebuilt into the rowid vaults table with
// everything kept, the recovery points' foreign key still enforced, and
// no index left on arn.
func TestMigration2KeepsVaultsAndPoints(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	ms, err := migrations()
	if err != nil || len(ms) < 2 {
		t.Fatalf("migrations: %d, %v", len(ms), err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
	mustExec(ms[0].sql)
	mustExec(`INSERT INTO schema_migrations VALUES (1, ?, 'then')`, ms[0].name)
	want := map[string]backup.Vault{}
	for i, name := range []string{"zeta", "alpha", "mid"} {
		v := tVault(name)
		v.ARN = v.Key().ARN()
		v.CreatorRequestID = "req-" + name
		data, err := encode(&v)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(`INSERT INTO vaults (region, account, name, arn, vault_type, shared, created_ns, rp_count, data) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?)`,
			tRegion, tAccount, name, v.ARN, string(v.VaultType), ns(v.CreationDate), i, data)
		v.NumberOfRecoveryPoints = int64(i)
		want[name] = v
		mustExec(`INSERT INTO tags (arn, key, value) VALUES (?, 'k', ?)`, v.ARN, name)
		for j := range i {
			mustExec(`INSERT INTO recovery_points (arn, region, account, vault_name, resource_arn, resource_type, status, created_ns, data) VALUES (?, ?, ?, ?, 'r', 'EFS', 'COMPLETED', 1, '{}')`,
				fmt.Sprintf("arn:aws:backup:%s:%s:recovery-point:%s-%d", tRegion, tAccount, name, j), tRegion, tAccount, name)
		}
	}
	db.Close()

	s, err := OpenFile(ctx, path, Options{})
	if err != nil {
		t.Fatalf("open of a version 1 database: %v", err)
	}
	defer s.Close()
	if got := schemaRows(t, path); len(got) != SchemaVersion() {
		t.Fatalf("schema_migrations = %v, want versions 1…%d", got, SchemaVersion())
	}
	list, _, err := s.ListVaults(ctx, meta.VaultFilter{Region: tRegion, AccountID: tAccount}, meta.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range list {
		names = append(names, v.Name)
		if !reflect.DeepEqual(v, want[v.Name]) {
			t.Errorf("migrated vault %s = %+v, want %+v", v.Name, v, want[v.Name])
		}
		if tags, err := s.ListTags(ctx, v.ARN); err != nil || tags["k"] != v.Name {
			t.Errorf("tags of %s = %v, %v", v.Name, tags, err)
		}
	}
	if strings.Join(names, ",") != "alpha,mid,zeta" {
		t.Errorf("ListVaults after migration = %v, want alpha,mid,zeta", names)
	}
	var fk int
	if err := s.wconn.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("PRAGMA foreign_keys after migrating = %d, %v; want 1", fk, err)
	}
	// The foreign key still guards recovery points: a vault with points
	// cannot go, and a point cannot reference a missing vault.
	if err := s.DeleteVault(ctx, tKey("mid")); backup.KindOf(err) != backup.KindInvalidRequest {
		t.Errorf("DeleteVault of a vault with points = %v, want InvalidRequest", err)
	}
	err = s.tx(ctx, func(t *wtx) error {
		_, err := t.exec(`INSERT INTO recovery_points (arn, region, account, vault_name, resource_arn, resource_type, status, created_ns, data) VALUES ('orphan', ?, ?, 'gone', 'r', 'EFS', 'COMPLETED', 1, '{}')`, tRegion, tAccount)
		return err
	})
	if err == nil {
		t.Errorf("a recovery point of a missing vault was stored: the foreign key is lost")
	}
	var idx int
	if err := s.wconn.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'vaults'`).Scan(&idx); err != nil || idx != 1 {
		t.Errorf("vaults has %d indexes (%v), want 1 (the key)", idx, err)
	}
	// Rows keep working.
	if err := s.DeleteVault(ctx, tKey("zeta")); err != nil {
		t.Errorf("DeleteVault(zeta): %v", err)
	}
	if _, err := s.CreateVault(ctx, tVault("zeta"), nil); err != nil {
		t.Errorf("CreateVault(zeta) again: %v", err)
	}
}

// TestMigrationForeignKeyViolationRefused: a migration that leaves a
// foreign key violated is rolled back.
func TestMigrationForeignKeyViolationRefused(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, _ := migrations()
	bad := append(ms, migration{version: len(ms) + 1, name: "orphans",
		sql: `INSERT INTO recovery_points (arn, region, account, vault_name, resource_arn, resource_type, status, created_ns, data) VALUES ('orphan', 'r', 'a', 'none', 'x', 'EFS', 'COMPLETED', 1, '{}')`})
	if err := s.applyMigrations(ctx, bad); err == nil || !strings.Contains(err.Error(), "foreign key") {
		t.Fatalf("migration leaving an orphan = %v, want a foreign key error", err)
	}
	var n int
	if err := s.wconn.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_points`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("recovery_points after the refused migration: %d rows, %v; want 0", n, err)
	}
	var fk int
	if err := s.wconn.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("PRAGMA foreign_keys after a refused migration = %d, %v; want 1", fk, err)
	}
}
