// Package metatest is the conformance suite every meta.Store driver must
// pass. A driver's test file runs it:
//
//	func TestConformance(t *testing.T) {
//		metatest.Run(t, openEmptyStore, metatest.WithReopen(reopenSameData))
//	}
//
// The suite checks each method's contract (results, not-found and
// already-exists errors, atomicity), pagination stability, concurrency
// (parallel creates of one vault, parallel ClaimJob, the
// delete-a-non-empty-vault race), idempotency windows (with a fake clock)
// and, with WithReopen, that closing and reopening keeps all state. Bench
// runs the store benchmarks.
package metatest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/meta"
)

// Opener returns a new, empty store; the test's cleanup closes it.
type Opener func(t *testing.T) meta.Store

// Reopener closes s and returns a store over the same data (a restart).
type Reopener func(t *testing.T, s meta.Store) meta.Store

type config struct {
	reopen Reopener
}

// Option configures Run.
type Option func(*config)

// WithReopen enables the restart tests.
func WithReopen(f Reopener) Option { return func(c *config) { c.reopen = f } }

// Run runs the conformance suite against stores made by open.
func Run(t *testing.T, open Opener, opts ...Option) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	groups := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"Vaults", testVaults},
		{"Tags", testTags},
		{"RecoveryPoints", testRecoveryPoints},
		{"Jobs", testJobs},
		{"Queue", testQueue},
		{"ProtectedResources", testProtectedResources},
		{"Resources", testResources},
		{"Settings", testSettings},
		{"Pagination", testPagination},
		{"Concurrency", testConcurrency},
		{"Close", testClose},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.fn(t, open) })
	}
	t.Run("Restart", func(t *testing.T) {
		if c.reopen == nil {
			t.Skip("the driver gave no Reopener")
		}
		testRestart(t, open, c.reopen)
	})
}

