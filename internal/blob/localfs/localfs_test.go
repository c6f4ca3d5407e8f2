package localfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/blobtest"
	"github.com/coffer/coffer/internal/clock"
)

func newStore(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.Root == "" {
		opts.Root = t.TempDir()
	}
	s, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t, Options{}) })
}

// TestConformanceLinkFallback runs the suite with PutIfAbsent forced onto
// the link(2) path used on file systems without RENAME_NOREPLACE.
func TestConformanceLinkFallback(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s := newStore(t, Options{NoSync: true})
		s.publishNoReplace = linkNoReplace
		return s
	})
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		opts Options
		ok   bool
	}{
		{Options{Root: "/x"}, true},
		{Options{}, false},
		{Options{Root: "/x", TempMaxAge: -time.Second}, false},
		{Options{Root: "/x", FileMode: fs.ModeDir | 0o600}, false},
		{Options{Root: "/x", FileMode: 0o640, DirMode: 0o750}, true},
	}
	for _, tt := range tests {
		if err := tt.opts.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok=%v", tt.opts, err, tt.ok)
		}
	}
}

func TestNewRoot(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "a", "b")
	if _, err := New(ctx, Options{Root: missing}); err == nil {
		t.Errorf("New on a missing root without Create: got nil error, want one")
	}
	s, err := New(ctx, Options{Root: missing, Create: true})
	if err != nil {
		t.Fatalf("New with Create: %v", err)
	}
	defer s.Close()
	if s.Location() != missing {
		t.Errorf("Location: got %q, want %q", s.Location(), missing)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(ctx, Options{Root: file}); err == nil {
		t.Errorf("New on a regular file: got nil error, want one")
	}
}

