package archive_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/archive"
	"github.com/coffer/coffer/internal/archive/archivetest"
	"github.com/coffer/coffer/internal/archive/tree"
)

func newRepo(t *testing.T) archive.Repo { return archivetest.NewMemRepo() }

func TestSuiteMemRepo(t *testing.T) { archivetest.Suite(t, newRepo) }

var digestOpts = archivetest.DigestOptions{IgnoreOwners: os.Geteuid() != 0}

func makeTree(t *testing.T, o archivetest.TreeOptions) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := archivetest.MakeTree(dir, 42, o); err != nil {
		t.Fatalf("MakeTree: %v", err)
	}
	return dir
}

func lines(t *testing.T, dir string) []string {
	t.Helper()
	l, err := archivetest.Lines(dir, digestOpts)
	if err != nil {
		t.Fatalf("Lines(%s): %v", dir, err)
	}
	return l
}

func backup(t *testing.T, r archive.Repo, dir string, o archive.Options) *archive.Result {
	t.Helper()
	res, err := archive.BackupDir(context.Background(), r, dir, o)
	if err != nil {
		t.Fatalf("BackupDir: %v", err)
	}
	return res
}

func TestWarnings(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), bytes.Repeat([]byte("x"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "growing"), bytes.Repeat([]byte("y"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := archivetest.MkFifo(filepath.Join(src, "fifo")); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(src, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	archive.SetTestHookAfterRead(func(abs string) {
		if filepath.Base(abs) == "growing" {
			f, _ := os.OpenFile(abs, os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("more"))
			f.Close()
		}
	})
	defer archive.SetTestHookAfterRead(nil)
	r := newRepo(t)
	res := backup(t, r, src, archive.Options{})
	got := map[string]string{}
	for _, w := range res.Warnings {
		got[w.Path] = w.Message
	}
	for _, tc := range []struct{ path, want string }{
		{"fifo", "named pipe"},
		{"sock", "socket"},
		{"growing", "changed during backup"},
	} {
		if !strings.Contains(got[tc.path], tc.want) {
			t.Errorf("warning for %s: got %q want it to contain %q", tc.path, got[tc.path], tc.want)
		}
	}
	dst := filepath.Join(t.TempDir(), "r")
	if _, err := archive.Restore(context.Background(), r, res.ID, dst, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "fifo")); !os.IsNotExist(err) {
		t.Errorf("fifo restored: got %v want not exist", err)
	}
	// The next backup re-reads the file that changed.
	var opens atomic.Int64
	archive.SetTestHookAfterRead(nil)
	backup(t, r, src, archive.Options{Parent: &res.ID, BeforeOpen: func(p string) error {
		if filepath.Base(p) == "growing" {
			opens.Add(1)
		}
		return nil
	}})
	if opens.Load() != 1 {
		t.Errorf("changed file re-read: got %d opens want 1", opens.Load())
	}
}

func TestSubsetRestore(t *testing.T) {
	src := makeTree(t, archivetest.TreeOptions{})
	mr := archivetest.NewMemRepo()
	res := backup(t, mr, src, archive.Options{})
	deep := "x/" + strings.Repeat("deep/", 24) + "bottom.txt"
	dst := filepath.Join(t.TempDir(), "r")
	before := mr.LoadedData.Load()
	st, err := archive.Restore(context.Background(), mr, res.ID, dst, archive.RestoreOptions{
		Include: []string{deep, "a/b", "docs/hl-other-dir", "unicode-äöü-日本/ссылка"},
	})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	// Only what was asked for, with parents.
	incs := []string{deep, "a/b", "docs/hl-other-dir", "unicode-äöü-日本/ссылка"}
	var want []string
	for _, l := range lines(t, src) {
		p := strings.SplitN(l, "\"", 3)[1]
		for _, in := range incs {
			if p == in || strings.HasPrefix(in, p+"/") || strings.HasPrefix(p, in+"/") {
				want = append(want, l)
				break
			}
		}
	}
	got := lines(t, dst)
	// docs/hl-other-dir was a second name of a/hl-orig, which is not
	// restored: it becomes a plain file with the same content.
	var gotCmp, wantCmp []string
	for _, l := range got {
		if !strings.HasPrefix(l, `"docs/hl-other-dir"`) {
			gotCmp = append(gotCmp, l)
		}
	}
	for _, l := range want {
		if !strings.HasPrefix(l, `"docs/hl-other-dir"`) {
			wantCmp = append(wantCmp, l)
		}
	}
	if d := archivetest.Diff(wantCmp, gotCmp); d != "" {
		t.Errorf("subset restore differs:\n%s", d)
	}
	b, err := os.ReadFile(filepath.Join(dst, "docs", "hl-other-dir"))
	if err != nil || string(b) != "hard linked content\n" {
		t.Errorf("hard link restored alone: got %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "dup1")); !os.IsNotExist(err) {
		t.Errorf("dup1 restored but not included")
	}
	// Only the data of included files was read.
	var wantData int64
	for _, p := range []string{deep, "docs/hl-other-dir"} {
		fi, _ := os.Stat(filepath.Join(src, p))
		wantData += fi.Size()
	}
	filepath.Walk(filepath.Join(src, "a", "b"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			wantData += fi.Size()
		}
		return nil
	})
	if got := mr.LoadedData.Load() - before; got > wantData {
		t.Errorf("data read: got %d bytes want at most %d", got, wantData)
	}
	if st.Files == 0 {
		t.Errorf("stats: got %+v", st)
	}
}

func TestCorruptChunkNamesFile(t *testing.T) {
	src := makeTree(t, archivetest.TreeOptions{Files: 10, SparseSize: -1})
	mr := archivetest.NewMemRepo()
	res := backup(t, mr, src, archive.Options{})
	n, err := archive.ResolvePath(context.Background(), mr, res.Snapshot.Root, "script.sh")
	if err != nil {
		t.Fatal(err)
	}
	bad := n.Content[0].ID
	mr.Corrupt(tree.DataBlob, bad)
	dst := filepath.Join(t.TempDir(), "r")
	_, err = archive.Restore(context.Background(), mr, res.ID, dst, archive.RestoreOptions{})
	var be *archive.BlobError
	if !errors.As(err, &be) || be.Path != "script.sh" || be.ID != bad {
		t.Fatalf("got %v, want a BlobError naming script.sh and blob %s", err, bad.Short())
	}
	if !strings.Contains(err.Error(), "script.sh") || !strings.Contains(err.Error(), bad.String()) {
		t.Errorf("message %q does not name the file and blob", err)
	}
	// Everything else was restored.
	if b, err := os.ReadFile(filepath.Join(dst, "a", "hl-orig")); err != nil || string(b) != "hard linked content\n" {
		t.Errorf("undamaged file: got %q, %v", b, err)
	}
	// A restore not touching the damaged file succeeds.
	if _, err := archive.Restore(context.Background(), mr, res.ID, filepath.Join(t.TempDir(), "r2"), archive.RestoreOptions{Include: []string{"a"}}); err != nil {
		t.Errorf("restore of undamaged subtree: %v", err)
	}
}

func TestCopy(t *testing.T) {
	src := makeTree(t, archivetest.TreeOptions{Files: 80})
	a, b, c := archivetest.NewMemRepo(), archivetest.NewMemRepo(), archivetest.NewMemRepo()
	ctx := context.Background()
	res := backup(t, a, src, archive.Options{Meta: map[string]string{"origin": "a"}})
	id1, st1, err := archive.CopySnapshot(ctx, a, b, res.ID, archive.CopyOptions{Meta: map[string]string{"copied": "yes"}})
	if err != nil {
		t.Fatalf("CopySnapshot: %v", err)
	}
	if st1.BlobsCopied == 0 || st1.MapFromParent {
		t.Errorf("first copy stats: %+v", st1)
	}
	snap, _ := b.LoadSnapshot(ctx, id1)
	if !snap.Time.Equal(res.Snapshot.Time) || snap.Meta["origin"] != "a" || snap.Meta["copied"] != "yes" {
		t.Errorf("copied snapshot: got time %v meta %v", snap.Time, snap.Meta)
	}
	if snap.Root == res.Snapshot.Root {
		t.Errorf("root IDs equal across keys: IDs must depend on the key")
	}
	dst := filepath.Join(t.TempDir(), "fromcopy")
	if _, err := archive.Restore(ctx, b, id1, dst, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := archivetest.Diff(lines(t, src), lines(t, dst)); d != "" {
		t.Errorf("restore from copy differs:\n%s", d)
	}

	// Incremental: change one file, back up, copy again.
	if err := os.WriteFile(filepath.Join(src, "a", "b", "changed.txt"), bytes.Repeat([]byte("z"), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	res2 := backup(t, a, src, archive.Options{Parent: &res.ID})
	readBefore := a.LoadedData.Load()
	var progressed atomic.Int64
	id2, st2, err := archive.CopySnapshot(ctx, a, b, res2.ID, archive.CopyOptions{Progress: func(archive.CopyStats) { progressed.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if progressed.Load() == 0 {
		t.Errorf("copy progress: no calls")
	}
	// Mapped subtrees count as done: the second copy covers at least as
	// much content as the first, though it read almost nothing.
	if st2.BytesDone < st1.BytesDone || st2.BytesRead != 5000 {
		t.Errorf("incremental copy: BytesDone %d (first copy %d), BytesRead %d want 5000", st2.BytesDone, st1.BytesDone, st2.BytesRead)
	}
	if !st2.MapFromParent || st2.BlobsRead != 1 || st2.BlobsCopied != 1 || st2.TreesMapped == 0 {
		t.Errorf("incremental copy: got %+v want 1 blob read and copied, subtrees mapped", st2)
	}
	if got := a.LoadedData.Load() - readBefore; got != 5000 {
		t.Errorf("incremental copy read %d data bytes from the source, want 5000", got)
	}
	dst2 := filepath.Join(t.TempDir(), "fromcopy2")
	if _, err := archive.Restore(ctx, b, id2, dst2, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := archivetest.Diff(lines(t, src), lines(t, dst2)); d != "" {
		t.Errorf("restore from incremental copy differs:\n%s", d)
	}

	// Copy of a copy.
	id3, _, err := archive.CopySnapshot(ctx, b, c, id2, archive.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst3 := filepath.Join(t.TempDir(), "fromcopy3")
	if _, err := archive.Restore(ctx, c, id3, dst3, archive.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := archivetest.Diff(lines(t, src), lines(t, dst3)); d != "" {
		t.Errorf("restore from copy of copy differs:\n%s", d)
	}

	// A stream snapshot copies too.
	sres, err := archive.BackupStream(ctx, a, bytes.NewReader(bytes.Repeat([]byte("dump "), 100000)), "db.dump", archive.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sid, _, err := archive.CopySnapshot(ctx, a, b, sres.ID, archive.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := archive.RestoreStream(ctx, b, sid, &buf); err != nil || buf.Len() != 500000 {
		t.Errorf("copied stream: %d bytes, %v", buf.Len(), err)
	}
}

func TestCopyCorruptSourceCommitsNothing(t *testing.T) {
	src := makeTree(t, archivetest.TreeOptions{Files: 20, SparseSize: -1})
	a, b := archivetest.NewMemRepo(), archivetest.NewMemRepo()
	ctx := context.Background()
	res := backup(t, a, src, archive.Options{})
	n, err := archive.ResolvePath(ctx, a, res.Snapshot.Root, "dup1")
	if err != nil {
		t.Fatal(err)
	}
	a.Corrupt(tree.DataBlob, n.Content[0].ID)
	_, _, err = archive.CopySnapshot(ctx, a, b, res.ID, archive.CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), res.ID.String()) {
		t.Fatalf("got %v, want an error naming source snapshot %s", err, res.ID)
	}
	var be *archive.BlobError
	if !errors.As(err, &be) || be.ID != n.Content[0].ID {
		t.Errorf("got %v, want a BlobError for the damaged blob", err)
	}
	count := 0
	b.ListSnapshots(ctx, func(archive.ID, *archive.Snapshot) error { count++; return nil })
	if count != 0 {
		t.Errorf("destination snapshots after failed copy: got %d want 0", count)
	}
}

// slowReader yields n small pieces with a pause before each.
type slowReader struct{ n int }

func (s *slowReader) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.EOF
	}
	s.n--
	time.Sleep(2 * time.Millisecond)
	return copy(p, bytes.Repeat([]byte("x"), min(len(p), 1000))), nil
}

func TestStreamProgress(t *testing.T) {
	r := archivetest.NewMemRepo()
	// No Progress callback but a short interval: nothing to call.
	if _, err := archive.BackupStream(context.Background(), r, &slowReader{n: 20}, "s", archive.StreamOptions{ProgressInterval: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	var last atomic.Int64
	_, err := archive.BackupStream(context.Background(), r, &slowReader{n: 20}, "s", archive.StreamOptions{
		ProgressInterval: time.Millisecond,
		Progress:         func(p archive.Progress) { calls.Add(1); last.Store(p.BytesRead) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() == 0 || last.Load() == 0 {
		t.Errorf("progress: got %d calls, last %d bytes", calls.Load(), last.Load())
	}
}

func TestBackupRootThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	os.WriteFile(filepath.Join(real, "f"), []byte("data"), 0o644)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	r := archivetest.NewMemRepo()
	res, err := archive.BackupDir(context.Background(), r, link, archive.Options{})
	if err != nil {
		t.Fatalf("BackupDir through a symlink: %v", err)
	}
	if res.Snapshot.Paths[0] != link || res.Stats.Files != 1 {
		t.Errorf("got paths %v, %d files; want %s and 1", res.Snapshot.Paths, res.Stats.Files, link)
	}
}

func TestTreesAreDeterministic(t *testing.T) {
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 100, SparseSize: -1})
	r := archivetest.NewMemRepo()
	a := archivetest.MustBackup(t, r, src, archive.Options{})
	for i := 0; i < 3; i++ {
		b := archivetest.MustBackup(t, r, src, archive.Options{Concurrency: 1 + i*3})
		if b.Snapshot.Root != a.Snapshot.Root {
			t.Fatalf("backup %d of an unchanged tree: root %s, first was %s", i, b.Snapshot.Root.Short(), a.Snapshot.Root.Short())
		}
	}
	n, err := archive.ResolvePath(context.Background(), r, a.Snapshot.Root, "docs/hl-other-dir")
	if err != nil || n.Type != tree.Hardlink || n.Target != "a/hl-orig" {
		t.Errorf("second name of a hard link: got %+v, %v; want a Hardlink to a/hl-orig", n, err)
	}
}

func TestValidateIncludes(t *testing.T) {
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 5, SparseSize: -1})
	r := archivetest.NewMemRepo()
	res := archivetest.MustBackup(t, r, src, archive.Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		paths []string
		want  error
	}{
		{[]string{"dup1", "a/b"}, nil},
		{[]string{"dup1", "nope"}, archive.ErrPathNotFound},
		{[]string{"../x"}, archive.ErrInvalidPath},
		{[]string{"docs/link-to-dir/x"}, archive.ErrInvalidPath},
	} {
		err := archive.ValidateIncludes(ctx, r, res.ID, tc.paths)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("ValidateIncludes(%q): got %v want %v", tc.paths, err, tc.want)
		}
	}
}

func TestRestoreProgress(t *testing.T) {
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 100, SparseSize: -1})
	r := archivetest.NewMemRepo()
	res := archivetest.MustBackup(t, r, src, archive.Options{})
	var mu sync.Mutex
	var last archive.Progress
	_, err := archive.Restore(context.Background(), r, res.ID, filepath.Join(t.TempDir(), "r"), archive.RestoreOptions{
		ProgressInterval: time.Microsecond,
		Progress:         func(p archive.Progress) { mu.Lock(); last = p; mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !last.ScanDone || last.FilesDone != last.FilesTotal || last.FilesTotal == 0 || last.BytesDone != last.BytesTotal {
		t.Errorf("final progress: %+v", last)
	}
}

// TestRestoreDiskFull restores into a 2 MiB tmpfs (needs root and mount;
// skipped otherwise): the restore fails with ENOSPC naming a file, and
// stops instead of failing every later file.
func TestRestoreDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	target := filepath.Join(t.TempDir(), "small")
	os.Mkdir(target, 0o755)
	if err := syscall.Mount("tmpfs", target, "tmpfs", 0, "size=2m"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	defer syscall.Unmount(target, 0)
	src := archivetest.MakeTestTree(t, archivetest.TreeOptions{Files: 80, SparseSize: -1, MaxFileSize: 200 << 10})
	r := archivetest.NewMemRepo()
	res := archivetest.MustBackup(t, r, src, archive.Options{})
	_, err := archive.Restore(context.Background(), r, res.ID, filepath.Join(target, "r"), archive.RestoreOptions{})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", err)
	}
	var pe *archive.PathError
	if !errors.As(err, &pe) || pe.Path == "" {
		t.Errorf("error %v does not name a file", err)
	}
	if n := strings.Count(err.Error(), "\n"); n > 25 {
		t.Errorf("error has %d lines, want it capped", n)
	}
}

// TestLargeFileReadBesideSmallFiles checks that the walk runs ahead of the
// readers and that large files have workers of their own: with every read
// of a small file held until the large file is opened, the backup still
// finishes, although the walk (depth first, last name first) reaches the
// large file's directory d00 after the other 1,950 small files.
func TestLargeFileReadBesideSmallFiles(t *testing.T) {
	src := t.TempDir()
	for d := range 40 {
		dir := filepath.Join(src, "z", fmt.Sprintf("d%02d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d", i)), []byte(fmt.Sprint("small ", d, i)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := archivetest.NewMemRepo()
	big := bytes.Repeat([]byte("large "), 2*r.ChunkMinSize())
	if err := os.WriteFile(filepath.Join(src, "z", "d00", "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	bigOpened := make(chan struct{})
	var once sync.Once
	var timedOut atomic.Bool
	backup(t, r, src, archive.Options{BeforeOpen: func(p string) error {
		switch {
		case strings.HasSuffix(p, "/big.bin"):
			once.Do(func() { close(bigOpened) })
		case strings.HasPrefix(filepath.Base(p), "f"):
			select {
			case <-bigOpened:
			case <-time.After(10 * time.Second):
				timedOut.Store(true)
				once.Do(func() { close(bigOpened) })
			}
		}
		return nil
	}})
	if timedOut.Load() {
		t.Errorf("the small files' reads waited 10 s for the large file: the walk did not reach it while they were held")
	}
}
