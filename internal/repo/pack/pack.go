package pack

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"

	"github.com/coffer/coffer/internal/repo/crypto"
	"github.com/zeebo/blake3"
)

// Payload flags: the first plaintext byte of every sealed blob.
const (
	PayloadStored byte = 0
	PayloadZstd   byte = 1
)

const (
	// EntrySize is the encoded size of one trailer Entry.
	EntrySize = 1 + 32 + 4 + 4 + 4 + 4
	// entrySizeV2 is the size of an entry in trailers written before
	// groups existed (magic "CPK2"): no group field.
	entrySizeV2 = EntrySize - 4
	// MaxGroupSize bounds a group record's plaintext, so that a member's
	// Group field fits in 24 bits in the index's records.
	MaxGroupSize = 8 << 20
	// TailSize is the size of a pack's fixed end: the body's BLAKE3 and
	// the sealed trailer's length.
	TailSize = 32 + 4
	// BlobOverhead is the sealed size minus the blob's payload body.
	BlobOverhead = 1 + crypto.Overhead
	// MaxBlobSize bounds a blob's plaintext so that lengths fit in 32 bits.
	MaxBlobSize = 1<<31 - 1024
	// HeaderSize is the size of a pack's header: magic and sealed pack key.
	HeaderSize     = 4 + crypto.Overhead + crypto.KeySize // len(headerMagic) + sealed key
	headerMagic    = "CPK2"
	trailerMagic   = "CPK3"
	trailerMagicV2 = "CPK2" // entries without the group field
)

var (
	trailerAD = []byte("coffer pack trailer v2")
	headerAD  = []byte("coffer pack key v2")
	idLabel   = []byte("coffer pack id v2")
)

// ErrFormat reports a pack or trailer that does not parse.
var ErrFormat = errors.New("pack: malformed pack")

// Entry describes one blob in a pack.
type Entry struct {
	Type      uint8
	ID        [32]byte
	Offset    uint32 // of the sealed blob (or of its group record) within the pack
	Length    uint32 // of the sealed blob (or of its group record)
	RawLength uint32 // of the blob's plaintext (uncompressed)
	// Group is 0 for a blob sealed alone. For a member of a group record
	// (see GroupAD) it is 1 + the offset of the blob's plaintext within
	// the group's plaintext.
	Group uint32
}

// GroupFits reports whether the entry, if a member of a group record,
// lies within MaxGroupSize of the record's plaintext.
func (e *Entry) GroupFits() bool {
	return e.Group == 0 || int64(e.Group-1)+int64(e.RawLength) <= MaxGroupSize
}

// GroupAD is the associated data of a group record at offset off of its
// pack: a tag no blob type uses, and the offset, so that two records of a
// pack cannot be swapped. The members' types and IDs are bound by the
// trailer (and the index), which is sealed under the repository's key.
func GroupAD(dst []byte, off uint32) []byte {
	dst = append(dst, groupTag)
	return binary.LittleEndian.AppendUint32(dst, off)
}

// groupTag starts a group record's associated data (blob types are small).
const groupTag = 0xff

// BlobAD is the associated data of a sealed blob: its type and ID.
func BlobAD(dst []byte, typ uint8, id [32]byte) []byte {
	dst = append(dst, typ)
	return append(dst, id[:]...)
}

// SealHeader writes the header of a pack whose blobs are sealed under
// packKey into dst[:HeaderSize]: the magic and packKey sealed under the
// repository's aead.
func SealHeader(aead *crypto.AEAD, dst []byte, packKey [crypto.KeySize]byte) {
	copy(dst, headerMagic)
	aead.Seal(dst[len(headerMagic):len(headerMagic)], packKey[:], headerAD)
}

