package pack

import (
	"errors"
	"testing"

	"github.com/coffer/coffer/internal/repo/crypto"
)

func TestTrailerRoundTrip(t *testing.T) {
	k := crypto.RandomKey()
	a, _ := crypto.NewAEAD(k[:])
	entries := []Entry{
		{Type: 1, ID: [32]byte{1}, Offset: HeaderSize, Length: 100, RawLength: 200},
		{Type: 2, ID: [32]byte{2}, Offset: HeaderSize + 100, Length: 50, RawLength: 9},
	}
	sum := BodySum(make([]byte, 150))
	p := AppendTail(a, make([]byte, HeaderSize+150), entries, sum)
	n, gotSum, err := ParseEnd(p[len(p)-TailSize:], int64(len(p)))
	if err != nil || gotSum != sum {
		t.Fatalf("ParseEnd: %v, sum %x", err, gotSum)
	}
	off := int64(len(p) - TailSize - n)
	if off != HeaderSize+150 {
		t.Fatalf("got trailer offset %d, want %d", off, HeaderSize+150)
	}
	got, err := OpenTrailer(a, p[off:len(p)-TailSize], off)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != entries[0] || got[1] != entries[1] {
		t.Fatalf("got %+v, want %+v", got, entries)
	}
	p[off+30] ^= 1
	if _, err := OpenTrailer(a, p[off:len(p)-TailSize], off); !errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("tampered trailer: got %v, want ErrAuth", err)
	}
	if _, _, err := ParseEnd(append(make([]byte, 32), 255, 255, 255, 0), 100); !errors.Is(err, ErrFormat) {
		t.Fatalf("bad length: got %v, want ErrFormat", err)
	}
	// Entries past the trailer are rejected.
	p2 := AppendTail(a, make([]byte, HeaderSize+120), entries, sum)
	if _, err := OpenTrailer(a, p2[HeaderSize+120:len(p2)-TailSize], HeaderSize+120); !errors.Is(err, ErrFormat) {
		t.Fatalf("overlapping entries: got %v, want ErrFormat", err)
	}
	// Entries inside the header are rejected.
	in := []Entry{{Type: 1, ID: [32]byte{1}, Offset: 10, Length: 100, RawLength: 1}}
	p3 := AppendTail(a, make([]byte, HeaderSize+150), in, sum)
	if _, err := OpenTrailer(a, p3[HeaderSize+150:len(p3)-TailSize], HeaderSize+150); !errors.Is(err, ErrFormat) {
		t.Fatalf("entry in the header: got %v, want ErrFormat", err)
	}
}

func TestHeaderAndID(t *testing.T) {
	k := crypto.RandomKey()
	repoKey, _ := crypto.NewAEAD(k[:])
	other := crypto.RandomKey()
	otherKey, _ := crypto.NewAEAD(other[:])
	packKey := crypto.RandomKey()
	p := make([]byte, HeaderSize+100)
	SealHeader(repoKey, p, packKey)
	got, err := OpenHeader(repoKey, p[:HeaderSize])
	if err != nil || got != packKey {
		t.Fatalf("OpenHeader: got %x, %v", got, err)
	}
	if _, err := OpenHeader(otherKey, p[:HeaderSize]); !errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("header under another key: got %v, want ErrAuth", err)
	}
	copy(p[HeaderSize:], "some sealed blobs")
	p = AppendTail(repoKey, p, []Entry{{Type: 1, ID: [32]byte{1}, Offset: HeaderSize, Length: 100, RawLength: 1}}, BodySum(p[HeaderSize:]))
	header, body, tail, ok := Split(p)
	if !ok || len(header) != HeaderSize || len(body) != 100 || len(header)+len(body)+len(tail) != len(p) {
		t.Fatalf("Split: %d/%d/%d %v", len(header), len(body), len(tail), ok)
	}
	id := ID(p)
	if IDOf(header, tail) != id {
		t.Fatal("IDOf(parts) differs from ID(pack)")
	}
	// The same body under another header and trailer: another ID, and
	// every byte counts.
	q := make([]byte, HeaderSize, len(p))
	SealHeader(otherKey, q, packKey)
	q = append(q, body...)
	q = AppendTail(otherKey, q, []Entry{{Type: 1, ID: [32]byte{1}, Offset: HeaderSize, Length: 100, RawLength: 1}}, BodySum(body))
	if ID(q) == id {
		t.Fatal("two packs with other headers share an ID")
	}
	for _, i := range []int{0, HeaderSize + 50, len(p) - 10} {
		p[i] ^= 1
		if ID(p) == id {
			t.Errorf("flipping byte %d keeps the ID", i)
		}
		p[i] ^= 1
	}
	if ID(p[:10]) == ID(p[:11]) {
		t.Error("malformed packs share an ID")
	}
}

func TestNames(t *testing.T) {
	id := ID([]byte("x"))
	got, ok := ParseName(Name(id))
	if !ok || got != id {
		t.Fatalf("ParseName(Name): got %x %v", got, ok)
	}
	for _, bad := range []string{"packs/aa/bb", "index/" + Name(id)[6:], "packs/zz/" + Name(id)[9:]} {
		if _, ok := ParseName(bad); ok {
			t.Errorf("ParseName(%q): got ok, want rejection", bad)
		}
	}
}
