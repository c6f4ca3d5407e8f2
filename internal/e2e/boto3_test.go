package e2e

import (
	"os"
	"os/exec"
	"testing"
)

// boto3Script creates, describes, tags, lists and deletes a vault, and
// checks that boto3 types Coffer's errors (ResourceNotFoundException with
// its message, AlreadyExistsException with its Arn member); then backs up
// the declared file system, copies the recovery point to us-west-2, lists
// the copies page by page with boto3's paginator, and restores the copy
// into a new file system. Its last line: "boto3 ok" and the restore's
// CreatedResourceArn as JSON.
const boto3Script = `
import json, os, time, boto3, botocore
def client(region):
    return boto3.client("backup", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=region,
                        config=botocore.config.Config(retries={"max_attempts": 1}))
c, w = client("us-east-1"), client("us-west-2")
res, role = os.environ["COFFER_RESOURCE_ARN"], os.environ["COFFER_ROLE_ARN"]

out = c.create_backup_vault(BackupVaultName="boto-vault", BackupVaultTags={"lang": "python"})
arn = out["BackupVaultArn"]
assert arn.endswith(":backup-vault:boto-vault"), out
d = c.describe_backup_vault(BackupVaultName="boto-vault")
assert d["VaultState"] == "AVAILABLE" and d["NumberOfRecoveryPoints"] == 0 and d["CreationDate"].year >= 2024, d
assert c.list_tags(ResourceArn=arn)["Tags"] == {"lang": "python"}
try:
    c.create_backup_vault(BackupVaultName="boto-vault", CreatorRequestId="other")
    raise SystemExit("duplicate create succeeded")
except c.exceptions.AlreadyExistsException as e:
    assert e.response["Arn"] == arn, e.response
c.delete_backup_vault(BackupVaultName="boto-vault")
try:
    c.describe_backup_vault(BackupVaultName="boto-vault")
    raise SystemExit("describe of a deleted vault succeeded")
except c.exceptions.ResourceNotFoundException as e:
    assert "boto-vault" in e.response["Error"]["Message"], e.response

def wait(what, get, done):
    deadline = time.time() + 120
    while True:
        out = get()
        if done(out):
            return out
        if time.time() > deadline:
            raise SystemExit(f"{what}: still {out}")
        time.sleep(0.05)

c.create_backup_vault(BackupVaultName="boto-src")
dr = w.create_backup_vault(BackupVaultName="boto-dr")["BackupVaultArn"]
copies = []
for i in range(2):
    job = c.start_backup_job(BackupVaultName="boto-src", ResourceArn=res, IamRoleArn=role)
    d = wait("backup job", lambda: c.describe_backup_job(BackupJobId=job["BackupJobId"]), lambda d: d["State"] in ("COMPLETED", "FAILED"))
    assert d["State"] == "COMPLETED", d
    cj = c.start_copy_job(RecoveryPointArn=d["RecoveryPointArn"], SourceBackupVaultName="boto-src", DestinationBackupVaultArn=dr, IamRoleArn=role)
    j = wait("copy job", lambda: c.describe_copy_job(CopyJobId=cj["CopyJobId"])["CopyJob"], lambda j: j["State"] in ("COMPLETED", "FAILED"))
    assert j["State"] == "COMPLETED", j
    copies.append(j["DestinationRecoveryPointArn"])
pages = list(w.get_paginator("list_recovery_points_by_backup_vault").paginate(BackupVaultName="boto-dr", PaginationConfig={"PageSize": 1}))
listed = [p["RecoveryPointArn"] for page in pages for p in page["RecoveryPoints"]]
assert len(pages) >= 2 and sorted(listed) == sorted(copies), (pages, copies)
rj = w.start_restore_job(RecoveryPointArn=copies[-1], IamRoleArn=role, ResourceType="EFS", Metadata={"newFileSystem": "true"})
r = wait("restore job", lambda: w.describe_restore_job(RestoreJobId=rj["RestoreJobId"]), lambda d: d["Status"] in ("COMPLETED", "FAILED", "ABORTED"))
assert r["Status"] == "COMPLETED", r
print("boto3 ok", json.dumps({"createdResourceArn": r["CreatedResourceArn"]}))
`

// TestBoto3 drives the built server with boto3Script and compares the file
// system it restored (from a cross-region copy) with the source.
func TestBoto3(t *testing.T) {
	py := requireTool(t, "python3")
	if err := exec.Command(py, "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 cannot import boto3 (this machine kind has it installed): %v", err)
		}
		t.Skip("python3 with boto3 is not installed")
	}
	clientFlow(t, "boto3", "fs-0123456789abcdefb", "boto3 ok", func(env []string) *exec.Cmd {
		cmd := exec.Command(py, "-c", boto3Script)
		cmd.Env = env
		if p := os.Getenv("PYENV_ROOT"); p != "" {
			cmd.Env = append(cmd.Env, "PYENV_ROOT="+p)
		}
		return cmd
	})
}
