package service_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	domain "github.com/coffer/coffer/internal/backup"
	"github.com/coffer/coffer/internal/service"
)

func TestVaultRoundTrip(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()
	now := e.clock.Now()

	created, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{
		BackupVaultName: aws.String("vault-1"),
		BackupVaultTags: map[string]string{"team": "storage", "env": "test"},
	})
	if err != nil {
		t.Fatalf("CreateBackupVault: %v", err)
	}
	wantArn := "arn:aws:backup:us-east-1:" + testAccount + ":backup-vault:vault-1"
	if got := aws.ToString(created.BackupVaultArn); got != wantArn {
		t.Errorf("got BackupVaultArn %s, want %s", got, wantArn)
	}
	if got := aws.ToString(created.BackupVaultName); got != "vault-1" {
		t.Errorf("got BackupVaultName %s, want vault-1", got)
	}
	if got := aws.ToTime(created.CreationDate); !got.Equal(now) {
		t.Errorf("got CreationDate %v, want %v", got, now)
	}

	d, err := c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("vault-1")})
	if err != nil {
		t.Fatalf("DescribeBackupVault: %v", err)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"BackupVaultName", aws.ToString(d.BackupVaultName), "vault-1"},
		{"BackupVaultArn", aws.ToString(d.BackupVaultArn), wantArn},
		{"CreationDate", aws.ToTime(d.CreationDate).UTC(), now},
		{"EncryptionKeyArn", aws.ToString(d.EncryptionKeyArn), e.svc.DefaultKeyARN("us-east-1")},
		{"EncryptionKeyType", d.EncryptionKeyType, types.EncryptionKeyTypeAwsOwnedKmsKey},
		{"VaultType", d.VaultType, types.VaultTypeBackupVault},
		{"VaultState", d.VaultState, types.VaultStateAvailable},
		{"NumberOfRecoveryPoints", d.NumberOfRecoveryPoints, int64(0)},
		{"Locked", aws.ToBool(d.Locked), false},
		{"Locked present", d.Locked != nil, true},
		{"MinRetentionDays", d.MinRetentionDays, (*int64)(nil)},
		{"LockDate", d.LockDate, (*time.Time)(nil)},
		{"CreatorRequestId present (SDK fills it)", aws.ToString(d.CreatorRequestId) != "", true},
	}
	for _, ck := range checks {
		if fmt.Sprint(ck.got) != fmt.Sprint(ck.want) {
			t.Errorf("DescribeBackupVault %s: got %v, want %v", ck.field, ck.got, ck.want)
		}
	}
	if !strings.HasPrefix(aws.ToString(d.EncryptionKeyArn), "arn:aws:kms:us-east-1:"+testAccount+":key/") {
		t.Errorf("got default key %s, want a KMS key ARN of the region and account", aws.ToString(d.EncryptionKeyArn))
	}

	// A customer key of the same region is reported as given.
	kms := "arn:aws:kms:us-east-1:" + testAccount + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("vault-2"), EncryptionKeyArn: aws.String(kms)}); err != nil {
		t.Fatalf("CreateBackupVault with key: %v", err)
	}
	d2, err := c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("vault-2")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(d2.EncryptionKeyArn) != kms || d2.EncryptionKeyType != types.EncryptionKeyTypeCustomerManagedKmsKey {
		t.Errorf("got key %s %s, want %s CUSTOMER_MANAGED_KMS_KEY", aws.ToString(d2.EncryptionKeyArn), d2.EncryptionKeyType, kms)
	}
	alias := "arn:aws:kms:us-east-1:" + testAccount + ":alias/backups"
	if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("vault-3"), EncryptionKeyArn: aws.String(alias)}); err != nil {
		t.Fatalf("CreateBackupVault with alias: %v", err)
	}

	list, err := c.ListBackupVaults(ctx, &backup.ListBackupVaultsInput{})
	if err != nil {
		t.Fatalf("ListBackupVaults: %v", err)
	}
	var names []string
	for _, v := range list.BackupVaultList {
		names = append(names, aws.ToString(v.BackupVaultName))
	}
	if want := []string{"vault-1", "vault-2", "vault-3"}; !slices.Equal(names, want) {
		t.Errorf("got vaults %v, want %v", names, want)
	}
	m := list.BackupVaultList[0]
	if aws.ToString(m.BackupVaultArn) != wantArn || m.VaultType != types.VaultTypeBackupVault || m.VaultState != types.VaultStateAvailable ||
		aws.ToString(m.EncryptionKeyArn) == "" || m.CreationDate == nil || m.Locked == nil {
		t.Errorf("list member lacks fields: %+v", m)
	}
	if list.NextToken != nil {
		t.Errorf("got NextToken %q on the only page", aws.ToString(list.NextToken))
	}

	tags, err := c.ListTags(ctx, &backup.ListTagsInput{ResourceArn: aws.String(wantArn)})
	if err != nil {
		t.Fatalf("ListTags: %v", err)
	}
	if fmt.Sprint(tags.Tags) != fmt.Sprint(map[string]string{"env": "test", "team": "storage"}) {
		t.Errorf("got tags %v, want the create's tags", tags.Tags)
	}

	if _, err := c.DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: aws.String("vault-1")}); err != nil {
		t.Fatalf("DeleteBackupVault: %v", err)
	}
	_, err = c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("vault-1")})
	as[*types.ResourceNotFoundException](t, err)
	wantAPIError(t, err, "ResourceNotFoundException", "vault-1")
	_, err = c.DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: aws.String("vault-1")})
	as[*types.ResourceNotFoundException](t, err)
	// The deleted vault's tags are gone with it: a new vault of the name starts bare.
	if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("vault-1")}); err != nil {
		t.Fatal(err)
	}
	tags, err = c.ListTags(ctx, &backup.ListTagsInput{ResourceArn: aws.String(wantArn)})
	if err != nil || len(tags.Tags) != 0 {
		t.Errorf("got tags %v, %v for a re-created vault, want none", tags.Tags, err)
	}
}

