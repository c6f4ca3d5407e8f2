package service_test

import (
	"context"
	"path/filepath"
	"slices"
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
	"github.com/coffer/coffer/internal/meta/sqlite"
	"github.com/coffer/coffer/internal/repo"
	"github.com/coffer/coffer/internal/vault"
)

func TestListBackupJobsFiltersAndPaging(t *testing.T) {
	ctx := context.Background()
	a := efsResource(writeFiles(t, map[string]string{"a": "a"}))
	b := efsResource(writeFiles(t, map[string]string{"b": "b"}))
	missing := efsResource(filepath.Join(t.TempDir(), "gone"))
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{a, b, missing}})
	e.createVault(t, "v1")
	e.createVault(t, "v2")
	c := e.client("us-east-1")
	var ids []string // in creation order
	run := func(v string, r domain.Resource) *backup.DescribeBackupJobOutput {
		out := e.start(t, v, r.ARN, nil)
		d := e.wait(t, aws.ToString(out.BackupJobId), types.BackupJobStateCompleted, types.BackupJobStateFailed)
		ids = append(ids, aws.ToString(out.BackupJobId))
		e.clock.Advance(time.Minute)
		return d
	}
	run("v1", a)
	run("v2", a)
	run("v1", b)
	fail := run("v1", missing)
	mid := e.clock.Now()
	e.clock.Advance(time.Hour)
	run("v2", b)
	if fail.State != types.BackupJobStateFailed {
		t.Fatalf("backup of a missing directory: got %s", fail.State)
	}

	list := func(in *backup.ListBackupJobsInput) []string {
		t.Helper()
		var got []string
		for {
			out, err := c.ListBackupJobs(ctx, in)
			if err != nil {
				t.Fatalf("ListBackupJobs: %v", err)
			}
			for _, j := range out.BackupJobs {
				got = append(got, aws.ToString(j.BackupJobId))
			}
			if out.NextToken == nil {
				return got
			}
			in.NextToken = out.NextToken
		}
	}
	rev := func(idx ...int) []string {
		var out []string
		for i := len(idx) - 1; i >= 0; i-- {
			out = append(out, ids[idx[i]])
		}
		return out
	}
	tests := []struct {
		name string
		in   backup.ListBackupJobsInput
		want []string
	}{
		{"all, paged by 2", backup.ListBackupJobsInput{MaxResults: aws.Int32(2)}, rev(0, 1, 2, 3, 4)},
		{"by vault", backup.ListBackupJobsInput{ByBackupVaultName: aws.String("v2")}, rev(1, 4)},
		{"by resource", backup.ListBackupJobsInput{ByResourceArn: &a.ARN}, rev(0, 1)},
		{"by state", backup.ListBackupJobsInput{ByState: types.BackupJobStateFailed}, rev(3)},
		{"by type EFS", backup.ListBackupJobsInput{ByResourceType: aws.String("EFS")}, rev(0, 1, 2, 3, 4)},
		{"by type EBS", backup.ListBackupJobsInput{ByResourceType: aws.String("EBS")}, nil},
		{"created after", backup.ListBackupJobsInput{ByCreatedAfter: aws.Time(mid)}, rev(4)},
		{"created before", backup.ListBackupJobsInput{ByCreatedBefore: aws.Time(mid)}, rev(0, 1, 2, 3)},
		{"completed after", backup.ListBackupJobsInput{ByCompleteAfter: aws.Time(mid)}, rev(4)},
		{"completed before", backup.ListBackupJobsInput{ByCompleteBefore: aws.Time(mid)}, rev(0, 1, 2, 3)},
		{"message category", backup.ListBackupJobsInput{ByMessageCategory: aws.String("RESOURCE_ERROR")}, rev(3)},
		{"message category ANY", backup.ListBackupJobsInput{ByMessageCategory: aws.String("ANY")}, rev(0, 1, 2, 3, 4)},
		{"account *", backup.ListBackupJobsInput{ByAccountId: aws.String("*")}, rev(0, 1, 2, 3, 4)},
		{"another account", backup.ListBackupJobsInput{ByAccountId: aws.String("999999999999")}, nil},
		{"parent job", backup.ListBackupJobsInput{ByParentJobId: aws.String(ids[0])}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if got := list(&in); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	west, err := e.client("us-west-2").ListBackupJobs(ctx, &backup.ListBackupJobsInput{})
	if err != nil || len(west.BackupJobs) != 0 {
		t.Errorf("us-west-2 lists us-east-1's jobs: %v %v", west, err)
	}
	_, err = c.ListBackupJobs(ctx, &backup.ListBackupJobsInput{ByResourceType: aws.String("Floppy")})
	wantAPIError(t, err, "InvalidParameterValueException", "Floppy")
	_, err = c.ListBackupJobs(ctx, &backup.ListBackupJobsInput{NextToken: aws.String("garbage")})
	wantAPIError(t, err, "InvalidParameterValueException", "NextToken")
	_, err = c.DescribeBackupJob(ctx, &backup.DescribeBackupJobInput{BackupJobId: &ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client("us-west-2").DescribeBackupJob(ctx, &backup.DescribeBackupJobInput{BackupJobId: &ids[0]})
	wantAPIError(t, err, "ResourceNotFoundException", "us-west-2")

	// Summaries: today's jobs by state, and all of them collapsed.
	sum, err := c.ListBackupJobSummaries(ctx, &backup.ListBackupJobSummariesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(sum.AggregationPeriod) != "ONE_DAY" {
		t.Errorf("got AggregationPeriod %q, want ONE_DAY by default", aws.ToString(sum.AggregationPeriod))
	}
	counts := map[string]int32{}
	for _, s := range sum.BackupJobSummaries {
		counts[string(s.State)+"/"+aws.ToString(s.MessageCategory)] += s.Count
		if aws.ToString(s.Region) != "us-east-1" || aws.ToString(s.AccountId) != testAccount || aws.ToString(s.ResourceType) != "EFS" {
			t.Errorf("summary row %+v", s)
		}
		if got := aws.ToTime(s.EndTime).Sub(aws.ToTime(s.StartTime)); got != 24*time.Hour {
			t.Errorf("ONE_DAY row spans %v", got)
		}
	}
	if counts["COMPLETED/SUCCESS"] != 4 || counts["FAILED/RESOURCE_ERROR"] != 1 {
		t.Errorf("got counts %v, want 4 COMPLETED and 1 FAILED", counts)
	}
	agg, err := c.ListBackupJobSummaries(ctx, &backup.ListBackupJobSummariesInput{AggregationPeriod: types.AggregationPeriodSevenDays,
		State: types.BackupJobStatusAggregateAll, MessageCategory: aws.String("AGGREGATE_ALL"), ResourceType: aws.String("ANY")})
	if err != nil {
		t.Fatal(err)
	}
	if len(agg.BackupJobSummaries) != 1 || agg.BackupJobSummaries[0].Count != 5 || agg.BackupJobSummaries[0].State != types.BackupJobStatusAggregateAll {
		t.Errorf("SEVEN_DAYS AGGREGATE_ALL: got %+v, want one row of 5", agg.BackupJobSummaries)
	}
	only, _ := c.ListBackupJobSummaries(ctx, &backup.ListBackupJobSummariesInput{State: types.BackupJobStatusFailed, AggregationPeriod: types.AggregationPeriodFourteenDays})
	if len(only.BackupJobSummaries) != 1 || only.BackupJobSummaries[0].Count != 1 {
		t.Errorf("State FAILED: got %+v", only.BackupJobSummaries)
	}
	paged, _ := c.ListBackupJobSummaries(ctx, &backup.ListBackupJobSummariesInput{MaxResults: aws.Int32(1)})
	if len(paged.BackupJobSummaries) != 1 || paged.NextToken == nil {
		t.Errorf("MaxResults 1: got %d rows, token %v", len(paged.BackupJobSummaries), paged.NextToken)
	}
	rest, err := c.ListBackupJobSummaries(ctx, &backup.ListBackupJobSummariesInput{MaxResults: aws.Int32(10), NextToken: paged.NextToken})
	if err != nil || len(rest.BackupJobSummaries) != len(sum.BackupJobSummaries)-1 {
		t.Errorf("second page: got %v %v", rest, err)
	}
}

// A job whose process died is settled when the node starts again: a
// recovery point still CREATING is removed together with a snapshot the
// job committed just before the crash, and the job ends FAILED saying it
// was interrupted; a job whose recovery point was already COMPLETED ends
// COMPLETED.
func TestRestartSettlesInterruptedJobs(t *testing.T) {
	ctx := context.Background()
	d := t.TempDir()
	src := writeFiles(t, map[string]string{"a": strings.Repeat("a", 5000)})
	res := efsResource(src)
	created := time.Date(2025, 6, 1, 11, 0, 0, 0, time.UTC)
	v := domain.Vault{Name: "v1", Region: "us-east-1", AccountID: testAccount, CreationDate: created,
		EncryptionKeyArn: "arn:aws:kms:us-east-1:" + testAccount + ":key/6f1f8c4e-0000-4000-8000-000000000001", EncryptionKeyType: domain.CustomerManagedKey,
		VaultType: domain.VaultTypeBackup, VaultState: domain.VaultAvailable}
	ids := domain.NewIDs(nil)
	var interrupted, finished domain.Job
	var orphan repo.ID
	setup := func(store *sqlite.Store) {
		if _, err := store.CreateVault(ctx, v, nil); err != nil {
			t.Fatal(err)
		}
		v, _ = store.GetVault(ctx, v.Key())
		// Commit a snapshot as the first job would have, just before dying.
		st, err := localfs.New(ctx, localfs.Options{Root: filepath.Join(d, "storage", "us-east-1"), Create: true, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		ks, _ := repo.OpenKeystore(filepath.Join(d, "keys"))
		m, err := vault.New(vault.Options{Regions: map[string]blob.Store{"us-east-1": st}, Keystore: ks})
		if err != nil {
			t.Fatal(err)
		}
		vr, err := m.Open(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		for i, j := range []*domain.Job{&interrupted, &finished} {
			*j = domain.Job{ID: ids.JobID(), Kind: domain.BackupJob, Region: "us-east-1", AccountID: testAccount, State: domain.JobCreated,
				CreationDate: created.Add(time.Duration(i) * time.Minute), ResourceArn: res.ARN, ResourceType: domain.EFS,
				Backup: &domain.BackupDetails{BackupVaultName: "v1", BackupVaultArn: v.ARN, RecoveryPointArn: ids.RecoveryPointARN(domain.EFS, "us-east-1", testAccount)}}
			if _, _, err := store.CreateJob(ctx, *j, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := store.UpdateJob(ctx, j.ID, func(x *domain.Job) error {
				x.LeaseOwner, x.LeaseExpiry = "test-node/0123456789ab/w1", created.Add(24*time.Hour)
				return x.SetState(domain.JobRunning, created)
			}); err != nil {
				t.Fatal(err)
			}
			r, err := archive.BackupDir(ctx, vr.Archive, src, archive.Options{Meta: map[string]string{"coffer.job-id": j.ID}})
			if err != nil {
				t.Fatal(err)
			}
			rp := domain.RecoveryPoint{ARN: j.Backup.RecoveryPointArn, VaultName: "v1", VaultArn: v.ARN, Region: "us-east-1", AccountID: testAccount,
				ResourceArn: res.ARN, ResourceType: domain.EFS, Status: domain.RecoveryPointCreating, CreationDate: created, EnteredVaultAt: created,
				CreatedByJobID: j.ID, Engine: vr.EngineRef("")}
			if i == 0 {
				orphan = repo.ID(r.ID)
			} else {
				rp.Status, rp.Engine = domain.RecoveryPointCompleted, vr.EngineRef(r.ID.String())
				rp.Engine.StoredBytes = 5000
			}
			if err := store.CreateRecoveryPoint(ctx, rp, nil); err != nil {
				t.Fatal(err)
			}
		}
		m.Close()
	}
	e := newDataEnv(t, dataOptions{resources: []domain.Resource{res}, dataDir: d, before: setup})
	c := e.client("us-east-1")
	got := e.wait(t, interrupted.ID, types.BackupJobStateFailed, types.BackupJobStateCompleted)
	if got.State != types.BackupJobStateFailed || aws.ToString(got.MessageCategory) != "INTERRUPTED" || !strings.Contains(aws.ToString(got.StatusMessage), "interrupted") {
		t.Errorf("interrupted job: got %s %q (%s)", got.State, aws.ToString(got.StatusMessage), aws.ToString(got.MessageCategory))
	}
	_, err := c.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: got.RecoveryPointArn})
	wantAPIError(t, err, "ResourceNotFoundException")
	vr := e.openVault(t, "v1")
	if _, err := vr.Repository.LoadSnapshot(ctx, orphan); err == nil {
		t.Errorf("the interrupted job's committed snapshot is still in the repository")
	}
	done := e.wait(t, finished.ID, types.BackupJobStateCompleted, types.BackupJobStateFailed)
	if done.State != types.BackupJobStateCompleted || aws.ToInt64(done.BackupSizeInBytes) != 5000 {
		t.Errorf("job whose point was completed: got %s size %d", done.State, aws.ToInt64(done.BackupSizeInBytes))
	}
	vd, _ := c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("v1")})
	if vd.NumberOfRecoveryPoints != 1 {
		t.Errorf("got %d recovery points, want only the completed one", vd.NumberOfRecoveryPoints)
	}
}