func TestModes(t *testing.T) {
	s := newStore(t, Options{FileMode: 0o640, DirMode: 0o750})
	defer s.Close()
	if err := s.Put(context.Background(), "d/obj", []byte("x")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(s.root, "d", "obj"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o640 {
		t.Errorf("file mode: got %v, want 0640", got)
	}
	fi, err = os.Stat(filepath.Join(s.root, "d"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got&^0o750 != 0 {
		t.Errorf("dir mode: got %v, want at most 0750", got)
	}
}

// TestTempFilesInvisible checks that leftovers of a crashed write and
// foreign files are ignored by List, Stat and Get.
func TestTempFilesInvisible(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{SkipSweep: true})
	defer s.Close()
	if err := s.Put(ctx, "packs/00/real", []byte("real")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"packs/00/" + tempPrefix + "123",
		tempPrefix + "456",
		"lost+found/file",
		"packs/00/bad name",
	} {
		full := filepath.Join(s.root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := s.List(ctx, "", func(i blob.Info) error { got = append(got, i.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "packs/00/real" {
		t.Errorf("List: got %v, want [packs/00/real]", got)
	}
	if _, err := s.Stat(ctx, "packs/00"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat of a directory: got %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "packs", 0, -1); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get of a directory: got %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "packs/00"); err != nil {
		t.Errorf("Delete of a directory: got %v, want nil (no object there)", err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "packs", "00", "real")); err != nil {
		t.Errorf("Delete of a directory removed its contents: %v", err)
	}
}

func TestNoTempFilesLeft(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{SkipSweep: true})
	defer s.Close()
	for i := range 5 {
		if err := s.Put(ctx, "a/b", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		_ = s.PutIfAbsent(ctx, "a/c", []byte{byte(i)}) // ErrExists after the first
	}
	if err := s.Put(ctx, "a/b/c", nil); err == nil {
		t.Errorf("Put below an object: got nil error, want a name conflict")
	}
	if err := s.Put(ctx, "a", nil); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Put over a directory: got %v, want an error that names the conflict", err)
	}
	if err := s.PutIfAbsent(ctx, "a", nil); err == nil || errors.Is(err, blob.ErrExists) {
		t.Errorf("PutIfAbsent over a directory: got %v, want a name conflict, not ErrExists", err)
	}
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tempPrefix) {
			t.Errorf("temp file left behind: %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSweep(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clock.NewFake(now)
	s := newStore(t, Options{SkipSweep: true, Clock: clk, TempMaxAge: 10 * time.Minute})
	defer s.Close()
	if err := s.Put(ctx, "d/keep", []byte("object")); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		path string
		age  time.Duration
		gone bool
	}{
		{tempPrefix + "old", time.Hour, true},
		{"d/" + tempPrefix + "old", 11 * time.Minute, true},
		{"d/" + tempPrefix + "fresh", 9 * time.Minute, false},
		{"d/old-but-not-temp", time.Hour, false},
	}
	for _, f := range files {
		full := filepath.Join(s.root, filepath.FromSlash(f.path))
		if err := os.WriteFile(full, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		mt := now.Add(-f.age)
		if err := os.Chtimes(full, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if n != 2 {
		t.Errorf("Sweep: got %d removed, want 2", n)
	}
	for _, f := range files {
		_, err := os.Stat(filepath.Join(s.root, filepath.FromSlash(f.path)))
		if gone := errors.Is(err, fs.ErrNotExist); gone != f.gone {
			t.Errorf("%s (age %v) after Sweep: got removed=%v, want %v", f.path, f.age, gone, f.gone)
		}
	}
	if _, err := s.Stat(ctx, "d/keep"); err != nil {
		t.Errorf("object after Sweep: %v", err)
	}
}

// TestSweepOnOpen checks that New removes stale temp files in the
// background.
func TestSweepOnOpen(t *testing.T) {
	root := t.TempDir()
	stale := filepath.Join(root, tempPrefix+"x")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := os.Stat(stale)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stale temp file 5 s after New: got %v, want it removed", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTranslate(t *testing.T) {
	pe := func(e syscall.Errno) error { return &fs.PathError{Op: "open", Path: "/r/x", Err: e} }
	tests := []struct {
		op       string
		err      error
		sentinel error  // want errors.Is(got, sentinel), or nil for none
		text     string // want this in the message
	}{
		{"get", pe(syscall.ENOENT), blob.ErrNotFound, ""},
		{"stat", pe(syscall.ENOTDIR), blob.ErrNotFound, ""},
		{"put", pe(syscall.ENOSPC), blob.ErrNoSpace, ""},
		{"put", pe(syscall.EDQUOT), blob.ErrNoSpace, ""},
		{"put-if-absent", pe(syscall.EEXIST), blob.ErrExists, ""},
		{"put", pe(syscall.ENOTDIR), nil, "not a directory"},
		{"put", pe(syscall.ETIMEDOUT), blob.ErrUnavailable, ""},
		{"get", pe(syscall.EMFILE), blob.ErrUnavailable, ""},
		{"put", pe(syscall.EACCES), nil, "permission denied"},
		{"put", pe(syscall.EPERM), nil, "permission denied"},
		{"put", pe(syscall.EROFS), nil, "read-only"},
		{"read", pe(syscall.EIO), nil, "I/O error"},
		{"get", fs.ErrNotExist, blob.ErrNotFound, ""},
		{"put", errors.New("odd"), nil, "odd"},
	}
	sentinels := []error{blob.ErrNotFound, blob.ErrExists, blob.ErrNoSpace, blob.ErrUnavailable, blob.ErrInvalidName}
	for _, tt := range tests {
		got := translate(tt.op, "x", tt.err)
		if !errors.Is(got, tt.err) {
			t.Errorf("translate(%s, %v) = %v, want the original error kept in the chain", tt.op, tt.err, got)
		}
		for _, s := range sentinels {
			if is, want := errors.Is(got, s), s == tt.sentinel; is != want {
				t.Errorf("translate(%s, %v) = %v: errors.Is(%v) = %v, want %v", tt.op, tt.err, got, s, is, want)
			}
		}
		if !strings.Contains(got.Error(), tt.text) || !strings.Contains(got.Error(), fmt.Sprintf("%s %q", tt.op, "x")) {
			t.Errorf("translate(%s, %v) = %q, want a message with %q and the op and name", tt.op, tt.err, got, tt.text)
		}
	}
	if translate("get", "x", nil) != nil {
		t.Errorf("translate(nil) != nil")
	}
}

// TestReadOnlyRoot checks the message for a store the process may not
// write to. Root ignores permissions, so it is skipped when run as root.
func TestReadOnlyRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permissions are not enforced")
	}
	s := newStore(t, Options{})
	defer s.Close()
	if err := os.Chmod(s.root, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(s.root, 0o700)
	err := s.Put(context.Background(), "d/x", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Put into a read-only root: got %v, want a permission error", err)
	}
}

func BenchmarkStore(b *testing.B) {
	blobtest.Benchmark(b, func(b *testing.B) blob.Store {
		s, err := New(context.Background(), Options{Root: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

// PrepareDirs creates the directories of the prefixes; objects then land
// in them, and a bad prefix is refused before anything is created.
func TestPrepareDirs(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := New(ctx, Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := blob.PrepareDirs(ctx, s, []string{"packs/00", "packs/ff", "index"}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"packs/00", "packs/ff", "index"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v, want a directory", d, err)
		}
	}
	if err := s.Put(ctx, "packs/00/abc", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := blob.PrepareDirs(ctx, s, []string{"../escape"}); err == nil {
		t.Error("PrepareDirs of an invalid prefix: no error")
	}
	if _, err := os.Stat(filepath.Join(root, "..", "escape")); err == nil {
		t.Error("an invalid prefix created a directory")
	}
}

// TestWriteDirect checks the O_DIRECT path on its own: the aligned prefix
// of an aligned buffer is written directly, an unaligned buffer is left to
// the page cache, and the file holds exactly the data either way.
func TestWriteDirect(t *testing.T) {
	s := newStore(t, Options{})
	data := blobtest.Data(11, 1<<20+4096+123)
	buf := alignedBuf(len(data) + 1)
	copy(buf, data)
	for _, tc := range []struct {
		name    string
		data    []byte
		aligned bool
	}{
		{"aligned", buf[:len(data)], true},
		{"unaligned", buf[1 : len(data)+1], false},
	} {
		copy(tc.data, data)
		f, err := os.CreateTemp(s.Location(), "direct")
		if err != nil {
			t.Fatal(err)
		}
		n, err := writeDirect(f, tc.data)
		if err != nil {
			t.Fatalf("%s: writeDirect: %v", tc.name, err)
		}
		if tc.aligned && n == 0 {
			t.Skipf("the file system of %s refuses O_DIRECT", s.Location())
		}
		want := 0
		if tc.aligned {
			want = len(data) &^ (directAlign - 1)
		}
		if n != want {
			t.Errorf("%s: writeDirect wrote %d bytes, want %d", tc.name, n, want)
		}
		if err := s.writeData(f, tc.data[n:], false); err != nil {
			t.Fatalf("%s: the rest: %v", tc.name, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(data) {
			t.Errorf("%s: the file differs from the data (%d bytes, want %d)", tc.name, len(got), len(data))
		}
	}
}

// alignedBuf returns n bytes whose address is a multiple of directAlign.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	off := (directAlign - int(uintptr(unsafe.Pointer(&b[0]))%directAlign)) % directAlign
	return b[off : off+n : off+n]
}

// TestPruneDirs checks that pruning a prefix removes its empty directories
// and the prefix's own, keeps any directory that still holds an object and
// the prefix's parents, and never removes the root.
func TestPruneDirs(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, Options{NoSync: true})
	for _, n := range []string{"v/1/packs/aa/p1", "v/1/packs/bb/p2", "v/1/keys/k", "v/2/config", "w/x"} {
		if err := s.Put(ctx, n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PrepareDirs(ctx, []string{"v/1/packs/cc"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"v/1/packs/aa/p1", "v/1/packs/bb/p2", "v/1/keys/k"} {
		if err := s.Delete(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PruneDirs(ctx, "v/1"); err != nil {
		t.Fatalf("PruneDirs: %v", err)
	}
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(s.Location(), rel))
		return err == nil
	}
	if exists("v/1") {
		t.Errorf("v/1 is still there after its objects were deleted and it was pruned")
	}
	if !exists("v") {
		t.Errorf("pruning v/1 removed its parent v")
	}
	if !exists("v/2/config") || !exists("w/x") {
		t.Errorf("objects outside the pruned prefix are gone")
	}
	// The whole store: w's object keeps w; v goes once v/2 is emptied.
	// Pruning a prefix that is already gone is not an error.
	if err := s.PruneDirs(ctx, "v/1"); err != nil {
		t.Errorf("PruneDirs of a missing prefix: %v", err)
	}
	if err := s.Delete(ctx, "v/2/config"); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneDirs(ctx, ""); err != nil {
		t.Fatalf("PruneDirs of the root: %v", err)
	}
	if exists("v") || !exists("w/x") || !exists("") {
		t.Errorf("after pruning the root: v %v (want gone), w/x %v, root %v", exists("v"), exists("w/x"), exists(""))
	}
	if err := s.PruneDirs(ctx, "../x"); err == nil {
		t.Errorf("PruneDirs of an invalid prefix: no error")
	}
}