func TestCreateBackupVaultErrors(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()

	first, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("dup"), CreatorRequestId: aws.String("req-1")})
	if err != nil {
		t.Fatal(err)
	}
	// Same CreatorRequestId: a retry, answered with the existing vault.
	again, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("dup"), CreatorRequestId: aws.String("req-1")})
	if err != nil {
		t.Fatalf("retry with the same CreatorRequestId: %v", err)
	}
	if aws.ToString(again.BackupVaultArn) != aws.ToString(first.BackupVaultArn) || !aws.ToTime(again.CreationDate).Equal(aws.ToTime(first.CreationDate)) {
		t.Errorf("retry got %v %v, want the first create's %v %v", aws.ToString(again.BackupVaultArn), again.CreationDate, aws.ToString(first.BackupVaultArn), first.CreationDate)
	}
	// Another request for the same name: AlreadyExists with the existing vault's members.
	_, err = c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("dup"), CreatorRequestId: aws.String("req-2")})
	ae := as[*types.AlreadyExistsException](t, err)
	if got := aws.ToString(ae.Arn); got != aws.ToString(first.BackupVaultArn) {
		t.Errorf("got AlreadyExists Arn %q, want %q", got, aws.ToString(first.BackupVaultArn))
	}
	if got := aws.ToString(ae.CreatorRequestId); got != "req-1" {
		t.Errorf("got AlreadyExists CreatorRequestId %q, want req-1", got)
	}

	tooMany := map[string]string{}
	for i := range 51 {
		tooMany[fmt.Sprintf("k%d", i)] = "v"
	}
	cases := []struct {
		name   string
		in     *backup.CreateBackupVaultInput
		code   string
		member string
	}{
		{"name too short", &backup.CreateBackupVaultInput{BackupVaultName: aws.String("x")}, "InvalidParameterValueException", "BackupVaultName"},
		{"name with a dot", &backup.CreateBackupVaultInput{BackupVaultName: aws.String("a.b")}, "InvalidParameterValueException", "BackupVaultName"},
		{"not a KMS ARN", &backup.CreateBackupVaultInput{BackupVaultName: aws.String("k1"), EncryptionKeyArn: aws.String("arn:aws:s3:::bucket")}, "InvalidParameterValueException", "EncryptionKeyArn"},
		{"KMS key of another region", &backup.CreateBackupVaultInput{BackupVaultName: aws.String("k2"), EncryptionKeyArn: aws.String("arn:aws:kms:eu-west-1:" + testAccount + ":key/abc")}, "InvalidParameterValueException", "EncryptionKeyArn"},
		{"garbage key", &backup.CreateBackupVaultInput{BackupVaultName: aws.String("k3"), EncryptionKeyArn: aws.String("my-key")}, "InvalidParameterValueException", "EncryptionKeyArn"},
		{"reserved tag key", &backup.CreateBackupVaultInput{BackupVaultName: aws.String("t1"), BackupVaultTags: map[string]string{"aws:x": "y"}}, "InvalidParameterValueException", "BackupVaultTags"},
		{"tag key too long", &backup.CreateBackupVaultInput{BackupVaultName: aws.String("t2"), BackupVaultTags: map[string]string{strings.Repeat("k", 129): "y"}}, "InvalidParameterValueException", "BackupVaultTags"},
		{"51 tags", &backup.CreateBackupVaultInput{BackupVaultName: aws.String("t3"), BackupVaultTags: tooMany}, "LimitExceededException", "50"},
		{"bad CreatorRequestId", &backup.CreateBackupVaultInput{BackupVaultName: aws.String("r1"), CreatorRequestId: aws.String("has space")}, "InvalidParameterValueException", "CreatorRequestId"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateBackupVault(ctx, tc.in)
			wantAPIError(t, err, tc.code, tc.member)
			switch tc.code {
			case "InvalidParameterValueException":
				as[*types.InvalidParameterValueException](t, err)
			case "LimitExceededException":
				as[*types.LimitExceededException](t, err)
			}
		})
	}
	// Nothing was created by the failed calls.
	list, err := c.ListBackupVaults(ctx, &backup.ListBackupVaultsInput{})
	if err != nil || len(list.BackupVaultList) != 1 {
		t.Errorf("got %d vaults (%v), want only dup", len(list.BackupVaultList), err)
	}

	// A required member missing on the wire: MissingParameterValueException
	// (the SDK checks required members itself, so send the request raw).
	status, code, body := e.raw(t, "PUT", "/backup-vaults/dup/notification-configuration", `{"BackupVaultEvents":["BACKUP_JOB_STARTED"]}`)
	if status != 400 || code != "MissingParameterValueException" || !strings.Contains(body, "SNSTopicArn") {
		t.Errorf("got %d %s %s, want 400 MissingParameterValueException naming SNSTopicArn", status, code, body)
	}
}

