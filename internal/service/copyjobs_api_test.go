package service_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
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

// TestListCopyJobs checks every ListCopyJobs filter, pagination and
// ListCopyJobSummaries over jobs in several states.
func TestListCopyJobs(t *testing.T) {
	ctx := context.Background()
	e := newQueueEnv(t, 0, 0)
	e.vault(t, "us-east-1", "src")
	west := e.vault(t, "us-west-2", "west")
	local := e.vault(t, "us-east-1", "local")
	rp1 := e.point(t, "src", "00000000-0000-4000-8000-000000000001", domain.RecoveryPointCompleted, nil)
	rp2 := e.point(t, "src", "00000000-0000-4000-8000-000000000002", domain.RecoveryPointCompleted, func(rp *domain.RecoveryPoint) {
		rp.ResourceArn = domain.ResourceARN(domain.EBS, "us-east-1", testAccount, "vol-0123456789abcdef0")
		rp.ResourceType = domain.EBS
		rp.ARN = "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0"
	})
	cl := e.client("us-east-1")
	start := func(rp, dst string) string {
		t.Helper()
		out, err := cl.StartCopyJob(ctx, copyIn("src", rp, dst))
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		return aws.ToString(out.CopyJobId)
	}
	end := func(id string, st domain.JobState, category string) {
		t.Helper()
		if _, err := e.store.UpdateJob(ctx, id, func(j *domain.Job) error {
			j.MessageCategory = category
			if err := j.SetState(domain.JobRunning, e.clock.Now()); err != nil {
				return err
			}
			return j.SetState(st, e.clock.Now())
		}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
	}
	t0 := e.clock.Now()
	j1 := start(rp1, west)  // EFS → west, COMPLETED
	j2 := start(rp1, local) // EFS → local, FAILED
	t1 := e.clock.Now()
	j3 := start(rp2, west) // EBS → west, CREATED
	j4 := start(rp2, local)
	end(j1, domain.JobCompleted, "SUCCESS")
	tEnd1 := e.clock.Now()
	end(j2, domain.JobFailed, domain.MessageStorageError)

	ids := func(in *backup.ListCopyJobsInput) []string {
		t.Helper()
		var got []string
		p := backup.NewListCopyJobsPaginator(cl, in, func(o *backup.ListCopyJobsPaginatorOptions) { o.Limit = 2 })
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListCopyJobs: %v", err)
			}
			if len(out.CopyJobs) > 2 {
				t.Fatalf("a page of %d jobs, want at most 2", len(out.CopyJobs))
			}
			for _, j := range out.CopyJobs {
				got = append(got, aws.ToString(j.CopyJobId))
			}
		}
		return got
	}
	efs, ebs := "EFS", "EBS"
	cases := []struct {
		name string
		in   backup.ListCopyJobsInput
		want []string
	}{
		{"all, newest first, paged by 2", backup.ListCopyJobsInput{}, []string{j4, j3, j2, j1}},
		{"state", backup.ListCopyJobsInput{ByState: types.CopyJobStateCreated}, []string{j4, j3}},
		{"destination vault", backup.ListCopyJobsInput{ByDestinationVaultArn: aws.String(west)}, []string{j3, j1}},
		{"source recovery point", backup.ListCopyJobsInput{BySourceRecoveryPointArn: aws.String(rp1)}, []string{j2, j1}},
		{"resource type", backup.ListCopyJobsInput{ByResourceType: &ebs}, []string{j4, j3}},
		{"resource ARN", backup.ListCopyJobsInput{ByResourceArn: aws.String(domain.ResourceARN(domain.EFS, "us-east-1", testAccount, "fs-0123456789abcdef0"))}, []string{j2, j1}},
		{"created after", backup.ListCopyJobsInput{ByCreatedAfter: aws.Time(t1.Add(-time.Second))}, []string{j4, j3}},
		{"created before", backup.ListCopyJobsInput{ByCreatedBefore: aws.Time(t1.Add(-time.Second)), ByResourceType: &efs}, []string{j2, j1}},
		{"created in range", backup.ListCopyJobsInput{ByCreatedAfter: aws.Time(t0), ByCreatedBefore: aws.Time(t1)}, []string{j2}},
		{"complete after", backup.ListCopyJobsInput{ByCompleteAfter: aws.Time(tEnd1.Add(-time.Second))}, []string{j2}},
		{"complete before", backup.ListCopyJobsInput{ByCompleteBefore: aws.Time(tEnd1)}, []string{j1}},
		{"message category", backup.ListCopyJobsInput{ByMessageCategory: aws.String(domain.MessageStorageError)}, []string{j2}},
		{"message category ANY", backup.ListCopyJobsInput{ByMessageCategory: aws.String("ANY")}, []string{j4, j3, j2, j1}},
		{"own account", backup.ListCopyJobsInput{ByAccountId: aws.String(testAccount)}, []string{j4, j3, j2, j1}},
		{"another account", backup.ListCopyJobsInput{ByAccountId: aws.String("999988887777")}, nil},
		{"parent job", backup.ListCopyJobsInput{ByParentJobId: aws.String("no-such-parent")}, nil},
	}
	for _, c := range cases {
		if got := ids(&c.in); strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := cl.ListCopyJobs(ctx, &backup.ListCopyJobsInput{ByState: "ABORTED"}); !errors.As(err, new(*types.InvalidParameterValueException)) {
		t.Errorf("ByState ABORTED: got %v, want InvalidParameterValueException", err)
	}
	if _, err := cl.ListCopyJobs(ctx, &backup.ListCopyJobsInput{ByDestinationVaultArn: aws.String("vault")}); !errors.As(err, new(*types.InvalidParameterValueException)) {
		t.Errorf("malformed ByDestinationVaultArn: got %v, want InvalidParameterValueException", err)
	}
	// Copy jobs belong to their source's region.
	if out, err := e.client("us-west-2").ListCopyJobs(ctx, &backup.ListCopyJobsInput{}); err != nil || len(out.CopyJobs) != 0 {
		t.Errorf("ListCopyJobs in us-west-2: %d jobs (%v), want none", len(out.CopyJobs), err)
	}

	// Describe shows every field of the request and the state.
	d, err := cl.DescribeCopyJob(ctx, &backup.DescribeCopyJobInput{CopyJobId: aws.String(j2)})
	if err != nil {
		t.Fatal(err)
	}
	c := d.CopyJob
	if c.State != types.CopyJobStateFailed || aws.ToString(c.MessageCategory) != domain.MessageStorageError || aws.ToString(c.SourceBackupVaultArn) != domain.VaultARN("us-east-1", testAccount, "src") ||
		aws.ToString(c.DestinationBackupVaultArn) != local || aws.ToString(c.SourceRecoveryPointArn) != rp1 || aws.ToString(c.IamRoleArn) != copyRole ||
		aws.ToString(c.AccountId) != testAccount || aws.ToString(c.DestinationVaultType) != "BACKUP_VAULT" || aws.ToString(c.DestinationVaultLockState) != "UNLOCKED" ||
		aws.ToString(c.DestinationEncryptionKeyArn) == "" || c.DestinationRecoveryPointLifecycle == nil || aws.ToInt64(c.DestinationRecoveryPointLifecycle.DeleteAfterDays) != 100 || c.CompletionDate == nil {
		t.Errorf("DescribeCopyJob: got %+v", c)
	}
	if _, err := cl.DescribeCopyJob(ctx, &backup.DescribeCopyJobInput{CopyJobId: aws.String("00000000-0000-0000-0000-000000000000")}); !errors.As(err, new(*types.ResourceNotFoundException)) {
		t.Errorf("DescribeCopyJob of an unknown ID: got %v, want ResourceNotFoundException", err)
	}

	// Summaries.
	sum := func(in *backup.ListCopyJobSummariesInput) map[string]int32 {
		t.Helper()
		out, err := cl.ListCopyJobSummaries(ctx, in)
		if err != nil {
			t.Fatalf("ListCopyJobSummaries: %v", err)
		}
		m := map[string]int32{}
		for _, s := range out.CopyJobSummaries {
			if aws.ToString(s.Region) != "us-east-1" || s.StartTime == nil || s.EndTime == nil || !s.EndTime.After(*s.StartTime) {
				t.Errorf("summary row %+v: want region us-east-1 and a time window", s)
			}
			m[string(s.State)+"/"+aws.ToString(s.ResourceType)] += s.Count
		}
		return m
	}
	got := sum(&backup.ListCopyJobSummariesInput{AggregationPeriod: types.AggregationPeriodSevenDays})
	want := map[string]int32{"COMPLETED/EFS": 1, "FAILED/EFS": 1, "CREATED/EBS": 2}
	if !equalCounts(got, want) {
		t.Errorf("summaries per state and type: got %v, want %v", got, want)
	}
	got = sum(&backup.ListCopyJobSummariesInput{State: types.CopyJobStatusAggregateAll, ResourceType: aws.String("AGGREGATE_ALL")})
	if !equalCounts(got, map[string]int32{"AGGREGATE_ALL/AGGREGATE_ALL": 4}) {
		t.Errorf("aggregated summary: got %v, want 4 jobs in one row", got)
	}
	got = sum(&backup.ListCopyJobSummariesInput{State: types.CopyJobStatusCreated, AggregationPeriod: types.AggregationPeriodOneDay})
	if !equalCounts(got, map[string]int32{"CREATED/EBS": 2}) {
		t.Errorf("CREATED summary: got %v", got)
	}
	if got := sum(&backup.ListCopyJobSummariesInput{State: types.CopyJobStatusAborted}); len(got) != 0 {
		t.Errorf("ABORTED summary: got %v, want none", got)
	}
}

