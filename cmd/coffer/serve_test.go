package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of serve and
// reads of the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runServe starts serve in-process with args, waits for the banner, then
// cancels it and returns exit code, stdout and stderr.
func runServe(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	rc := make(chan int, 1)
	go func() { rc <- serve(ctx, args, &out, &errb) }()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(out.String(), "AWS_ENDPOINT_URL") {
		select {
		case code := <-rc:
			return code, out.String(), errb.String()
		case <-deadline:
			t.Fatalf("no banner within 30s; stderr:\n%s", errb.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	return <-rc, out.String(), errb.String()
}

func TestServeConfiguredCredentialsAreNotPrinted(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "coffer.yaml")
	data := "account_id: \"123456789012\"\ncredentials:\n  - access_key_id: AKIACONFIGURED000001\n    secret_access_key: configured-secret-value\n"
	if err := os.WriteFile(cfg, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, out, errs := runServe(t, "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	if rc != 0 {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", rc, errs)
	}
	for _, want := range []string{"export AWS_ACCESS_KEY_ID=AKIACONFIGURED000001", "account:   123456789012", "from " + cfg, "export AWS_ENDPOINT_URL=http://127.0.0.1:", "us-east-1 (default)"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errs, "configured-secret-value") {
		t.Errorf("the configured secret was printed:\n%s\n%s", out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "credentials.json")); err == nil {
		t.Error("credentials.json was written although credentials are configured")
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "coffer.db")); err != nil {
		t.Errorf("no database in the data dir: %v", err)
	}
}

func TestServeEnvironmentCredentials(t *testing.T) {
	t.Setenv("COFFER_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT1")
	t.Setenv("COFFER_SECRET_ACCESS_KEY", "env-secret-value")
	rc, out, errs := runServe(t, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0")
	if rc != 0 || !strings.Contains(out, "AKIAFROMENVIRONMENT1") || !strings.Contains(out, "COFFER_ACCESS_KEY_ID") || strings.Contains(out, "env-secret-value") {
		t.Errorf("got exit %d, banner:\n%s\nstderr:\n%s", rc, out, errs)
	}
}

func TestServeGeneratedCredentialsArePrinted(t *testing.T) {
	dir := t.TempDir()
	rc, out, errs := runServe(t, "--data-dir", dir, "--listen", "127.0.0.1:0")
	if rc != 0 || !strings.Contains(out, "generated now") {
		t.Fatalf("got exit %d, banner:\n%s\nstderr:\n%s", rc, out, errs)
	}
	secret := bannerValue(out, "AWS_SECRET_ACCESS_KEY")
	if len(secret) < 30 {
		t.Fatalf("got secret %q, want the generated one", secret)
	}
	fi, err := os.Stat(filepath.Join(dir, "credentials.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials.json: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	// The second start reads the file back and prints the same pair.
	rc, out2, _ := runServe(t, "--data-dir", dir, "--listen", "127.0.0.1:0")
	if rc != 0 || bannerValue(out2, "AWS_SECRET_ACCESS_KEY") != secret || !strings.Contains(out2, "from "+filepath.Join(dir, "credentials.json")) {
		t.Errorf("second start banner:\n%s", out2)
	}
}

func bannerValue(banner, name string) string {
	for _, line := range strings.Split(banner, "\n") {
		if v, ok := strings.CutPrefix(line, "export "+name+"="); ok {
			return v
		}
	}
	return ""
}

func TestServeRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("account_id: \"12\"\nregions: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "unknown.yaml")
	if err := os.WriteFile(unknown, []byte("listen_addr: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		rc   int
		want string
	}{
		{"unknown flag", []string{"--bogus"}, 2, "bogus"},
		{"extra argument", []string{"now"}, 2, "unexpected argument"},
		{"invalid values", []string{"--config", bad, "--data-dir", dir}, 1, "account_id"},
		{"unknown key", []string{"--config", unknown, "--data-dir", dir}, 1, "listen_addr"},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, 1, "nope.yaml"},
		{"bad listen", []string{"--listen", "nonsense", "--data-dir", dir}, 1, "listen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			rc := serve(context.Background(), tc.args, &out, &errb)
			if rc != tc.rc || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("got exit %d, stderr %q; want %d mentioning %q", rc, errb.String(), tc.rc, tc.want)
			}
		})
	}
}

// TestTuneGC: the server's GC target applies unless the operator set GOGC.
func TestTuneGC(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	t.Setenv("GOGC", "")
	tuneGC(log)
	if got := debug.SetGCPercent(100); got != serverGCPercent {
		t.Errorf("GOGC unset: GC percent %d, want %d", got, serverGCPercent)
	}
	t.Setenv("GOGC", "150")
	tuneGC(log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=150 set: tuneGC changed the GC percent to %d", got)
	}
}

// TestRecorders: COFFER_CPUPROFILE and COFFER_TRACE write their files for
// any command; an unwritable path fails the command before it runs.
func TestRecorders(t *testing.T) {
	dir := t.TempDir()
	prof, tr := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "trace.out")
	t.Setenv("COFFER_CPUPROFILE", prof)
	t.Setenv("COFFER_TRACE", tr)
	var stderr bytes.Buffer
	if rc := run(context.Background(), []string{"version"}, &stderr); rc != 0 {
		t.Fatalf("version with recorders: exit %d: %s", rc, stderr.String())
	}
	for _, p := range []string{prof, tr} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v (size %v)", p, err, fi)
		}
	}
	t.Setenv("COFFER_TRACE", filepath.Join(dir, "missing", "trace.out"))
	stderr.Reset()
	if rc := run(context.Background(), []string{"version"}, &stderr); rc != 1 || !strings.Contains(stderr.String(), "COFFER_TRACE") {
		t.Errorf("unwritable trace path: exit %d, stderr %q; want 1 naming COFFER_TRACE", rc, stderr.String())
	}
}
