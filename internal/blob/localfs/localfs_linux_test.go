package localfs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/blobtest"
)

// TestPutDiskFull fills a 2 MiB tmpfs (needs root and mount; skipped
// otherwise) with objects large enough to be written directly: the Put
// that does not fit fails with ErrNoSpace and leaves no temp file, the
// objects already written read back intact, and a Put that fits succeeds.
func TestPutDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	root := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", root, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	defer syscall.Unmount(root, 0)
	ctx := context.Background()
	s := newStore(t, Options{Root: root, SkipSweep: true})
	first := blobtest.Data(1, directMin+4096+7)
	if err := s.Put(ctx, "a/first", first); err != nil {
		t.Fatalf("first Put: %v", err)
	}
	err := s.Put(ctx, "a/second", blobtest.Data(2, directMin+4096+7))
	if !errors.Is(err, blob.ErrNoSpace) {
		t.Fatalf("Put beyond the free space: got %v, want ErrNoSpace", err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "a"))
	for _, e := range entries {
		if e.Name() != "first" {
			t.Errorf("left behind after the failed Put: %s", e.Name())
		}
	}
	rc, err := s.Get(ctx, "a/first", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != string(first) {
		t.Errorf("the first object after the failed Put: %d bytes, %v; want it intact", len(got), err)
	}
	if err := s.Put(ctx, "a/small", []byte("fits")); err != nil {
		t.Errorf("a Put that fits after the failure: %v", err)
	}
}
