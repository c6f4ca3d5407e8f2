package backup

import (
	"strings"
	"testing"
)

func TestParseARN(t *testing.T) {
	tests := []struct {
		in      string
		want    ARN
		kind    Kind // 0 (KindInternal) means no error
		msgPart string
	}{
		{in: "arn:aws:backup:us-east-1:123456789012:backup-vault:v1", want: ARN{"aws", "backup", "us-east-1", "123456789012", "backup-vault:v1"}},
		{in: "arn:aws-us-gov:backup:us-gov-west-1:123456789012:backup-vault:v1", want: ARN{"aws-us-gov", "backup", "us-gov-west-1", "123456789012", "backup-vault:v1"}},
		{in: "arn:aws:iam::123456789012:role/x", want: ARN{"aws", "iam", "", "123456789012", "role/x"}},
		{in: "arn:aws:s3:::bucket", want: ARN{"aws", "s3", "", "", "bucket"}},
		{in: "", kind: KindMissingParameter, msgPart: "empty"},
		{in: "arn:aws:backup", kind: KindInvalidParameter, msgPart: "must have the form"},
		{in: "nra:aws:backup:us-east-1:123456789012:x", kind: KindInvalidParameter, msgPart: "must have the form"},
		{in: "arn:azure:backup:us-east-1:123456789012:x", kind: KindInvalidParameter, msgPart: "unknown partition"},
		{in: "arn:aws::us-east-1:123456789012:x", kind: KindInvalidParameter, msgPart: "service is empty"},
		{in: "arn:aws:backup:US-EAST-1:123456789012:x", kind: KindInvalidParameter, msgPart: "not a region"},
		{in: "arn:aws:backup:us-east-1:1234:x", kind: KindInvalidParameter, msgPart: "12 digits"},
		{in: "arn:aws:backup:us-east-1:123456789012:", kind: KindInvalidParameter, msgPart: "resource part is empty"},
	}
	for _, tt := range tests {
		got, err := ParseARN(tt.in)
		if tt.kind == KindInternal {
			if err != nil || got != tt.want {
				t.Errorf("ParseARN(%q) = %+v, %v; want %+v, nil", tt.in, got, err, tt.want)
			}
			if err == nil && got.String() != tt.in {
				t.Errorf("ParseARN(%q).String() = %q, want the input", tt.in, got.String())
			}
			continue
		}
		if KindOf(err) != tt.kind || !strings.Contains(err.Error(), tt.msgPart) {
			t.Errorf("ParseARN(%q) error = %v (kind %v); want kind %v containing %q", tt.in, err, KindOf(err), tt.kind, tt.msgPart)
		}
	}
}

func TestParseVaultARN(t *testing.T) {
	tests := []struct {
		in      string
		want    VaultKey
		msgPart string
	}{
		{in: "arn:aws:backup:us-east-1:123456789012:backup-vault:my_vault-1", want: VaultKey{"us-east-1", "123456789012", "my_vault-1"}},
		{in: "arn:aws:backup:eu-west-2:000000000000:backup-vault:Default", want: VaultKey{"eu-west-2", "000000000000", "Default"}},
		{in: "arn:aws:backup:us-east-1:123456789012:backup-vault:a", msgPart: "2 to 50"},
		{in: "arn:aws:backup:us-east-1:123456789012:backup-vault:bad.name", msgPart: "letters, digits"},
		{in: "arn:aws:backup:us-east-1:123456789012:backup-plan:abc", msgPart: `must start with "backup-vault:"`},
		{in: "arn:aws:s3:us-east-1:123456789012:backup-vault:abc", msgPart: `service must be "backup"`},
		{in: "arn:aws:backup::123456789012:backup-vault:abc", msgPart: "region and account ID are required"},
		{in: "not-an-arn", msgPart: "arn:aws:backup:REGION:ACCOUNT_ID:backup-vault:ID"},
	}
	for _, tt := range tests {
		got, err := ParseVaultARN(tt.in)
		if tt.msgPart == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseVaultARN(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if err == nil && got.ARN() != tt.in {
				t.Errorf("VaultKey.ARN() = %q, want %q", got.ARN(), tt.in)
			}
			continue
		}
		if KindOf(err) != KindInvalidParameter || !strings.Contains(err.Error(), tt.msgPart) {
			t.Errorf("ParseVaultARN(%q) error = %v; want InvalidParameter containing %q", tt.in, err, tt.msgPart)
		}
	}
}

