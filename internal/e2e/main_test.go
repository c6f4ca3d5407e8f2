package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
)

// binary is the coffer executable built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "coffer-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "coffer")
	build := exec.Command("go", "build", "-o", binary, "github.com/coffer/coffer/cmd/coffer")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building coffer:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is a running `coffer serve`.
type instance struct {
	cmd      *exec.Cmd
	endpoint string
	env      map[string]string // the banner's export lines
	banner   string

	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan error
	// exited is set once the process's exit was received from done.
	exited bool
}

// start runs `coffer serve` on a free port of 127.0.0.1 with dataDir and
// waits for its banner. extraEnv is added to a minimal environment.
func start(t *testing.T, dataDir string, extraEnv ...string) *instance {
	t.Helper()
	return startWith(t, dataDir, nil, extraEnv...)
}

// startWith is start with a setup function that may change the command
// before it runs (add arguments such as --config, run it as another user).
func startWith(t *testing.T, dataDir string, setup func(*exec.Cmd), extraEnv ...string) *instance {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, extraEnv...)
	if setup != nil {
		setup(cmd)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in := &instance{cmd: cmd, env: map[string]string{}, done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{mu: &in.mu, w: &in.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bannerDone := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		closed := false
		var b strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if closed {
				continue
			}
			b.WriteString(line + "\n")
			if kv, ok := strings.CutPrefix(line, "export "); ok {
				k, v, _ := strings.Cut(kv, "=")
				v, _, _ = strings.Cut(v, " ")
				in.env[k] = v
				if k == "AWS_ENDPOINT_URL" {
					in.endpoint, in.banner = v, b.String()
					closed = true
					close(bannerDone)
				}
			}
		}
		if !closed {
			in.banner = b.String()
			close(bannerDone)
		}
		_, _ = io.Copy(io.Discard, stdout)
		in.done <- cmd.Wait()
	}()
	select {
	case <-bannerDone:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("coffer serve printed no banner within 60s; stderr:\n%s", in.log())
	}
	if in.endpoint == "" {
		err := <-in.done
		in.exited = true
		t.Fatalf("coffer serve exited (%v) without a banner; stdout:\n%s\nstderr:\n%s", err, in.banner, in.log())
	}
	t.Cleanup(func() {
		if !in.exited {
			_ = in.cmd.Process.Kill()
			<-in.done
		}
		if t.Failed() {
			t.Logf("coffer stderr:\n%s", in.log())
		}
	})
	return in
}

func (in *instance) log() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stderr.String()
}

// stop sends SIGTERM and expects a clean exit within 30 s.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-in.done:
		in.exited = true
		if err != nil {
			t.Fatalf("coffer serve exited with %v after SIGTERM; stderr:\n%s", err, in.log())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("coffer serve did not stop within 30s of SIGTERM")
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (in *instance) kill(t *testing.T) {
	t.Helper()
	if err := in.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-in.done
	in.exited = true
}

// client returns an aws-sdk-go-v2 client with the printed credentials.
func (in *instance) client(region string) *backup.Client {
	key, secret := in.env["AWS_ACCESS_KEY_ID"], in.env["AWS_SECRET_ACCESS_KEY"]
	return backup.New(backup.Options{
		Region:       region,
		BaseEndpoint: aws.String(in.endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, nil
		}),
		RetryMaxAttempts: 1,
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// requireTool returns the path of a tool, skipping the test when it is
// missing — or failing it under CI=true, where the test setup installs it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI must install it: see scripts/test)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}
