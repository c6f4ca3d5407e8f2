package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/coffer/coffer/internal/repo/index"
	"github.com/coffer/coffer/internal/repo/pack"
)

// groupedBlobs returns n small text blobs, which a repository with default
// options seals in group records.
func groupedBlobs(seed uint64, n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, textData(seed+uint64(i), 1<<10+(i%50)*20))
	}
	return out
}

// Small blobs share group records: they load one by one, the repository is
// smaller than with every blob sealed alone, and a full check passes.
func TestGroupRecordsStoreSmallBlobsTogether(t *testing.T) {
	ctx := context.Background()
	blobs := groupedBlobs(1, 800) // ~1.2 MiB: two records
	size := map[bool]int64{}
	for _, grouped := range []bool{false, true} {
		opts := smallOpts()
		if !grouped {
			opts.GroupMax = -1
		}
		st := newMem()
		r := initRepo(t, st, opts)
		snap, refs := writeSnapshot(t, r, blobs, nil)
		records := map[[2]int64]int{}
		for _, ref := range refs {
			l, ok := r.Lookup(ref.Type, ref.ID)
			if !ok {
				t.Fatalf("blob %s not indexed", ref.ID.Short())
			}
			if (l.Group != 0) != grouped {
				t.Fatalf("grouped %v: blob at %+v", grouped, l)
			}
			records[[2]int64{int64(l.Pack[0]), l.Offset}]++
		}
		if grouped && len(records) > 3 {
			t.Errorf("800 small blobs in %d records, want about 2", len(records))
		}
		verifySnapshot(t, r, snap, blobs)
		for i, ref := range refs[:5] {
			raw, err := r.LoadBlobRaw(ctx, ref.Type, ref.ID)
			if err != nil {
				t.Fatal(err)
			}
			if plain, err := r.DecodeRaw(raw, nil); err != nil || !bytes.Equal(plain, blobs[i]) || raw.Length != int64(len(blobs[i])) {
				t.Fatalf("LoadBlobRaw of blob %d: err %v, equal %v, length %d", i, err, bytes.Equal(plain, blobs[i]), raw.Length)
			}
		}
		if c := mustCheck(t, r, true); !c.OK() {
			t.Fatalf("grouped %v: check: %v", grouped, c.Error())
		}
		size[grouped] = storedBytes(t, st)
		r.Close()

		// The index rebuilt from the packs' trailers alone finds the
		// same locations.
		r = openRepo(t, st, opts)
		if _, err := r.RebuildIndex(ctx, RebuildOptions{}); err != nil {
			t.Fatal(err)
		}
		verifySnapshot(t, r, snap, blobs)
		r.Close()
	}
	if size[true] >= size[false]*9/10 {
		t.Errorf("stored bytes: %d grouped, %d alone; want grouping to save at least 10%% on similar text", size[true], size[false])
	}
}

// A flipped byte in a group record damages every member: a load of each
// names it, check reports each (and nothing else), and the blobs of the
// other records still load.
func TestDamagedGroupRecordNamesEveryMember(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	r := initRepo(t, st, smallOpts())
	defer r.Close()
	blobs := groupedBlobs(10, 1000)
	_, refs := writeSnapshot(t, r, blobs, nil)
	first, _ := r.Lookup(DataBlob, refs[0].ID)
	members := map[ID]bool{}
	for _, ref := range refs {
		if l, _ := r.Lookup(DataBlob, ref.ID); l.Pack == first.Pack && l.Offset == first.Offset {
			members[ref.ID] = true
		}
	}
	if len(members) < 2 || len(members) == len(refs) {
		t.Fatalf("test needs a record of several members among others (%d of %d)", len(members), len(refs))
	}
	rewrite(t, st, pack.Name(first.Pack), func(b []byte) []byte { b[first.Offset+first.Length/2] ^= 1; return b })
	for i, ref := range refs {
		_, err := r.LoadBlob(ctx, DataBlob, ref.ID, nil)
		var ce *CorruptError
		switch {
		case members[ref.ID] && (!errors.As(err, &ce) || ce.Blob == nil || ce.Blob.ID != ref.ID || ce.Pack != first.Pack):
			t.Fatalf("load of damaged member %d: got %v, want a *CorruptError naming it and its pack", i, err)
		case !members[ref.ID] && err != nil:
			t.Fatalf("load of blob %d outside the damaged record: %v", i, err)
		}
	}
	c := mustCheck(t, r, true)
	named := map[ID]bool{}
	for _, p := range c.Problems {
		switch {
		case p.Blob != nil && !members[p.Blob.ID], p.Blob == nil && (p.Pack == nil || *p.Pack != first.Pack):
			t.Errorf("problem outside the damaged record: %v", p)
		case p.Kind == BlobCorrupt:
			named[p.Blob.ID] = true
		}
	}
	if len(named) != len(members) {
		t.Fatalf("check named %d damaged blobs, want the record's %d members", len(named), len(members))
	}
}