func TestConcurrentCreatesOfOneName(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.CreateBackupVault(context.Background(), &backup.CreateBackupVaultInput{BackupVaultName: aws.String("race"), CreatorRequestId: aws.String(fmt.Sprintf("r%d", i))})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			as[*types.AlreadyExistsException](t, err)
		}
	}
	if ok != 1 {
		t.Errorf("got %d successful creates of one name, want 1", ok)
	}
}

func TestListBackupVaultsPaging(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("page-%02d", i)
		want = append(want, name)
		if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	pages := 0
	p := backup.NewListBackupVaultsPaginator(c, &backup.ListBackupVaultsInput{MaxResults: aws.Int32(3)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		if len(out.BackupVaultList) > 3 {
			t.Errorf("page %d has %d vaults, want at most 3", pages, len(out.BackupVaultList))
		}
		for _, v := range out.BackupVaultList {
			got = append(got, aws.ToString(v.BackupVaultName))
		}
	}
	if pages != 3 || !slices.Equal(got, want) {
		t.Errorf("got %d pages %v, want 3 pages %v", pages, got, want)
	}

	filters := []struct {
		name string
		in   *backup.ListBackupVaultsInput
		want int
	}{
		{"vaultType BACKUP_VAULT", &backup.ListBackupVaultsInput{ByVaultType: types.VaultTypeBackupVault}, 7},
		{"vaultType air-gapped", &backup.ListBackupVaultsInput{ByVaultType: types.VaultTypeLogicallyAirGappedBackupVault}, 0},
		{"shared true", &backup.ListBackupVaultsInput{ByShared: true}, 0},
	}
	for _, f := range filters {
		out, err := c.ListBackupVaults(ctx, f.in)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if len(out.BackupVaultList) != f.want {
			t.Errorf("%s: got %d vaults, want %d", f.name, len(out.BackupVaultList), f.want)
		}
	}

	// The Go SDK cannot send shared=false (it omits false); send it raw.
	status, _, body := e.raw(t, "GET", "/backup-vaults/?shared=false", "")
	if status != 200 || strings.Count(body, `"BackupVaultName"`) != 7 {
		t.Errorf("shared=false: got %d %s, want 200 with 7 vaults", status, body)
	}

	_, err := c.ListBackupVaults(ctx, &backup.ListBackupVaultsInput{NextToken: aws.String("not-a-token")})
	wantAPIError(t, err, "InvalidParameterValueException", "NextToken")
	_, err = c.ListBackupVaults(ctx, &backup.ListBackupVaultsInput{MaxResults: aws.Int32(1001)})
	wantAPIError(t, err, "InvalidParameterValueException", "MaxResults")
	_, err = c.ListBackupVaults(ctx, &backup.ListBackupVaultsInput{ByVaultType: "NOPE"})
	wantAPIError(t, err, "InvalidParameterValueException", "ByVaultType")

	// Regions are separate: us-west-2 sees none of us-east-1's vaults.
	west, err := e.client("us-west-2").ListBackupVaults(ctx, &backup.ListBackupVaultsInput{})
	if err != nil || len(west.BackupVaultList) != 0 {
		t.Errorf("got %d vaults in us-west-2 (%v), want 0", len(west.BackupVaultList), err)
	}
	_, err = e.client("us-west-2").DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("page-00")})
	as[*types.ResourceNotFoundException](t, err)
}

