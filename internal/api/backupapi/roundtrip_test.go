package backupapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
	"github.com/aws/smithy-go"
)

// recorder is a Service that records the inputs it sees and answers with
// canned outputs or errors.
type recorder struct {
	Unimplemented
	mu     sync.Mutex
	inputs map[string]any
	// fail, when set for an operation, is returned instead of the output.
	fail map[string]error
}

func newRecorder() *recorder {
	return &recorder{inputs: map[string]any{}, fail: map[string]error{}}
}

func (r *recorder) record(op string, in any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inputs[op] = in
	return r.fail[op]
}

func (r *recorder) input(t *testing.T, op string) any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	in, ok := r.inputs[op]
	if !ok {
		t.Fatalf("service did not see a %s call", op)
	}
	return in
}

var (
	t1 = time.Date(2024, 3, 1, 12, 30, 45, 87_000_000, time.UTC)
	t2 = time.Date(2024, 3, 2, 8, 0, 0, 0, time.UTC)
)

const (
	vaultArn = "arn:aws:backup:us-east-1:123456789012:backup-vault:v1"
	rpArn    = "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0"
)

func (r *recorder) CreateBackupVault(_ context.Context, in *CreateBackupVaultInput) (*CreateBackupVaultOutput, error) {
	if err := r.record("CreateBackupVault", in); err != nil {
		return nil, err
	}
	return &CreateBackupVaultOutput{BackupVaultName: in.BackupVaultName, BackupVaultArn: aws.String(vaultArn), CreationDate: &t1}, nil
}

func (r *recorder) DeleteBackupVault(_ context.Context, in *DeleteBackupVaultInput) (*DeleteBackupVaultOutput, error) {
	return &DeleteBackupVaultOutput{}, r.record("DeleteBackupVault", in)
}

func (r *recorder) DescribeBackupVault(_ context.Context, in *DescribeBackupVaultInput) (*DescribeBackupVaultOutput, error) {
	if err := r.record("DescribeBackupVault", in); err != nil {
		return nil, err
	}
	return &DescribeBackupVaultOutput{BackupVaultName: in.BackupVaultName, NumberOfRecoveryPoints: aws.Int64(3),
		VaultType: VaultTypeBackupVault, Locked: aws.Bool(false)}, nil
}

func (r *recorder) DescribeRecoveryPoint(_ context.Context, in *DescribeRecoveryPointInput) (*DescribeRecoveryPointOutput, error) {
	if err := r.record("DescribeRecoveryPoint", in); err != nil {
		return nil, err
	}
	return &DescribeRecoveryPointOutput{
		RecoveryPointArn:    in.RecoveryPointArn,
		BackupVaultName:     in.BackupVaultName,
		BackupSizeInBytes:   aws.Int64(1 << 40),
		CreationDate:        &t1,
		CompletionDate:      &t2,
		IsEncrypted:         aws.Bool(true),
		Status:              RecoveryPointStatusCompleted,
		StorageClass:        StorageClassWarm,
		Lifecycle:           &Lifecycle{DeleteAfterDays: aws.Int64(35), MoveToColdStorageAfterDays: aws.Int64(7)},
		CalculatedLifecycle: &CalculatedLifecycle{DeleteAt: &t2},
		CreatedBy:           &RecoveryPointCreator{BackupPlanId: aws.String("plan-1"), BackupRuleCron: aws.String("cron(0 5 ? * * *)")},
		ScanResults:         []ScanResult{{MalwareScanner: MalwareScannerGuardduty, Findings: []ScanFinding{ScanFindingMalware}, LastScanTimestamp: &t1}},
		StatusMessage:       aws.String("line1\n\"quoted\" <tag> & ünïcode \u2028"),
	}, nil
}

func (r *recorder) ListBackupJobs(_ context.Context, in *ListBackupJobsInput) (*ListBackupJobsOutput, error) {
	if err := r.record("ListBackupJobs", in); err != nil {
		return nil, err
	}
	return &ListBackupJobsOutput{
		NextToken: aws.String("token-2"),
		BackupJobs: []BackupJob{
			{BackupJobId: aws.String("D48D8717-0C9D-72DF-1F56-14E703BF2345"), State: BackupJobStateRunning, PercentDone: aws.String("42.0"),
				CreationDate: &t1, BytesTransferred: aws.Int64(123), BackupOptions: map[string]string{"WindowsVSS": "enabled"}},
			{BackupJobId: aws.String("second"), State: BackupJobStateCompleted, IsParent: aws.Bool(true)},
		},
	}, nil
}

