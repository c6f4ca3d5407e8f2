package repo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeystoreFailedWritePublishesNothing creates a key in a child process
// that may not write any file byte (ulimit -f 0: every write fails with
// EFBIG): GetOrCreate must fail and leave no key file behind, since a short
// key file would make its vault unopenable.
func TestKeystoreFailedWritePublishesNothing(t *testing.T) {
	if dir := os.Getenv("COFFER_KEYSTORE_CHILD_DIR"); dir != "" {
		k, err := OpenKeystore(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.GetOrCreate("vault-key"); err == nil {
			t.Fatal("GetOrCreate succeeded although no byte could be written")
		} else {
			t.Logf("GetOrCreate: %v", err)
		}
		return
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	cmd := exec.Command(sh, "-c", `ulimit -f 0 && exec "$0" -test.run='^TestKeystoreFailedWritePublishesNothing$' -test.v`, os.Args[0])
	cmd.Env = append(os.Environ(), "COFFER_KEYSTORE_CHILD_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "GetOrCreate: ") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "kek-*"))
	if len(left) != 0 {
		t.Errorf("a failed GetOrCreate left key files %v", left)
	}
	k, err := OpenKeystore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.GetOrCreate("vault-key"); err != nil {
		t.Errorf("GetOrCreate after the failure: %v", err)
	}
}