// GC repacks a pack whose group record is partly dead: the live members
// are saved again (grouped anew), the dead ones freed.
func TestGCRepacksPartlyDeadGroupRecord(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	opts := Options{PackSize: 1 << 20, Workers: 2}
	r := initRepo(t, st, opts)
	blobs := groupedBlobs(20, 300)
	snapAll, refs := writeSnapshot(t, r, blobs, nil)
	keep := blobs[:10]
	snapKeep, _ := writeSnapshot(t, r, keep, nil)
	if err := r.DeleteSnapshot(ctx, snapAll); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r = openRepo(t, st, opts)
	defer r.Close()
	before := storedBytes(t, st)
	rep := mustGC(t, r, gcOpts())
	if rep.PacksRepacked < 1 || rep.BlobsRepacked != int64(len(keep)) {
		t.Fatalf("GC: got %+v, want the data pack repacked with its %d live blobs", rep, len(keep))
	}
	if after := storedBytes(t, st); after > before/3 {
		t.Fatalf("stored bytes: got %d after repack, %d before", after, before)
	}
	verifySnapshot(t, r, snapKeep, keep)
	for _, ref := range refs[10:] {
		if r.HasBlob(DataBlob, ref.ID) {
			t.Fatalf("GC kept dead blob %s", ref.ID.Short())
		}
	}
	for _, ref := range refs[:10] {
		if l, _ := r.Lookup(DataBlob, ref.ID); l.Group == 0 {
			t.Fatalf("repacked blob %s sealed alone, want grouped anew", ref.ID.Short())
		}
	}
	if c := mustCheck(t, r, true); !c.OK() {
		t.Fatalf("check after repack: %v", c.Error())
	}
}