func (r *recorder) DescribeBackupJob(_ context.Context, in *DescribeBackupJobInput) (*DescribeBackupJobOutput, error) {
	if err := r.record("DescribeBackupJob", in); err != nil {
		return nil, err
	}
	return &DescribeBackupJobOutput{BackupJobId: in.BackupJobId, State: BackupJobStateCompleted, IsParent: aws.Bool(true),
		ChildJobsInState: map[BackupJobState]int64{BackupJobStateCompleted: 2, BackupJobStateFailed: 1},
		BackupOptions:    map[string]string{"WindowsVSS": "enabled"}, NumberOfChildJobs: aws.Int64(3)}, nil
}

func (r *recorder) ListBackupJobSummaries(_ context.Context, in *ListBackupJobSummariesInput) (*ListBackupJobSummariesOutput, error) {
	if err := r.record("ListBackupJobSummaries", in); err != nil {
		return nil, err
	}
	return &ListBackupJobSummariesOutput{AggregationPeriod: aws.String("ONE_DAY"), BackupJobSummaries: []BackupJobSummary{
		{Count: aws.Int32(7), State: BackupJobStatusCompleted, StartTime: &t1, EndTime: &t2, Region: aws.String("us-east-1")},
	}}, nil
}

func (r *recorder) StartCopyJob(_ context.Context, in *StartCopyJobInput) (*StartCopyJobOutput, error) {
	if err := r.record("StartCopyJob", in); err != nil {
		return nil, err
	}
	return &StartCopyJobOutput{CopyJobId: aws.String("copy-1"), CreationDate: &t1, IsParent: aws.Bool(false)}, nil
}

func (r *recorder) StartRestoreJob(_ context.Context, in *StartRestoreJobInput) (*StartRestoreJobOutput, error) {
	if err := r.record("StartRestoreJob", in); err != nil {
		return nil, err
	}
	return &StartRestoreJobOutput{RestoreJobId: aws.String("restore-1")}, nil
}

func (r *recorder) TagResource(_ context.Context, in *TagResourceInput) (*TagResourceOutput, error) {
	return &TagResourceOutput{}, r.record("TagResource", in)
}

func (r *recorder) UntagResource(_ context.Context, in *UntagResourceInput) (*UntagResourceOutput, error) {
	return &UntagResourceOutput{}, r.record("UntagResource", in)
}

func (r *recorder) ListTags(_ context.Context, in *ListTagsInput) (*ListTagsOutput, error) {
	if err := r.record("ListTags", in); err != nil {
		return nil, err
	}
	return &ListTagsOutput{Tags: map[string]string{"b": "2", "a": "1"}}, nil
}

func (r *recorder) PutRestoreValidationResult(_ context.Context, in *PutRestoreValidationResultInput) (*PutRestoreValidationResultOutput, error) {
	return nil, r.record("PutRestoreValidationResult", in)
}

func (r *recorder) StopBackupJob(_ context.Context, in *StopBackupJobInput) (*StopBackupJobOutput, error) {
	if err := r.record("StopBackupJob", in); err != nil {
		return nil, err
	}
	panic("boom")
}

func (r *recorder) DisassociateBackupVaultMpaApprovalTeam(_ context.Context, in *DisassociateBackupVaultMpaApprovalTeamInput) (*DisassociateBackupVaultMpaApprovalTeamOutput, error) {
	return nil, r.record("DisassociateBackupVaultMpaApprovalTeam", in)
}

func (r *recorder) AssociateBackupVaultMpaApprovalTeam(_ context.Context, in *AssociateBackupVaultMpaApprovalTeamInput) (*AssociateBackupVaultMpaApprovalTeamOutput, error) {
	return nil, r.record("AssociateBackupVaultMpaApprovalTeam", in)
}

func newClient(t *testing.T, svc Service) (*backup.Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(NewHandler(svc, HandlerOptions{RequestID: func(*http.Request) string { return "req-fixed-1" }}))
	t.Cleanup(srv.Close)
	client := backup.New(backup.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
		}),
		RetryMaxAttempts: 1,
	})
	return client, srv
}

