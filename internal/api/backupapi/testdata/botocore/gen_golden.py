#!/usr/bin/env python3
"""Serialize AWS Backup requests with botocore's own serializer and write
golden request files for TestBotocoreGolden (botocore_test.go).

Regenerate (needs python3 with botocore; the Go test does not):

    cd internal/api/backupapi/testdata/botocore && python3 gen_golden.py

Each golden entry holds the operation, the parameters given to botocore
(timestamps as RFC 3339 strings) and the HTTP request botocore would send:
method, path, raw query string, headers and body. The Go test replays the
request through the router and checks that the decoded input equals the
parameters.
"""
import datetime
import json
import sys

import botocore
import botocore.session
import botocore.serialize
import botocore.validate
from botocore.utils import percent_encode_sequence

UTC = datetime.timezone.utc
RP_ARN = "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0"
VAULT_ARN = "arn:aws:backup:us-east-1:123456789012:backup-vault:v1"
ROLE = "arn:aws:iam::123456789012:role/AWSBackupDefaultServiceRole"

# Body timestamps are whole seconds (botocore sends epoch seconds); query
# timestamps may carry milliseconds.
CASES = [
    ("CreateBackupVault", {
        "BackupVaultName": "my-vault_1",
        "BackupVaultTags": {"team": "storage", "cost center": "42", "ünï": "çødé"},
        "EncryptionKeyArn": "arn:aws:kms:us-east-1:123456789012:key/abc",
        "CreatorRequestId": "creator-1",
    }),
    ("CreateBackupPlan", {
        "BackupPlan": {
            "BackupPlanName": "daily",
            "Rules": [{
                "RuleName": "daily-rule",
                "TargetBackupVaultName": "v1",
                "ScheduleExpression": "cron(0 5 ? * * *)",
                "ScheduleExpressionTimezone": "Europe/Paris",
                "StartWindowMinutes": 60,
                "CompletionWindowMinutes": 10080,
                "Lifecycle": {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 120},
                "RecoveryPointTags": {"k": "v"},
                "CopyActions": [{
                    "DestinationBackupVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:v2",
                    "Lifecycle": {"DeleteAfterDays": 365, "OptInToArchiveForSupportedResources": True},
                }],
                "EnableContinuousBackup": False,
            }],
            "AdvancedBackupSettings": [{"ResourceType": "EC2", "BackupOptions": {"WindowsVSS": "enabled"}}],
        },
        "BackupPlanTags": {"env": "prod"},
        "CreatorRequestId": "plan-req-1",
    }),
    ("DescribeRecoveryPoint", {
        "BackupVaultName": "v1",
        "RecoveryPointArn": RP_ARN,
        "BackupVaultAccountId": "123456789012",
    }),
    ("ListBackupJobs", {
        "ByState": "RUNNING",
        "ByCreatedAfter": datetime.datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC),
        "ByCreatedBefore": datetime.datetime(2024, 2, 1, 10, 20, 30, 123000, tzinfo=UTC),
        "ByResourceArn": "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1",
        "ByResourceType": "EFS",
        "ByBackupVaultName": "v1",
        "ByAccountId": "123456789012",
        "ByCompleteAfter": datetime.datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC),
        "ByParentJobId": "parent-1",
        "ByMessageCategory": "ANY",
        "MaxResults": 25,
        "NextToken": "tok/+= &x",
    }),
    ("ListCopyJobs", {
        "ByState": "COMPLETED",
        "ByDestinationVaultArn": VAULT_ARN,
        "BySourceRecoveryPointArn": RP_ARN,
        "ByCompleteBefore": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        "MaxResults": 1000,
    }),
    ("ListBackupJobSummaries", {
        "AccountId": "ANY",
        "State": "AGGREGATE_ALL",
        "ResourceType": "EBS",
        "MessageCategory": "SUCCESS",
        "AggregationPeriod": "FOURTEEN_DAYS",
        "MaxResults": 500,
        "NextToken": "n1",
    }),
    ("ListBackupVaults", {"ByVaultType": "LOGICALLY_AIR_GAPPED_BACKUP_VAULT", "ByShared": True, "MaxResults": 10}),
    ("ListRecoveryPointsByBackupVault", {
        "BackupVaultName": "v1",
        "ByResourceArn": "arn:aws:ec2:us-east-1:123456789012:volume/vol-1",
        "ByCreatedAfter": datetime.datetime(2024, 1, 1, tzinfo=UTC),
        "MaxResults": 3,
    }),
    ("StartBackupJob", {
        "BackupVaultName": "v1",
        "ResourceArn": "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-1",
        "IamRoleArn": ROLE,
        "IdempotencyToken": "tok-1",
        "StartWindowMinutes": 60,
        "CompleteWindowMinutes": 52560000,
        "Lifecycle": {"DeleteAfterDays": 7},
        "RecoveryPointTags": {"a": "b"},
        "BackupOptions": {"WindowsVSS": "disabled"},
        "Index": "ENABLED",
    }),
    ("StartCopyJob", {
        "RecoveryPointArn": RP_ARN,
        "SourceBackupVaultName": "v1",
        "DestinationBackupVaultArn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:v2",
        "IamRoleArn": ROLE,
        "IdempotencyToken": "copy-tok",
        "Lifecycle": {"MoveToColdStorageAfterDays": 10, "DeleteAfterDays": 100},
    }),
    ("StartRestoreJob", {
        "RecoveryPointArn": RP_ARN,
        "Metadata": {"file-system-id": "fs-1", "newFileSystem": "false", "ItemsToRestore": "[\"/a\",\"/b c\"]"},
        "IamRoleArn": ROLE,
        "IdempotencyToken": "restore-tok",
        "ResourceType": "EFS",
        "CopySourceTagsToRestoredResource": True,
    }),
    ("TagResource", {"ResourceArn": VAULT_ARN, "Tags": {"k1": "v1", "k2": ""}}),
    ("UntagResource", {"ResourceArn": VAULT_ARN, "TagKeyList": ["k1", "k2"]}),
    ("ListTags", {"ResourceArn": VAULT_ARN, "MaxResults": 50}),
    ("UpdateRecoveryPointLifecycle", {
        "BackupVaultName": "v1",
        "RecoveryPointArn": RP_ARN,
        "Lifecycle": {"MoveToColdStorageAfterDays": 90, "DeleteAfterDays": 180},
    }),
    ("PutBackupVaultNotifications", {
        "BackupVaultName": "v1",
        "SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:topic",
        "BackupVaultEvents": ["BACKUP_JOB_STARTED", "COPY_JOB_FAILED"],
    }),
    ("UpdateRegionSettings", {
        "ResourceTypeOptInPreference": {"EFS": True, "EBS": False},
        "ResourceTypeManagementPreference": {"DynamoDB": True},
    }),
    ("DisassociateBackupVaultMpaApprovalTeam", {"BackupVaultName": "v1", "RequesterComment": "bye"}),
    ("PutRestoreValidationResult", {"RestoreJobId": "r-1", "ValidationStatus": "SUCCESSFUL", "ValidationStatusMessage": "ok"}),
    ("GetBackupPlan", {"BackupPlanId": "plan-1", "VersionId": "v-1", "MaxScheduledRunsPreview": 5}),
    ("CreateLegalHold", {
        "Title": "hold",
        "Description": "keep",
        "IdempotencyToken": "lh-1",
        "RecoveryPointSelection": {
            "VaultNames": ["v1"],
            "ResourceIdentifiers": ["arn:aws:ec2:us-east-1:123456789012:volume/vol-1"],
            "DateRange": {"FromDate": datetime.datetime(2024, 1, 1, tzinfo=UTC), "ToDate": datetime.datetime(2024, 2, 1, 12, 0, 0, tzinfo=UTC)},
        },
        "Tags": {"x": "y"},
    }),
    ("DeleteBackupVault", {"BackupVaultName": "v1"}),
    ("GetSupportedResourceTypes", {}),
]


def iso(dt):
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        s += (".%06d" % dt.microsecond).rstrip("0")
    return s + "Z"


def to_json(v):
    if isinstance(v, datetime.datetime):
        return iso(v)
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


def main():
    session = botocore.session.get_session()
    model = session.get_service_model("backup")
    serializer = botocore.serialize.create_serializer("rest-json", include_validation=True)
    out = {"botocore": botocore.__version__, "cases": []}
    for op, params in CASES:
        om = model.operation_model(op)
        req = serializer.serialize_to_request(params, om)
        body = req["body"]
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        query = req["query_string"]
        if isinstance(query, dict):
            query = percent_encode_sequence(query) if query else ""
        headers = {k: v for k, v in sorted(req["headers"].items())}
        out["cases"].append({
            "operation": op,
            "params": to_json(params),
            "request": {
                "method": req["method"],
                "path": req["url_path"],
                "query": query,
                "headers": headers,
                "body": body,
            },
        })
    with open("requests.json", "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False, sort_keys=False)
        f.write("\n")
    print("wrote %d cases with botocore %s" % (len(out["cases"]), botocore.__version__), file=sys.stderr)


if __name__ == "__main__":
    main()
