package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/archivetest"
	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/connector/postgres"
	"github.com/coffer/coffer/internal/connector/postgres/pgtest"
)

const schema = `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text UNIQUE, created timestamptz DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer int REFERENCES customers(id), amount numeric(12,2), items jsonb, note bytea);
CREATE INDEX orders_customer ON orders(customer);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 100;
CREATE FUNCTION total(c int) RETURNS numeric LANGUAGE sql AS 'SELECT sum(amount) FROM orders WHERE customer = c';
INSERT INTO customers (name, email) SELECT 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 500) g;
INSERT INTO orders (customer, amount, items, note)
  SELECT 1 + g % 500, (g * 7 % 1000) / 3.0, jsonb_build_object('sku', g, 'qty', g % 5), decode(md5(g::text), 'hex')
  FROM generate_series(1, 20000) g;
`

func rds(dsn string) backup.Resource {
	return backup.Resource{ARN: "arn:aws:rds:us-east-1:111122223333:db:shop", Type: backup.RDS, ID: "shop", Target: dsn}
}

func TestDumpAndRestoreToNewDatabase(t *testing.T) {
	ctx := context.Background()
	pg := pgtest.Start(t)
	pg.CreateDB(t, "shop")
	pg.Exec(t, "shop", schema)
	c := &postgres.Connector{}
	r := rds(pg.DSN("shop"))
	if err := c.Check(ctx, r); err != nil {
		t.Fatalf("Check: %v", err)
	}
	repo := archivetest.NewMemRepo()
	res, err := c.Backup(ctx, r, connector.BackupRequest{Repo: repo})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if res.Kind != archive.KindStream || res.LogicalBytes == 0 {
		t.Errorf("got %+v, want a non-empty stream", res)
	}
	md := res.RestoreMetadata
	if md["dbInstanceIdentifier"] != "shop" || md["dbName"] != "shop" || md["engine"] != "postgres" || !strings.HasPrefix(md["engineVersion"], "1") {
		t.Errorf("got restore metadata %v", md)
	}
	if err := c.Check(ctx, rds(pg.DSN("postgres"))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Restore(ctx, connector.RestoreRequest{Repo: repo, Snapshot: res.Snapshot, Target: pg.DSN("postgres"), Database: "shop_restored"}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got, want := pg.Dump(t, "shop_restored"), pg.Dump(t, "shop"); got != want {
		t.Errorf("restored database differs from the source:\n%s", firstDiff(got, want))
	}
	if _, err := c.Restore(ctx, connector.RestoreRequest{Repo: repo, Snapshot: res.Snapshot, Target: pg.DSN("postgres"), Database: "shop_restored"}); !errors.Is(err, connector.ErrTargetExists) {
		t.Errorf("restore into an existing database: got %v, want ErrTargetExists", err)
	}

	// A second dump of a slightly changed database stores little.
	pg.Exec(t, "shop", `UPDATE customers SET name = 'renamed' WHERE id = 7`)
	res2, err := c.Backup(ctx, r, connector.BackupRequest{Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	if res2.BytesNew > res.BytesNew/4 {
		t.Errorf("second dump stored %d new bytes of %d; want most deduplicated against the first (%d)", res2.BytesNew, res2.LogicalBytes, res.BytesNew)
	}
}

func TestDatabaseGoesAwayMidDump(t *testing.T) {
	ctx := context.Background()
	pg := pgtest.Start(t)
	pg.CreateDB(t, "shop")
	pg.Exec(t, "shop", schema)
	// Hold a lock pg_dump must wait for, so the dump is surely in progress
	// when the server goes away.
	conn := pgConn(t, pg.DSN("shop"))
	if _, err := conn.Exec(ctx, "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	repo := archivetest.NewMemRepo()
	c := &postgres.Connector{}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Backup(ctx, rds(pg.DSN("shop")), connector.BackupRequest{Repo: repo})
		errc <- err
	}()
	waitFor(t, func() bool {
		return pg.QueryString(t, "postgres", "SELECT count(*)::text FROM pg_stat_activity WHERE application_name = 'coffer-backup' AND wait_event_type = 'Lock'") == "1"
	})
	pg.Stop()
	err := <-errc
	if !errors.Is(err, connector.ErrSourceFailed) {
		t.Fatalf("got %v, want ErrSourceFailed", err)
	}
	if !strings.Contains(err.Error(), "pg_dump") || strings.Contains(err.Error(), pg.Password) {
		t.Errorf("got message %q, want pg_dump's cause and no password", err)
	}
	n := 0
	_ = repo.ListSnapshots(ctx, func(archive.ID, *archive.Snapshot) error { n++; return nil })
	if n != 0 {
		t.Errorf("a failed dump committed %d snapshots", n)
	}
	// The server is gone: Check says so, without the password.
	err = c.Check(ctx, rds(pg.DSN("shop")))
	if !errors.Is(err, connector.ErrUnavailable) || strings.Contains(err.Error(), pg.Password) {
		t.Errorf("Check of a stopped server: got %v, want ErrUnavailable without the password", err)
	}
}

func TestWrongPasswordNotLeaked(t *testing.T) {
	ctx := context.Background()
	pg := pgtest.Start(t)
	dsn := strings.Replace(pg.DSN("postgres"), pg.Password, "wrong-secret-123", 1)
	c := &postgres.Connector{}
	_, err := c.Backup(ctx, rds(dsn), connector.BackupRequest{Repo: archivetest.NewMemRepo()})
	if !errors.Is(err, connector.ErrUnavailable) || strings.Contains(err.Error(), "wrong-secret-123") {
		t.Errorf("got %v, want ErrUnavailable that does not show the password", err)
	}
	kv := "host=127.0.0.1 port=1 user=postgres password=kv-secret-456 dbname=x sslmode=disable connect_timeout=2"
	if err := c.Check(ctx, rds(kv)); err == nil || strings.Contains(err.Error(), "kv-secret-456") {
		t.Errorf("got %v, want an error that does not show the password", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return "line " + strconv.Itoa(i) + ":\n got  " + al[i] + "\n want " + bl[i]
		}
	}
	return "lengths differ"
}
