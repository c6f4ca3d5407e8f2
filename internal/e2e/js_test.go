package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coffer/coffer/internal/archive/archivetest"
)

// jsClientDir holds the JavaScript client's script and its pinned
// dependencies (scripts/test installs them with npm ci).
const jsClientDir = "jsclient"

// The AWS SDK for JavaScript v3 drives the built server through
// jsclient/flow.mjs: vaults, tags and typed errors, two backups of a
// declared directory tree, a paginated listing, an idempotent copy to
// another region, and a restore of that copy into a new file system, which
// must equal the source.
func TestJavaScriptSDK(t *testing.T) {
	node := requireTool(t, "node")
	if _, err := os.Stat(filepath.Join(jsClientDir, "node_modules", "@aws-sdk", "client-backup")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the JavaScript SDK is not installed in internal/e2e/%s (scripts/test runs npm ci there): %v", jsClientDir, err)
		}
		t.Skipf("the JavaScript SDK is not installed: run npm ci in internal/e2e/%s", jsClientDir)
	}
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 40, SparseSize: 4 << 20})
	fsArn := efsARN("fs-0123456789abcdefa")
	restoreRoot := filepath.Join(t.TempDir(), "restores")
	cfg := writeConfig(t, t.TempDir(), []declared{{arn: fsArn, path: src}}, "restore_root: "+restoreRoot+"\n")
	in := startWith(t, t.TempDir(), withConfig(cfg))

	cmd := exec.Command(node, "flow.mjs")
	cmd.Dir = jsClientDir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=" + in.env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + in.env["AWS_SECRET_ACCESS_KEY"],
		"AWS_ENDPOINT_URL=" + in.endpoint,
		"COFFER_RESOURCE_ARN=" + fsArn, "COFFER_ROLE_ARN=" + e2eRole, "COFFER_ACCOUNT=" + e2eAccount,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the JavaScript SDK's flow failed: %v\n%s\nserver log:\n%s", err, out, in.log())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res struct {
		CreatedResourceArn   string `json:"createdResourceArn"`
		CopyRecoveryPointArn string `json:"copyRecoveryPointArn"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("the flow's last line is not its result: %v\n%s", err, out)
	}
	sameTree(t, "restore of a copy driven by the JavaScript SDK", src, onlyRestoreDir(t, fsRootOf(t, restoreRoot, res.CreatedResourceArn)))
	in.stop(t)
}
