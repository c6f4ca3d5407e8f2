package archive_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
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

// newRepo is the repository the tests run against; integration tests
// replace it with the real engine.
var newRepo = func(t *testing.T) archive.Repo { return archivetest.NewMemRepo() }

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

func TestBackupRestoreRoundTrip(t *testing.T) {
	src := makeTree(t, archivetest.TreeOptions{})
	want := lines(t, src)
	r := newRepo(t)
	var progressCalls atomic.Int64
	res := backup(t, r, src, archive.Options{Hostname: "h1", Tags: map[string]string{"k": "v"},
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
	if d := archivetest.Diff(want, lines(t, dst)); d != "" {
		t.Errorf("restored tree differs:\n%s", d)
	}
	if st.Bytes >= 64<<20 {
		t.Errorf("restore wrote %d bytes, want holes skipped", st.Bytes)
	}
}

func TestIncrementalDoesNotReread(t *testing.T) {
	src := makeTree(t, archivetest.TreeOptions{SparseSize: -1})
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
	first := backup(t, r, src, archive.Options{BeforeOpen: count})
	if opens.Load() == 0 {
		t.Fatal("first backup opened no files")
	}
	opens.Store(0)
	second := backup(t, r, src, archive.Options{Parent: &first.ID, BeforeOpen: count})
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
	third := backup(t, r, src, archive.Options{Parent: &second.ID, BeforeOpen: count})
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
	if d := archivetest.Diff(lines(t, src), lines(t, dst)); d != "" {
		t.Errorf("restored incremental differs:\n%s", d)
	}
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

func TestUnreadable(t *testing.T) {
	src := makeTree(t, archivetest.TreeOptions{Files: 10, SparseSize: -1})
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

func TestRestorePathValidation(t *testing.T) {
	src := makeTree(t, archivetest.TreeOptions{Files: 5, SparseSize: -1})
	r := newRepo(t)
	res := backup(t, r, src, archive.Options{})
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

func TestRestoreNeverEscapesTarget(t *testing.T) {
	src := makeTree(t, archivetest.TreeOptions{Files: 5, SparseSize: -1})
	r := newRepo(t)
	res := backup(t, r, src, archive.Options{})
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

func TestCancel(t *testing.T) {
	src := makeTree(t, archivetest.TreeOptions{Files: 200, SparseSize: -1})
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

func TestVolumeRoundTrip(t *testing.T) {
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

func TestStreamRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	data := make([]byte, 3<<20)
	rng.Read(data[:1<<20])
	copy(data[2<<20:], data[:1<<20]) // duplicate; the middle MiB is zeros
	r := newRepo(t)
	res, err := archive.BackupStream(context.Background(), r, bytes.NewReader(data), "dump.pgc", archive.StreamOptions{})
	if err != nil {
		t.Fatalf("BackupStream: %v", err)
	}
	if res.Stats.BytesNew > 3<<19 {
		t.Errorf("stored %d new bytes, want dedup and holes (< 1.5 MiB)", res.Stats.BytesNew)
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
	id2, st2, err := archive.CopySnapshot(ctx, a, b, res2.ID, archive.CopyOptions{})
	if err != nil {
		t.Fatal(err)
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
