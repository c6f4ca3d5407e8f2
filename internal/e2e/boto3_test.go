package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// boto3Script creates, describes, tags, lists and deletes a vault, and
// checks that boto3 types Coffer's errors (ResourceNotFoundException with
// its message, AlreadyExistsException with its Arn member).
const boto3Script = `
import os, boto3, botocore
c = boto3.client("backup", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_DEFAULT_REGION"],
                 config=botocore.config.Config(retries={"max_attempts": 1}))
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
print("boto3 ok")
`

func TestBoto3Smoke(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil || exec.Command(py, "-c", "import boto3").Run() != nil {
		t.Skip("python3 with boto3 is not installed")
	}
	in := start(t, t.TempDir())
	cmd := exec.Command(py, "-c", boto3Script)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=" + in.env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + in.env["AWS_SECRET_ACCESS_KEY"],
		"AWS_DEFAULT_REGION=" + in.env["AWS_DEFAULT_REGION"], "AWS_ENDPOINT_URL=" + in.endpoint,
	}
	if p := os.Getenv("PYENV_ROOT"); p != "" {
		cmd.Env = append(cmd.Env, "PYENV_ROOT="+p)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "boto3 ok") {
		t.Fatalf("boto3 script failed: %v\n%s", err, out)
	}
	in.stop(t)
}
