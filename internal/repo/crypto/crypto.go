package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"

	"github.com/zeebo/blake3"
)

// Sizes of the sealed-message format.
const (
	KeySize   = 32                   // bytes in every key handled here
	NonceSize = 24                   // XAES-256-GCM nonce, random per message
	TagSize   = 16                   // GCM authentication tag
	Overhead  = NonceSize + TagSize  // sealed length - plaintext length
	gcmNonce  = NonceSize - deriveNs // bytes of the nonce used by GCM itself
	deriveNs  = 12                   // bytes of the nonce used to derive the message key
)

// ErrAuth reports that a sealed message failed authentication: it was
// damaged, truncated, sealed under another key or with other associated data.
var ErrAuth = errors.New("crypto: message authentication failed")

// AEAD seals and opens messages with XAES-256-GCM under one long-term key.
// It is safe for concurrent use.
type AEAD struct {
	block cipher.Block
	k1    [16]byte
}

// NewAEAD returns an AEAD for a 32-byte key.
func NewAEAD(key []byte) (*AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("crypto: key is %d bytes, want %d", len(key), KeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("crypto: %w", err)
	}
	a := &AEAD{block: b}
	var l [16]byte
	b.Encrypt(l[:], l[:])
	msb := l[0] >> 7
	for i := 0; i < 15; i++ {
		a.k1[i] = l[i]<<1 | l[i+1]>>7
	}
	a.k1[15] = l[15]<<1 ^ msb*0x87
	return a, nil
}

// SealedSize is the length of a sealed message for n plaintext bytes.
func SealedSize(n int) int { return n + Overhead }

// messageAEAD derives the per-message AES-256-GCM instance from the first 12
// nonce bytes (C2SP XAES-256-GCM).
func (a *AEAD) messageAEAD(nonce []byte) (cipher.AEAD, error) {
	var m, k [32]byte
	m[1], m[2] = 1, 'X'
	m[17], m[18] = 2, 'X'
	copy(m[4:16], nonce[:deriveNs])
	copy(m[20:32], nonce[:deriveNs])
	subtle.XORBytes(m[:16], m[:16], a.k1[:])
	subtle.XORBytes(m[16:], m[16:], a.k1[:])
	a.block.Encrypt(k[:16], m[:16])
	a.block.Encrypt(k[16:], m[16:])
	b, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Seal encrypts and authenticates plaintext with a fresh random nonce and
// appends nonce || ciphertext || tag to dst. ad is authenticated, not stored.
// dst and plaintext may overlap exactly only if plaintext starts at
// dst[len(dst)+NonceSize:] (in-place sealing); otherwise they must not
// overlap.
func (a *AEAD) Seal(dst, plaintext, ad []byte) []byte {
	var nonce [NonceSize]byte
	_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return a.sealWithNonce(dst, nonce[:], plaintext, ad)
}

// sealWithNonce is Seal with a caller-chosen nonce of NonceSize bytes; it
// exists for test vectors.
func (a *AEAD) sealWithNonce(dst, nonce, plaintext, ad []byte) []byte {
	g, err := a.messageAEAD(nonce)
	if err != nil {
		// aes.NewCipher only fails for a bad key length, which is fixed here.
		panic("crypto: unreachable: " + err.Error())
	}
	ret, out := sliceForAppend(dst, NonceSize+len(plaintext)+TagSize)
	copy(out, nonce)
	g.Seal(out[NonceSize:NonceSize], nonce[deriveNs:], plaintext, ad)
	return ret
}

// Open authenticates and decrypts a sealed message and appends the plaintext
// to dst. It returns ErrAuth (wrapped) for any damaged or foreign message.
// dst must not overlap sealed, except exactly: dst = sealed[NonceSize:NonceSize]
// decrypts in place.
func (a *AEAD) Open(dst, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: message too short (%d bytes)", ErrAuth, len(sealed))
	}
	g, err := a.messageAEAD(sealed[:NonceSize])
	if err != nil {
		return nil, err
	}
	out, err := g.Open(dst, sealed[deriveNs:NonceSize], sealed[NonceSize:], ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}

// Subkeys are the independent keys derived from a repository's data key.
type Subkeys struct {
	Enc     [KeySize]byte // XAES-256-GCM key for blobs and metadata
	ID      [KeySize]byte // keyed BLAKE3 key that names blobs
	Chunker [KeySize]byte // seed of the content-defined chunker's gear table
	Cache   [KeySize]byte // MAC key for local cache files
}

// Derive computes the subkeys of a data key.
func Derive(dataKey []byte) Subkeys {
	var s Subkeys
	blake3.DeriveKey("coffer 2025 repository encryption key v1", dataKey, s.Enc[:])
	blake3.DeriveKey("coffer 2025 repository blob id key v1", dataKey, s.ID[:])
	blake3.DeriveKey("coffer 2025 repository chunker seed v1", dataKey, s.Chunker[:])
	blake3.DeriveKey("coffer 2025 repository cache mac key v1", dataKey, s.Cache[:])
	return s
}

// Hasher computes keyed BLAKE3-256 digests. It is safe for concurrent use.
type Hasher struct {
	tmpl *blake3.Hasher
	pool sync.Pool
}

// NewHasher returns a keyed BLAKE3-256 hasher for a 32-byte key.
func NewHasher(key [KeySize]byte) *Hasher {
	t, err := blake3.NewKeyed(key[:])
	if err != nil {
		panic("crypto: unreachable: " + err.Error()) // only fails on key length
	}
	h := &Hasher{tmpl: t}
	h.pool.New = func() any { return h.tmpl.Clone() }
	return h
}

// Sum returns the keyed digest of data.
func (h *Hasher) Sum(data []byte) (out [32]byte) {
	x := h.pool.Get().(*blake3.Hasher)
	x.Reset()
	_, _ = x.Write(data)
	x.Sum(out[:0])
	h.pool.Put(x)
	return out
}

// SumParts returns the keyed digest of the concatenation of parts.
func (h *Hasher) SumParts(parts ...[]byte) (out [32]byte) {
	x := h.pool.Get().(*blake3.Hasher)
	x.Reset()
	for _, p := range parts {
		_, _ = x.Write(p)
	}
	x.Sum(out[:0])
	h.pool.Put(x)
	return out
}

// RandomKey returns 32 fresh random bytes.
func RandomKey() [KeySize]byte {
	var k [KeySize]byte
	_, _ = rand.Read(k[:])
	return k
}
