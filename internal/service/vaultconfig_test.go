package service_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"
)

func mustCreate(t *testing.T, c *backup.Client, name string) {
	t.Helper()
	if _, err := c.CreateBackupVault(context.Background(), &backup.CreateBackupVaultInput{BackupVaultName: aws.String(name)}); err != nil {
		t.Fatalf("CreateBackupVault %s: %v", name, err)
	}
}

func describe(t *testing.T, c *backup.Client, name string) *backup.DescribeBackupVaultOutput {
	t.Helper()
	d, err := c.DescribeBackupVault(context.Background(), &backup.DescribeBackupVaultInput{BackupVaultName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeBackupVault %s: %v", name, err)
	}
	return d
}

func TestVaultLockGovernance(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()
	mustCreate(t, c, "gov")
	if _, err := c.PutBackupVaultLockConfiguration(ctx, &backup.PutBackupVaultLockConfigurationInput{
		BackupVaultName: aws.String("gov"), MinRetentionDays: aws.Int64(7), MaxRetentionDays: aws.Int64(30),
	}); err != nil {
		t.Fatalf("PutBackupVaultLockConfiguration: %v", err)
	}
	d := describe(t, c, "gov")
	if !aws.ToBool(d.Locked) || aws.ToInt64(d.MinRetentionDays) != 7 || aws.ToInt64(d.MaxRetentionDays) != 30 || d.LockDate != nil {
		t.Errorf("got Locked %v Min %v Max %v LockDate %v, want true 7 30 none", aws.ToBool(d.Locked), aws.ToInt64(d.MinRetentionDays), aws.ToInt64(d.MaxRetentionDays), d.LockDate)
	}
	list, err := c.ListBackupVaults(ctx, &backup.ListBackupVaultsInput{})
	if err != nil || !aws.ToBool(list.BackupVaultList[0].Locked) || aws.ToInt64(list.BackupVaultList[0].MinRetentionDays) != 7 {
		t.Errorf("list does not show the lock: %+v %v", list.BackupVaultList, err)
	}
	// Governance locks change and go at any time.
	e.clock.Advance(400 * 24 * time.Hour)
	if _, err := c.PutBackupVaultLockConfiguration(ctx, &backup.PutBackupVaultLockConfigurationInput{BackupVaultName: aws.String("gov"), MaxRetentionDays: aws.Int64(60)}); err != nil {
		t.Errorf("changing a governance lock: %v", err)
	}
	if _, err := c.DeleteBackupVaultLockConfiguration(ctx, &backup.DeleteBackupVaultLockConfigurationInput{BackupVaultName: aws.String("gov")}); err != nil {
		t.Errorf("deleting a governance lock: %v", err)
	}
	if d := describe(t, c, "gov"); aws.ToBool(d.Locked) || d.MaxRetentionDays != nil {
		t.Errorf("got Locked %v Max %v after delete, want unlocked", aws.ToBool(d.Locked), d.MaxRetentionDays)
	}
	// Deleting a lock that is not there succeeds.
	if _, err := c.DeleteBackupVaultLockConfiguration(ctx, &backup.DeleteBackupVaultLockConfigurationInput{BackupVaultName: aws.String("gov")}); err != nil {
		t.Errorf("deleting an absent lock: %v", err)
	}
}

func TestVaultLockCompliance(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()
	mustCreate(t, c, "comp")
	start := e.clock.Now()
	put := func(min, max, changeable int64) error {
		_, err := c.PutBackupVaultLockConfiguration(ctx, &backup.PutBackupVaultLockConfigurationInput{
			BackupVaultName: aws.String("comp"), MinRetentionDays: aws.Int64(min), MaxRetentionDays: aws.Int64(max), ChangeableForDays: aws.Int64(changeable),
		})
		return err
	}
	if err := put(1, 365, 3); err != nil {
		t.Fatalf("compliance lock: %v", err)
	}
	d := describe(t, c, "comp")
	if want := start.Add(72 * time.Hour); d.LockDate == nil || !d.LockDate.Equal(want) {
		t.Errorf("got LockDate %v, want %v", d.LockDate, want)
	}
	// Before the lock date it can still change (the new lock date counts
	// from now) or go.
	e.clock.Advance(24 * time.Hour)
	if err := put(2, 365, 5); err != nil {
		t.Fatalf("changing before the lock date: %v", err)
	}
	lockDate := e.clock.Now().Add(5 * 24 * time.Hour)
	if d := describe(t, c, "comp"); !aws.ToTime(d.LockDate).Equal(lockDate) || aws.ToInt64(d.MinRetentionDays) != 2 {
		t.Errorf("got LockDate %v Min %d, want %v 2", d.LockDate, aws.ToInt64(d.MinRetentionDays), lockDate)
	}
	// From the lock date on it is immutable, and the vault cannot be deleted.
	e.clock.Set(lockDate)
	err := put(3, 365, 5)
	as[*types.InvalidRequestException](t, err)
	wantAPIError(t, err, "InvalidRequestException", "cannot be changed")
	_, err = c.DeleteBackupVaultLockConfiguration(ctx, &backup.DeleteBackupVaultLockConfigurationInput{BackupVaultName: aws.String("comp")})
	wantAPIError(t, err, "InvalidRequestException", "cannot be deleted")
	_, err = c.DeleteBackupVault(ctx, &backup.DeleteBackupVaultInput{BackupVaultName: aws.String("comp")})
	wantAPIError(t, err, "InvalidRequestException", "compliance")
	if d := describe(t, c, "comp"); aws.ToInt64(d.MinRetentionDays) != 2 || !aws.ToBool(d.Locked) {
		t.Errorf("the refused change altered the lock: Min %d Locked %v", aws.ToInt64(d.MinRetentionDays), aws.ToBool(d.Locked))
	}
}

func TestVaultLockLimits(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	mustCreate(t, c, "lim")
	cases := []struct {
		name            string
		min, max, chg   *int64
		wantCode, field string
	}{
		{"min 0", aws.Int64(0), nil, nil, "InvalidParameterValueException", "MinRetentionDays"},
		{"max over 36500", nil, aws.Int64(36501), nil, "InvalidParameterValueException", "MaxRetentionDays"},
		{"min over max", aws.Int64(10), aws.Int64(5), nil, "InvalidParameterValueException", "MinRetentionDays"},
		{"changeable 2", aws.Int64(1), aws.Int64(5), aws.Int64(2), "InvalidParameterValueException", "ChangeableForDays"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PutBackupVaultLockConfiguration(context.Background(), &backup.PutBackupVaultLockConfigurationInput{
				BackupVaultName: aws.String("lim"), MinRetentionDays: tc.min, MaxRetentionDays: tc.max, ChangeableForDays: tc.chg,
			})
			wantAPIError(t, err, tc.wantCode, tc.field)
		})
	}
	_, err := c.PutBackupVaultLockConfiguration(context.Background(), &backup.PutBackupVaultLockConfigurationInput{BackupVaultName: aws.String("nope"), MinRetentionDays: aws.Int64(1)})
	as[*types.ResourceNotFoundException](t, err)
}