func TestDescribeBackupVaultAccount(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()
	if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("acct")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("acct"), BackupVaultAccountId: aws.String(testAccount)}); err != nil {
		t.Errorf("own account: %v", err)
	}
	_, err := c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("acct"), BackupVaultAccountId: aws.String("999999999999")})
	wantAPIError(t, err, "ResourceNotFoundException", "999999999999")
	_, err = c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("acct"), BackupVaultAccountId: aws.String("12")})
	wantAPIError(t, err, "InvalidParameterValueException", "BackupVaultAccountId")
	// AWS-managed names with '/' are looked up (and not found), not refused.
	_, err = c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("aws/efs/automatic-backup-vault")})
	as[*types.ResourceNotFoundException](t, err)
}

// addRecoveryPoint puts a recovery point into a vault through the store
// (jobs that create them are not part of this package's API yet).
func addRecoveryPoint(t *testing.T, e *env, vault, id string) string {
	t.Helper()
	arn := "arn:aws:backup:us-east-1:" + testAccount + ":recovery-point:" + id
	err := e.store.CreateRecoveryPoint(context.Background(), domain.RecoveryPoint{
		ARN: arn, VaultName: vault, Region: "us-east-1", AccountID: testAccount,
		ResourceArn:  "arn:aws:elasticfilesystem:us-east-1:" + testAccount + ":file-system/fs-0123456789abcdef0",
		ResourceType: domain.EFS, Status: domain.RecoveryPointCompleted,
		CreationDate: e.clock.Now(), EnteredVaultAt: e.clock.Now(),
	}, nil)
	if err != nil {
		t.Fatalf("CreateRecoveryPoint: %v", err)
	}
	return arn
}

func TestDeleteNonEmptyVault(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()
	if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("full")}); err != nil {
		t.Fatal(err)
	}
	rp := addRecoveryPoint(t, e, "full", "d99699e7-e183-477e-bfcd-0123456789ab")
	d, err := c.DescribeBackupVault(ctx, &backup.DescribeBackupVaultInput{BackupVaultName: aws.String("full")})
	if err != nil || d.NumberOfRecoveryPoints != 1 {
		t.Fatalf("got NumberOfRecoveryPoints %d (%v), want 1", d.NumberOfRecoveryPoints, err)
	}
	_, err = c.DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: aws.String("full")})
	ir := as[*types.InvalidRequestException](t, err)
	if got, want := aws.ToString(ir.Message), "Backup vault cannot be deleted because it contains recovery points."; got != want {
		t.Errorf("got message %q, want %q", got, want)
	}
	if got := aws.ToString(ir.Context); got != "1" {
		t.Errorf("got Context %q, want \"1\"", got)
	}

	// Recovery points are taggable too.
	if _, err := c.TagResource(ctx, &backup.TagResourceInput{ResourceArn: aws.String(rp), Tags: map[string]string{"k": "v"}}); err != nil {
		t.Fatalf("TagResource on a recovery point: %v", err)
	}
	tags, err := c.ListTags(ctx, &backup.ListTagsInput{ResourceArn: aws.String(rp)})
	if err != nil || tags.Tags["k"] != "v" {
		t.Errorf("got recovery point tags %v (%v), want k=v", tags.Tags, err)
	}
	if err := e.store.DeleteRecoveryPoint(ctx, rp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: aws.String("full")}); err != nil {
		t.Errorf("deleting the emptied vault: %v", err)
	}
}

func TestVaultQuota(t *testing.T) {
	e := newEnvWith(t, func(d *service.Deps) { d.MaxVaultsPerRegion = 2 })
	c := e.client("us-east-1")
	ctx := context.Background()
	for _, name := range []string{"q1", "q2"} {
		if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String(name), CreatorRequestId: aws.String("req-" + name)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("q3")})
	wantAPIError(t, err, "LimitExceededException", "2")
	// At the quota, a retry still answers with the vault and a duplicate
	// still is AlreadyExists.
	if _, err := c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("q2"), CreatorRequestId: aws.String("req-q2")}); err != nil {
		t.Errorf("retry at the quota: %v", err)
	}
	_, err = c.CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("q2"), CreatorRequestId: aws.String("other")})
	as[*types.AlreadyExistsException](t, err)
	// The quota is per region.
	if _, err := e.client("us-west-2").CreateBackupVault(ctx, &backup.CreateBackupVaultInput{BackupVaultName: aws.String("q3")}); err != nil {
		t.Errorf("another region: %v", err)
	}
}
