package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestXAESVectors checks the C2SP XAES-256-GCM test vectors.
func TestXAESVectors(t *testing.T) {
	tests := []struct {
		name, key, ad, want string
	}{
		{"no ad", "0101010101010101010101010101010101010101010101010101010101010101", "",
			"ce546ef63c9cc60765923609b33a9a1974e96e52daf2fcf7075e2271"},
		{"with ad", "0303030303030303030303030303030303030303030303030303030303030303", "c2sp.org/XAES-256-GCM",
			"986ec1832593df5443a179437fd083bf3fdb41abd740a21f71eb769d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAEAD(mustHex(t, tc.key))
			if err != nil {
				t.Fatal(err)
			}
			nonce := []byte("ABCDEFGHIJKLMNOPQRSTUVWX")
			got := a.sealWithNonce(nil, nonce, []byte("XAES-256-GCM"), []byte(tc.ad))
			if g := hex.EncodeToString(got[NonceSize:]); g != tc.want {
				t.Fatalf("got %s, want %s", g, tc.want)
			}
			pt, err := a.Open(nil, got, []byte(tc.ad))
			if err != nil || string(pt) != "XAES-256-GCM" {
				t.Fatalf("Open: got %q, %v, want XAES-256-GCM", pt, err)
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	k1, k2 := RandomKey(), RandomKey()
	a, _ := NewAEAD(k1[:])
	b, _ := NewAEAD(k2[:])
	msg := bytes.Repeat([]byte("coffer"), 1000)
	sealed := a.Seal([]byte("prefix"), msg, []byte("ad"))
	if !bytes.HasPrefix(sealed, []byte("prefix")) || len(sealed) != 6+SealedSize(len(msg)) {
		t.Fatalf("got len %d, want %d with prefix", len(sealed), 6+SealedSize(len(msg)))
	}
	sealed = sealed[6:]
	pt, err := a.Open(nil, sealed, []byte("ad"))
	if err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("round trip: err %v", err)
	}
	// Two seals of one message differ (random nonces).
	if bytes.Equal(a.Seal(nil, msg, nil), a.Seal(nil, msg, nil)) {
		t.Fatal("got identical ciphertexts, want random nonces")
	}
	bad := []struct {
		name   string
		aead   *AEAD
		sealed []byte
		ad     string
	}{
		{"wrong key", b, sealed, "ad"},
		{"wrong ad", a, sealed, "da"},
		{"flipped byte", a, flip(sealed, 100), "ad"},
		{"flipped nonce", a, flip(sealed, 3), "ad"},
		{"truncated", a, sealed[:len(sealed)-1], "ad"},
		{"too short", a, sealed[:10], "ad"},
	}
	for _, tc := range bad {
		if _, err := tc.aead.Open(nil, tc.sealed, []byte(tc.ad)); !errors.Is(err, ErrAuth) {
			t.Errorf("%s: got %v, want ErrAuth", tc.name, err)
		}
	}
}

func TestSealInPlace(t *testing.T) {
	k := RandomKey()
	a, _ := NewAEAD(k[:])
	msg := []byte("in place sealing works")
	buf := make([]byte, NonceSize+len(msg), SealedSize(len(msg)))
	copy(buf[NonceSize:], msg)
	sealed := a.Seal(buf[:0], buf[NonceSize:], nil)
	pt, err := a.Open(nil, sealed, nil)
	if err != nil || string(pt) != string(msg) {
		t.Fatalf("got %q, %v, want %q", pt, err, msg)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

func TestHasherKeyed(t *testing.T) {
	k1, k2 := RandomKey(), RandomKey()
	h1, h2 := NewHasher(k1), NewHasher(k2)
	d := []byte("same data")
	if h1.Sum(d) == h2.Sum(d) {
		t.Fatal("got equal digests under different keys")
	}
	if h1.Sum(d) != h1.SumParts([]byte("same "), []byte("data")) {
		t.Fatal("Sum and SumParts disagree")
	}
	s := Derive(k1[:])
	if s.Enc == s.ID || s.ID == s.Chunker || s.Enc == s.Cache {
		t.Fatal("subkeys not independent")
	}
}

var sink []byte

func benchSeal(b *testing.B, size int, seal func(dst, pt []byte) []byte) {
	pt := make([]byte, size)
	dst := make([]byte, 0, size+64)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		sink = seal(dst, pt)
	}
}

func sizes() []struct {
	name string
	n    int
} {
	return []struct {
		name string
		n    int
	}{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}}
}

func BenchmarkSealXAES(b *testing.B) {
	k := RandomKey()
	a, _ := NewAEAD(k[:])
	for _, s := range sizes() {
		b.Run(s.name, func(b *testing.B) {
			benchSeal(b, s.n, func(dst, pt []byte) []byte { return a.Seal(dst, pt, nil) })
		})
	}
}

func BenchmarkSealAESGCM(b *testing.B) {
	k := RandomKey()
	blk, _ := aes.NewCipher(k[:])
	g, _ := cipher.NewGCM(blk)
	nonce := make([]byte, 12)
	for _, s := range sizes() {
		b.Run(s.name, func(b *testing.B) {
			benchSeal(b, s.n, func(dst, pt []byte) []byte { return g.Seal(dst, nonce, pt, nil) })
		})
	}
}

func BenchmarkSealXChaCha20Poly1305(b *testing.B) {
	k := RandomKey()
	g, _ := chacha20poly1305.NewX(k[:])
	nonce := make([]byte, 24)
	for _, s := range sizes() {
		b.Run(s.name, func(b *testing.B) {
			benchSeal(b, s.n, func(dst, pt []byte) []byte { return g.Seal(dst, nonce, pt, nil) })
		})
	}
}

func BenchmarkOpenXAES(b *testing.B) {
	k := RandomKey()
	a, _ := NewAEAD(k[:])
	sealed := a.Seal(nil, make([]byte, 1<<20), nil)
	dst := make([]byte, 0, 1<<20)
	b.SetBytes(1 << 20)
	for b.Loop() {
		var err error
		sink, err = a.Open(dst, sealed, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(RandomKey())
	for _, s := range sizes() {
		b.Run(s.name, func(b *testing.B) {
			d := make([]byte, s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				x := h.Sum(d)
				sink = x[:1]
			}
		})
	}
}
