package backup

import (
	"strings"
	"testing"
)

func TestCheckSupportedResourceType(t *testing.T) {
	tests := []struct {
		in      ResourceType
		msgPart string
	}{
		{EFS, ""}, {EBS, ""}, {RDS, ""},
		{DynamoDB, "not supported by Coffer; supported types are EBS, EFS, RDS"},
		{StorageGateway, "not supported by Coffer"},
		{"Floppy", "is not a resource type"},
	}
	for _, tt := range tests {
		err := CheckSupportedResourceType(tt.in)
		if tt.msgPart == "" {
			if err != nil {
				t.Errorf("CheckSupportedResourceType(%q) = %v, want nil", tt.in, err)
			}
			continue
		}
		if KindOf(err) != KindInvalidParameter || !strings.Contains(err.Error(), tt.msgPart) {
			t.Errorf("CheckSupportedResourceType(%q) = %v; want InvalidParameter containing %q", tt.in, err, tt.msgPart)
		}
	}
}

func TestValidateNotifications(t *testing.T) {
	topic := "arn:aws:sns:us-east-1:123456789012:t"
	tests := []struct {
		name string
		in   VaultNotifications
		kind Kind
	}{
		{"ok", VaultNotifications{SNSTopicArn: topic, Events: []string{"BACKUP_JOB_COMPLETED", "COPY_JOB_FAILED"}}, KindInternal},
		{"no topic", VaultNotifications{Events: []string{"BACKUP_JOB_COMPLETED"}}, KindMissingParameter},
		{"bad topic", VaultNotifications{SNSTopicArn: "arn:aws:sqs:us-east-1:123456789012:q", Events: []string{"BACKUP_JOB_COMPLETED"}}, KindInvalidParameter},
		{"no events", VaultNotifications{SNSTopicArn: topic}, KindMissingParameter},
		{"unknown event", VaultNotifications{SNSTopicArn: topic, Events: []string{"NOPE"}}, KindInvalidParameter},
		{"duplicate", VaultNotifications{SNSTopicArn: topic, Events: []string{"COPY_JOB_FAILED", "COPY_JOB_FAILED"}}, KindInvalidParameter},
	}
	for _, tt := range tests {
		err := ValidateNotifications(tt.in)
		got := KindInternal
		if err != nil {
			got = KindOf(err)
		}
		if got != tt.kind {
			t.Errorf("%s: ValidateNotifications = %v, want kind %v", tt.name, err, tt.kind)
		}
	}
}

func TestVaultHelpers(t *testing.T) {
	v := Vault{Name: "v1", Region: "us-east-1", AccountID: "123456789012"}
	if v.Key().ARN() != "arn:aws:backup:us-east-1:123456789012:backup-vault:v1" {
		t.Errorf("Key().ARN() = %q", v.Key().ARN())
	}
	if v.Locked() || v.LockState() != "UNLOCKED" {
		t.Errorf("unlocked vault reports locked")
	}
	v.Lock = &VaultLock{}
	if !v.Locked() || v.LockState() != "LOCKED" {
		t.Errorf("locked vault reports unlocked")
	}
	if !RecoveryPointCompleted.Usable() || !RecoveryPointAvailable.Usable() || RecoveryPointCreating.Usable() {
		t.Errorf("Usable wrong")
	}
}
