package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
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
		m["boom"] = 1 // panics
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
