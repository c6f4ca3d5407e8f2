package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/coffer/coffer/internal/service"
)

// awsCLI runs the AWS CLI against in with the given secret (the printed one
// when ""), isolated from any user configuration. It returns stdout,
// stderr and the exit code.
func awsCLI(t *testing.T, aws string, in *instance, secret string, args ...string) (string, string, int) {
	t.Helper()
	if secret == "" {
		secret = in.env["AWS_SECRET_ACCESS_KEY"]
	}
	cmd := exec.Command(aws, append([]string{"--endpoint-url", in.endpoint, "--output", "json", "backup"}, args...)...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=" + in.env["AWS_ACCESS_KEY_ID"],
		"AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_DEFAULT_REGION=" + in.env["AWS_DEFAULT_REGION"],
		"AWS_MAX_ATTEMPTS=1",
		"AWS_RETRY_MODE=standard",
	}
	if p := os.Getenv("PYENV_ROOT"); p != "" {
		cmd.Env = append(cmd.Env, "PYENV_ROOT="+p)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running aws: %v", err)
	}
	return out.String(), errb.String(), code
}

// cliJSON runs a CLI call that must succeed and decodes its JSON output.
func cliJSON(t *testing.T, aws string, in *instance, args ...string) map[string]any {
	t.Helper()
	out, errs, code := awsCLI(t, aws, in, "", args...)
	if code != 0 {
		t.Fatalf("aws backup %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	m := map[string]any{}
	if strings.TrimSpace(out) == "" {
		return m
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("aws backup %s: output is not JSON: %v\n%s", args[0], err, out)
	}
	return m
}

func TestAWSCLI(t *testing.T) {
	aws := requireTool(t, "aws")
	in := start(t, t.TempDir())
	arn := "arn:aws:backup:us-east-1:111122223333:backup-vault:cli-vault"

	out := cliJSON(t, aws, in, "create-backup-vault", "--backup-vault-name", "cli-vault", "--backup-vault-tags", "team=e2e")
	if out["BackupVaultArn"] != arn || out["BackupVaultName"] != "cli-vault" {
		t.Errorf("create-backup-vault: got %v, want the vault's name and ARN %s", out, arn)
	}
	if _, ok := out["CreationDate"].(float64); !ok {
		t.Errorf("create-backup-vault: CreationDate %v is not an epoch number", out["CreationDate"])
	}

	out = cliJSON(t, aws, in, "describe-backup-vault", "--backup-vault-name", "cli-vault")
	for k, want := range map[string]any{
		"BackupVaultName": "cli-vault", "BackupVaultArn": arn, "VaultType": "BACKUP_VAULT", "VaultState": "AVAILABLE",
		"NumberOfRecoveryPoints": float64(0), "Locked": false, "EncryptionKeyType": "AWS_OWNED_KMS_KEY",
	} {
		if out[k] != want {
			t.Errorf("describe-backup-vault %s: got %v, want %v", k, out[k], want)
		}
	}
	if key, _ := out["EncryptionKeyArn"].(string); !strings.HasPrefix(key, "arn:aws:kms:us-east-1:111122223333:key/") {
		t.Errorf("describe-backup-vault EncryptionKeyArn: got %q", key)
	}

	out = cliJSON(t, aws, in, "list-backup-vaults")
	list, _ := out["BackupVaultList"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["BackupVaultName"] != "cli-vault" {
		t.Errorf("list-backup-vaults: got %v, want cli-vault", out)
	}

	cliJSON(t, aws, in, "tag-resource", "--resource-arn", arn, "--tags", "env=test,owner=ci")
	out = cliJSON(t, aws, in, "list-tags", "--resource-arn", arn)
	tags, _ := out["Tags"].(map[string]any)
	if len(tags) != 3 || tags["team"] != "e2e" || tags["env"] != "test" || tags["owner"] != "ci" {
		t.Errorf("list-tags: got %v, want team, env and owner", out)
	}
	cliJSON(t, aws, in, "untag-resource", "--resource-arn", arn, "--tag-key-list", "owner")
	out = cliJSON(t, aws, in, "list-tags", "--resource-arn", arn)
	if tags, _ := out["Tags"].(map[string]any); len(tags) != 2 || tags["owner"] != nil {
		t.Errorf("list-tags after untag: got %v", out)
	}

	cliJSON(t, aws, in, "delete-backup-vault", "--backup-vault-name", "cli-vault")
	_, errs, code := awsCLI(t, aws, in, "", "describe-backup-vault", "--backup-vault-name", "cli-vault")
	if code != 255 || !strings.Contains(errs, "ResourceNotFoundException") {
		t.Errorf("describe of a deleted vault: got exit %d %q, want 255 ResourceNotFoundException", code, errs)
	}
	_, errs, code = awsCLI(t, aws, in, "", "create-backup-vault", "--backup-vault-name", "x")
	if code != 255 || !strings.Contains(errs, "InvalidParameterValueException") || !strings.Contains(errs, "BackupVaultName") {
		t.Errorf("one-character name: got exit %d %q, want 255 InvalidParameterValueException naming BackupVaultName", code, errs)
	}

	// A wrong secret is refused: exit 255 and the error's name.
	_, errs, code = awsCLI(t, aws, in, "wrong-secret-wrong-secret-wrong-secret00", "list-backup-vaults")
	if code != 255 || !strings.Contains(errs, "InvalidSignatureException") {
		t.Errorf("wrong secret: got exit %d %q, want 255 InvalidSignatureException", code, errs)
	}
	// An operation Coffer does not implement fails by name, never succeeds empty.
	if !service.Implemented["ListFrameworks"] {
		_, errs, code = awsCLI(t, aws, in, "", "list-frameworks")
		if code != 255 || !strings.Contains(errs, "NotImplementedException") || !strings.Contains(errs, "ListFrameworks") {
			t.Errorf("unimplemented operation: got exit %d %q, want 255 NotImplementedException naming ListFrameworks", code, errs)
		}
	}
	in.stop(t)
}
