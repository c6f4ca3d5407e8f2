package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/sys/unix"
)

// Module is the versitygw version Binary installs when none is found.
const Module = "github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// Server is a running versitygw. Its fields are read-only.
type Server struct {
	// Endpoint is "127.0.0.1:port"; URL is "http://" + Endpoint.
	Endpoint, URL string
	// AccessKey and SecretKey are the generated root credentials.
	AccessKey, SecretKey string
	// Region is the region the server signs for.
	Region string
	// Bucket is a fresh, empty bucket created by StartServer.
	Bucket string

	bin, dir string
	client   *minio.Client

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *syncBuffer
}

// StartServer starts versitygw, waits until it answers, creates a bucket,
// and stops the server in t.Cleanup.
func StartServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		bin:       Binary(t),
		dir:       t.TempDir(),
		AccessKey: "coffer" + randomHex(6),
		SecretKey: randomHex(20),
		Region:    "us-east-1",
	}
	port, err := freePort()
	if err != nil {
		t.Fatalf("s3test: finding a free port: %v", err)
	}
	s.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
	s.URL = "http://" + s.Endpoint
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	s.client, err = minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: s.Region,
	})
	if err != nil {
		t.Fatalf("s3test: minio client: %v", err)
	}
	s.Bucket = s.NewBucket(t)
	return s
}

var bucketSeq atomic.Int64

// NewBucket creates a new, empty bucket and returns its name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("coffer-test-%d-%s", bucketSeq.Add(1), randomHex(4))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		t.Fatalf("s3test: creating bucket %s: %v", name, err)
	}
	return name
}

// Stop kills the server and waits for it to exit. Objects stay on disk for
// Restart. Stop is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts a stopped server again on the same port and directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatalf("s3test: restart: %v", err)
	}
}

// Log returns what the server printed so far, for failure messages.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("server already running")
	}
	// The port was free a moment ago; after a Stop the kernel may need a
	// moment to release it, so retry a few times.
	var lastErr error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		if lastErr = s.startOnce(); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

// startOnce runs one versitygw process and waits until it answers HTTP.
// s.mu is held.
func (s *Server) startOnce() error {
	log := &syncBuffer{}
	cmd := exec.Command(s.bin,
		"--port", s.Endpoint,
		"--access", s.AccessKey,
		"--secret", s.SecretKey,
		"--region", s.Region,
		"--quiet",
		"posix", s.dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID=", "ROOT_SECRET_ACCESS_KEY=")
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	deadline := time.Now().Add(15 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-done:
			return fmt.Errorf("versitygw exited during startup: %s", log.String())
		default:
		}
		resp, err := hc.Get(s.URL + "/")
		if err == nil {
			resp.Body.Close()
			// Any HTTP answer (403 for the unsigned request) means ready.
			s.cmd, s.done, s.log = cmd, done, log
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("versitygw did not answer on %s within 15 s: %v; output: %s", s.Endpoint, err, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	installOnce sync.Once
	installPath string
	installErr  error
)

// Binary returns the path of a versitygw executable, installing it with
// "go install" when none is found (see the package comment). It skips the
// test when that fails, or fails it when the CI environment variable is set.
func Binary(t testing.TB) string {
	t.Helper()
	if p := find(); p != "" {
		return p
	}
	installOnce.Do(func() { installPath, installErr = install() })
	if installErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("s3test: versitygw is not available and CI is set: %v", installErr)
		}
		t.Skipf("s3test: versitygw is not available: %v", installErr)
	}
	return installPath
}

// find looks for an existing versitygw binary.
func find() string {
	if p := os.Getenv("COFFER_VERSITYGW"); p != "" {
		if isExecutable(p) {
			return p
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	for _, dir := range goBinDirs() {
		if p := filepath.Join(dir, "versitygw"); isExecutable(p) {
			return p
		}
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// goBinDirs returns where "go install" puts binaries: $GOBIN, or the bin
// directory of the first GOPATH element.
func goBinDirs() []string {
	var dirs []string
	for _, v := range []string{"GOBIN", "GOPATH"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			continue
		}
		p := strings.TrimSpace(string(out))
		if p == "" {
			continue
		}
		if v == "GOPATH" {
			p = filepath.Join(filepath.SplitList(p)[0], "bin")
		}
		dirs = append(dirs, p)
	}
	return dirs
}

// install runs "go install" under an exclusive file lock, so that test
// binaries running in parallel install once; the ones that waited find the
// binary when they get the lock.
func install() (string, error) {
	lockPath := filepath.Join(os.TempDir(), "coffer-versitygw-install.lock")
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("opening install lock: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("locking %s: %w", lockPath, err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if p := find(); p != "" {
		return p, nil
	}
	if _, err := exec.LookPath("go"); err != nil {
		return "", fmt.Errorf("no go command to install %s: %w", Module, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", Module)
	cmd.Dir = os.TempDir() // outside any module, so go.mod is not consulted
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go install %s: %w: %s", Module, err, out)
	}
	if p := find(); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("go install %s succeeded but the binary is not in %v", Module, goBinDirs())
}
