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
		{Type: 1, ID: [32]byte{1}, Offset: 0, Length: 100, RawLength: 200},
		{Type: 2, ID: [32]byte{2}, Offset: 100, Length: 50, RawLength: 9},
	}
	p := AppendTrailer(a, make([]byte, 150), entries)
	n, err := TrailerLength(p[len(p)-TailSize:], int64(len(p)))
	if err != nil {
		t.Fatal(err)
	}
	off := int64(len(p) - TailSize - n)
	if off != 150 {
		t.Fatalf("got trailer offset %d, want 150", off)
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
	if _, err := TrailerLength([]byte{255, 255, 255, 0}, 100); !errors.Is(err, ErrFormat) {
		t.Fatalf("bad length: got %v, want ErrFormat", err)
	}
	// Entries past the trailer are rejected.
	p2 := AppendTrailer(a, make([]byte, 120), entries)
	if _, err := OpenTrailer(a, p2[120:len(p2)-TailSize], 120); !errors.Is(err, ErrFormat) {
		t.Fatalf("overlapping entries: got %v, want ErrFormat", err)
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
