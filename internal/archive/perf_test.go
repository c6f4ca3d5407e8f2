package archive_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/archivetest"
)

// makeFlatTree writes n small files in dirs of 100.
func makeFlatTree(t *testing.T, n int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "many")
	for i := 0; i < n; i++ {
		d := filepath.Join(root, fmt.Sprintf("d%03d", i/1000), fmt.Sprintf("s%02d", i/100%10))
		if i%100 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("file-%06d.txt", i)), []byte("content of file "+strconv.Itoa(i)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestManyFiles times a no-change incremental backup and a one-file
// restore of a large tree: 20,000 files by default, COFFER_TREE_FILES to
// change (100000 for the product target: < 2 s and < 1 s).
func TestManyFiles(t *testing.T) {
	n := 20000
	if s := os.Getenv("COFFER_TREE_FILES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	if testing.Short() {
		n = 2000
	}
	root := makeFlatTree(t, n)
	r := newRepo(t)
	ctx := context.Background()
	start := time.Now()
	first := backup(t, r, root, archive.Options{})
	full := time.Since(start)
	start = time.Now()
	second := backup(t, r, root, archive.Options{Parent: &first.ID})
	incr := time.Since(start)
	if second.Stats.FilesUnchanged != int64(n) {
		t.Errorf("unchanged files: got %d want %d", second.Stats.FilesUnchanged, n)
	}
	start = time.Now()
	one := fmt.Sprintf("d%03d/s%02d/file-%06d.txt", (n-1)/1000, (n-1)/100%10, n-1)
	dst := filepath.Join(t.TempDir(), "r")
	if _, err := archive.Restore(ctx, r, second.ID, dst, archive.RestoreOptions{Include: []string{one}}); err != nil {
		t.Fatal(err)
	}
	sub := time.Since(start)
	t.Logf("%d files: full backup %v, no-change backup %v, one-file restore %v", n, full, incr, sub)
	limit := time.Duration(float64(2*time.Second) * float64(n) / 100000 * 3) // 3× slack for shared CI machines
	if incr > limit && incr > 500*time.Millisecond {
		t.Errorf("no-change backup of %d files took %v, want < %v", n, incr, limit)
	}
	if sub > time.Second {
		t.Errorf("one-file restore took %v, want < 1s", sub)
	}
	if b, err := os.ReadFile(filepath.Join(dst, one)); err != nil || len(b) == 0 {
		t.Errorf("restored file: %q %v", b, err)
	}
	_ = archivetest.Diff
}
