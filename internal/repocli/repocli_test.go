package repocli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer/coffer/internal/archive/archivetest"
	"github.com/coffer/coffer/internal/blob/s3/s3test"
	"github.com/coffer/coffer/internal/repocli"
)

type cli struct {
	t    *testing.T
	base []string
}

func (c cli) run(stdin string, args ...string) (int, string, string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	all := append(append([]string{}, args[:1]...), append(append([]string{}, c.base...), args[1:]...)...)
	rc := repocli.Main(context.Background(), all, strings.NewReader(stdin), &out, &errb)
	return rc, out.String(), errb.String()
}

func (c cli) ok(args ...string) string {
	c.t.Helper()
	rc, out, errs := c.run("", args...)
	if rc != 0 {
		c.t.Fatalf("coffer repo %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), rc, out, errs)
	}
	return out
}

type snapJSON struct {
	ID   string            `json:"id"`
	Kind string            `json:"kind"`
	Meta map[string]string `json:"meta"`
}

func (c cli) snapshots() []snapJSON {
	c.t.Helper()
	var snaps []snapJSON
	if err := json.Unmarshal([]byte(c.ok("snapshots", "--json")), &snaps); err != nil {
		c.t.Fatalf("snapshots --json: %v", err)
	}
	return snaps
}

func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 40, SparseSize: 16 << 20})
	a := cli{t, []string{"--repo", filepath.Join(dir, "a"), "--keystore", filepath.Join(dir, "ks"), "--key", "vault-a"}}
	b := cli{t, []string{"--repo", filepath.Join(dir, "b"), "--keystore", filepath.Join(dir, "ks"), "--key", "vault-b"}}

	a.ok("init")
	out := a.ok("backup", src, "--tag", "env=test", "--meta", "resource=fs-1")
	if !strings.Contains(out, "snapshot ") {
		t.Errorf("backup output: %q", out)
	}
	out = a.ok("backup", src)
	if !strings.Contains(out, "unchanged") || !strings.Contains(out, "parent") {
		t.Errorf("second backup is not incremental: %q", out)
	}
	snaps := a.snapshots()
	if len(snaps) != 2 || snaps[0].Meta["resource"] != "fs-1" {
		t.Fatalf("snapshots: %+v", snaps)
	}

	// Full and subset restore.
	full := filepath.Join(dir, "full")
	a.ok("restore", "latest", full)
	if d := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, full)); d != "" {
		t.Errorf("restore differs:\n%s", d)
	}
	part := filepath.Join(dir, "part")
	a.ok("restore", snaps[0].ID[:12], part, "--include", "/a/hl-orig", "--include", "docs")
	if _, err := os.Stat(filepath.Join(part, "a", "hl-orig")); err != nil {
		t.Errorf("subset restore: %v", err)
	}
	if _, err := os.Stat(filepath.Join(part, "dup1")); !os.IsNotExist(err) {
		t.Errorf("subset restore restored dup1")
	}
	if rc, _, errs := a.run("", "restore", "latest", filepath.Join(dir, "bad"), "--include", "no/such"); rc != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("missing include: exit %d, %q", rc, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); !os.IsNotExist(err) {
		t.Errorf("target created for a refused restore")
	}

	a.ok("verify", "--read-data")
	a.ok("stats")
	a.ok("ls", "latest", "a")

	// Streams and volumes.
	a.ok("backup", "--stdin", "db.dump")
	rc, _, errs := a.run("pg_dump output\n", "backup", "--stdin", "db.dump")
	if rc != 0 {
		t.Fatalf("backup --stdin: %d %s", rc, errs)
	}
	rc, dump, errs := a.run("", "restore", "latest", "-")
	if rc != 0 || dump != "pg_dump output\n" {
		t.Errorf("restore stream to stdout: %d %q %s", rc, dump, errs)
	}
	img := filepath.Join(dir, "vol.img")
	f, _ := os.Create(img)
	f.Truncate(8 << 20)
	f.WriteAt([]byte("boot sector"), 0)
	f.WriteAt([]byte("superblock"), 5<<20)
	f.Close()
	a.ok("backup", "--volume", img)
	a.ok("restore", "latest", filepath.Join(dir, "vol2.img"))
	want, _ := os.ReadFile(img)
	got, _ := os.ReadFile(filepath.Join(dir, "vol2.img"))
	if !bytes.Equal(want, got) {
		t.Errorf("volume round trip differs")
	}

	// Copy to a repository with another key, incrementally.
	a.ok("copy", snaps[0].ID, "--to-repo", filepath.Join(dir, "b"), "--to-keystore", filepath.Join(dir, "ks"), "--to-key", "vault-b", "--init")
	out = a.ok("copy", snaps[1].ID, "--to-repo", filepath.Join(dir, "b"), "--to-keystore", filepath.Join(dir, "ks"), "--to-key", "vault-b", "--json")
	var cs struct {
		Stats struct{ BlobsRead, TreesMapped int64 }
	}
	json.Unmarshal([]byte(out), &cs)
	if cs.Stats.BlobsRead != 0 || cs.Stats.TreesMapped == 0 {
		t.Errorf("incremental copy of an identical snapshot: %s", out)
	}
	bs := b.snapshots()
	if len(bs) != 2 || bs[0].Meta["resource"] != "fs-1" || bs[0].Meta["coffer.copy.source-snapshot"] != snaps[0].ID {
		t.Fatalf("destination snapshots: %+v", bs)
	}

	// Disaster recovery: only the storage location and a key file.
	keyFiles, _ := filepath.Glob(filepath.Join(dir, "ks", "kek-*.json"))
	var keyFile string
	for _, k := range keyFiles {
		if data, _ := os.ReadFile(k); strings.Contains(string(data), "vault-b") {
			keyFile = k
		}
	}
	dr := cli{t, []string{"--repo", filepath.Join(dir, "b"), "--key-file", keyFile}}
	if got := dr.snapshots(); len(got) != 2 {
		t.Fatalf("DR snapshots: %+v", got)
	}
	drOut := filepath.Join(dir, "dr")
	dr.ok("restore", bs[1].ID, drOut)
	if d := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, drOut)); d != "" {
		t.Errorf("DR restore differs:\n%s", d)
	}

	// A wrong key is refused.
	wrong := cli{t, []string{"--repo", filepath.Join(dir, "a"), "--keystore", filepath.Join(dir, "ks"), "--key", "vault-b"}}
	if rc, _, errs := wrong.run("", "snapshots"); rc != 1 || !strings.Contains(errs, "key") {
		t.Errorf("wrong key: exit %d %q", rc, errs)
	}

	// forget + gc.
	a.ok("forget", snaps[0].ID)
	if n := len(a.snapshots()); n != 4 {
		t.Errorf("after forget: %d snapshots want 4", n)
	}
	a.ok("gc")
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		rc   int
	}{
		{nil, 2},
		{[]string{"nope"}, 2},
		{[]string{"backup"}, 2},
		{[]string{"restore", "x"}, 2},
		{[]string{"snapshots"}, 1}, // no location
		{[]string{"help"}, 0},
	} {
		var out, errb bytes.Buffer
		if rc := repocli.Main(context.Background(), tc.args, strings.NewReader(""), &out, &errb); rc != tc.rc {
			t.Errorf("%v: got exit %d want %d (%s)", tc.args, rc, tc.rc, errb.String())
		}
	}
}