func equalCounts(a, b map[string]int32) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestCopyLifecycle checks the copy's lifecycle: inherited from the source,
// overridden field by field, DeleteAfterDays -1 keeping the source's.
func TestCopyLifecycle(t *testing.T) {
	ctx := context.Background()
	e := newQueueEnv(t, 0, 0)
	e.vault(t, "us-east-1", "src")
	dst := e.vault(t, "us-west-2", "dst")
	rp := e.point(t, "src", "00000000-0000-4000-8000-000000000001", domain.RecoveryPointCompleted, func(rp *domain.RecoveryPoint) {
		rp.Lifecycle = &domain.Lifecycle{DeleteAfterDays: domain.Days(200), MoveToColdStorageAfterDays: domain.Days(30)}
	})
	forever := e.point(t, "src", "00000000-0000-4000-8000-000000000002", domain.RecoveryPointCompleted, func(rp *domain.RecoveryPoint) {
		rp.Lifecycle = nil
	})
	cl := e.client("us-east-1")
	for _, c := range []struct {
		name      string
		rp        string
		in        *types.Lifecycle
		cold, del int64 // 0: not set
	}{
		{"inherited", rp, nil, 30, 200},
		{"retention overridden", rp, &types.Lifecycle{DeleteAfterDays: aws.Int64(150)}, 30, 150},
		{"cold overridden", rp, &types.Lifecycle{MoveToColdStorageAfterDays: aws.Int64(60)}, 60, 200},
		{"-1 keeps the source's retention", rp, &types.Lifecycle{DeleteAfterDays: aws.Int64(-1), MoveToColdStorageAfterDays: aws.Int64(10)}, 10, 200},
		{"source kept forever", forever, nil, 0, 0},
		{"forever source, retention set", forever, &types.Lifecycle{DeleteAfterDays: aws.Int64(7)}, 0, 7},
	} {
		in := copyIn("src", c.rp, dst)
		in.Lifecycle = c.in
		out, err := cl.StartCopyJob(ctx, in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		d, err := cl.DescribeCopyJob(ctx, &backup.DescribeCopyJobInput{CopyJobId: out.CopyJobId})
		if err != nil {
			t.Fatal(err)
		}
		l := d.CopyJob.DestinationRecoveryPointLifecycle
		var cold, del int64
		if l != nil {
			cold, del = aws.ToInt64(l.MoveToColdStorageAfterDays), aws.ToInt64(l.DeleteAfterDays)
		}
		if cold != c.cold || del != c.del {
			t.Errorf("%s: copy lifecycle cold %d, delete %d; want %d, %d", c.name, cold, del, c.cold, c.del)
		}
	}
}

// TestStartCopyJobLimitUnderConcurrency: concurrent requests cannot all
// pass the limit check before any of them is stored.
func TestStartCopyJobLimitUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	e := newQueueEnv(t, 1, 1)
	e.vault(t, "us-east-1", "src")
	a := e.vault(t, "us-west-2", "va")
	rp := e.point(t, "src", "00000000-0000-4000-8000-000000000002", domain.RecoveryPointCompleted, nil)
	cl := e.client("us-east-1")
	const n = 10
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := cl.StartCopyJob(ctx, copyIn("src", rp, a))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	accepted, limited := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			accepted++
		case errors.As(err, new(*types.LimitExceededException)):
			limited++
		default:
			t.Errorf("StartCopyJob: %v", err)
		}
	}
	if accepted != 1 || limited != n-1 {
		t.Errorf("%d concurrent copies at region limit 1 and vault allowance 1: %d accepted, %d refused; want 1 and %d", n, accepted, limited, n-1)
	}
}