// OpenHeader authenticates a pack's header (its first HeaderSize bytes)
// with the repository's aead and returns the pack key.
func OpenHeader(aead *crypto.AEAD, header []byte) (key [crypto.KeySize]byte, err error) {
	if len(header) != HeaderSize || string(header[:len(headerMagic)]) != headerMagic {
		return key, fmt.Errorf("%w: bad pack header", ErrFormat)
	}
	k, err := aead.Open(key[:0], header[len(headerMagic):], headerAD)
	if err != nil {
		return key, fmt.Errorf("pack header: %w", err)
	}
	if len(k) != crypto.KeySize {
		return key, fmt.Errorf("%w: pack key of %d bytes", ErrFormat, len(k))
	}
	return key, nil
}

// Split cuts a whole pack into its header, its sealed blobs (the body) and
// its tail (sealed trailer, body sum and trailer length). ok is false when
// the pack is too short or its trailer length does not fit.
func Split(data []byte) (header, body, tail []byte, ok bool) {
	if len(data) < HeaderSize+TailSize {
		return nil, nil, nil, false
	}
	n, _, err := ParseEnd(data[len(data)-TailSize:], int64(len(data)-HeaderSize))
	if err != nil {
		return nil, nil, nil, false
	}
	t := len(data) - TailSize - n
	return data[:HeaderSize], data[HeaderSize:t], data[t:], true
}

