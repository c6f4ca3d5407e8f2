//go:build unix

package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
	"github.com/coffer/coffer/internal/meta/sqlite"
)

const crashEnv = "COFFER_SQLITE_CRASH_DIR"

// TestCrashHelper is the child of TestProcessKillKeepsCommittedRows: it
// commits vaults one by one, reports each after its commit returned, and
// then kills itself with SIGKILL without closing the store.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	for i := 0; i < 50; i++ {
		v := backup.Vault{Name: fmt.Sprintf("v%03d", i), Region: "us-east-1", AccountID: "123456789012", CreationDate: time.Unix(int64(i), 0).UTC()}
		if _, err := s.CreateVault(context.Background(), v, nil); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("committed", v.Name)
	}
	os.Stdout.Sync()
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func TestProcessKillKeepsCommittedRows(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var committed []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "committed "); ok {
			committed = append(committed, name)
		} else if strings.HasPrefix(line, "error") {
			t.Fatalf("child: %s", line)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	if len(committed) != 50 {
		t.Fatalf("child reported %d commits, want 50", len(committed))
	}
	s, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	vs, _, err := s.ListVaults(context.Background(), meta.VaultFilter{Region: "us-east-1", AccountID: "123456789012"}, meta.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(committed) {
		t.Fatalf("after SIGKILL: %d vaults survived, want all %d committed ones", len(vs), len(committed))
	}
	for i, v := range vs {
		if v.Name != committed[i] {
			t.Fatalf("vault %d = %s, want %s", i, v.Name, committed[i])
		}
	}
}
