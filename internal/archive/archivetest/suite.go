package archivetest

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/archive"
)

// Suite runs the archive layer's behaviour tests against a repository
// implementation: backup and restore round trips checked with the tree
// digest, incremental backups without re-reads, unreadable files, include
// path validation, restores that never escape their target, cancellation,
// volumes with holes and streams. newRepo returns an empty repository.
func Suite(t *testing.T, newRepo func(*testing.T) archive.Repo) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, func(*testing.T) archive.Repo)
	}{
		{"RoundTrip", sBackupRestoreRoundTrip},
		{"Incremental", sIncrementalDoesNotReread},
		{"Unreadable", sUnreadable},
		{"PathValidation", sRestorePathValidation},
		{"NeverEscapesTarget", sRestoreNeverEscapesTarget},
		{"Cancel", sCancel},
		{"Volume", sVolumeRoundTrip},
		{"Stream", sStreamRoundTrip},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newRepo) })
	}
}

var digestOpts = DigestOptions{IgnoreOwners: os.Geteuid() != 0}

// MakeTestTree generates MakeTree's tree in a temporary directory.
func MakeTestTree(t *testing.T, o TreeOptions) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := MakeTree(dir, 42, o); err != nil {
		t.Fatalf("MakeTree: %v", err)
	}
	return dir
}

// MustLines is Lines with the default options, failing the test on error.
func MustLines(t *testing.T, dir string) []string {
	t.Helper()
	l, err := Lines(dir, digestOpts)
	if err != nil {
		t.Fatalf("Lines(%s): %v", dir, err)
	}
	return l
}

// MustBackup is archive.BackupDir failing the test on error.
func MustBackup(t *testing.T, r archive.Repo, dir string, o archive.Options) *archive.Result {
	t.Helper()
	res, err := archive.BackupDir(context.Background(), r, dir, o)
	if err != nil {
		t.Fatalf("BackupDir: %v", err)
	}
	return res
}

func sBackupRestoreRoundTrip(t *testing.T, newRepo func(*testing.T) archive.Repo) {
	src := MakeTestTree(t, TreeOptions{})
	want := MustLines(t, src)
	r := newRepo(t)
	var progressCalls atomic.Int64
	res := MustBackup(t, r, src, archive.Options{Hostname: "h1", Tags: map[string]string{"k": "v"},
		Progress: func(archive.Progress) { progressCalls.Add(1) }, ProgressInterval: time.Millisecond})
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: got %v want none", res.Warnings)
	}
	if res.Stats.Hardlinks != 3 {
		t.Errorf("hard links: got %d want 3", res.Stats.Hardlinks)
	}
	if progressCalls.Load() == 0 {
		t.Errorf("progress: got no calls")
	}
	snap, err := r.LoadSnapshot(context.Background(), res.ID)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Kind != archive.KindTree || snap.Hostname != "h1" || snap.Files != res.Stats.Files {
		t.Errorf("snapshot: got %+v", snap)
	}
	// The sparse file is stored with holes: far less data than its size.
	if res.Stats.BytesRead >= 64<<20 {
		t.Errorf("bytes read: got %d, want less than the sparse file's 64 MiB", res.Stats.BytesRead)
	}

	dst := filepath.Join(t.TempDir(), "restore")
	st, err := archive.Restore(context.Background(), r, res.ID, dst, archive.RestoreOptions{})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if d := Diff(want, MustLines(t, dst)); d != "" {
		t.Errorf("restored tree differs:\n%s", d)
	}
	if st.Bytes >= 64<<20 {
		t.Errorf("restore wrote %d bytes, want holes skipped", st.Bytes)
	}
	// RootMeta: the target gets the backed-up root's mode and mtime.
	if err := os.Chmod(src, 0o751); err != nil {
		t.Fatal(err)
	}
	rootTime := time.Date(2020, 1, 2, 3, 4, 5, 678, time.UTC)
	if err := SetTimes(src, rootTime); err != nil {
		t.Fatal(err)
	}
	res2 := MustBackup(t, r, src, archive.Options{Parent: &res.ID})
	dst2 := filepath.Join(t.TempDir(), "newfs")
	if _, err := archive.Restore(context.Background(), r, res2.ID, dst2, archive.RestoreOptions{RootMeta: true}); err != nil {
		t.Fatalf("Restore with RootMeta: %v", err)
	}
	fi, err := os.Stat(dst2)
	if err != nil || fi.Mode().Perm() != 0o751 || !fi.ModTime().Equal(rootTime) {
		t.Errorf("restored root: mode %v mtime %v, want 0751 and %v (err %v)", fi.Mode().Perm(), fi.ModTime(), rootTime, err)
	}
}

