package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/blob"
	"github.com/coffer/coffer/internal/blob/fault"
)

func TestInitOpenKeys(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	if _, err := Open(ctx, st, testKEK(t, "k1"), Options{}); !errors.Is(err, ErrNotRepository) {
		t.Fatalf("open empty store: got %v, want ErrNotRepository", err)
	}
	r := initRepo(t, st, Options{})
	id := r.RepoID()
	r.Close()
	if _, err := Init(ctx, st, testKEK(t, "k1"), Options{}); !errors.Is(err, ErrRepositoryExists) {
		t.Fatalf("second init: got %v, want ErrRepositoryExists", err)
	}
	_, err := Open(ctx, st, testKEK(t, "other"), Options{})
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: got %v, want ErrWrongKey", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"other"`) || !strings.Contains(msg, `"k1"`) {
		t.Fatalf("wrong key message %q should name both keys", msg)
	}
	r2 := openRepo(t, st, Options{})
	defer r2.Close()
	if r2.RepoID() != id || len(id) != 32 {
		t.Fatalf("got repo ID %q, want the stable %q", r2.RepoID(), id)
	}
	// A second key opens it too, after AddKey (idempotent).
	for range 2 {
		if err := r2.AddKey(ctx, testKEK(t, "other")); err != nil {
			t.Fatal(err)
		}
	}
	if n := countObjects(t, st, "keys/"); n != 2 {
		t.Fatalf("got %d key objects, want 2", n)
	}
	r3, err := Open(ctx, st, testKEK(t, "other"), Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open with the added key: %v", err)
	}
	if r3.RepoID() != id {
		t.Fatal("added key opens another repository")
	}
	r3.Close()
	// All metadata is sealed: the config holds no readable JSON.
	cfg, _ := blob.ReadAll(ctx, st, "config")
	if bytes.Contains(cfg, []byte("repo_id")) {
		t.Fatal("config stored in plaintext")
	}
}

