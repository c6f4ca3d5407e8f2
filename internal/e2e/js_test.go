package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
	clientFlow(t, "the JavaScript SDK", "fs-0123456789abcdefa", "js ok", func(env []string) *exec.Cmd {
		cmd := exec.Command(node, "flow.mjs")
		cmd.Dir = jsClientDir
		cmd.Env = env
		return cmd
	})
}