// Fixture values.
const (
	region   = "us-east-1"
	region2  = "eu-west-1"
	account  = "123456789012"
	account2 = "210987654321"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func ctx() context.Context { return context.Background() }

func newIDs(seed byte) *backup.IDs { return backup.NewIDs(rand.NewChaCha8([32]byte{seed})) }

func vkey(name string) backup.VaultKey {
	return backup.VaultKey{Region: region, AccountID: account, Name: name}
}

func efsARN(n int) string {
	return backup.ResourceARN(backup.EFS, region, account, fmt.Sprintf("fs-%08x", n))
}

// fullVault returns a vault with every field set.
func fullVault(name string, created time.Time) backup.Vault {
	k := vkey(name)
	return backup.Vault{
		Name: name, ARN: k.ARN(), Region: region, AccountID: account,
		EncryptionKeyArn:  "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		EncryptionKeyType: backup.CustomerManagedKey,
		CreatorRequestID:  "req-" + name,
		CreationDate:      created,
		VaultType:         backup.VaultTypeBackup,
		VaultState:        backup.VaultAvailable,
		Lock:              &backup.VaultLock{MinRetentionDays: backup.Days(7), MaxRetentionDays: backup.Days(30), ChangeableForDays: backup.Days(3), LockDate: created.Add(72 * time.Hour), AppliedAt: created},
		AccessPolicy:      `{"Version":"2012-10-17","Statement":[]}`,
		Notifications:     &backup.VaultNotifications{SNSTopicArn: "arn:aws:sns:us-east-1:123456789012:t", Events: []string{"BACKUP_JOB_COMPLETED"}},
		StorageKey:        "key-" + name,
	}
}

func plainVault(name string) backup.Vault {
	return backup.Vault{Name: name, Region: region, AccountID: account, CreationDate: t0, VaultType: backup.VaultTypeBackup, VaultState: backup.VaultAvailable}
}

// point returns a recovery point of resource in vault, with every field set.
func point(ids *backup.IDs, vault, resource string, created time.Time, status backup.RecoveryPointStatus) backup.RecoveryPoint {
	k := vkey(vault)
	return backup.RecoveryPoint{
		ARN: ids.RecoveryPointARN(backup.EFS, region, account), VaultName: vault, VaultArn: k.ARN(), Region: region, AccountID: account,
		ResourceArn: resource, ResourceType: backup.EFS, ResourceName: "data",
		CreatedBy:  backup.Creator{BackupPlanID: "plan-1", BackupPlanArn: backup.PlanARN(region, account, "plan-1"), BackupRuleID: "rule-1"},
		IamRoleArn: "arn:aws:iam::123456789012:role/AWSBackupDefaultServiceRole",
		Status:     status, CreationDate: created, InitiationDate: created, CompletionDate: created.Add(time.Minute), EnteredVaultAt: created,
		BackupSizeInBytes: 1 << 20, Lifecycle: &backup.Lifecycle{MoveToColdStorageAfterDays: backup.Days(10), DeleteAfterDays: backup.Days(100)},
		EncryptionKeyArn: "arn:aws:kms:us-east-1:123456789012:key/k", EncryptionKeyType: backup.CustomerManagedKey, IsEncrypted: true,
		StorageClass: backup.StorageWarm, VaultType: backup.VaultTypeBackup,
		RestoreMetadata: map[string]string{"file-system-id": "fs-00000001", "newFileSystem": "true"},
		CreatedByJobID:  ids.JobID(),
		Engine:          backup.EngineRef{Repository: "repo-1", SnapshotID: "snap1", StorageRegion: region, StoredBytes: 1000, LogicalBytes: 2000, FileCount: 3},
	}
}

func backupJob(ids *backup.IDs, resource, vault string, created time.Time) backup.Job {
	return backup.Job{
		ID: ids.JobID(), Kind: backup.BackupJob, Region: region, AccountID: account, State: backup.JobCreated,
		CreationDate: created, StartBy: created.Add(8 * time.Hour), CompleteBy: created.Add(7 * 24 * time.Hour),
		ResourceArn: resource, ResourceType: backup.EFS, ResourceName: "data",
		IamRoleArn: "arn:aws:iam::123456789012:role/AWSBackupDefaultServiceRole",
		CreatedBy:  backup.Creator{BackupPlanID: "plan-1"},
		Backup: &backup.BackupDetails{BackupVaultName: vault, BackupVaultArn: vkey(vault).ARN(), IsEncrypted: true,
			Lifecycle:         &backup.Lifecycle{DeleteAfterDays: backup.Days(30)},
			RecoveryPointTags: map[string]string{"k": "v"}, BackupOptions: map[string]string{"WindowsVSS": "disabled"},
			StartWindowMinutes: 480, CompleteWindowMinutes: 10080},
	}
}

func copyJob(ids *backup.IDs, resource, srcVault, dstVaultArn, srcPoint string, created time.Time) backup.Job {
	dst, _ := backup.ParseVaultARN(dstVaultArn)
	return backup.Job{
		ID: ids.JobID(), Kind: backup.CopyJob, Region: region, AccountID: account, State: backup.JobCreated,
		CreationDate: created, ResourceArn: resource, ResourceType: backup.EFS,
		IamRoleArn: "arn:aws:iam::123456789012:role/r",
		Copy: &backup.CopyDetails{SourceBackupVaultArn: vkey(srcVault).ARN(), SourceRecoveryPointArn: srcPoint,
			DestinationBackupVaultArn: dstVaultArn, DestinationRegion: dst.Region,
			Lifecycle: &backup.Lifecycle{DeleteAfterDays: backup.Days(60)}},
	}
}

func restoreJob(ids *backup.IDs, resource, vault, rpArn string, rpCreated, created time.Time) backup.Job {
	return backup.Job{
		ID: ids.JobID(), Kind: backup.RestoreJob, Region: region, AccountID: account, State: backup.JobPending,
		CreationDate: created, ResourceArn: resource, ResourceType: backup.EFS,
		Restore: &backup.RestoreDetails{RecoveryPointArn: rpArn, BackupVaultArn: vkey(vault).ARN(), RecoveryPointCreationDate: rpCreated,
			Metadata: map[string]string{"newFileSystem": "true"}},
	}
}

// mustKind fails unless err has the given kind.
func mustKind(t *testing.T, what string, err error, want backup.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want %v", what, want)
	}
	if got := backup.KindOf(err); got != want {
		t.Fatalf("%s: got error %v (kind %v), want kind %v", what, err, got, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// errStop is a sentinel returned by transaction functions to abort them.
var errStop = errors.New("metatest: stop")

func sortedStrings(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
