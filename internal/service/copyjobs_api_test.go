package service_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	domain "github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/fault"
	"github.com/coffer/coffer/internal/blob/localfs"
	"github.com/coffer/coffer/internal/connector"
	"github.com/coffer/coffer/internal/connector/dir"
	"github.com/coffer/coffer/internal/jobs"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/service"
	"github.com/coffer/coffer/internal/vault"
)

// copyRole is the IamRoleArn of the copy requests.
const copyRole = "arn:aws:iam::" + testAccount + ":role/service-role/AWSBackupDefaultServiceRole"

// copyIn is a StartCopyJob request from us-east-1.
func copyIn(srcVault, rpArn, dstArn string) *backup.StartCopyJobInput {
	return &backup.StartCopyJobInput{
		SourceBackupVaultName:     aws.String(srcVault),
		RecoveryPointArn:          aws.String(rpArn),
		DestinationBackupVaultArn: aws.String(dstArn),
		IamRoleArn:                aws.String(copyRole),
	}
}

// queueEnv is a Coffer whose job runner never starts: accepted copy jobs
// stay CREATED, so the request checks, limits, idempotency and listings
// are tested without moving data. Recovery points are written straight
// into the store in whatever status a case needs. The west region's
// storage can be made unreachable.
type queueEnv struct {
	*env
	west *fault.Store
}