func TestKeystore(t *testing.T) {
	dir := t.TempDir()
	ks, err := OpenKeystore(dir)
	if err != nil {
		t.Fatal(err)
	}
	name := "arn:aws:kms:us-east-1:123456789012:key/abc"
	if _, err := ks.Get(name); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("missing key: got %v, want ErrKeyNotFound", err)
	}
	var wg sync.WaitGroup
	keys := make([]KEK, 8)
	for i := range keys {
		wg.Go(func() {
			k, err := ks.GetOrCreate(name)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if k.key != keys[0].key || k.Name() != name {
			t.Fatal("concurrent GetOrCreate returned different keys")
		}
	}
	got, err := ks.Get(name)
	if err != nil || got.key != keys[0].key {
		t.Fatalf("Get after create: got %v", err)
	}
	if s := got.String(); strings.Contains(s, string(got.key[:4])) || !strings.Contains(s, "redacted") {
		t.Fatalf("String() = %q leaks or does not redact", s)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Fatalf("key file %s has mode %v, want 0600", e.Name(), info.Mode())
		}
	}
	names, _ := ks.List()
	if len(names) != 1 || names[0] != name {
		t.Fatalf("List: got %v", names)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, cache := range []bool{false, true} {
		t.Run(map[bool]string{false: "no cache", true: "cache"}[cache], func(t *testing.T) {
			st := newMem()
			opts := smallOpts()
			if cache {
				opts.CacheDir = t.TempDir()
			}
			r := initRepo(t, st, opts)
			blobs := [][]byte{{}, []byte("x"), textData(1, 100), textData(2, 64<<10), randData(3, 1<<20), randData(4, 300<<10), textData(5, 2<<20)}
			sid, refs := writeSnapshot(t, r, blobs, nil)
			verifySnapshot(t, r, sid, blobs)
			for _, ref := range refs {
				known, err := r.SaveBlob(ctx, ref.Type, ref.ID, []byte("ignored: known"))
				if err != nil || !known {
					t.Fatalf("re-save %s: got known=%v err=%v, want known", ref, known, err)
				}
				if !r.HasBlob(ref.Type, ref.ID) {
					t.Fatalf("HasBlob %s: got false", ref)
				}
				if r.HasBlob(TreeBlob, ref.ID) {
					t.Fatalf("HasBlob with the other type: got true")
				}
			}
			if n := countObjects(t, st, "packs/"); n < 3 {
				t.Fatalf("got %d packs, want several (pack size 256 KiB)", n)
			}
			r.Close()
			r = openRepo(t, st, opts)
			defer r.Close()
			verifySnapshot(t, r, sid, blobs)
			// ReadPackBlobs delivers every blob of a pack in one read.
			loc, ok := r.Lookup(DataBlob, refs[3].ID)
			if !ok {
				t.Fatal("Lookup failed")
			}
			var inPack []BlobLocation
			for _, ref := range refs {
				if l, ok := r.Lookup(ref.Type, ref.ID); ok && l.Pack == loc.Pack {
					inPack = append(inPack, l)
				}
			}
			seen := 0
			err := r.ReadPackBlobs(ctx, loc.Pack, inPack, func(l BlobLocation, b []byte) error {
				seen++
				if r.Hash(b) != l.ID {
					t.Errorf("ReadPackBlobs: blob %s content mismatch", l.ID.Short())
				}
				return nil
			})
			if err != nil || seen != len(inPack) {
				t.Fatalf("ReadPackBlobs: got %d blobs, err %v, want %d", seen, err, len(inPack))
			}
			if _, err := r.LoadBlob(ctx, DataBlob, ID{1}, nil); !errors.Is(err, ErrBlobNotFound) {
				t.Fatalf("missing blob: got %v, want ErrBlobNotFound", err)
			}
			rep := mustCheck(t, r, true)
			if !rep.OK() {
				t.Fatalf("check: %v", rep.Error())
			}
			s, err := r.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.Snapshots != 1 || s.DataBlobs != int64(len(blobs)) || s.TreeBlobs != 1 || s.StoredBytes == 0 {
				t.Fatalf("stats: got %+v", s)
			}
		})
	}
}

func TestCompressionAndRaw(t *testing.T) {
	ctx := context.Background()
	a := initRepo(t, newMem(), smallOpts())
	defer a.Close()
	b := initRepo(t, newMem(), smallOpts())
	defer b.Close()
	text, random := textData(1, 200<<10), randData(2, 200<<10)
	for _, d := range [][]byte{text, random} {
		if _, err := a.SaveBlob(ctx, DataBlob, a.Hash(d), d); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rt, err := a.LoadBlobRaw(ctx, DataBlob, a.Hash(text))
	if err != nil || !rt.Compressed || len(rt.Data) > len(text)/2 {
		t.Fatalf("text: got compressed=%v %d bytes, err %v; want compressed well", rt.Compressed, len(rt.Data), err)
	}
	rr, err := a.LoadBlobRaw(ctx, DataBlob, a.Hash(random))
	if err != nil || rr.Compressed {
		t.Fatalf("random: got compressed=%v, err %v; want stored", rr.Compressed, err)
	}
	// Copy raw into b: b's IDs differ from a's.
	if a.Hash(text) == b.Hash(text) {
		t.Fatal("two repositories gave the same ID to the same data")
	}
	if _, err := b.SaveBlobRaw(ctx, DataBlob, a.Hash(text), rt); err == nil {
		t.Fatal("SaveBlobRaw with the source ID: got nil error, want a hash mismatch")
	}
	if known, err := b.SaveBlobRaw(ctx, DataBlob, b.Hash(text), rt); err != nil || known {
		t.Fatalf("SaveBlobRaw: got known=%v err=%v", known, err)
	}
	rr.Verified = true
	if _, err := b.SaveBlobRaw(ctx, DataBlob, b.Hash(random), rr); err != nil {
		t.Fatal(err)
	}
	for _, d := range [][]byte{text, random} {
		got, err := b.LoadBlob(ctx, DataBlob, b.Hash(d), nil)
		if err != nil || !bytes.Equal(got, d) {
			t.Fatalf("copied blob: err %v, equal %v", err, bytes.Equal(got, d))
		}
	}
}

func TestSnapshots(t *testing.T) {
	ctx := context.Background()
	r := initRepo(t, newMem(), smallOpts())
	defer r.Close()
	s1, _ := writeSnapshot(t, r, [][]byte{[]byte("a")}, map[string]string{"arn": "x"})
	s2, _ := writeSnapshot(t, r, [][]byte{[]byte("b")}, nil)
	got := map[ID]*Snapshot{}
	if err := r.ListSnapshots(ctx, func(id ID, sn *Snapshot) error { got[id] = sn; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[s1].Meta["arn"] != "x" || got[s2].Hostname != "test" {
		t.Fatalf("ListSnapshots: got %v", got)
	}
	if err := r.DeleteSnapshot(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteSnapshot(ctx, s1); !errors.Is(err, ErrSnapshotNotFound) {
		t.Fatalf("delete twice: got %v, want ErrSnapshotNotFound", err)
	}
	if _, err := r.LoadSnapshot(ctx, s1); !errors.Is(err, ErrSnapshotNotFound) {
		t.Fatalf("load deleted: got %v, want ErrSnapshotNotFound", err)
	}
	if _, err := r.SaveSnapshot(ctx, &Snapshot{Kind: "tree", Root: ID{9}}); !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("snapshot of an unsaved root: got %v, want ErrBlobNotFound", err)
	}
	if _, err := r.SaveSnapshot(ctx, &Snapshot{Kind: "weird"}); err == nil {
		t.Fatal("bad kind: got nil error")
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	r := initRepo(t, st, smallOpts())
	blobs := [][]byte{textData(1, 1000)}
	sid, _ := writeSnapshot(t, r, blobs, nil)
	r.Close()
	ro, err := Open(ctx, st, testKEK(t, "k1"), Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	verifySnapshot(t, ro, sid, blobs)
	if _, err := ro.SaveBlob(ctx, DataBlob, ro.Hash([]byte("z")), []byte("z")); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write on read-only: got %v, want ErrReadOnly", err)
	}
	if n := countObjects(t, st, "sessions/"); n != 0 {
		t.Fatalf("read-only open left %d session markers", n)
	}
}

func TestCacheReuse(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	opts := smallOpts()
	opts.CacheDir = t.TempDir()
	r := initRepo(t, st, opts)
	var all [][]byte
	for i := 0; i < 5; i++ {
		b := [][]byte{randData(uint64(i), 50<<10)}
		writeSnapshot(t, r, b, nil)
		all = append(all, b...)
	}
	r.Close()
	// Another writer (no shared cache) adds a snapshot.
	w := openRepo(t, st, smallOpts())
	extra := [][]byte{randData(99, 10<<10)}
	sid, _ := writeSnapshot(t, w, extra, nil)
	w.Close()
	r = openRepo(t, st, opts)
	defer r.Close()
	for _, b := range append(all, extra...) {
		if !r.HasBlob(DataBlob, r.Hash(b)) {
			t.Fatal("blob missing after reopening with cache")
		}
	}
	verifySnapshot(t, r, sid, extra)
	// Damage the cache: it is rebuilt, not trusted.
	r.Close()
	segs, _ := filepath.Glob(filepath.Join(opts.CacheDir, "*", "index", "seg-*.idx"))
	if len(segs) == 0 {
		t.Fatal("no cache segments written")
	}
	for _, s := range segs {
		data, _ := os.ReadFile(s)
		data[len(data)/2] ^= 0xff
		os.WriteFile(s, data, 0o600)
	}
	r = openRepo(t, st, opts)
	for _, b := range all {
		if !r.HasBlob(DataBlob, r.Hash(b)) {
			t.Fatal("blob missing after cache damage")
		}
	}
	_ = ctx
}

// TestCancelledSaveNeverReportedKnown: a SaveBlob abandoned (cancelled while
// waiting for the pipeline) must not make a concurrent SaveBlob of the same
// blob report it as stored.
func TestCancelledSaveNeverReportedKnown(t *testing.T) {
	f := fault.New(newMem(), fault.Options{})
	f.AddRule(fault.Rule{Ops: fault.OpPut, Prefix: "packs/", Kind: fault.Pass, Latency: 30 * time.Millisecond})
	r := initRepo(t, f, Options{PackSize: 64 << 10, Workers: 1, Uploads: 1})
	defer r.Close()
	var blobs [][]byte
	for i := 0; i < 40; i++ {
		blobs = append(blobs, randData(uint64(i), 20<<10))
	}
	ctxA, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, b := range blobs {
			r.SaveBlob(ctxA, DataBlob, r.Hash(b), b)
		}
	})
	wg.Go(func() {
		time.Sleep(40 * time.Millisecond)
		cancel()
	})
	wg.Go(func() {
		for _, b := range blobs {
			if _, err := r.SaveBlob(context.Background(), DataBlob, r.Hash(b), b); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	ctx := context.Background()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i, b := range blobs {
		got, err := r.LoadBlob(ctx, DataBlob, r.Hash(b), nil)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("blob %d: %v", i, err)
		}
	}
}

// TestRekey: AddKey with a new KEK, RemoveKey of the old one; the old KEK
// no longer opens the repository, the last key cannot be removed.
func TestRekey(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	r := initRepo(t, st, Options{}) // KEK "k1"
	if _, err := r.SaveBlob(ctx, DataBlob, r.Hash([]byte("payload")), []byte("payload")); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	newKEK := testKEK(t, "k2")
	if err := r.AddKey(ctx, newKEK); err != nil {
		t.Fatal(err)
	}
	keys, err := r.Keys(ctx)
	if err != nil || len(keys) != 2 || keys[0].KEKName != "k1" || keys[1].KEKName != "k2" {
		t.Fatalf("Keys after AddKey: %+v %v, want k1 then k2", keys, err)
	}
	if ids, err := StoredRepoIDs(ctx, st); err != nil || len(ids) != 1 || ids[0] != r.RepoID() {
		t.Errorf("StoredRepoIDs: %v %v, want [%s]", ids, err, r.RepoID())
	}
	if n, err := r.RemoveKey(ctx, "k1"); err != nil || n != 1 {
		t.Fatalf("RemoveKey(k1): %d, %v", n, err)
	}
	if n, err := r.RemoveKey(ctx, "nonesuch"); err != nil || n != 0 {
		t.Errorf("RemoveKey of a KEK that wraps nothing: %d, %v; want 0, nil", n, err)
	}
	if _, err := r.RemoveKey(ctx, "k2"); !errors.Is(err, ErrLastKey) {
		t.Errorf("RemoveKey of the last key: got %v, want ErrLastKey", err)
	}
	r.Close()
	if _, err := Open(ctx, st, testKEK(t, "k1"), Options{ReadOnly: true}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("open with the removed KEK: got %v, want ErrWrongKey", err)
	}
	r2, err := Open(ctx, st, newKEK, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("open with the new KEK: %v", err)
	}
	defer r2.Close()
	got, err := r2.LoadBlob(ctx, DataBlob, r2.Hash([]byte("payload")), nil)
	if err != nil || string(got) != "payload" {
		t.Errorf("data through the new KEK: %q %v", got, err)
	}
	if _, err := r2.RemoveKey(ctx, "k2"); !errors.Is(err, ErrReadOnly) {
		t.Errorf("RemoveKey read-only: got %v, want ErrReadOnly", err)
	}
}

// TestTreesInTheirOwnPacks: tree blobs saved among data blobs land in packs
// of their own.
func TestTreesInTheirOwnPacks(t *testing.T) {
	ctx := context.Background()
	r := initRepo(t, newMem(), Options{PackSize: 256 << 10})
	defer r.Close()
	var data, trees []ID
	for i := range 200 {
		b := make([]byte, 8<<10)
		rand.Read(b) // incompressible

		id := r.Hash(b)
		if _, err := r.SaveBlob(ctx, DataBlob, id, b); err != nil {
			t.Fatal(err)
		}
		data = append(data, id)
		tr := []byte(fmt.Sprintf(`{"tree":%d}`, i))
		tid := r.Hash(tr)
		if _, err := r.SaveBlob(ctx, TreeBlob, tid, tr); err != nil {
			t.Fatal(err)
		}
		trees = append(trees, tid)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	packsOf := func(typ BlobType, ids []ID) map[ID]bool {
		m := map[ID]bool{}
		for _, id := range ids {
			l, ok := r.Lookup(typ, id)
			if !ok {
				t.Fatalf("%s not indexed", Ref{typ, id})
			}
			m[l.Pack] = true
		}
		return m
	}
	dp, tp := packsOf(DataBlob, data), packsOf(TreeBlob, trees)
	if len(tp) != 1 {
		t.Errorf("tree blobs in %d packs, want 1", len(tp))
	}
	if len(dp) < 2 {
		t.Errorf("data blobs in %d packs, want several (256 KiB packs)", len(dp))
	}
	for p := range tp {
		if dp[p] {
			t.Errorf("pack %s holds both trees and data", p.Short())
		}
	}
}

// A repository of another format version is refused with a message naming
// both versions, not misread.
func TestOtherFormatVersionRefused(t *testing.T) {
	st := newMem()
	r := initRepo(t, st, smallOpts())
	cfg := r.cfg
	cfg.Version = 1
	plain, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(context.Background(), configName, r.sealMeta("config", plain)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	_, err = Open(context.Background(), st, testKEK(t, "k1"), smallOpts())
	if !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), "version 1") || !strings.Contains(err.Error(), fmt.Sprintf("versions %d to %d", minFormatVersion, formatVersion)) {
		t.Fatalf("open of a version 1 repository: got %v, want ErrUnsupportedFormat naming both versions", err)
	}
}
