package index

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// Entry is one blob's location.
type Entry struct {
	ID        [32]byte
	Type      uint8
	Pack      [32]byte
	Offset    uint32 // of the sealed blob in the pack
	Length    uint32 // of the sealed blob
	RawLength uint32 // of the plaintext
	Group     uint32 // 0, or 1 + the plaintext's offset in its group record (pack.Entry.Group)
}

// Key identifies a blob: its ID and type.
type Key struct {
	ID   [32]byte
	Type uint8
}

// Key returns the entry's key.
func (e *Entry) Key() Key { return Key{e.ID, e.Type} }

// Compare orders keys by ID bytes, then type.
func (k Key) Compare(o Key) int {
	if c := bytes.Compare(k.ID[:], o.ID[:]); c != 0 {
		return c
	}
	return int(k.Type) - int(o.Type)
}

// ErrCorrupt reports a segment or index object that fails authentication or
// does not parse.
var ErrCorrupt = errors.New("index: corrupt")

// recSize is the size of one entry record in segments and sort runs:
//
//	ID [32] | type u8 | group u24 | pack number u32 | offset u32 | length u32 | raw length u32
//
// The group field (pack.Entry.Group) fits in 24 bits: pack.MaxGroupSize
// bounds a group's plaintext.
const recSize = 52

// rec is an entry whose pack is a number in a pack table.
type rec struct {
	id     [32]byte
	typ    uint8
	pack   uint32
	off    uint32
	length uint32
	raw    uint32
	grp    uint32
}

func (r *rec) put(b []byte) {
	copy(b[:32], r.id[:])
	b[32], b[33], b[34], b[35] = r.typ, byte(r.grp), byte(r.grp>>8), byte(r.grp>>16)
	binary.LittleEndian.PutUint32(b[36:], r.pack)
	binary.LittleEndian.PutUint32(b[40:], r.off)
	binary.LittleEndian.PutUint32(b[44:], r.length)
	binary.LittleEndian.PutUint32(b[48:], r.raw)
}

func (r *rec) get(b []byte) {
	copy(r.id[:], b[:32])
	r.typ = b[32]
	r.grp = uint32(b[33]) | uint32(b[34])<<8 | uint32(b[35])<<16
	r.pack = binary.LittleEndian.Uint32(b[36:])
	r.off = binary.LittleEndian.Uint32(b[40:])
	r.length = binary.LittleEndian.Uint32(b[44:])
	r.raw = binary.LittleEndian.Uint32(b[48:])
}

func compareRec(a, b *rec) int {
	if c := bytes.Compare(a.id[:], b.id[:]); c != 0 {
		return c
	}
	if a.typ != b.typ {
		return int(a.typ) - int(b.typ)
	}
	if a.pack != b.pack {
		if a.pack < b.pack {
			return -1
		}
		return 1
	}
	if a.off != b.off {
		if a.off < b.off {
			return -1
		}
		return 1
	}
	return 0
}

// PackInfo is one pack of a pack table.
type PackInfo struct {
	ID   [32]byte
	Size int64
}