// TestS3 runs the disaster-recovery path against a real S3-compatible
// server (versitygw on 127.0.0.1, started by the test): back up into a
// bucket, then list and restore with only the bucket and a key file.
func TestS3(t *testing.T) {
	srv := s3test.StartServer(t)
	dir := t.TempDir()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 20, SparseSize: -1})
	s3flags := []string{"--s3-endpoint", srv.Endpoint, "--s3-insecure", "--s3-bucket", srv.Bucket, "--s3-prefix", "vaults/v1",
		"--s3-region", srv.Region, "--s3-access-key", srv.AccessKey, "--s3-secret-key", srv.SecretKey, "--s3-path-style"}
	c := cli{t, append(append([]string{}, s3flags...), "--keystore", filepath.Join(dir, "ks"), "--key", "s3-vault")}
	c.ok("init")
	c.ok("backup", src)
	keyFiles, _ := filepath.Glob(filepath.Join(dir, "ks", "kek-*.json"))
	if len(keyFiles) != 1 {
		t.Fatalf("key files: %v", keyFiles)
	}
	dr := cli{t, append(append([]string{}, s3flags...), "--key-file", keyFiles[0])}
	snaps := dr.snapshots()
	if len(snaps) != 1 {
		t.Fatalf("snapshots in the bucket: %+v", snaps)
	}
	out := filepath.Join(dir, "out")
	dr.ok("restore", snaps[0].ID, out)
	if d := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, out)); d != "" {
		t.Errorf("restore from S3 differs:\n%s", d)
	}
	dr.ok("verify", "--read-data")
}

// TestRekeyCommands: keys, add-key, remove-key; the old key is refused
// afterwards and the data opens with the new one.
func TestRekeyCommands(t *testing.T) {
	dir := t.TempDir()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 5})
	repoDir, ks := filepath.Join(dir, "r"), filepath.Join(dir, "ks")
	old := cli{t, []string{"--repo", repoDir, "--keystore", ks, "--key", "old"}}
	neu := cli{t, []string{"--repo", repoDir, "--keystore", ks, "--key", "new"}}
	old.ok("init")
	old.ok("backup", src)

	old.ok("add-key", "--new-key", "new")
	var keys []struct{ KEKName string }
	if err := json.Unmarshal([]byte(neu.ok("keys", "--json")), &keys); err != nil || len(keys) != 2 || keys[0].KEKName != "old" || keys[1].KEKName != "new" {
		t.Fatalf("keys after add-key: %+v %v", keys, err)
	}
	if out := neu.ok("remove-key", "old"); !strings.Contains(out, `"old" no longer opens`) {
		t.Errorf("remove-key output: %q", out)
	}
	if rc, _, errs := old.run("", "snapshots"); rc != 1 || !strings.Contains(errs, "wrong key") {
		t.Errorf("the removed key: exit %d, stderr %q; want 1 and a wrong-key message", rc, errs)
	}
	out := filepath.Join(dir, "out")
	neu.ok("restore", "latest", out)
	if d := archivetest.Diff(archivetest.MustLines(t, src), archivetest.MustLines(t, out)); d != "" {
		t.Errorf("restore with the new key differs:\n%s", d)
	}
	if rc, _, errs := neu.run("", "remove-key", "new"); rc != 1 || !strings.Contains(errs, "last key") {
		t.Errorf("removing the last key: exit %d, stderr %q; want 1 and a last-key message", rc, errs)
	}
	if rc, _, errs := neu.run("", "remove-key", "old"); rc != 1 || !strings.Contains(errs, "does not open") {
		t.Errorf("removing an absent key: exit %d, stderr %q", rc, errs)
	}
	if rc, _, _ := neu.run("", "add-key"); rc != 2 {
		t.Errorf("add-key without a key: exit %d, want 2", rc)
	}
}