func sIncrementalDoesNotReread(t *testing.T, newRepo func(*testing.T) archive.Repo) {
	src := MakeTestTree(t, TreeOptions{SparseSize: -1})
	r := newRepo(t)
	var opened sync.Map
	var opens atomic.Int64
	count := func(p string) error {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			opens.Add(1)
			opened.Store(p, true)
		}
		return nil
	}
	first := MustBackup(t, r, src, archive.Options{BeforeOpen: count})
	if opens.Load() == 0 {
		t.Fatal("first backup opened no files")
	}
	opens.Store(0)
	second := MustBackup(t, r, src, archive.Options{Parent: &first.ID, BeforeOpen: count})
	if got := opens.Load(); got != 0 {
		t.Errorf("no-change backup: got %d files opened want 0", got)
	}
	if second.Snapshot.Root != first.Snapshot.Root {
		t.Errorf("no-change backup: root tree %s differs from parent's %s", second.Snapshot.Root.Short(), first.Snapshot.Root.Short())
	}
	if second.Stats.FilesUnchanged != first.Stats.Files || second.Stats.BytesRead != 0 {
		t.Errorf("no-change stats: got %+v", second.Stats)
	}

	// Change one file: only it is read; sibling subtrees keep their IDs.
	changed := filepath.Join(src, "a", "b", "c", "new-file")
	if err := os.WriteFile(changed, []byte("new content"), 0o644); err != nil {
		t.Fatal(err)
	}
	opens.Store(0)
	opened = sync.Map{}
	third := MustBackup(t, r, src, archive.Options{Parent: &second.ID, BeforeOpen: count})
	if got := opens.Load(); got != 1 {
		var names []string
		opened.Range(func(k, _ any) bool { names = append(names, k.(string)); return true })
		t.Errorf("one new file: got %d files opened (%v) want 1", got, names)
	}
	if third.Stats.FilesNew != 1 {
		t.Errorf("FilesNew: got %d want 1", third.Stats.FilesNew)
	}
	n1, err := archive.ResolvePath(context.Background(), r, second.Snapshot.Root, "docs")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := archive.ResolvePath(context.Background(), r, third.Snapshot.Root, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if n1.Subtree != n2.Subtree {
		t.Errorf("unchanged directory docs: got tree %s want %s", n2.Subtree.Short(), n1.Subtree.Short())
	}
	dst := filepath.Join(t.TempDir(), "restore")
	if _, err := archive.Restore(context.Background(), r, third.ID, dst, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := Diff(MustLines(t, src), MustLines(t, dst)); d != "" {
		t.Errorf("restored incremental differs:\n%s", d)
	}
}

func sUnreadable(t *testing.T, newRepo func(*testing.T) archive.Repo) {
	src := MakeTestTree(t, TreeOptions{Files: 10, SparseSize: -1})
	deny := func(p string) error {
		if strings.HasSuffix(p, "/dup1") || strings.HasSuffix(p, "/docs") {
			return syscall.EACCES
		}
		return nil
	}
	r := newRepo(t)
	_, err := archive.BackupDir(context.Background(), r, src, archive.Options{BeforeOpen: deny})
	if !errors.Is(err, archive.ErrUnreadable) {
		t.Fatalf("default: got %v want ErrUnreadable", err)
	}
	var pe *archive.PathError
	if !errors.As(err, &pe) || (pe.Path != "dup1" && pe.Path != "docs") {
		t.Errorf("error path: got %v", err)
	}
	res, err := archive.BackupDir(context.Background(), r, src, archive.Options{BeforeOpen: deny, SkipUnreadable: true})
	if err != nil {
		t.Fatalf("SkipUnreadable: %v", err)
	}
	if len(res.Warnings) != 2 {
		t.Errorf("warnings: got %v want 2", res.Warnings)
	}
	for _, p := range []string{"dup1", "docs"} {
		if _, err := archive.ResolvePath(context.Background(), r, res.Snapshot.Root, p); !errors.Is(err, archive.ErrPathNotFound) {
			t.Errorf("%s in snapshot: got %v want ErrPathNotFound", p, err)
		}
	}
}

func sRestorePathValidation(t *testing.T, newRepo func(*testing.T) archive.Repo) {
	src := MakeTestTree(t, TreeOptions{Files: 5, SparseSize: -1})
	r := newRepo(t)
	res := MustBackup(t, r, src, archive.Options{})
	for _, tc := range []struct {
		path string
		want error
	}{
		{"../etc/passwd", archive.ErrInvalidPath},
		{"a/../../x", archive.ErrInvalidPath},
		{"/etc/passwd", archive.ErrInvalidPath},
		{"", archive.ErrInvalidPath},
		{"docs/link-to-dir/readonly", archive.ErrInvalidPath},
		{"no/such/file", archive.ErrPathNotFound},
		{"dup1/child", archive.ErrPathNotFound},
	} {
		t.Run(tc.path, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "r")
			_, err := archive.Restore(context.Background(), r, res.ID, dst, archive.RestoreOptions{Include: []string{"dup1", tc.path}})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v want %v", err, tc.want)
			}
			var pe *archive.PathError
			if !errors.As(err, &pe) || pe.Path != tc.path {
				t.Errorf("error names %v, want path %q", err, tc.path)
			}
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Errorf("target created before validation: %v", err)
			}
		})
	}
}