func newQueueEnv(t *testing.T, regionLimit, vaultLimit int) *queueEnv {
	t.Helper()
	ctx := context.Background()
	d := t.TempDir()
	regions := map[string]blob.Store{}
	var west *fault.Store
	for _, r := range testRegions {
		st, err := localfs.New(ctx, localfs.Options{Root: filepath.Join(d, r), Create: true, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		regions[r] = st
		if r == "us-west-2" {
			west = fault.New(st, fault.Options{})
			regions[r] = west
		}
	}
	ks, err := repo.OpenKeystore(filepath.Join(d, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	vaults, err := vault.New(vault.Options{Regions: regions, Keystore: ks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vaults.Close() })
	e := newEnvWith(t, func(deps *service.Deps) {
		runner, err := jobs.New(jobs.Options{Store: deps.Store.(jobs.Store), Clock: deps.Clock})
		if err != nil {
			t.Fatal(err)
		}
		deps.Data = service.DataDeps{
			Jobs:                         runner,
			Vaults:                       vaults,
			Resources:                    connector.NewInventoryOf(),
			Connectors:                   connector.NewSet(&dir.Connector{}),
			SweepInterval:                -1,
			GCInterval:                   -1,
			CopyJobsPerDestinationRegion: regionLimit,
			CopyJobsPerDestinationVault:  vaultLimit,
		}
	})
	return &queueEnv{env: e, west: west}
}

// vault creates a vault and returns its ARN.
func (e *queueEnv) vault(t *testing.T, region, name string) string {
	t.Helper()
	out, err := e.client(region).CreateBackupVault(context.Background(), &backup.CreateBackupVaultInput{BackupVaultName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.BackupVaultArn)
}

// point stores a recovery point of an EFS resource in a us-east-1 vault.
func (e *queueEnv) point(t *testing.T, vaultName, id string, status domain.RecoveryPointStatus, mod func(*domain.RecoveryPoint)) string {
	t.Helper()
	created := e.clock.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	rp := domain.RecoveryPoint{
		ARN:          domain.BackupARN("recovery-point", "us-east-1", testAccount, id),
		VaultName:    vaultName,
		Region:       "us-east-1",
		AccountID:    testAccount,
		ResourceArn:  domain.ResourceARN(domain.EFS, "us-east-1", testAccount, "fs-0123456789abcdef0"),
		ResourceType: domain.EFS,
		Status:       status,
		CreationDate: created,
		StorageClass: domain.StorageWarm,
		Lifecycle:    &domain.Lifecycle{DeleteAfterDays: domain.Days(100)},
		Engine:       domain.EngineRef{Repository: "r", SnapshotID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
	}
	if mod != nil {
		mod(&rp)
	}
	if err := e.store.CreateRecoveryPoint(context.Background(), rp, nil); err != nil {
		t.Fatal(err)
	}
	return rp.ARN
}

// TestStartCopyJobErrors drives every error of StartCopyJob through the
// SDK and checks its type with errors.As.
func TestStartCopyJobErrors(t *testing.T) {
	ctx := context.Background()
	e := newQueueEnv(t, 0, 0)
	e.vault(t, "us-east-1", "src")
	dst := e.vault(t, "us-west-2", "dst")
	srcArn := domain.VaultARN("us-east-1", testAccount, "src")
	ok := e.point(t, "src", "00000000-0000-4000-8000-000000000001", domain.RecoveryPointCompleted, nil)
	creating := e.point(t, "src", "00000000-0000-4000-8000-000000000002", domain.RecoveryPointCreating, nil)
	deleting := e.point(t, "src", "00000000-0000-4000-8000-000000000003", domain.RecoveryPointDeleting, nil)
	cold := e.point(t, "src", "00000000-0000-4000-8000-000000000004", domain.RecoveryPointCompleted, func(rp *domain.RecoveryPoint) {
		rp.StorageClass = domain.StorageCold
	})
	withCold := e.point(t, "src", "00000000-0000-4000-8000-000000000005", domain.RecoveryPointCompleted, func(rp *domain.RecoveryPoint) {
		rp.Lifecycle = &domain.Lifecycle{MoveToColdStorageAfterDays: domain.Days(10), DeleteAfterDays: domain.Days(120)}
	})
	e.vault(t, "us-east-1", "other")

	in := func(mod func(*backup.StartCopyJobInput)) *backup.StartCopyJobInput {
		c := copyIn("src", ok, dst)
		if mod != nil {
			mod(c)
		}
		return c
	}
	var (
		missing  *types.MissingParameterValueException
		invalid  *types.InvalidParameterValueException
		notFound *types.ResourceNotFoundException
		badReq   *types.InvalidRequestException
		unavail  *types.ServiceUnavailableException
	)
	cases := []struct {
		name   string
		in     *backup.StartCopyJobInput
		target any
		want   string // a fragment of the message
	}{
		{"empty recovery point", in(func(c *backup.StartCopyJobInput) { c.RecoveryPointArn = aws.String("") }), &missing, "RecoveryPointArn"},
		{"empty destination", in(func(c *backup.StartCopyJobInput) { c.DestinationBackupVaultArn = aws.String("") }), &missing, "DestinationBackupVaultArn"},
		{"empty role", in(func(c *backup.StartCopyJobInput) { c.IamRoleArn = aws.String("") }), &missing, "IamRoleArn"},
		{"malformed recovery point", in(func(c *backup.StartCopyJobInput) { c.RecoveryPointArn = aws.String("not-an-arn") }), &invalid, "RecoveryPointArn"},
		{"malformed destination", in(func(c *backup.StartCopyJobInput) {
			c.DestinationBackupVaultArn = aws.String("arn:aws:backup:us-west-2:" + testAccount + ":vault:dst")
		}), &invalid, "DestinationBackupVaultArn"},
		{"malformed role", in(func(c *backup.StartCopyJobInput) { c.IamRoleArn = aws.String("arn:aws:iam::123:role") }), &invalid, "IamRoleArn"},
		{"role of another account", in(func(c *backup.StartCopyJobInput) {
			c.IamRoleArn = aws.String("arn:aws:iam::999988887777:role/AWSBackupRole")
		}), &invalid, "999988887777"},
		{"malformed source vault name", in(func(c *backup.StartCopyJobInput) { c.SourceBackupVaultName = aws.String("x") }), &invalid, "SourceBackupVaultName"},
		{"cold too soon before delete", in(func(c *backup.StartCopyJobInput) {
			c.Lifecycle = &types.Lifecycle{MoveToColdStorageAfterDays: aws.Int64(30), DeleteAfterDays: aws.Int64(60)}
		}), &invalid, "90 days"},
		{"retention over the limit", in(func(c *backup.StartCopyJobInput) {
			c.Lifecycle = &types.Lifecycle{DeleteAfterDays: aws.Int64(40000)}
		}), &invalid, "DeleteAfterDays"},
		{"inherited cold + short retention", in(func(c *backup.StartCopyJobInput) {
			c.RecoveryPointArn = aws.String(withCold)
			c.Lifecycle = &types.Lifecycle{DeleteAfterDays: aws.Int64(50)}
		}), &invalid, "inherits"},
		{"unknown source vault", in(func(c *backup.StartCopyJobInput) { c.SourceBackupVaultName = aws.String("nope") }), &notFound, "nope"},
		{"point not in that vault", in(func(c *backup.StartCopyJobInput) { c.SourceBackupVaultName = aws.String("other") }), &notFound, ok},
		{"unknown point", in(func(c *backup.StartCopyJobInput) {
			c.RecoveryPointArn = aws.String(domain.BackupARN("recovery-point", "us-east-1", testAccount, "00000000-0000-4000-8000-0000000000ff"))
		}), &notFound, "0000000000ff"},
		{"unknown destination vault", in(func(c *backup.StartCopyJobInput) {
			c.DestinationBackupVaultArn = aws.String(domain.VaultARN("us-west-2", testAccount, "ghost"))
		}), &notFound, "ghost"},
		{"destination in an unserved region", in(func(c *backup.StartCopyJobInput) {
			c.DestinationBackupVaultArn = aws.String(domain.VaultARN("eu-west-1", testAccount, "dst"))
		}), &notFound, "eu-west-1"},
		{"destination of another account", in(func(c *backup.StartCopyJobInput) {
			c.DestinationBackupVaultArn = aws.String(domain.VaultARN("us-west-2", "999988887777", "dst"))
		}), &notFound, "999988887777"},
		{"point still creating", in(func(c *backup.StartCopyJobInput) { c.RecoveryPointArn = aws.String(creating) }), &badReq, "CREATING"},
		{"point being deleted", in(func(c *backup.StartCopyJobInput) { c.RecoveryPointArn = aws.String(deleting) }), &badReq, "being deleted"},
		{"point in cold storage", in(func(c *backup.StartCopyJobInput) { c.RecoveryPointArn = aws.String(cold) }), &badReq, "cold storage"},
		{"same vault", in(func(c *backup.StartCopyJobInput) { c.DestinationBackupVaultArn = aws.String(srcArn) }), &badReq, "same"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.client("us-east-1").StartCopyJob(ctx, c.in)
			if err == nil {
				t.Fatalf("got success, want %T", c.target)
			}
			if !errors.As(err, c.target) {
				t.Fatalf("got %T %v, want %T", err, err, c.target)
			}
			if msg := err.Error(); !strings.Contains(msg, c.want) {
				t.Errorf("message %q does not name %q", msg, c.want)
			}
		})
	}

	// The destination storage does not answer: ServiceUnavailable, and no
	// job is left behind.
	e.west.SetRules(fault.Rule{Ops: fault.OpStat, Kind: fault.Fail})
	_, err := e.client("us-east-1").StartCopyJob(ctx, copyIn("src", ok, dst))
	if !errors.As(err, &unavail) || !strings.Contains(err.Error(), "us-west-2") {
		t.Fatalf("destination storage down: got %T %v, want ServiceUnavailableException naming the region", err, err)
	}
	e.west.Clear()
	list, err := e.client("us-east-1").ListCopyJobs(ctx, &backup.ListCopyJobsInput{})
	if err != nil || len(list.CopyJobs) != 0 {
		t.Fatalf("after refused requests: ListCopyJobs = %d jobs (%v), want none", len(list.CopyJobs), err)
	}
	if _, err := e.client("us-east-1").StartCopyJob(ctx, copyIn("src", ok, dst)); err != nil {
		t.Fatalf("after the storage came back: %v", err)
	}
}

// TestStartCopyJobLimitsAndIdempotency checks the per-region and per-vault
// limits and idempotency tokens.
func TestStartCopyJobLimitsAndIdempotency(t *testing.T) {
	ctx := context.Background()
	e := newQueueEnv(t, 2, 1)
	e.vault(t, "us-east-1", "src")
	a := e.vault(t, "us-west-2", "va")
	b := e.vault(t, "us-west-2", "vb")
	c := e.vault(t, "us-west-2", "vc")
	local := e.vault(t, "us-east-1", "local")
	rp := e.point(t, "src", "00000000-0000-4000-8000-000000000001", domain.RecoveryPointCompleted, nil)
	cl := e.client("us-east-1")
	var limit *types.LimitExceededException

	start := func(dst, token string) (string, error) {
		in := copyIn("src", rp, dst)
		if token != "" {
			in.IdempotencyToken = aws.String(token)
		}
		out, err := cl.StartCopyJob(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.CopyJobId), nil
	}
	first, err := start(a, "tok-1")
	if err != nil {
		t.Fatal(err)
	}
	// A retry with the same token and parameters: the same job, nothing new.
	again, err := start(a, "tok-1")
	if err != nil || again != first {
		t.Fatalf("retry with the same token: got %q, %v; want job %s", again, err, first)
	}
	// The same token with other parameters is refused.
	in := copyIn("src", rp, a)
	in.IdempotencyToken = aws.String("tok-1")
	in.Lifecycle = &types.Lifecycle{DeleteAfterDays: aws.Int64(10)}
	if _, err := cl.StartCopyJob(ctx, in); !errors.As(err, new(*types.InvalidRequestException)) || !strings.Contains(err.Error(), first) {
		t.Fatalf("same token, other lifecycle: got %v, want InvalidRequestException naming %s", err, first)
	}
	if _, err := start(b, "tok-1"); !errors.As(err, new(*types.InvalidRequestException)) {
		t.Fatalf("same token, other destination: got %v, want InvalidRequestException", err)
	}

	// Region limit 2: a second job into the region is fine.
	if _, err := start(b, ""); err != nil {
		t.Fatalf("second copy into us-west-2: %v", err)
	}
	// Region full; vault a already has 1 (its allowance): refused.
	if _, err := start(a, ""); !errors.As(err, &limit) || !strings.Contains(err.Error(), "us-west-2") {
		t.Fatalf("third copy into vault a: got %v, want LimitExceededException naming the region", err)
	}
	// Vault c has none yet: its allowance beyond the region's limit.
	if _, err := start(c, ""); err != nil {
		t.Fatalf("copy into vault c within its allowance: %v", err)
	}
	if _, err := start(c, ""); !errors.As(err, &limit) {
		t.Fatalf("second copy into vault c: got %v, want LimitExceededException", err)
	}
	// Another destination region is not affected; a retry of an accepted
	// job is answered even when the limits are reached.
	if _, err := start(local, ""); err != nil {
		t.Fatalf("copy into us-east-1: %v", err)
	}
	if again, err := start(a, "tok-1"); err != nil || again != first {
		t.Fatalf("retry at the limit: got %q, %v; want job %s", again, err, first)
	}
	// A finished job no longer counts.
	if _, err := e.store.UpdateJob(ctx, first, func(j *domain.Job) error {
		return j.SetState(domain.JobFailed, e.clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := start(a, ""); err != nil {
		t.Fatalf("copy into vault a after its job ended: %v", err)
	}
	// The token's lifetime: an hour later it names nothing.
	e.clock.Advance(61 * time.Minute)
	if id, err := start(local, "tok-1"); err != nil || id == first {
		t.Fatalf("token reused after its lifetime: got %q, %v; want a new job", id, err)
	}
}
