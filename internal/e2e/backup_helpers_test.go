package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/coffer/coffer/internal/archive"
	domain "github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/service"
	"github.com/coffer/coffer/internal/vault"
)

const (
	e2eAccount = "111122223333"
	e2eRole    = "arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole"
)

// declared is one resources: entry of a test configuration.
type declared struct {
	arn, path, dsn string
}

// writeConfig writes a configuration file declaring the resources (and
// extra YAML) into dir and returns its path.
func writeConfig(t *testing.T, dir string, rs []declared, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("limits:\n  workers: 2\n")
	b.WriteString(extra)
	b.WriteString("resources:\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "  - arn: %q\n", r.arn)
		if r.path != "" {
			fmt.Fprintf(&b, "    path: %q\n", r.path)
		}
		if r.dsn != "" {
			fmt.Fprintf(&b, "    dsn: %q\n", r.dsn)
		}
	}
	p := filepath.Join(dir, "coffer.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// withConfig is a startWith setup adding --config.
func withConfig(path string) func(*exec.Cmd) {
	return func(c *exec.Cmd) { c.Args = append(c.Args, "--config", path) }
}

func efsARN(id string) string { return domain.ResourceARN(domain.EFS, "us-east-1", e2eAccount, id) }
func ebsARN(id string) string { return domain.ResourceARN(domain.EBS, "us-east-1", e2eAccount, id) }
func rdsARN(id string) string { return domain.ResourceARN(domain.RDS, "us-east-1", e2eAccount, id) }

func createVault(t *testing.T, c *backup.Client, name string) {
	t.Helper()
	if _, err := c.CreateBackupVault(context.Background(), &backup.CreateBackupVaultInput{BackupVaultName: aws.String(name)}); err != nil {
		t.Fatalf("CreateBackupVault %s: %v", name, err)
	}
}

func startBackup(t *testing.T, c *backup.Client, vaultName, arn string) *backup.StartBackupJobOutput {
	t.Helper()
	out, err := c.StartBackupJob(context.Background(), &backup.StartBackupJobInput{
		BackupVaultName: aws.String(vaultName), ResourceArn: aws.String(arn), IamRoleArn: aws.String(e2eRole)})
	if err != nil {
		t.Fatalf("StartBackupJob %s: %v", arn, err)
	}
	return out
}

// waitJob polls DescribeBackupJob until the job is in one of the states.
func waitJob(t *testing.T, c *backup.Client, id string, timeout time.Duration, states ...types.BackupJobState) *backup.DescribeBackupJobOutput {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, err := c.DescribeBackupJob(context.Background(), &backup.DescribeBackupJobInput{BackupJobId: aws.String(id)})
		if err != nil {
			t.Fatalf("DescribeBackupJob %s: %v", id, err)
		}
		for _, s := range states {
			if d.State == s {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: got %s (%s) after %v, want one of %v", id, d.State, aws.ToString(d.StatusMessage), timeout, states)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// engine opens a stopped (or running) server's vault repositories directly,
// as a disaster-recovery tool would: the region storage under the data
// directory and the keystore.
type engine struct {
	m *vault.Manager
}

func openEngine(t *testing.T, dataDir string) *engine {
	t.Helper()
	ctx := context.Background()
	regions := map[string]blob.Store{}
	for _, r := range []string{"us-east-1", "us-west-2"} {
		st, err := localfs.New(ctx, localfs.Options{Root: filepath.Join(dataDir, "storage", r), Create: true, SkipSweep: true})
		if err != nil {
			t.Fatal(err)
		}
		regions[r] = st
	}
	ks, err := repo.OpenKeystore(filepath.Join(dataDir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := vault.New(vault.Options{Regions: regions, Keystore: ks, Repo: repo.Options{CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return &engine{m: m}
}

// repoOf opens the repository of a vault described by the API.
func (e *engine) repoOf(t *testing.T, c *backup.Client, name string) *vault.Repo {
	t.Helper()
	d, err := c.DescribeBackupVault(context.Background(), &backup.DescribeBackupVaultInput{BackupVaultName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	v := domain.Vault{Name: name, Region: "us-east-1", AccountID: e2eAccount, CreationDate: aws.ToTime(d.CreationDate).Round(time.Millisecond),
		EncryptionKeyArn: aws.ToString(d.EncryptionKeyArn)}
	r, err := e.m.Open(context.Background(), v)
	if err != nil {
		t.Fatalf("opening vault %s's repository: %v", name, err)
	}
	return r
}

// snapshots returns the snapshots of a repository by recovery point ARN.
func snapshots(t *testing.T, r *vault.Repo) map[string]archive.ID {
	t.Helper()
	out := map[string]archive.ID{}
	err := r.Repository.ListSnapshots(context.Background(), func(id repo.ID, sn *repo.Snapshot) error {
		out[sn.Meta[service.MetaRecoveryPoint]] = archive.ID(id)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