func TestParseRecoveryPointARN(t *testing.T) {
	tests := []struct {
		in     string
		format RecoveryPointFormat
		typ    ResourceType
		id     string
		acct   string
		bad    bool
	}{
		{in: "arn:aws:backup:us-east-1:123456789012:recovery-point:d99699e7-e183-477e-bfcd-ccb1c6e5455e", format: RecoveryPointBackup, id: "d99699e7-e183-477e-bfcd-ccb1c6e5455e", acct: "123456789012"},
		{in: "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0", format: RecoveryPointEBSSnapshot, typ: EBS, id: "snap-0123456789abcdef0"},
		{in: "arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup:job-d48d8717-0c9d-72df-1f56-14e703bf2345", format: RecoveryPointRDSSnapshot, typ: RDS, id: "awsbackup:job-d48d8717-0c9d-72df-1f56-14e703bf2345", acct: "123456789012"},
		{in: "arn:aws:ec2:us-east-1::snapshot/snap-XYZ", bad: true},
		{in: "arn:aws:ec2:us-east-1::volume/vol-0123456789abcdef0", bad: true},
		{in: "arn:aws:rds:us-east-1:123456789012:snapshot:manual-1", bad: true},
		{in: "arn:aws:backup:us-east-1:123456789012:backup-vault:v", bad: true},
		{in: "arn:aws:backup:us-east-1::recovery-point:abc", bad: true},
		{in: "arn:aws:backup::123456789012:recovery-point:abc", bad: true},
		{in: "arn:aws:s3:::bucket", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseRecoveryPointARN(tt.in)
		if tt.bad {
			if KindOf(err) != KindInvalidParameter || !strings.Contains(err.Error(), "recovery point ARN") {
				t.Errorf("ParseRecoveryPointARN(%q) error = %v; want InvalidParameter naming the recovery point ARN", tt.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRecoveryPointARN(%q) error = %v", tt.in, err)
			continue
		}
		if got.Format != tt.format || got.ResourceType != tt.typ || got.ID != tt.id || got.AccountID != tt.acct || got.Region != "us-east-1" {
			t.Errorf("ParseRecoveryPointARN(%q) = %+v; want format %v type %q id %q account %q", tt.in, got, tt.format, tt.typ, tt.id, tt.acct)
		}
	}
}

func TestRecoveryPointARNRoundTrip(t *testing.T) {
	ids := NewIDs(nil)
	for _, typ := range []ResourceType{EFS, EBS, RDS} {
		arn := ids.RecoveryPointARN(typ, "eu-west-1", "123456789012")
		ref, err := ParseRecoveryPointARN(arn)
		if err != nil {
			t.Fatalf("ParseRecoveryPointARN(%q) for %s: %v", arn, typ, err)
		}
		wantType := typ
		if typ == EFS {
			wantType = ""
		}
		if ref.ResourceType != wantType || ref.Region != "eu-west-1" {
			t.Errorf("round trip of %s ARN %q: got %+v, want type %q", typ, arn, ref, wantType)
		}
	}
}

func TestParseResourceARN(t *testing.T) {
	tests := []struct {
		in        string
		typ       ResourceType
		id        string
		supported bool
		badPart   string
	}{
		{in: "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123abcd", typ: EFS, id: "fs-0123abcd", supported: true},
		{in: "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0", typ: EFS, id: "fs-0123456789abcdef0", supported: true},
		{in: "arn:aws:ec2:us-east-1:123456789012:volume/vol-0123456789abcdef0", typ: EBS, id: "vol-0123456789abcdef0", supported: true},
		{in: "arn:aws:rds:us-east-1:123456789012:db:orders-db", typ: RDS, id: "orders-db", supported: true},
		{in: "arn:aws:rds:us-east-1:123456789012:cluster:aurora-1", typ: Aurora, id: "aurora-1"},
		{in: "arn:aws:dynamodb:us-east-1:123456789012:table/Orders", typ: DynamoDB, id: "Orders"},
		{in: "arn:aws:s3:::my-bucket", typ: S3, id: "my-bucket"},
		{in: "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", typ: EC2, id: "i-0abc"},
		{in: "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-XYZ", badPart: "fs- followed by 8 or 17 hex"},
		{in: "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-1", badPart: "file-system/fs-ID"},
		{in: "arn:aws:elasticfilesystem:us-east-1::file-system/fs-0123abcd", badPart: "region and account ID are required"},
		{in: "arn:aws:ec2:us-east-1:123456789012:volume/vol-1", badPart: "vol- followed by"},
		{in: "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0", badPart: "use the volume's ARN"},
		{in: "arn:aws:rds:us-east-1:123456789012:db:1bad", badPart: "start with a letter"},
		{in: "arn:aws:rds:us-east-1:123456789012:db:bad--name", badPart: "two consecutive hyphens"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f", badPart: "not a resource AWS Backup protects"},
	}
	for _, tt := range tests {
		got, err := ParseResourceARN(tt.in)
		if tt.badPart != "" {
			if KindOf(err) != KindInvalidParameter || !strings.Contains(err.Error(), tt.badPart) {
				t.Errorf("ParseResourceARN(%q) error = %v; want InvalidParameter containing %q", tt.in, err, tt.badPart)
			}
			continue
		}
		if err != nil || got.Type != tt.typ || got.ID != tt.id {
			t.Errorf("ParseResourceARN(%q) = %+v, %v; want type %q id %q", tt.in, got, err, tt.typ, tt.id)
			continue
		}
		serr := got.Supported()
		if (serr == nil) != tt.supported {
			t.Errorf("ParseResourceARN(%q).Supported() = %v; want supported=%v", tt.in, serr, tt.supported)
		}
		if serr != nil && !strings.Contains(serr.Error(), "not supported by Coffer") {
			t.Errorf("Supported() error %q does not say \"not supported by Coffer\"", serr)
		}
		if tt.supported {
			if f := ResourceARN(got.Type, got.Region, got.AccountID, got.ID); f != tt.in {
				t.Errorf("ResourceARN(%s, ...) = %q, want %q", got.Type, f, tt.in)
			}
		}
	}
}

func TestParseRoleARN(t *testing.T) {
	tests := []struct {
		in      string
		path    string
		name    string
		badPart string
	}{
		{in: "arn:aws:iam::123456789012:role/AWSBackupDefaultServiceRole", path: "/", name: "AWSBackupDefaultServiceRole"},
		{in: "arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole", path: "/service-role/", name: "AWSBackupDefaultServiceRole"},
		{in: "arn:aws:iam::123456789012:role/a/b/c+=,.@_-x", path: "/a/b/", name: "c+=,.@_-x"},
		{in: "arn:aws:iam:us-east-1:123456789012:role/x", badPart: "no region"},
		{in: "arn:aws:iam::123456789012:user/x", badPart: `start with "role/"`},
		{in: "arn:aws:iam::123456789012:role/", badPart: "role name must be"},
		{in: "arn:aws:iam::123456789012:role/a//b", badPart: "empty or non-printable"},
		{in: "arn:aws:iam::123456789012:role/" + strings.Repeat("x", 65), badPart: "1 to 64"},
		{in: "arn:aws:sts::123456789012:role/x", badPart: `service must be "iam"`},
		{in: "arn:aws:iam:::role/x", badPart: "account ID is empty"},
		{in: "role/x", badPart: "arn:aws:iam::ACCOUNT_ID:role/NAME"},
	}
	for _, tt := range tests {
		got, err := ParseRoleARN(tt.in)
		if tt.badPart != "" {
			if KindOf(err) != KindInvalidParameter || !strings.Contains(err.Error(), tt.badPart) {
				t.Errorf("ParseRoleARN(%q) error = %v; want InvalidParameter containing %q", tt.in, err, tt.badPart)
			}
			continue
		}
		if err != nil || got.Path != tt.path || got.Name != tt.name {
			t.Errorf("ParseRoleARN(%q) = %+v, %v; want path %q name %q", tt.in, got, err, tt.path, tt.name)
		}
	}
	err := ValidateIAMRoleARN("IamRoleArn", "arn:aws:iam::123456789012:user/x")
	if KindOf(err) != KindInvalidParameter || !strings.HasPrefix(err.(*Error).Message, "Invalid value for IamRoleArn: ") {
		t.Errorf("ValidateIAMRoleARN error = %v; want a message starting with the field name", err)
	}
	if err := ValidateIAMRoleARN("IamRoleArn", "arn:aws:iam::123456789012:role/r"); err != nil {
		t.Errorf("ValidateIAMRoleARN(valid) = %v, want nil", err)
	}
}

func TestParseKMSKeyARN(t *testing.T) {
	tests := []struct {
		in    string
		key   string
		alias string
		bad   bool
	}{
		{in: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", key: "1234abcd-12ab-34cd-56ef-1234567890ab"},
		{in: "arn:aws:kms:us-east-1:123456789012:alias/aws/backup", alias: "aws/backup"},
		{in: "arn:aws:kms:us-east-1:123456789012:keys/x", bad: true},
		{in: "arn:aws:kms:us-east-1:123456789012:key/", bad: true},
		{in: "arn:aws:kms::123456789012:key/x", bad: true},
		{in: "arn:aws:s3:us-east-1:123456789012:key/x", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseKMSKeyARN(tt.in)
		if tt.bad {
			if KindOf(err) != KindInvalidParameter || !strings.Contains(err.Error(), "KMS key ARN") {
				t.Errorf("ParseKMSKeyARN(%q) error = %v; want InvalidParameter naming the KMS key ARN", tt.in, err)
			}
			continue
		}
		if err != nil || got.KeyID != tt.key || got.Alias != tt.alias {
			t.Errorf("ParseKMSKeyARN(%q) = %+v, %v; want key %q alias %q", tt.in, got, err, tt.key, tt.alias)
		}
	}
}

func TestParseBackupARNKinds(t *testing.T) {
	tests := []struct {
		kind BackupARNKind
		in   string
		id   string
		bad  bool
	}{
		{kind: BackupPlanKind, in: PlanARN("us-east-1", "123456789012", "8a1b3a8b-21b9-460a-8b6e-0123456789ab"), id: "8a1b3a8b-21b9-460a-8b6e-0123456789ab"},
		{kind: LegalHoldKind, in: "arn:aws:backup:us-east-1:123456789012:legal-hold:abc-123", id: "abc-123"},
		{kind: FrameworkKind, in: "arn:aws:backup:us-east-1:123456789012:framework:my_fw-1a2b", id: "my_fw-1a2b"},
		{kind: ReportPlanKind, in: "arn:aws:backup:us-east-1:123456789012:report-plan:daily", id: "daily"},
		{kind: RestoreTestingPlanKind, in: "arn:aws:backup:us-east-1:123456789012:restore-testing-plan:p-1", id: "p-1"},
		{kind: LegalHoldKind, in: "arn:aws:backup:us-east-1:123456789012:framework:x", bad: true},
		{kind: FrameworkKind, in: "arn:aws:backup:us-east-1:123456789012:framework:a b", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseBackupARN(tt.kind, tt.in)
		if tt.bad {
			if KindOf(err) != KindInvalidParameter || !strings.Contains(err.Error(), string(tt.kind)) {
				t.Errorf("ParseBackupARN(%s, %q) error = %v; want InvalidParameter naming %s", tt.kind, tt.in, err, tt.kind)
			}
			continue
		}
		if err != nil || got.ID != tt.id || got.ARN() != tt.in {
			t.Errorf("ParseBackupARN(%s, %q) = %+v (ARN %q), %v; want id %q", tt.kind, tt.in, got, got.ARN(), err, tt.id)
		}
	}
}

func TestParseSNSTopicARN(t *testing.T) {
	if _, err := ParseSNSTopicARN("arn:aws:sns:us-east-1:123456789012:backup-events"); err != nil {
		t.Errorf("ParseSNSTopicARN(valid) = %v", err)
	}
	for _, in := range []string{"arn:aws:sqs:us-east-1:123456789012:q", "arn:aws:sns:us-east-1::t", "arn:aws:sns:us-east-1:123456789012:a/b"} {
		if _, err := ParseSNSTopicARN(in); KindOf(err) != KindInvalidParameter {
			t.Errorf("ParseSNSTopicARN(%q) error = %v; want InvalidParameter", in, err)
		}
	}
}

func TestValidateNames(t *testing.T) {
	for _, tt := range []struct {
		f    func(string) error
		name string
		in   string
		want Kind
	}{
		{ValidateVaultName, "vault", "ab", KindInternal},
		{ValidateVaultName, "vault", strings.Repeat("a", 50), KindInternal},
		{ValidateVaultName, "vault", strings.Repeat("a", 51), KindInvalidParameter},
		{ValidateVaultName, "vault", "", KindMissingParameter},
		{ValidateVaultName, "vault", "a/b", KindInvalidParameter},
		{ValidateRegion, "region", "us-east-1", KindInternal},
		{ValidateRegion, "region", "home-1", KindInternal},
		{ValidateRegion, "region", "1us", KindInvalidParameter},
		{ValidateRegion, "region", "us--east", KindInvalidParameter},
		{ValidateRegion, "region", "us-east-", KindInvalidParameter},
		{ValidateAccountID, "account", "123456789012", KindInternal},
		{ValidateAccountID, "account", "12345678901a", KindInvalidParameter},
		{ValidateDBIdentifier, "db", "a", KindInternal},
		{ValidateDBIdentifier, "db", "a-", KindInvalidParameter},
		{ValidateDBIdentifier, "db", strings.Repeat("a", 64), KindInvalidParameter},
	} {
		err := tt.f(tt.in)
		got := KindInternal
		if err != nil {
			got = KindOf(err)
		}
		if got != tt.want {
			t.Errorf("validate %s %q: got kind %v (%v), want %v", tt.name, tt.in, got, err, tt.want)
		}
	}
}