func TestAccessPolicy(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()
	mustCreate(t, c, "pol")
	_, err := c.GetBackupVaultAccessPolicy(ctx, &backup.GetBackupVaultAccessPolicyInput{BackupVaultName: aws.String("pol")})
	as[*types.ResourceNotFoundException](t, err)

	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"backup:DeleteRecoveryPoint","Resource":"*"}]}`
	if _, err := c.PutBackupVaultAccessPolicy(ctx, &backup.PutBackupVaultAccessPolicyInput{BackupVaultName: aws.String("pol"), Policy: aws.String(policy)}); err != nil {
		t.Fatalf("PutBackupVaultAccessPolicy: %v", err)
	}
	got, err := c.GetBackupVaultAccessPolicy(ctx, &backup.GetBackupVaultAccessPolicyInput{BackupVaultName: aws.String("pol")})
	if err != nil {
		t.Fatalf("GetBackupVaultAccessPolicy: %v", err)
	}
	if aws.ToString(got.Policy) != policy || aws.ToString(got.BackupVaultName) != "pol" || aws.ToString(got.BackupVaultArn) != "arn:aws:backup:us-east-1:"+testAccount+":backup-vault:pol" {
		t.Errorf("got %q %q %q, want the stored policy of pol", aws.ToString(got.Policy), aws.ToString(got.BackupVaultName), aws.ToString(got.BackupVaultArn))
	}

	bad := []struct {
		name, policy, code string
	}{
		{"missing", "", "MissingParameterValueException"},
		{"not JSON", "{nope", "InvalidParameterValueException"},
		{"a list", `[1]`, "InvalidParameterValueException"},
		{"no statement", `{"Version":"2012-10-17"}`, "InvalidParameterValueException"},
		{"empty statement list", `{"Statement":[]}`, "InvalidParameterValueException"},
		{"trailing data", `{"Statement":{}} x`, "InvalidParameterValueException"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			in := &backup.PutBackupVaultAccessPolicyInput{BackupVaultName: aws.String("pol")}
			if tc.policy != "" {
				in.Policy = aws.String(tc.policy)
			}
			_, err := c.PutBackupVaultAccessPolicy(ctx, in)
			wantAPIError(t, err, tc.code, "Policy")
		})
	}

	if _, err := c.DeleteBackupVaultAccessPolicy(ctx, &backup.DeleteBackupVaultAccessPolicyInput{BackupVaultName: aws.String("pol")}); err != nil {
		t.Fatalf("DeleteBackupVaultAccessPolicy: %v", err)
	}
	_, err = c.GetBackupVaultAccessPolicy(ctx, &backup.GetBackupVaultAccessPolicyInput{BackupVaultName: aws.String("pol")})
	as[*types.ResourceNotFoundException](t, err)
	if _, err := c.DeleteBackupVaultAccessPolicy(ctx, &backup.DeleteBackupVaultAccessPolicyInput{BackupVaultName: aws.String("pol")}); err != nil {
		t.Errorf("deleting an absent policy: %v", err)
	}
	_, err = c.PutBackupVaultAccessPolicy(ctx, &backup.PutBackupVaultAccessPolicyInput{BackupVaultName: aws.String("nope"), Policy: aws.String(policy)})
	wantAPIError(t, err, "ResourceNotFoundException", "nope")
}

func TestNotifications(t *testing.T) {
	e := newEnv(t)
	c := e.client("us-east-1")
	ctx := context.Background()
	mustCreate(t, c, "note")
	_, err := c.GetBackupVaultNotifications(ctx, &backup.GetBackupVaultNotificationsInput{BackupVaultName: aws.String("note")})
	as[*types.ResourceNotFoundException](t, err)

	topic := "arn:aws:sns:us-east-1:" + testAccount + ":backup-events"
	events := []types.BackupVaultEvent{types.BackupVaultEventBackupJobCompleted, types.BackupVaultEventRestoreJobFailed}
	if _, err := c.PutBackupVaultNotifications(ctx, &backup.PutBackupVaultNotificationsInput{BackupVaultName: aws.String("note"), SNSTopicArn: aws.String(topic), BackupVaultEvents: events}); err != nil {
		t.Fatalf("PutBackupVaultNotifications: %v", err)
	}
	got, err := c.GetBackupVaultNotifications(ctx, &backup.GetBackupVaultNotificationsInput{BackupVaultName: aws.String("note")})
	if err != nil {
		t.Fatalf("GetBackupVaultNotifications: %v", err)
	}
	if aws.ToString(got.SNSTopicArn) != topic || !slices.Equal(got.BackupVaultEvents, events) || aws.ToString(got.BackupVaultName) != "note" || got.BackupVaultArn == nil {
		t.Errorf("got %s %v, want %s %v", aws.ToString(got.SNSTopicArn), got.BackupVaultEvents, topic, events)
	}

	bad := []struct {
		name   string
		topic  string
		events []types.BackupVaultEvent
		field  string
	}{
		{"not an SNS ARN", "arn:aws:sqs:us-east-1:" + testAccount + ":q", events, "SNSTopicArn"},
		{"duplicate event", topic, []types.BackupVaultEvent{"BACKUP_JOB_STARTED", "BACKUP_JOB_STARTED"}, "BackupVaultEvents"},
		{"unknown event", topic, []types.BackupVaultEvent{"NOT_AN_EVENT"}, "BackupVaultEvents"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PutBackupVaultNotifications(ctx, &backup.PutBackupVaultNotificationsInput{BackupVaultName: aws.String("note"), SNSTopicArn: aws.String(tc.topic), BackupVaultEvents: tc.events})
			wantAPIError(t, err, "InvalidParameterValueException", tc.field)
		})
	}
	_, err = c.PutBackupVaultNotifications(ctx, &backup.PutBackupVaultNotificationsInput{BackupVaultName: aws.String("note"), SNSTopicArn: aws.String(topic), BackupVaultEvents: []types.BackupVaultEvent{}})
	wantAPIError(t, err, "MissingParameterValueException", "BackupVaultEvents")

	if _, err := c.DeleteBackupVaultNotifications(ctx, &backup.DeleteBackupVaultNotificationsInput{BackupVaultName: aws.String("note")}); err != nil {
		t.Fatalf("DeleteBackupVaultNotifications: %v", err)
	}
	_, err = c.GetBackupVaultNotifications(ctx, &backup.GetBackupVaultNotificationsInput{BackupVaultName: aws.String("note")})
	as[*types.ResourceNotFoundException](t, err)
	_, err = c.DeleteBackupVaultNotifications(ctx, &backup.DeleteBackupVaultNotificationsInput{BackupVaultName: aws.String("nope")})
	as[*types.ResourceNotFoundException](t, err)
}
