package index

import (
	"encoding/binary"
	"fmt"

	"github.com/coffer/coffer/internal/repo/pack"
)

// MaxObjectEntries bounds the entries the repository puts in one index
// object (≈ 11 MB of plaintext), so that decoding one needs bounded memory.
const MaxObjectEntries = 256 << 10

const (
	objMagic   = "CFIX0002"
	objMagicV1 = "CFIX0001" // entries without the group field (still read)
)

// Object is the plaintext content of an index object in storage.
type Object struct {
	// Supersedes lists the IDs of index objects this one replaces (garbage
	// collection rewrites objects without the packs it deletes).
	Supersedes [][32]byte
	// Dropped lists the packs that the superseded objects listed and that
	// are gone (deleted by garbage collection): a cache holding the
	// superseded objects' entries drops those packs' entries instead of
	// rebuilding from scratch.
	Dropped [][32]byte
	Packs   []ObjectPack
}

// ObjectPack is one pack and its blobs.
type ObjectPack struct {
	ID    [32]byte
	Size  int64
	Blobs []pack.Entry
}

// Entries returns the number of blob entries in o.
func (o *Object) Entries() int {
	n := 0
	for _, p := range o.Packs {
		n += len(p.Blobs)
	}
	return n
}

// EncodeObject serializes o:
//
//	magic "CFIX0002" | n superseded u32 | IDs [32]... | n dropped u32 | pack IDs [32]... | n packs u32 |
//	per pack: ID [32] | size u64 | n blobs u32 | per blob: type u8 | ID [32] | offset u32 | length u32 | raw length u32 | group u32
//
// Objects with magic "CFIX0001" (written before group records existed) have
// no group field and are still read.
func EncodeObject(o *Object) []byte {
	b := make([]byte, 0, 20+32*(len(o.Supersedes)+len(o.Dropped))+len(o.Packs)*44+o.Entries()*pack.EntrySize)
	b = append(b, objMagic...)
	for _, list := range [][][32]byte{o.Supersedes, o.Dropped} {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(list)))
		for _, s := range list {
			b = append(b, s[:]...)
		}
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(o.Packs)))
	for _, p := range o.Packs {
		b = append(b, p.ID[:]...)
		b = binary.LittleEndian.AppendUint64(b, uint64(p.Size))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Blobs)))
		for _, e := range p.Blobs {
			b = append(b, e.Type)
			b = append(b, e.ID[:]...)
			b = binary.LittleEndian.AppendUint32(b, e.Offset)
			b = binary.LittleEndian.AppendUint32(b, e.Length)
			b = binary.LittleEndian.AppendUint32(b, e.RawLength)
			b = binary.LittleEndian.AppendUint32(b, e.Group)
		}
	}
	return b
}

// DecodeObject parses the plaintext of an index object.
func DecodeObject(b []byte) (*Object, error) {
	bad := func(what string) error { return fmt.Errorf("%w: index object: %s", ErrCorrupt, what) }
	esize := pack.EntrySize
	switch {
	case len(b) < 20:
		return nil, bad("bad header")
	case string(b[:8]) == objMagic:
	case string(b[:8]) == objMagicV1:
		esize = pack.EntrySize - 4
	default:
		return nil, bad("bad header")
	}
	p := 8
	u32 := func() (uint32, bool) {
		if len(b)-p < 4 {
			return 0, false
		}
		v := binary.LittleEndian.Uint32(b[p:])
		p += 4
		return v, true
	}
	o := &Object{}
	for _, list := range []*[][32]byte{&o.Supersedes, &o.Dropped} {
		ns, ok := u32()
		if !ok || uint64(ns)*32 > uint64(len(b)-p) {
			return nil, bad("truncated ID list")
		}
		*list = make([][32]byte, ns)
		for i := range *list {
			copy((*list)[i][:], b[p:])
			p += 32
		}
	}
	np, ok := u32()
	if !ok || uint64(np)*44 > uint64(len(b)-p) {
		return nil, bad("truncated pack list")
	}
	o.Packs = make([]ObjectPack, np)
	for i := range o.Packs {
		op := &o.Packs[i]
		if len(b)-p < 44 {
			return nil, bad("truncated pack")
		}
		copy(op.ID[:], b[p:])
		op.Size = int64(binary.LittleEndian.Uint64(b[p+32:]))
		p += 40
		n, _ := u32()
		if uint64(n)*uint64(esize) > uint64(len(b)-p) || op.Size < 0 {
			return nil, bad("truncated entries")
		}
		op.Blobs = make([]pack.Entry, n)
		for j := range op.Blobs {
			e := &op.Blobs[j]
			e.Type = b[p]
			copy(e.ID[:], b[p+1:p+33])
			e.Offset = binary.LittleEndian.Uint32(b[p+33:])
			e.Length = binary.LittleEndian.Uint32(b[p+37:])
			e.RawLength = binary.LittleEndian.Uint32(b[p+41:])
			if esize == pack.EntrySize {
				e.Group = binary.LittleEndian.Uint32(b[p+45:])
				if !e.GroupFits() {
					return nil, bad("group member out of place")
				}
			}
			p += esize
		}
	}
	if p != len(b) {
		return nil, bad("trailing bytes")
	}
	return o, nil
}

// AddObject adds every entry of o to b.
func (b *Builder) AddObject(o *Object) {
	for _, p := range o.Packs {
		n := b.AddPack(p.ID, p.Size)
		for _, e := range p.Blobs {
			b.add(rec{id: e.ID, typ: e.Type, pack: n, off: e.Offset, length: e.Length, raw: e.RawLength, grp: e.Group})
		}
	}
}

// ObjectEntries flattens o into pack infos and entries for Set.Add.
func ObjectEntries(o *Object) ([]PackInfo, []Entry) {
	packs := make([]PackInfo, 0, len(o.Packs))
	entries := make([]Entry, 0, o.Entries())
	for _, p := range o.Packs {
		packs = append(packs, PackInfo{ID: p.ID, Size: p.Size})
		for _, e := range p.Blobs {
			entries = append(entries, Entry{ID: e.ID, Type: e.Type, Pack: p.ID, Offset: e.Offset, Length: e.Length, RawLength: e.RawLength, Group: e.Group})
		}
	}
	return packs, entries
}