func sRestoreNeverEscapesTarget(t *testing.T, newRepo func(*testing.T) archive.Repo) {
	src := MakeTestTree(t, TreeOptions{Files: 5, SparseSize: -1})
	r := newRepo(t)
	res := MustBackup(t, r, src, archive.Options{})
	outside := t.TempDir()
	dst := t.TempDir()
	// A symlink planted in the target where a directory will be restored.
	if err := os.Symlink(outside, filepath.Join(dst, "a")); err != nil {
		t.Fatal(err)
	}
	_, err := archive.Restore(context.Background(), r, res.ID, dst, archive.RestoreOptions{Include: []string{"a/b"}, Overwrite: true})
	if err == nil {
		t.Fatal("restore through a planted symlink: got nil error")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("restore wrote outside the target: %v", ents)
	}
	// Existing files are not overwritten unless asked.
	dst2 := t.TempDir()
	if _, err := archive.Restore(context.Background(), r, res.ID, dst2, archive.RestoreOptions{Include: []string{"dup1"}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dst2, "dup1"), []byte("local change"), 0o644)
	_, err = archive.Restore(context.Background(), r, res.ID, dst2, archive.RestoreOptions{Include: []string{"dup1"}})
	if !errors.Is(err, archive.ErrExists) {
		t.Errorf("second restore: got %v want ErrExists", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst2, "dup1")); string(b) != "local change" {
		t.Errorf("existing file overwritten")
	}
	if _, err := archive.Restore(context.Background(), r, res.ID, dst2, archive.RestoreOptions{Include: []string{"dup1"}, Overwrite: true}); err != nil {
		t.Errorf("Overwrite: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst2, "dup1")); string(b) == "local change" {
		t.Errorf("Overwrite did not replace the file")
	}
}

func sCancel(t *testing.T, newRepo func(*testing.T) archive.Repo) {
	src := MakeTestTree(t, TreeOptions{Files: 200, SparseSize: -1})
	r := newRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	_, err := archive.BackupDir(ctx, r, src, archive.Options{BeforeOpen: func(string) error {
		if n.Add(1) == 20 {
			cancel()
		}
		return nil
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v want context.Canceled", err)
	}
}

func writeSparseImage(t *testing.T, p string, size int64, rng *rand.Rand, regions [][2]int64) []byte {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	for _, reg := range regions {
		b := make([]byte, reg[1])
		rng.Read(b)
		copy(want[reg[0]:], b)
		if _, err := f.WriteAt(b, reg[0]); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

func sVolumeRoundTrip(t *testing.T, newRepo func(*testing.T) archive.Repo) {
	dir := t.TempDir()
	img := filepath.Join(dir, "vol.img")
	rng := rand.New(rand.NewSource(1))
	const bs = 64 << 10
	size := int64(64*bs + 1000)
	want := writeSparseImage(t, img, size, rng, [][2]int64{{0, 3 * bs}, {10*bs + 100, 2 * bs}, {size - 500, 500}})
	// An explicitly written zero block is stored as a hole too.
	f, _ := os.OpenFile(img, os.O_WRONLY, 0)
	f.WriteAt(make([]byte, bs), 20*bs)
	f.Close()
	r := newRepo(t)
	res, err := archive.BackupVolume(context.Background(), r, img, archive.StreamOptions{BlockSize: bs})
	if err != nil {
		t.Fatalf("BackupVolume: %v", err)
	}
	if res.Stats.BytesNew > 7*bs {
		t.Errorf("stored %d bytes, want only data blocks (≤ %d)", res.Stats.BytesNew, 7*bs)
	}
	out := filepath.Join(t.TempDir(), "restored.img")
	if _, err := archive.RestoreVolume(context.Background(), r, res.ID, out, archive.RestoreOptions{}); err != nil {
		t.Fatalf("RestoreVolume: %v", err)
	}
	got, _ := os.ReadFile(out)
	if !bytes.Equal(got, want) {
		t.Fatalf("restored volume differs (len %d want %d)", len(got), len(want))
	}
	var st syscall.Stat_t
	syscall.Stat(out, &st)
	if st.Blocks*512 >= size {
		t.Errorf("restored image not sparse: %d blocks for %d bytes", st.Blocks, size)
	}
	var buf bytes.Buffer
	if _, err := archive.RestoreStream(context.Background(), r, res.ID, &buf); err != nil || !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("RestoreStream of volume: equal=%v err=%v", bytes.Equal(buf.Bytes(), want), err)
	}

	// Unchanged image: nothing read.
	res2, err := archive.BackupVolume(context.Background(), r, img, archive.StreamOptions{BlockSize: bs, Parent: &res.ID})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Stats.BytesRead != 0 || res2.Snapshot.Root != res.Snapshot.Root {
		t.Errorf("unchanged volume: read %d bytes, root equal %v", res2.Stats.BytesRead, res2.Snapshot.Root == res.Snapshot.Root)
	}
	// One block changed: one block stored.
	f, _ = os.OpenFile(img, os.O_WRONLY, 0)
	f.WriteAt([]byte("changed!"), 40*bs+7)
	f.Close()
	copy(want[40*bs+7:], "changed!")
	res3, err := archive.BackupVolume(context.Background(), r, img, archive.StreamOptions{BlockSize: bs, Parent: &res2.ID})
	if err != nil {
		t.Fatal(err)
	}
	if res3.Stats.BytesNew != bs {
		t.Errorf("one changed block: stored %d bytes want %d", res3.Stats.BytesNew, bs)
	}
	buf.Reset()
	if _, err := archive.RestoreStream(context.Background(), r, res3.ID, &buf); err != nil || !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("incremental volume restore: equal=%v err=%v", bytes.Equal(buf.Bytes(), want), err)
	}
}

func sStreamRoundTrip(t *testing.T, newRepo func(*testing.T) archive.Repo) {
	rng := rand.New(rand.NewSource(2))
	// 8 MiB random, 8 MiB of zeros, the same 8 MiB again.
	const part = 8 << 20
	data := make([]byte, 3*part)
	rng.Read(data[:part])
	copy(data[2*part:], data[:part])
	r := newRepo(t)
	res, err := archive.BackupStream(context.Background(), r, bytes.NewReader(data), "dump.pgc", archive.StreamOptions{})
	if err != nil {
		t.Fatalf("BackupStream: %v", err)
	}
	if res.Stats.BytesNew > 3*part {
		t.Errorf("stored %d new bytes, want at most %d", res.Stats.BytesNew, 3*part)
	}
	// The same stream again stores nothing; a stream of zeros is all holes.
	again, err := archive.BackupStream(context.Background(), r, bytes.NewReader(data), "dump.pgc", archive.StreamOptions{})
	if err != nil || again.Stats.BytesNew != 0 {
		t.Errorf("second backup of the same stream: stored %d new bytes (err %v), want 0", again.Stats.BytesNew, err)
	}
	zeros, err := archive.BackupStream(context.Background(), r, bytes.NewReader(make([]byte, 2*part)), "zeros", archive.StreamOptions{})
	if err != nil || zeros.Stats.BytesNew != 0 {
		t.Errorf("stream of zeros: stored %d new bytes (err %v), want 0 (holes)", zeros.Stats.BytesNew, err)
	}
	var buf bytes.Buffer
	n, err := archive.RestoreStream(context.Background(), r, res.ID, &buf)
	if err != nil || n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("RestoreStream: n=%d err=%v equal=%v", n, err, bytes.Equal(buf.Bytes(), data))
	}
	if _, err := archive.Restore(context.Background(), r, res.ID, t.TempDir(), archive.RestoreOptions{}); !errors.Is(err, archive.ErrWrongKind) {
		t.Errorf("tree restore of a stream: got %v want ErrWrongKind", err)
	}
}
