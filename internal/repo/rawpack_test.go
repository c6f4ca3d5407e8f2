package repo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/coffer/coffer/internal/repo/pack"
)

// ReadPackBlobsRaw delivers blobs sealed alone and members of group
// records alike; damage to a record fails each of its blobs, named, and
// spares the rest.
func TestReadPackBlobsRaw(t *testing.T) {
	alone := smallOpts()
	alone.GroupMax = -1
	t.Run("alone", func(t *testing.T) { testReadPackBlobsRaw(t, alone) })
	grouped := smallOpts()
	grouped.GroupMax = 20 << 10 // the 16 KiB blobs form a record
	t.Run("grouped", func(t *testing.T) { testReadPackBlobsRaw(t, grouped) })
}

func testReadPackBlobsRaw(t *testing.T, opts Options) {
	ctx := context.Background()
	st := newMem()
	a := initRepo(t, st, opts)
	defer a.Close()
	b := initRepo(t, newMem(), opts)
	defer b.Close()
	var blobs [][]byte
	for i := 0; i < 6; i++ {
		if i%2 == 0 {
			blobs = append(blobs, textData(uint64(10+i), 50<<10))
		} else {
			blobs = append(blobs, randData(uint64(10+i), 50<<10))
		}
	}
	for i := 0; i < 4; i++ {
		blobs = append(blobs, textData(uint64(20+i), 16<<10))
	}
	byID := map[ID][]byte{}
	for _, d := range blobs {
		byID[a.Hash(d)] = d
		if _, err := a.SaveBlob(ctx, DataBlob, a.Hash(d), d); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	packs := map[ID][]BlobLocation{}
	for id := range byID {
		l, ok := a.Lookup(DataBlob, id)
		if !ok {
			t.Fatalf("Lookup %s: not found", id.Short())
		}
		packs[l.Pack] = append(packs[l.Pack], l)
	}
	// Every blob arrives once, authenticated, decodable and copyable raw.
	seen := map[ID]bool{}
	for p, locs := range packs {
		err := a.ReadPackBlobsRaw(ctx, p, locs, func(l BlobLocation, rb RawBlob) error {
			plain, err := a.DecodeRaw(rb, nil)
			if err != nil {
				return err
			}
			if want := byID[l.ID]; !bytes.Equal(plain, want) || rb.Length != int64(len(want)) {
				t.Errorf("blob %s: got %d bytes (Length %d), want %d equal bytes", l.ID.Short(), len(plain), rb.Length, len(want))
			}
			seen[l.ID] = true
			rb.Verified = true
			_, err = b.SaveBlobRaw(ctx, DataBlob, b.Hash(plain), rb)
			return err
		})
		if err != nil {
			t.Fatalf("ReadPackBlobsRaw: got %v, want nil", err)
		}
	}
	if len(seen) != len(byID) {
		t.Fatalf("got %d blobs delivered, want %d", len(seen), len(byID))
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range blobs {
		got, err := b.LoadBlob(ctx, DataBlob, b.Hash(d), nil)
		if err != nil || !bytes.Equal(got, d) {
			t.Fatalf("copied blob: got err %v, equal %v; want nil, true", err, bytes.Equal(got, d))
		}
	}

	// An error from fn stops the read and is returned.
	stop := errors.New("stop")
	for p, locs := range packs {
		n := 0
		err := a.ReadPackBlobsRaw(ctx, p, locs, func(BlobLocation, RawBlob) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Fatalf("fn error: got %v after %d calls, want stop after 1", err, n)
		}
		break
	}

	// A blob of another pack is refused.
	if len(packs) > 1 {
		var ps []ID
		for p := range packs {
			ps = append(ps, p)
		}
		if err := a.ReadPackBlobsRaw(ctx, ps[0], packs[ps[1]], func(BlobLocation, RawBlob) error { return nil }); err == nil {
			t.Fatal("blob of another pack: got nil error, want one")
		}
	}

	// A flipped byte: the blobs of other records are delivered, the
	// damaged record's are not, and the error is a *CorruptError naming
	// one of them (a group record's members all depend on it).
	var p ID
	var locs []BlobLocation
	var bad BlobLocation
	damaged := map[ID]bool{}
	for p, locs = range packs {
		if len(locs) < 2 {
			continue
		}
		slices.SortFunc(locs, func(x, y BlobLocation) int { return cmp.Compare(x.Group, y.Group) })
		bad = locs[len(locs)-1] // a group member if there is one
		for _, l := range locs {
			if l.Offset == bad.Offset {
				damaged[l.ID] = true
			}
		}
		if len(damaged) < len(locs) {
			break
		}
		clear(damaged)
	}
	if len(damaged) == 0 {
		t.Fatal("test needs a pack with blobs in two records")
	}
	if opts.GroupMax > 0 && len(damaged) < 2 {
		t.Fatal("test needs a group record in the damaged pack")
	}
	rewrite(t, st, pack.Name(p), func(b []byte) []byte { b[bad.Offset+bad.Length/2] ^= 1; return b })
	n := 0
	err := a.ReadPackBlobsRaw(ctx, p, locs, func(l BlobLocation, _ RawBlob) error {
		if damaged[l.ID] {
			t.Errorf("damaged blob %s delivered", l.ID.Short())
		}
		n++
		return nil
	})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Blob == nil || !damaged[ce.Blob.ID] || ce.Pack != p {
		t.Fatalf("flipped byte: got %v, want a *CorruptError naming a blob of the damaged record in pack %s", err, p.Short())
	}
	if n != len(locs)-len(damaged) {
		t.Fatalf("flipped byte: got %d blobs delivered, want %d", n, len(locs)-len(damaged))
	}
	for id := range damaged {
		if _, err := a.LoadBlob(ctx, DataBlob, id, nil); !errors.As(err, &ce) || ce.Blob == nil || ce.Blob.ID != id {
			t.Errorf("load of damaged blob %s: got %v, want a *CorruptError naming it", id.Short(), err)
		}
	}
}