// ID is the name-giving hash of a pack: the unkeyed BLAKE3 of its header
// and tail (IDOf), after checking that the body hashes to the body sum the
// tail holds. Bytes that do not split as a pack, or whose body does not
// match, get an ID under another label (so they never match their name).
// Since the ID covers the body through its sum, a writer knows a pack's
// name before streaming its body, and anyone can check a pack without the
// key.
func ID(data []byte) [32]byte {
	header, body, tail, ok := Split(data)
	if ok {
		_, sum, _ := ParseEnd(tail[len(tail)-TailSize:], int64(len(data)-HeaderSize))
		if BodySum(body) == sum {
			return IDOf(header, tail)
		}
	}
	h := blake3.New()
	_, _ = h.Write([]byte("coffer malformed pack v2"))
	_, _ = h.Write(data)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// IDOf is the ID of a pack from its header and tail.
func IDOf(header, tail []byte) [32]byte {
	h := blake3.New()
	_, _ = h.Write(idLabel)
	_, _ = h.Write(header)
	_, _ = h.Write(tail)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// BodySum is the hash of a pack's body that its tail holds.
func BodySum(body []byte) [32]byte { return blake3.Sum256(body) }

// NewBodyHasher returns a hash.Hash whose Sum is BodySum of what was
// written, for bodies that are streamed.
func NewBodyHasher() hash.Hash { return blake3.New() }

// Name is the storage name of a pack.
func Name(id [32]byte) string {
	h := hex.EncodeToString(id[:])
	return "packs/" + h[:2] + "/" + h
}

// Prefix is the storage prefix under which all packs live.
const Prefix = "packs/"

// ParseName returns the pack ID of a storage name from Name.
func ParseName(name string) ([32]byte, bool) {
	var id [32]byte
	if len(name) != len("packs/xx/")+64 || name[:6] != Prefix || name[8] != '/' || name[6:8] != name[9:11] {
		return id, false
	}
	if _, err := hex.Decode(id[:], []byte(name[9:])); err != nil {
		return id, false
	}
	return id, true
}

// AppendTail seals the trailer listing entries and appends it, the body
// sum and the trailer's length to pack (header and body).
func AppendTail(aead *crypto.AEAD, pack []byte, entries []Entry, bodySum [32]byte) []byte {
	plain := make([]byte, 0, 8+len(entries)*EntrySize)
	plain = append(plain, trailerMagic...)
	plain = binary.LittleEndian.AppendUint32(plain, uint32(len(entries)))
	for _, e := range entries {
		plain = append(plain, e.Type)
		plain = append(plain, e.ID[:]...)
		plain = binary.LittleEndian.AppendUint32(plain, e.Offset)
		plain = binary.LittleEndian.AppendUint32(plain, e.Length)
		plain = binary.LittleEndian.AppendUint32(plain, e.RawLength)
		plain = binary.LittleEndian.AppendUint32(plain, e.Group)
	}
	start := len(pack)
	pack = aead.Seal(pack, plain, trailerAD)
	n := len(pack) - start
	pack = append(pack, bodySum[:]...)
	return binary.LittleEndian.AppendUint32(pack, uint32(n))
}

// ParseEnd reads a pack's last TailSize bytes: the sealed trailer's length
// (checked to fit in a pack of packSize bytes after the header) and the
// body sum.
func ParseEnd(end []byte, packSize int64) (trailerLen int, bodySum [32]byte, err error) {
	if len(end) != TailSize {
		return 0, bodySum, fmt.Errorf("%w: tail is %d bytes", ErrFormat, len(end))
	}
	n := int64(binary.LittleEndian.Uint32(end[32:]))
	if n < crypto.Overhead+8 || n > packSize-TailSize {
		return 0, bodySum, fmt.Errorf("%w: trailer length %d in a %d-byte pack", ErrFormat, n, packSize)
	}
	copy(bodySum[:], end[:32])
	return int(n), bodySum, nil
}

// OpenTrailer authenticates and parses a sealed trailer. The entries are
// checked to lie, without overlapping, before trailerOffset; members of one
// group record share its offset and length, and lie within MaxGroupSize.
func OpenTrailer(aead *crypto.AEAD, sealed []byte, trailerOffset int64) ([]Entry, error) {
	plain, err := aead.Open(nil, sealed, trailerAD)
	if err != nil {
		return nil, fmt.Errorf("pack trailer: %w", err)
	}
	size := EntrySize
	switch {
	case len(plain) >= 8 && string(plain[:4]) == trailerMagic:
	case len(plain) >= 8 && string(plain[:4]) == trailerMagicV2:
		size = entrySizeV2
	default:
		return nil, fmt.Errorf("%w: bad trailer header", ErrFormat)
	}
	n := int(binary.LittleEndian.Uint32(plain[4:]))
	if len(plain) != 8+n*size {
		return nil, fmt.Errorf("%w: trailer of %d bytes for %d entries", ErrFormat, len(plain), n)
	}
	out := make([]Entry, n)
	var end int64
	for i := range out {
		b := plain[8+i*size:]
		e := &out[i]
		e.Type = b[0]
		copy(e.ID[:], b[1:33])
		e.Offset = binary.LittleEndian.Uint32(b[33:])
		e.Length = binary.LittleEndian.Uint32(b[37:])
		e.RawLength = binary.LittleEndian.Uint32(b[41:])
		if size == EntrySize {
			e.Group = binary.LittleEndian.Uint32(b[45:])
		}
		if err := checkEntry(e, out[:i], end, trailerOffset); err != nil {
			return nil, fmt.Errorf("%w: entry %d (offset %d, length %d): %s", ErrFormat, i, e.Offset, e.Length, err)
		}
		end = int64(e.Offset) + int64(e.Length)
	}
	return out, nil
}

// checkEntry checks that e, following prev, lies after end (the end of
// the previous record) and before trailerOffset, or continues the previous
// entry's group record.
func checkEntry(e *Entry, prev []Entry, end, trailerOffset int64) error {
	if !e.GroupFits() {
		return errors.New("group member out of place")
	}
	if e.Group != 0 && len(prev) > 0 {
		if p := prev[len(prev)-1]; p.Group != 0 && p.Offset == e.Offset && p.Length == e.Length {
			return nil // another member of the same record
		}
	}
	if int64(e.Offset) < max(end, int64(HeaderSize)) || int64(e.Offset)+int64(e.Length) > trailerOffset || e.Length < BlobOverhead {
		return errors.New("out of place")
	}
	return nil
}
