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

// clientFlow starts the built server with a declared directory tree (the
// EFS resource fsID) and a restore root, runs a client's script — made by
// script from the environment it needs: the server's endpoint and
// credentials, COFFER_RESOURCE_ARN, COFFER_ROLE_ARN and COFFER_ACCOUNT —
// and compares the file system the script restored with the tree. The
// script's last output line is ok followed by {"createdResourceArn": …}.
func clientFlow(t *testing.T, what, fsID, ok string, script func(env []string) *exec.Cmd) {
	t.Helper()
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 40, SparseSize: 4 << 20})
	fsArn := efsARN(fsID)
	restoreRoot := filepath.Join(t.TempDir(), "restores")
	cfg := writeConfig(t, t.TempDir(), []declared{{arn: fsArn, path: src}}, "restore_root: "+restoreRoot+"\n")
	in := startWith(t, t.TempDir(), withConfig(cfg))
	cmd := script([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ACCESS_KEY_ID=" + in.env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + in.env["AWS_SECRET_ACCESS_KEY"],
		"AWS_ENDPOINT_URL=" + in.endpoint,
		"COFFER_RESOURCE_ARN=" + fsArn, "COFFER_ROLE_ARN=" + e2eRole, "COFFER_ACCOUNT=" + e2eAccount,
	})
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	result, found := strings.CutPrefix(lines[len(lines)-1], ok+" ")
	if err != nil || !found {
		t.Fatalf("%s failed: %v\n%s\nserver log:\n%s", what, err, out, in.log())
	}
	var res struct {
		CreatedResourceArn string `json:"createdResourceArn"`
	}
	if err := json.Unmarshal([]byte(result), &res); err != nil {
		t.Fatalf("%s: its result %q: %v", what, result, err)
	}
	sameTree(t, "restore of a copy driven by "+what, src, onlyRestoreDir(t, fsRootOf(t, restoreRoot, res.CreatedResourceArn)))
	in.stop(t)
}
