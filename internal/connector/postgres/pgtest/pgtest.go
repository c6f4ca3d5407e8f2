// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb in
// a temporary directory, a server on 127.0.0.1 and a free port with a
// generated superuser password (scram-sha-256 over TCP), stopped and
// removed in t.Cleanup.
//
// Vocabulary:
//
//   - Binaries: initdb and pg_ctl from /usr/local/bin (or PATH, or
//     $COFFER_PG_BIN). When they are missing the test is skipped, unless the
//     CI environment variable is "true": then it fails.
//   - Run-as user: PostgreSQL refuses to run as root, so when the test runs
//     as root the cluster runs as the "postgres" system user (its directory
//     is handed to that user).
//   - Cluster: one running server; DSN(db) is a connection string with the
//     password, for the code under test; Exec, Query and Dump act on it for
//     the test itself.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	Host     string
	Port     int
	User     string
	Password string

	root, data string
	bin        string
	cred       *syscall.Credential
	stopped    bool
}

func findBin(t testing.TB, name string) string {
	for _, d := range []string{os.Getenv("COFFER_PG_BIN"), "/usr/local/bin"} {
		if d == "" {
			continue
		}
		if p := filepath.Join(d, name); isExec(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) > 0 {
		return matches[len(matches)-1]
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("pgtest: %s not found (CI must install PostgreSQL server binaries)", name)
	}
	t.Skipf("pgtest: %s not found", name)
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start initialises and starts a cluster; it is stopped and removed in
// t.Cleanup.
func Start(t testing.TB) *Cluster {
	t.Helper()
	initdb := findBin(t, "initdb")
	pgctl := findBin(t, "pg_ctl")
	root, err := os.MkdirTemp("", "coffer-pg-")
	if err != nil {
		t.Fatal(err)
	}
	var pw [12]byte
	_, _ = rand.Read(pw[:])
	c := &Cluster{Host: "127.0.0.1", User: "postgres", Password: hex.EncodeToString(pw[:]), root: root,
		data: filepath.Join(root, "data"), bin: filepath.Dir(pgctl)}
	t.Cleanup(func() {
		c.Stop()
		os.RemoveAll(root)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("pgtest: running as root and there is no postgres user to run the cluster as")
			}
			t.Skip("pgtest: running as root and there is no postgres user to run the cluster as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(root, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pwfile := filepath.Join(root, "pw")
	if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c.cred != nil {
		_ = os.Chown(pwfile, int(c.cred.Uid), int(c.cred.Gid))
	}
	c.run(t, initdb, "-D", c.data, "-U", c.User, "--pwfile="+pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--locale=C", "--no-sync")
	os.Remove(pwfile)
	for attempt := 0; ; attempt++ {
		c.Port = freePort(t)
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.Port, root)
		out, err := c.cmd(pgctl, "start", "-D", c.data, "-w", "-t", "60", "-l", filepath.Join(root, "log"), "-o", opts).CombinedOutput()
		if err == nil {
			break
		}
		if attempt == 2 {
			logb, _ := os.ReadFile(filepath.Join(root, "log"))
			t.Fatalf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, logb)
		}
	}
	return c
}

func (c *Cluster) cmd(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	cmd.Dir = c.root
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

func (c *Cluster) run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := c.cmd(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("pgtest: %s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// DSN returns a URL connection string for database db, with the password.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", c.User, c.Password, c.Host, c.Port, db)
}

// Stop stops the server at once (immediate mode: clients are cut off, as
// when a database server goes away). It is idempotent.
func (c *Cluster) Stop() {
	if c.stopped || c.Port == 0 {
		return
	}
	c.stopped = true
	_ = c.cmd(filepath.Join(c.bin, "pg_ctl"), "stop", "-D", c.data, "-m", "immediate", "-w", "-t", "30").Run()
}

func (c *Cluster) connect(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN(db))
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", db, err)
	}
	return conn
}

// Exec runs SQL statements in database db.
func (c *Cluster) Exec(t testing.TB, db string, sql string) {
	t.Helper()
	conn := c.connect(t, db)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("pgtest: exec in %s: %v\n%s", db, err, sql)
	}
}

// QueryString runs a query returning one text value.
func (c *Cluster) QueryString(t testing.TB, db, sql string) string {
	t.Helper()
	conn := c.connect(t, db)
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("pgtest: query in %s: %v", db, err)
	}
	return s
}

// CreateDB creates a database.
func (c *Cluster) CreateDB(t testing.TB, name string) {
	t.Helper()
	c.Exec(t, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// Dump returns a plain-text pg_dump of db without owners and privileges,
// for comparing two databases' content.
func (c *Cluster) Dump(t testing.TB, db string) string {
	t.Helper()
	cmd := exec.Command("pg_dump", "--format=plain", "--no-owner", "--no-acl", "--no-password", "--dbname="+db)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "PGHOST=" + c.Host, "PGPORT=" + strconv.Itoa(c.Port),
		"PGUSER=" + c.User, "PGPASSWORD=" + c.Password, "PGSSLMODE=disable"}
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("pgtest: pg_dump %s: %v %s", db, err, msg)
	}
	// Drop lines that differ between two dumps of equal content.
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "-- Dumped") || strings.HasPrefix(l, "-- Started") || strings.HasPrefix(l, "-- Completed") ||
			strings.HasPrefix(l, `\restrict `) || strings.HasPrefix(l, `\unrestrict `) { // random per-dump keys
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}
