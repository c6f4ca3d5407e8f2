package tree

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func sampleTree() *Tree {
	var id1, id2 ID
	id1[0], id2[31] = 1, 2
	return &Tree{Nodes: []Node{
		{Name: "-dash", Type: File, Mode: 0o644, UID: 1000, GID: 1000, User: "u", Group: "g", Mtime: 1_600_000_000_123456789, Atime: -5, Ctime: 7, Size: 30,
			Dev: 2049, Inode: 12345, Links: 2, Xattrs: []Xattr{{"user.a", []byte{0, 1, 255}}, {"user.b", nil}},
			Content: []Extent{{ID: id1, Length: 10}, {Length: 15, Hole: true}, {ID: id2, Length: 5}}},
		{Name: "bad-\xff-utf8", Type: Symlink, Mode: 0o777, Target: "../x", Size: 4},
		{Name: "dir", Type: Dir, Mode: 0o4755, Subtree: id2},
		{Name: "empty", Type: File},
		{Name: "link", Type: Hardlink, Target: "a/-dash"},
		{Name: "日本", Type: File, Size: 1 << 40, Content: []Extent{{Length: 1 << 40, Hole: true}}},
	}}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   *Tree
	}{
		{"empty", &Tree{}},
		{"sample", sampleTree()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.tr)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(got.Nodes) == 0 && len(tc.tr.Nodes) == 0 {
				return
			}
			for i := range tc.tr.Nodes {
				w, g := tc.tr.Nodes[i], got.Nodes[i]
				for j := range w.Xattrs { // nil and empty values are equal
					if len(w.Xattrs[j].Value) == 0 {
						w.Xattrs[j].Value, g.Xattrs[j].Value = nil, nil
					}
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("node %d: got %+v want %+v", i, g, w)
				}
			}
			b2, _ := Encode(got)
			if string(b2) != string(b) {
				t.Errorf("re-encoding differs: got %d bytes want %d", len(b2), len(b))
			}
		})
	}
}

func TestRefs(t *testing.T) {
	b, _ := Encode(sampleTree())
	refs, err := Refs(b)
	if err != nil {
		t.Fatal(err)
	}
	var id1, id2 ID
	id1[0], id2[31] = 1, 2
	want := []Ref{{DataBlob, id1}, {DataBlob, id2}, {TreeBlob, id2}}
	// id2 appears as data first, then as a tree: both kinds are listed.
	got := map[Ref]bool{}
	for _, r := range refs {
		got[r] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("Refs: missing %v in %v", w, refs)
		}
	}
}

func TestInvalid(t *testing.T) {
	var id ID
	id[0] = 1
	for _, tc := range []struct {
		name string
		tr   Tree
	}{
		{"unsorted", Tree{Nodes: []Node{{Name: "b", Type: File}, {Name: "a", Type: File}}}},
		{"duplicate", Tree{Nodes: []Node{{Name: "a", Type: File}, {Name: "a", Type: File}}}},
		{"slash", Tree{Nodes: []Node{{Name: "a/b", Type: File}}}},
		{"dotdot", Tree{Nodes: []Node{{Name: "..", Type: File}}}},
		{"empty name", Tree{Nodes: []Node{{Name: "", Type: File}}}},
		{"nul", Tree{Nodes: []Node{{Name: "a\x00", Type: File}}}},
		{"size mismatch", Tree{Nodes: []Node{{Name: "a", Type: File, Size: 3, Content: []Extent{{ID: id, Length: 2}}}}}},
		{"dir without subtree", Tree{Nodes: []Node{{Name: "a", Type: Dir}}}},
		{"unknown type", Tree{Nodes: []Node{{Name: "a", Type: 9}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Encode(&tc.tr); !errors.Is(err, ErrFormat) {
				t.Errorf("Encode: got %v want ErrFormat", err)
			}
		})
	}
	// Every truncation of a valid blob fails cleanly, never panics.
	b, _ := Encode(sampleTree())
	for i := 0; i < len(b); i++ {
		if _, err := Decode(b[:i]); err == nil {
			t.Fatalf("Decode of %d/%d bytes: got nil error", i, len(b))
		}
	}
	// Flipped bytes never panic.
	for i := 0; i < len(b); i++ {
		c := append([]byte(nil), b...)
		c[i] ^= 0xff
		_, _ = Decode(c)
	}
}

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"a/b/c", []string{"a", "b", "c"}, true},
		{"a/", []string{"a"}, true},
		{"file", []string{"file"}, true},
		{"", nil, false},
		{"/etc/passwd", nil, false},
		{"a/../b", nil, false},
		{"..", nil, false},
		{"a//b", nil, false},
		{"./a", nil, false},
	} {
		got, err := SplitPath(tc.in)
		if (err == nil) != tc.ok || tc.ok && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitPath(%q): got %v, %v want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestLargeTreeSpeed(t *testing.T) {
	var id ID
	tr := &Tree{Nodes: make([]Node, 100_000)}
	for i := range tr.Nodes {
		id[0], id[1], id[2] = byte(i), byte(i>>8), byte(i>>16)
		tr.Nodes[i] = Node{Name: fmt.Sprintf("file-%07d.txt", i), Type: File, Mode: 0o644, UID: 1000, GID: 1000,
			User: "user", Group: "group", Mtime: int64(i) * 1e9, Atime: int64(i) * 1e9, Ctime: int64(i) * 1e9,
			Size: 4096, Dev: 2049, Inode: uint64(i + 1000), Links: 1, Content: []Extent{{ID: id, Length: 4096}}}
	}
	start := time.Now()
	b, err := Encode(tr)
	if err != nil {
		t.Fatal(err)
	}
	enc := time.Since(start)
	start = time.Now()
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	dec := time.Since(start)
	t.Logf("100k nodes: %d bytes (%.0f B/node), encode %v, decode %v", len(b), float64(len(b))/1e5, enc, dec)
	if len(got.Nodes) != len(tr.Nodes) {
		t.Fatalf("got %d nodes want %d", len(got.Nodes), len(tr.Nodes))
	}
	if enc > 2*time.Second || dec > 2*time.Second {
		t.Errorf("too slow: encode %v decode %v, want < 2s each", enc, dec)
	}
}
