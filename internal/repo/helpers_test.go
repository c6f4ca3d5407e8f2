package repo

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/mem"
)

// The tests' tree format: a tree blob is a sequence of refs, each one type
// byte followed by the 32-byte ID.
func encodeTree(refs []Ref) []byte {
	var b []byte
	for _, r := range refs {
		b = append(b, byte(r.Type))
		b = append(b, r.ID[:]...)
	}
	return b
}

func treeRefs(tree []byte) ([]Ref, error) {
	if len(tree)%33 != 0 {
		return nil, fmt.Errorf("bad test tree of %d bytes", len(tree))
	}
	var out []Ref
	for i := 0; i < len(tree); i += 33 {
		var id ID
		copy(id[:], tree[i+1:i+33])
		out = append(out, Ref{BlobType(tree[i]), id})
	}
	return out, nil
}

func testKEK(t testing.TB, name string) KEK {
	t.Helper()
	var key [32]byte
	copy(key[:], name)
	k, err := NewKEK(name, key[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func smallOpts() Options {
	return Options{PackSize: 256 << 10, Workers: 2}
}

func initRepo(t testing.TB, st blob.Store, opts Options) *Repository {
	t.Helper()
	r, err := Init(context.Background(), st, testKEK(t, "k1"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func openRepo(t testing.TB, st blob.Store, opts Options) *Repository {
	t.Helper()
	r, err := Open(context.Background(), st, testKEK(t, "k1"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newMem() blob.Store { return mem.New("test") }

// randData returns n pseudo-random bytes from seed.
func randData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// textData returns n bytes of compressible text.
func textData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 9))
	words := []string{"coffer ", "backup ", "vault ", "snapshot ", "pack ", "index ", "restore ", "copy\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.Bytes()[:n]
}

// writeSnapshot saves blobs (as data), a tree over them, and a snapshot.
func writeSnapshot(t testing.TB, r *Repository, blobs [][]byte, meta map[string]string) (ID, []Ref) {
	t.Helper()
	ctx := context.Background()
	var refs []Ref
	for _, b := range blobs {
		id := r.Hash(b)
		if _, err := r.SaveBlob(ctx, DataBlob, id, b); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, Ref{DataBlob, id})
	}
	// The tree goes into a pack of its own, so tests can damage data packs
	// without damaging the tree.
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	tree := encodeTree(refs)
	root := r.Hash(tree)
	if _, err := r.SaveBlob(ctx, TreeBlob, root, tree); err != nil {
		t.Fatal(err)
	}
	sid, err := r.SaveSnapshot(ctx, &Snapshot{Kind: "tree", Root: root, Hostname: "test", Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	return sid, refs
}

// verifySnapshot checks that every blob of a test snapshot loads and
// matches want (by index).
func verifySnapshot(t testing.TB, r *Repository, sid ID, want [][]byte) {
	t.Helper()
	ctx := context.Background()
	sn, err := r.LoadSnapshot(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := r.LoadBlob(ctx, TreeBlob, sn.Root, nil)
	if err != nil {
		t.Fatalf("load root of %s: %v", sid.Short(), err)
	}
	refs, err := treeRefs(tree)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != len(want) {
		t.Fatalf("snapshot %s: got %d refs, want %d", sid.Short(), len(refs), len(want))
	}
	for i, ref := range refs {
		got, err := r.LoadBlob(ctx, ref.Type, ref.ID, nil)
		if err != nil {
			t.Fatalf("snapshot %s blob %d: %v", sid.Short(), i, err)
		}
		if !bytes.Equal(got, want[i]) {
			t.Fatalf("snapshot %s blob %d: got %d bytes differing from the %d saved", sid.Short(), i, len(got), len(want[i]))
		}
	}
}

func mustCheck(t testing.TB, r *Repository, readData bool) *CheckReport {
	t.Helper()
	rep, err := r.Check(context.Background(), CheckOptions{ReadData: readData, TreeRefs: treeRefs})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func countObjects(t testing.TB, st blob.Store, prefix string) int {
	t.Helper()
	n := 0
	if err := st.List(context.Background(), prefix, func(blob.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
