package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/coffer/coffer/internal/archive/archivetest"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/connector/postgres"
	"github.com/coffer/coffer/internal/connector/postgres/pgtest"
)

func TestWithDatabase(t *testing.T) {
	cases := []struct {
		name, dsn, db string
		wantDB        string
		wantPassword  string
	}{
		{"url", "postgres://u:p%40ss@127.0.0.1:5432/shop?sslmode=disable", "copy", "copy", "p@ss"},
		{"url without database", "postgresql://u:pw@localhost:5/?sslmode=disable", "new-db", "new-db", "pw"},
		{"key=value", "host=127.0.0.1 port=5432 user=u password=secret dbname=shop sslmode=disable", "copy", "copy", "secret"},
		{"key = value with quotes", "host = 127.0.0.1 password = 'a b = \\'c' dbname='old db' user=u", "n_1", "n_1", "a b = 'c"},
		{"key=value without dbname", "host=127.0.0.1 user=u", "x", "x", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := postgres.WithDatabase(tc.dsn, tc.db)
			if err != nil {
				t.Fatalf("WithDatabase: %v", err)
			}
			cfg, err := pgx.ParseConfig(got)
			if err != nil {
				t.Fatalf("result %q does not parse: %v", got, err)
			}
			if cfg.Database != tc.wantDB || cfg.Password != tc.wantPassword || cfg.User == "" {
				t.Errorf("got database %q password %q user %q, want %q %q and the user kept", cfg.Database, cfg.Password, cfg.User, tc.wantDB, tc.wantPassword)
			}
		})
	}
	if _, err := postgres.WithDatabase("host='unterminated password=hunter2", "x"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad DSN: got %v, want an error without the password", err)
	}
}

// steppingClock advances 2 s at every reading.
type steppingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(2 * time.Second)
	return c.t
}

func (c *steppingClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func dbExists(t *testing.T, pg *pgtest.Cluster, name string) bool {
	t.Helper()
	return pg.QueryString(t, "postgres", "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '"+name+"')::text") == "true"
}

// TestRestoreStagesAndDiscards: the restore goes through a staging
// database that is renamed at the end; a failed restore leaves neither
// database; Discard removes a leftover staging database; CheckTarget
// reports an existing name.
func TestRestoreStagesAndDiscards(t *testing.T) {
	ctx := context.Background()
	pg := pgtest.Start(t)
	pg.CreateDB(t, "shop")
	pg.Exec(t, "shop", schema)
	c := &postgres.Connector{}
	repo := archivetest.NewMemRepo()
	res, err := c.Backup(ctx, rds(pg.DSN("shop")), connector.BackupRequest{Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	req := connector.RestoreRequest{Repo: repo, Snapshot: res.Snapshot, Target: pg.DSN("postgres"), Database: "shop2", Staging: "coffer_restore_job1"}

	if err := c.CheckTarget(ctx, req); err != nil {
		t.Fatalf("CheckTarget of a free name: got %v, want nil", err)
	}
	var progress []connector.Progress
	var mu sync.Mutex
	req.Clock = &steppingClock{t: time.Unix(0, 0)} // every reading is 2 s later: each write reports
	req.Progress = func(p connector.Progress) {
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	}
	out, err := c.Restore(ctx, req)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	mu.Lock()
	if len(progress) == 0 {
		t.Errorf("Restore reported no progress")
	}
	for i, p := range progress {
		if p.BytesTotal <= 0 || p.BytesDone <= 0 || p.BytesDone > p.BytesTotal || p.Percent > 99 ||
			(i > 0 && p.BytesDone < progress[i-1].BytesDone) {
			t.Errorf("progress report %d: %+v (after %+v)", i, p, progress[max(i-1, 0)])
		}
	}
	mu.Unlock()
	if dbExists(t, pg, req.Staging) {
		t.Errorf("staging database %s still exists after a successful restore", req.Staging)
	}
	cfg, err := pgx.ParseConfig(out.Target)
	if err != nil || cfg.Database != "shop2" {
		t.Fatalf("RestoreResult.Target: got database %v (%v), want shop2", cfg, err)
	}
	if got, want := pg.Dump(t, "shop2"), pg.Dump(t, "shop"); got != want {
		t.Errorf("restored database differs:\n%s", firstDiff(got, want))
	}
	if err := c.CheckTarget(ctx, req); !errors.Is(err, connector.ErrTargetExists) {
		t.Errorf("CheckTarget of an existing name: got %v, want ErrTargetExists", err)
	}

	// A restore that fails part way (pg_restore refuses the stream) leaves
	// no database behind.
	bad := req
	bad.Database, bad.Staging = "shop3", "coffer_restore_job2"
	bad.Snapshot = res.Snapshot
	c2 := &postgres.Connector{PgRestore: "/bin/false"}
	if _, err := c2.Restore(ctx, bad); err == nil {
		t.Fatal("Restore with a failing pg_restore: got nil error")
	}
	if dbExists(t, pg, "shop3") || dbExists(t, pg, "coffer_restore_job2") {
		t.Error("a failed restore left a database behind")
	}

	// An interrupted restore's staging database is removed by Discard and
	// by the next Restore; the final name is never touched.
	pg.CreateDB(t, "coffer_restore_job3")
	left := req
	left.Database, left.Staging = "shop", "coffer_restore_job3"
	if err := c.Discard(ctx, left); err != nil {
		t.Fatalf("Discard: %v", err)
	}
	if dbExists(t, pg, "coffer_restore_job3") || !dbExists(t, pg, "shop") {
		t.Error("Discard: want the staging database dropped and the final one kept")
	}
	if err := c.Discard(ctx, left); err != nil {
		t.Errorf("Discard twice: got %v, want nil", err)
	}
}
