package bench

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// generatePair generates the 4 MiB data set of seed 7 twice, in dir/a and
// dir/b.
func generatePair(t *testing.T, dir string) (a, b *Dataset) {
	t.Helper()
	var err error
	if a, err = Generate(filepath.Join(dir, "a"), 7, 4<<20); err != nil {
		t.Fatal(err)
	}
	if b, err = Generate(filepath.Join(dir, "b"), 7, 4<<20); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestGenerateIsReproducible(t *testing.T) {
	dir := t.TempDir()
	a, b := generatePair(t, dir)
	da, na, _ := ContentDigest(a.Dir)
	db, nb, _ := ContentDigest(b.Dir)
	if da != db || na != nb {
		t.Errorf("same seed: got digests %s/%s (%d/%d files) want equal", da, db, na, nb)
	}
	if a.Bytes < 3<<20 || a.Bytes > 5<<20 || a.Files < 50 {
		t.Errorf("size: got %d bytes in %d files, want about 4 MiB in many files", a.Bytes, a.Files)
	}
	c, err := Generate(filepath.Join(dir, "c"), 8, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	if dc, _, _ := ContentDigest(c.Dir); dc == da {
		t.Errorf("different seeds gave the same data")
	}
	n, err := Mutate(a.Dir, 7, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if n < a.Bytes/40 || n > a.Bytes/10 {
		t.Errorf("Mutate wrote %d bytes of %d, want about 5%%", n, a.Bytes)
	}
	if d2, _, _ := ContentDigest(a.Dir); d2 == da {
		t.Errorf("Mutate changed nothing")
	}
}

func TestParseAndRun(t *testing.T) {
	m := Run(t.Context(), "true", "step", Command{Path: "/bin/true"}, false)
	if m.Err != nil || m.Wall <= 0 {
		t.Errorf("Run(/bin/true): %+v", m)
	}
	m = Run(t.Context(), "false", "step", Command{Path: "/bin/false"}, false)
	if m.Err == nil {
		t.Errorf("Run(/bin/false): got nil error")
	}
}

func TestMutateFiles(t *testing.T) {
	a, b := generatePair(t, t.TempDir())
	before, files, _ := ContentDigest(a.Dir)
	na, err := MutateFiles(a.Dir, 3, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := MutateFiles(b.Dir, 3, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	if na < a.Bytes/25 || na > a.Bytes/20 {
		t.Errorf("MutateFiles wrote %d bytes of %d, want 4–5%%", na, a.Bytes)
	}
	da, fa, _ := ContentDigest(a.Dir)
	db, _, _ := ContentDigest(b.Dir)
	if da == before || fa != files {
		t.Errorf("MutateFiles: digest changed %v, files %d → %d (want changed, same count)", da != before, files, fa)
	}
	if na != nb || da != db {
		t.Errorf("same seed: wrote %d and %d bytes, digests equal %v; want reproducible", na, nb, da == db)
	}
}

// TestStampChanged checks that Changed finds the files a change wrote or
// added, and their sizes, and nothing else.
func TestStampChanged(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"a": "aaaa", "b": "bb", "sub/c": "c"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Stamp(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, b, err := s.Changed(dir); n != 0 || b != 0 || err != nil {
		t.Fatalf("unchanged tree: Changed = %d files, %d bytes, %v; want none", n, b, err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "a"), old, old); err != nil { // a rewrite in place
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub/new"), []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "b")); err != nil {
		t.Fatal(err)
	}
	if n, b, err := s.Changed(dir); n != 2 || b != 4+5 || err != nil {
		t.Errorf("Changed = %d files, %d bytes, %v; want 2 files (a touched, sub/new added), 9 bytes", n, b, err)
	}
}
