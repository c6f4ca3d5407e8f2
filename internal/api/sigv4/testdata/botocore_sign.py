#!/usr/bin/env python3
"""Writes botocore_golden.json: AWS Backup requests signed by botocore.

Regenerate (needs botocore; 1.43.11 was used):

    python3 internal/api/sigv4/testdata/botocore_sign.py > internal/api/sigv4/testdata/botocore_golden.json

Requests are made through a real botocore "backup" client, so the
serializer, the endpoint's URL encoding and botocore.auth.SigV4Auth are the
ones real users run; a 'before-send' handler captures each prepared request
instead of sending it. One extra request is presigned with
botocore.auth.SigV4QueryAuth. The signing time is frozen at FROZEN so the Go
test can verify the signatures with a fake clock set to that time.
"""

import datetime
import json
import sys

import botocore
import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

FROZEN = datetime.datetime(2026, 1, 2, 3, 4, 5)
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ENDPOINT = "http://127.0.0.1:8765"


def frozen_now(remove_tzinfo=True):
    if remove_tzinfo:
        return FROZEN
    return FROZEN.replace(tzinfo=datetime.timezone.utc)


botocore.auth.get_current_datetime = frozen_now

captured = []


class _Raw:
    def stream(self, *args, **kwargs):
        yield b"{}"


def capture(request, **kwargs):
    headers = []
    for name, value in request.headers.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if name.lower() == "amz-sdk-invocation-id":
            value = "00000000-0000-4000-8000-000000000000"  # unsigned; fixed for a stable file
        headers.append([name, value])
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode("utf-8")
    captured.append({"url": request.url, "method": request.method, "headers": headers,
                     "body": body.decode("utf-8")})
    return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw())


def client(region, token=None):
    session = botocore.session.get_session()
    session.set_credentials(ACCESS_KEY, SECRET_KEY, token)
    c = session.create_client("backup", region_name=region, endpoint_url=ENDPOINT)
    c.meta.events.register("before-send", capture)
    return c


def record(name, region, fn):
    before = len(captured)
    fn()
    assert len(captured) == before + 1, name
    captured[-1]["name"] = name
    captured[-1]["region"] = region


def main():
    east = client("us-east-1")
    west = client("us-west-2")
    sess = client("us-east-1", token="FwoGZXIvYXdzEXAMPLESESSIONTOKEN//+==")

    record("list-backup-vaults", "us-east-1", lambda: east.list_backup_vaults(MaxResults=10))
    record("create-backup-vault", "us-east-1", lambda: east.create_backup_vault(
        BackupVaultName="my-vault", BackupVaultTags={"team": "a b", "cost+center": "ü€"},
        CreatorRequestId="c0ffee00-0000-4000-8000-000000000001"))
    record("describe-recovery-point-arn-path", "us-east-1", lambda: east.describe_recovery_point(
        BackupVaultName="v1", RecoveryPointArn="arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0"))
    record("list-copy-jobs-query", "us-west-2", lambda: west.list_copy_jobs(
        ByState="COMPLETED", ByResourceType="EFS",
        ByDestinationVaultArn="arn:aws:backup:us-west-2:111122223333:backup-vault:dst",
        ByCreatedAfter=datetime.datetime(2025, 12, 31, 23, 0, 0), MaxResults=50,
        NextToken="a b+c/d=="))
    record("start-copy-job", "us-east-1", lambda: east.start_copy_job(
        RecoveryPointArn="arn:aws:backup:us-east-1:111122223333:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45",
        SourceBackupVaultName="src", IamRoleArn="arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole",
        DestinationBackupVaultArn="arn:aws:backup:us-west-2:111122223333:backup-vault:dst",
        IdempotencyToken="c0ffee00-0000-4000-8000-000000000002", Lifecycle={"DeleteAfterDays": 35}))
    record("tag-resource-arn-path", "us-east-1", lambda: east.tag_resource(
        ResourceArn="arn:aws:backup:us-east-1:111122223333:recovery-point:abc", Tags={"k": "v"}))
    record("session-token", "us-east-1", lambda: sess.list_backup_plans(IncludeDeleted=True))

    # With a Date header present botocore signs "date" (RFC 1123) instead of
    # adding X-Amz-Date; the string to sign still uses the ISO timestamp.
    dated = client("us-east-1")
    dated.meta.events.register("before-sign", lambda request, **kw: request.headers.__setitem__("Date", "x"))
    record("date-header", "us-east-1", lambda: dated.get_backup_vault_notifications(BackupVaultName="v1"))

    # A presigned GET, signed by SigV4QueryAuth directly (Backup clients do
    # not presign; this exercises the query-string form).
    req = AWSRequest(method="GET", url=ENDPOINT + "/backup-vaults/?maxResults=5",
                     headers={"Host": "127.0.0.1:8765"})
    creds = Credentials(ACCESS_KEY, SECRET_KEY)
    botocore.auth.SigV4QueryAuth(creds, "backup", "us-east-1", expires=300).add_auth(req)
    p = req.prepare()
    captured.append({"name": "presigned-get", "region": "us-east-1", "url": p.url, "method": p.method,
                     "headers": [[k, v] for k, v in p.headers.items() if k.lower() != "host"], "body": ""})

    out = {
        "generator": "botocore " + botocore.__version__ + " (internal/api/sigv4/testdata/botocore_sign.py)",
        "time": FROZEN.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "requests": captured,
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