func TestClientRoundTrip(t *testing.T) {
	rec := newRecorder()
	client, _ := newClient(t, rec)
	ctx := context.Background()

	t.Run("CreateBackupVault", func(t *testing.T) {
		out, err := client.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{
			BackupVaultName:  aws.String("my-vault_1"),
			BackupVaultTags:  map[string]string{"team": "storage", "cost center": "42"},
			EncryptionKeyArn: aws.String("arn:aws:kms:us-east-1:123456789012:key/abc"),
		})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.input(t, "CreateBackupVault").(*CreateBackupVaultInput)
		if got := aws.ToString(in.BackupVaultName); got != "my-vault_1" {
			t.Errorf("got BackupVaultName %q, want my-vault_1", got)
		}
		if got := in.BackupVaultTags; len(got) != 2 || got["team"] != "storage" || got["cost center"] != "42" {
			t.Errorf("got tags %v, want team=storage, cost center=42", got)
		}
		if in.CreatorRequestId == nil || len(*in.CreatorRequestId) < 30 {
			t.Errorf("got CreatorRequestId %v, want the SDK's auto-filled token", in.CreatorRequestId)
		}
		if aws.ToString(out.BackupVaultArn) != vaultArn || aws.ToString(out.BackupVaultName) != "my-vault_1" {
			t.Errorf("got output %+v", out)
		}
		if got := aws.ToTime(out.CreationDate); !got.Equal(t1) {
			t.Errorf("got CreationDate %v, want %v (millisecond round trip)", got, t1)
		}
	})

	t.Run("DescribeRecoveryPoint", func(t *testing.T) {
		out, err := client.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{
			BackupVaultName:      aws.String("v1"),
			RecoveryPointArn:     aws.String(rpArn),
			BackupVaultAccountId: aws.String("123456789012"),
		})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.input(t, "DescribeRecoveryPoint").(*DescribeRecoveryPointInput)
		if got := aws.ToString(in.RecoveryPointArn); got != rpArn {
			t.Errorf("got RecoveryPointArn %q, want %q", got, rpArn)
		}
		if got := aws.ToString(in.BackupVaultAccountId); got != "123456789012" {
			t.Errorf("got BackupVaultAccountId %q, want 123456789012", got)
		}
		if aws.ToString(out.RecoveryPointArn) != rpArn || aws.ToInt64(out.BackupSizeInBytes) != 1<<40 || !out.IsEncrypted {
			t.Errorf("got output %+v", out)
		}
		if out.Status != types.RecoveryPointStatusCompleted || out.StorageClass != types.StorageClassWarm {
			t.Errorf("got Status %q StorageClass %q", out.Status, out.StorageClass)
		}
		if !aws.ToTime(out.CreationDate).Equal(t1) || !aws.ToTime(out.CompletionDate).Equal(t2) || !aws.ToTime(out.CalculatedLifecycle.DeleteAt).Equal(t2) {
			t.Errorf("got dates %v %v %v, want %v %v %v", out.CreationDate, out.CompletionDate, out.CalculatedLifecycle.DeleteAt, t1, t2, t2)
		}
		if aws.ToInt64(out.Lifecycle.DeleteAfterDays) != 35 || aws.ToInt64(out.Lifecycle.MoveToColdStorageAfterDays) != 7 {
			t.Errorf("got lifecycle %+v", out.Lifecycle)
		}
		if aws.ToString(out.CreatedBy.BackupRuleCron) != "cron(0 5 ? * * *)" {
			t.Errorf("got CreatedBy %+v", out.CreatedBy)
		}
		if len(out.ScanResults) != 1 || out.ScanResults[0].Findings[0] != types.ScanFindingMalware || !aws.ToTime(out.ScanResults[0].LastScanTimestamp).Equal(t1) {
			t.Errorf("got ScanResults %+v", out.ScanResults)
		}
		if want := "line1\n\"quoted\" <tag> & ünïcode \u2028"; aws.ToString(out.StatusMessage) != want {
			t.Errorf("got StatusMessage %q, want %q", aws.ToString(out.StatusMessage), want)
		}
	})

	t.Run("ListBackupJobs", func(t *testing.T) {
		after := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		before := time.Date(2024, 2, 1, 10, 20, 30, 0, time.UTC)
		out, err := client.ListBackupJobs(ctx, &backup.ListBackupJobsInput{
			ByState:           types.BackupJobStateRunning,
			ByCreatedAfter:    &after,
			ByCreatedBefore:   &before,
			ByResourceArn:     aws.String("arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1"),
			ByBackupVaultName: aws.String("v1"),
			ByMessageCategory: aws.String("ANY"),
			MaxResults:        aws.Int32(25),
			NextToken:         aws.String("token-1/+="),
		})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.input(t, "ListBackupJobs").(*ListBackupJobsInput)
		if in.ByState != BackupJobStateRunning || aws.ToInt32(in.MaxResults) != 25 || aws.ToString(in.NextToken) != "token-1/+=" {
			t.Errorf("got ByState %q MaxResults %v NextToken %v", in.ByState, in.MaxResults, in.NextToken)
		}
		if !aws.ToTime(in.ByCreatedAfter).Equal(after) || !aws.ToTime(in.ByCreatedBefore).Equal(before) {
			t.Errorf("got created after/before %v %v, want %v %v", in.ByCreatedAfter, in.ByCreatedBefore, after, before)
		}
		if aws.ToString(in.ByResourceArn) != "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1" ||
			aws.ToString(in.ByBackupVaultName) != "v1" || aws.ToString(in.ByMessageCategory) != "ANY" {
			t.Errorf("got filters %+v", in)
		}
		if aws.ToString(out.NextToken) != "token-2" || len(out.BackupJobs) != 2 {
			t.Fatalf("got output %+v", out)
		}
		j := out.BackupJobs[0]
		if j.State != types.BackupJobStateRunning || aws.ToString(j.PercentDone) != "42.0" || aws.ToInt64(j.BytesTransferred) != 123 ||
			j.BackupOptions["WindowsVSS"] != "enabled" || !aws.ToTime(j.CreationDate).Equal(t1) {
			t.Errorf("got job %+v", j)
		}
		if !out.BackupJobs[1].IsParent {
			t.Errorf("got IsParent false for the second job")
		}
	})

	t.Run("DescribeBackupJobEnumKeyedMap", func(t *testing.T) {
		out, err := client.DescribeBackupJob(ctx, &backup.DescribeBackupJobInput{BackupJobId: aws.String("job-1")})
		if err != nil {
			t.Fatal(err)
		}
		if out.ChildJobsInState["COMPLETED"] != 2 || out.ChildJobsInState["FAILED"] != 1 ||
			out.State != types.BackupJobStateCompleted || aws.ToInt64(out.NumberOfChildJobs) != 3 || out.BackupOptions["WindowsVSS"] != "enabled" {
			t.Errorf("got output %+v", out)
		}
	})

	t.Run("ListBackupJobSummaries", func(t *testing.T) {
		out, err := client.ListBackupJobSummaries(ctx, &backup.ListBackupJobSummariesInput{
			State: types.BackupJobStatusAggregateAll, AggregationPeriod: types.AggregationPeriodSevenDays,
			MaxResults: aws.Int32(100), ResourceType: aws.String("EFS"), MessageCategory: aws.String("SUCCESS"), AccountId: aws.String("123456789012"),
		})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.input(t, "ListBackupJobSummaries").(*ListBackupJobSummariesInput)
		if in.State != BackupJobStatusAggregateAll || in.AggregationPeriod != AggregationPeriodSevenDays || aws.ToInt32(in.MaxResults) != 100 ||
			aws.ToString(in.ResourceType) != "EFS" || aws.ToString(in.MessageCategory) != "SUCCESS" || aws.ToString(in.AccountId) != "123456789012" {
			t.Errorf("got input %+v", in)
		}
		if len(out.BackupJobSummaries) != 1 || out.BackupJobSummaries[0].Count != 7 || !aws.ToTime(out.BackupJobSummaries[0].EndTime).Equal(t2) {
			t.Errorf("got output %+v", out)
		}
	})

	t.Run("StartCopyJob", func(t *testing.T) {
		out, err := client.StartCopyJob(ctx, &backup.StartCopyJobInput{
			RecoveryPointArn:          aws.String(rpArn),
			SourceBackupVaultName:     aws.String("v1"),
			DestinationBackupVaultArn: aws.String("arn:aws:backup:eu-west-1:123456789012:backup-vault:v2"),
			IamRoleArn:                aws.String("arn:aws:iam::123456789012:role/AWSBackupDefaultServiceRole"),
			IdempotencyToken:          aws.String("tok-1"),
			Lifecycle:                 &types.Lifecycle{DeleteAfterDays: aws.Int64(120), OptInToArchiveForSupportedResources: aws.Bool(true)},
		})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.input(t, "StartCopyJob").(*StartCopyJobInput)
		if aws.ToString(in.IdempotencyToken) != "tok-1" || aws.ToInt64(in.Lifecycle.DeleteAfterDays) != 120 ||
			!aws.ToBool(in.Lifecycle.OptInToArchiveForSupportedResources) || in.Lifecycle.MoveToColdStorageAfterDays != nil {
			t.Errorf("got input %+v lifecycle %+v", in, in.Lifecycle)
		}
		if aws.ToString(out.CopyJobId) != "copy-1" || !aws.ToTime(out.CreationDate).Equal(t1) || out.IsParent {
			t.Errorf("got output %+v", out)
		}
	})

	t.Run("StartRestoreJob", func(t *testing.T) {
		md := map[string]string{"file-system-id": "fs-1", "newFileSystem": "false", "ItemsToRestore": `["/a","/b"]`}
		out, err := client.StartRestoreJob(ctx, &backup.StartRestoreJobInput{
			RecoveryPointArn: aws.String(rpArn), Metadata: md, IamRoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
			ResourceType: aws.String("EFS"), CopySourceTagsToRestoredResource: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.input(t, "StartRestoreJob").(*StartRestoreJobInput)
		if len(in.Metadata) != 3 || in.Metadata["ItemsToRestore"] != `["/a","/b"]` || !aws.ToBool(in.CopySourceTagsToRestoredResource) {
			t.Errorf("got input %+v", in)
		}
		if in.IdempotencyToken == nil {
			t.Errorf("got no IdempotencyToken, want the SDK's auto-filled token")
		}
		if aws.ToString(out.RestoreJobId) != "restore-1" {
			t.Errorf("got output %+v", out)
		}
	})

	t.Run("TagUntagListTags", func(t *testing.T) {
		if _, err := client.TagResource(ctx, &backup.TagResourceInput{ResourceArn: aws.String(vaultArn), Tags: map[string]string{"k": "v"}}); err != nil {
			t.Fatal(err)
		}
		tin := rec.input(t, "TagResource").(*TagResourceInput)
		if aws.ToString(tin.ResourceArn) != vaultArn || tin.Tags["k"] != "v" {
			t.Errorf("got TagResource input %+v", tin)
		}
		if _, err := client.UntagResource(ctx, &backup.UntagResourceInput{ResourceArn: aws.String(vaultArn), TagKeyList: []string{"k", "other"}}); err != nil {
			t.Fatal(err)
		}
		uin := rec.input(t, "UntagResource").(*UntagResourceInput)
		if aws.ToString(uin.ResourceArn) != vaultArn || strings.Join(uin.TagKeyList, ",") != "k,other" {
			t.Errorf("got UntagResource input %+v", uin)
		}
		out, err := client.ListTags(ctx, &backup.ListTagsInput{ResourceArn: aws.String(vaultArn)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Tags) != 2 || out.Tags["a"] != "1" {
			t.Errorf("got tags %v", out.Tags)
		}
	})

	t.Run("PutRestoreValidationResult204", func(t *testing.T) {
		_, err := client.PutRestoreValidationResult(ctx, &backup.PutRestoreValidationResultInput{
			RestoreJobId: aws.String("restore-1"), ValidationStatus: types.RestoreValidationStatusSuccessful, ValidationStatusMessage: aws.String("ok"),
		})
		if err != nil {
			t.Fatal(err)
		}
		in := rec.input(t, "PutRestoreValidationResult").(*PutRestoreValidationResultInput)
		if aws.ToString(in.RestoreJobId) != "restore-1" || in.ValidationStatus != RestoreValidationStatusSuccessful {
			t.Errorf("got input %+v", in)
		}
	})

	t.Run("DeleteBackupVaultEmptyOutput", func(t *testing.T) {
		if _, err := client.DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: aws.String("v1")}); err != nil {
			t.Fatal(err)
		}
		if in := rec.input(t, "DeleteBackupVault").(*DeleteBackupVaultInput); aws.ToString(in.BackupVaultName) != "v1" {
			t.Errorf("got input %+v", in)
		}
	})

	t.Run("QueryLiteralRoute", func(t *testing.T) {
		// POST ...?delete is Disassociate; PUT on the same path is Associate.
		if _, err := client.DisassociateBackupVaultMpaApprovalTeam(ctx, &backup.DisassociateBackupVaultMpaApprovalTeamInput{
			BackupVaultName: aws.String("v1"), RequesterComment: aws.String("bye")}); err != nil {
			t.Fatal(err)
		}
		in := rec.input(t, "DisassociateBackupVaultMpaApprovalTeam").(*DisassociateBackupVaultMpaApprovalTeamInput)
		if aws.ToString(in.RequesterComment) != "bye" {
			t.Errorf("got input %+v", in)
		}
		if _, err := client.AssociateBackupVaultMpaApprovalTeam(ctx, &backup.AssociateBackupVaultMpaApprovalTeamInput{
			BackupVaultName: aws.String("v1"), MpaApprovalTeamArn: aws.String("arn:aws:mpa:us-east-1:123456789012:team/t")}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestClientErrors(t *testing.T) {
	rec := newRecorder()
	client, _ := newClient(t, rec)
	ctx := context.Background()

	t.Run("ResourceNotFound", func(t *testing.T) {
		e := NewResourceNotFound("Backup vault %s does not exist", "nope")
		e.Context = "nope"
		rec.fail["DescribeBackupVault"] = fmt.Errorf("wrapped: %w", e)
		_, err := client.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("nope")})
		var rnf *types.ResourceNotFoundException
		if !errors.As(err, &rnf) {
			t.Fatalf("got %v (%T), want *types.ResourceNotFoundException", err, err)
		}
		if rnf.ErrorMessage() != "Backup vault nope does not exist" || aws.ToString(rnf.Context) != "nope" || aws.ToString(rnf.Type) != "Client" {
			t.Errorf("got message %q context %q type %q", rnf.ErrorMessage(), aws.ToString(rnf.Context), aws.ToString(rnf.Type))
		}
		var re interface{ ServiceRequestID() string }
		if errors.As(err, &re) && re.ServiceRequestID() != "req-fixed-1" {
			t.Errorf("got request ID %q, want req-fixed-1", re.ServiceRequestID())
		}
	})

	t.Run("AlreadyExistsExtras", func(t *testing.T) {
		e := NewAlreadyExists("Backup vault exists")
		e.Arn, e.CreatorRequestId = vaultArn, "creator-1"
		rec.fail["CreateBackupVault"] = e
		_, err := client.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("v1")})
		var ae *types.AlreadyExistsException
		if !errors.As(err, &ae) {
			t.Fatalf("got %v (%T), want *types.AlreadyExistsException", err, err)
		}
		if aws.ToString(ae.Arn) != vaultArn || aws.ToString(ae.CreatorRequestId) != "creator-1" || ae.ErrorMessage() != "Backup vault exists" {
			t.Errorf("got %+v", ae)
		}
		delete(rec.fail, "CreateBackupVault")
	})

	t.Run("CustomBodyCode", func(t *testing.T) {
		e := NewInvalidRequest("Backup vault cannot be deleted (contains %d recovery points)", 1)
		e.Code, e.Context = "ERROR_9101", "1"
		rec.fail["DeleteBackupVault"] = e
		_, err := client.DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: aws.String("v1")})
		var ir *types.InvalidRequestException
		if !errors.As(err, &ir) {
			t.Fatalf("got %v (%T), want *types.InvalidRequestException", err, err)
		}
		if aws.ToString(ir.Code) != "ERROR_9101" || aws.ToString(ir.Context) != "1" {
			t.Errorf("got Code %q Context %q, want ERROR_9101 1", aws.ToString(ir.Code), aws.ToString(ir.Context))
		}
	})

	typed := []struct {
		err   error
		check func(error) bool
	}{
		{NewConflict("c"), func(err error) bool { var x *types.ConflictException; return errors.As(err, &x) }},
		{NewLimitExceeded("l"), func(err error) bool { var x *types.LimitExceededException; return errors.As(err, &x) }},
		{NewMissingParameterValue("m"), func(err error) bool { var x *types.MissingParameterValueException; return errors.As(err, &x) }},
		{NewInvalidResourceState("s"), func(err error) bool { var x *types.InvalidResourceStateException; return errors.As(err, &x) }},
		{NewInvalidParameterValue("p"), func(err error) bool { var x *types.InvalidParameterValueException; return errors.As(err, &x) }},
		{NewServiceUnavailable("u"), func(err error) bool { var x *types.ServiceUnavailableException; return errors.As(err, &x) }},
	}
	for _, tc := range typed {
		code := tc.err.(interface{ ErrorCode() string }).ErrorCode()
		t.Run(code, func(t *testing.T) {
			rec.fail["StartCopyJob"] = tc.err
			_, err := client.StartCopyJob(ctx, &backup.StartCopyJobInput{RecoveryPointArn: aws.String(rpArn), SourceBackupVaultName: aws.String("v1"),
				DestinationBackupVaultArn: aws.String(vaultArn), IamRoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
			if !tc.check(err) {
				t.Errorf("got %v (%T), want a typed %s", err, err, code)
			}
		})
	}
	delete(rec.fail, "StartCopyJob")

	t.Run("DependencyFailureIsServerFault", func(t *testing.T) {
		rec.fail["DescribeRecoveryPoint"] = NewDependencyFailure("kms down")
		_, err := client.DescribeRecoveryPoint(ctx, &backup.DescribeRecoveryPointInput{BackupVaultName: aws.String("v1"), RecoveryPointArn: aws.String(rpArn)})
		var df *types.DependencyFailureException
		if !errors.As(err, &df) || df.ErrorFault() != smithy.FaultServer {
			t.Fatalf("got %v (%T), want a server-fault *types.DependencyFailureException", err, err)
		}
		delete(rec.fail, "DescribeRecoveryPoint")
	})

	t.Run("ValidationReachesClientTyped", func(t *testing.T) {
		// go-v2 checks only required members: a one-character name and
		// an out-of-range MaxResults reach the server.
		_, err := client.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("a")})
		var ipv *types.InvalidParameterValueException
		if !errors.As(err, &ipv) || !strings.Contains(ipv.ErrorMessage(), "BackupVaultName") || !strings.Contains(ipv.ErrorMessage(), "pattern") {
			t.Fatalf("got %v, want InvalidParameterValueException naming BackupVaultName and the pattern", err)
		}
		_, err = client.ListBackupJobs(ctx, &backup.ListBackupJobsInput{MaxResults: aws.Int32(5000)})
		if !errors.As(err, &ipv) || !strings.Contains(ipv.ErrorMessage(), "MaxResults") {
			t.Fatalf("got %v, want InvalidParameterValueException naming MaxResults", err)
		}
		_, err = client.ListBackupJobs(ctx, &backup.ListBackupJobsInput{ByState: "BOGUS"})
		if !errors.As(err, &ipv) || !strings.Contains(ipv.ErrorMessage(), "ByState") || !strings.Contains(ipv.ErrorMessage(), "must be one of") {
			t.Fatalf("got %v, want InvalidParameterValueException naming ByState", err)
		}
	})

	t.Run("Unimplemented501", func(t *testing.T) {
		_, err := client.ListFrameworks(ctx, &backup.ListFrameworksInput{})
		var api smithy.APIError
		if !errors.As(err, &api) {
			t.Fatalf("got %v (%T), want a smithy.APIError", err, err)
		}
		if api.ErrorCode() != "NotImplementedException" || !strings.Contains(api.ErrorMessage(), "ListFrameworks") {
			t.Errorf("got %s %q, want NotImplementedException naming ListFrameworks", api.ErrorCode(), api.ErrorMessage())
		}
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) && re.HTTPStatusCode() != http.StatusNotImplemented {
			t.Errorf("got status %d, want 501", re.HTTPStatusCode())
		}
	})

	t.Run("InternalErrorAndPanic", func(t *testing.T) {
		rec.fail["ListTags"] = errors.New("database exploded: secret detail")
		_, err := client.ListTags(ctx, &backup.ListTagsInput{ResourceArn: aws.String(vaultArn)})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "InternalFailure" || strings.Contains(api.ErrorMessage(), "secret") {
			t.Fatalf("got %v, want InternalFailure without the detail", err)
		}
		_, err = client.StopBackupJob(ctx, &backup.StopBackupJobInput{BackupJobId: aws.String("job-1")})
		if !errors.As(err, &api) || api.ErrorCode() != "InternalFailure" {
			t.Fatalf("got %v, want InternalFailure after a panic", err)
		}
	})
}
