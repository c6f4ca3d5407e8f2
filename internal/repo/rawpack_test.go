package repo

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/coffer/coffer/internal/repo/pack"
)

func TestReadPackBlobsRaw(t *testing.T) {
	ctx := context.Background()
	st := newMem()
	a := initRepo(t, st, smallOpts())
	defer a.Close()
	b := initRepo(t, newMem(), smallOpts())
	defer b.Close()
	var blobs [][]byte
	for i := 0; i < 6; i++ {
		if i%2 == 0 {
			blobs = append(blobs, textData(uint64(10+i), 50<<10))
		} else {
			blobs = append(blobs, randData(uint64(10+i), 50<<10))
		}
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

	// A flipped byte: the others are delivered, the damaged one is a
	// *CorruptError naming it.
	var p ID
	var locs []BlobLocation
	for p, locs = range packs {
		if len(locs) > 1 {
			break
		}
	}
	bad := locs[0]
	rewrite(t, st, pack.Name(p), func(b []byte) []byte { b[bad.Offset+bad.Length/2] ^= 1; return b })
	n := 0
	err := a.ReadPackBlobsRaw(ctx, p, locs, func(l BlobLocation, _ RawBlob) error {
		if l.ID == bad.ID {
			t.Errorf("damaged blob %s delivered", l.ID.Short())
		}
		n++
		return nil
	})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Blob == nil || ce.Blob.ID != bad.ID || ce.Pack != p {
		t.Fatalf("flipped byte: got %v, want a *CorruptError naming blob %s in pack %s", err, bad.ID.Short(), p.Short())
	}
	if n != len(locs)-1 {
		t.Fatalf("flipped byte: got %d blobs delivered, want %d", n, len(locs)-1)
	}
}