// A copy between repositories of one domain moves group members as
// plaintext and the destination groups them again.
func TestSaveBlobRawGroupsSmallPlaintext(t *testing.T) {
	ctx := context.Background()
	a := initRepo(t, newMem(), smallOpts())
	defer a.Close()
	b := initRepo(t, newMem(), smallOpts())
	defer b.Close()
	blobs := groupedBlobs(30, 20)
	for _, d := range blobs {
		if _, err := a.SaveBlob(ctx, DataBlob, a.Hash(d), d); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range blobs {
		raw, err := a.LoadBlobRaw(ctx, DataBlob, a.Hash(d))
		if err != nil {
			t.Fatal(err)
		}
		if raw.Compressed {
			t.Fatal("a group member's RawBlob is compressed, want its plaintext")
		}
		if _, err := b.SaveBlobRaw(ctx, DataBlob, b.Hash(d), raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range blobs {
		l, ok := b.Lookup(DataBlob, b.Hash(d))
		if !ok || l.Group == 0 {
			t.Fatalf("copied blob: location %+v (found %v), want a group member", l, ok)
		}
		if got, err := b.LoadBlob(ctx, DataBlob, b.Hash(d), nil); err != nil || !bytes.Equal(got, d) {
			t.Fatalf("copied blob: err %v, equal %v", err, bytes.Equal(got, d))
		}
	}
}

// Packs and index objects written before group records existed (trailer
// "CPK2", index object "CFIX0001", entries without the group field) are
// still read.
func TestVersion2EncodingsAreRead(t *testing.T) {
	aead, err := crypto.NewAEAD(make([]byte, crypto.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e := pack.Entry{Type: 1, ID: [32]byte{7}, Offset: pack.HeaderSize, Length: 100, RawLength: 300}
	plain := []byte("CPK2")
	plain = binary.LittleEndian.AppendUint32(plain, 1)
	plain = append(plain, e.Type)
	plain = append(plain, e.ID[:]...)
	for _, v := range []uint32{e.Offset, e.Length, e.RawLength} {
		plain = binary.LittleEndian.AppendUint32(plain, v)
	}
	sealed := aead.Seal(nil, plain, []byte("coffer pack trailer v2"))
	got, err := pack.OpenTrailer(aead, sealed, 10_000)
	if err != nil || len(got) != 1 || got[0] != e {
		t.Fatalf("version 2 trailer: got %+v, %v; want [%+v]", got, err, e)
	}

	obj := index.EncodeObject(&index.Object{Packs: []index.ObjectPack{{ID: [32]byte{9}, Size: 5000, Blobs: []pack.Entry{e}}}})
	// The same object in the version 1 encoding: old magic, no group field.
	v1 := append([]byte("CFIX0001"), obj[8:len(obj)-4]...)
	o, err := index.DecodeObject(v1)
	if err != nil || len(o.Packs) != 1 || len(o.Packs[0].Blobs) != 1 || o.Packs[0].Blobs[0] != e {
		t.Fatalf("version 1 index object: got %+v, %v", o, err)
	}
}

// Tiny blobs close a record at groupMembers members, so that a record's
// entries always fit in a pack.
func TestGroupRecordMembersAreBounded(t *testing.T) {
	ctx := context.Background()
	r := initRepo(t, newMem(), smallOpts())
	defer r.Close()
	var blobs [][]byte
	for i := range groupMembers + 100 {
		blobs = append(blobs, binary.LittleEndian.AppendUint64(nil, uint64(i)))
	}
	for _, d := range blobs {
		if _, err := r.SaveBlob(ctx, DataBlob, r.Hash(d), d); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	records := map[BlobLocation]int{}
	for _, d := range blobs {
		l, ok := r.Lookup(DataBlob, r.Hash(d))
		if !ok || l.Group == 0 {
			t.Fatalf("tiny blob: location %+v (found %v), want a group member", l, ok)
		}
		records[BlobLocation{Pack: l.Pack, Offset: l.Offset}]++
		if got, err := r.LoadBlob(ctx, DataBlob, r.Hash(d), nil); err != nil || !bytes.Equal(got, d) {
			t.Fatalf("tiny blob: err %v, equal %v", err, bytes.Equal(got, d))
		}
	}
	for rec, n := range records {
		if n > groupMembers {
			t.Fatalf("record at %d holds %d members, more than %d", rec.Offset, n, groupMembers)
		}
	}
	if len(records) < 2 {
		t.Fatalf("%d tiny blobs in %d record(s), want the record closed at %d members", len(blobs), len(records), groupMembers)
	}
}

// A record whose only live member is tiny (its proportional share of the
// record's bytes rounds to 0) keeps its pack: the pack is repacked, never
// deleted as dead.
func TestGCKeepsTinyLiveGroupMember(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	opts := Options{PackSize: 1 << 20, Workers: 2}
	r := initRepo(t, st, opts)
	tiny := []byte{42}
	blobs := append(groupedBlobs(40, 600), tiny)
	snapAll, _ := writeSnapshot(t, r, blobs, nil)
	snapTiny, _ := writeSnapshot(t, r, [][]byte{tiny}, nil)
	if l, ok := r.Lookup(DataBlob, r.Hash(tiny)); !ok || l.Group == 0 {
		t.Fatalf("tiny blob at %+v (found %v), want a group member", l, ok)
	}
	if err := r.DeleteSnapshot(ctx, snapAll); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r = openRepo(t, st, opts)
	defer r.Close()
	mustGC(t, r, gcOpts())
	verifySnapshot(t, r, snapTiny, [][]byte{tiny})
	if c := mustCheck(t, r, true); !c.OK() {
		t.Fatalf("check after GC: %v", c.Error())
	}
}
