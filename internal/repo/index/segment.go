package index

import (
	"bufio"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sort"

	"github.com/zeebo/blake3"
)

// Segment file layout (all integers little-endian):
//
//	header (64 bytes): magic "CFRSEG02" (01: before the group field) | fan-out bits u32 | 0 u32 | entries u64 | packs u64 | 0 [32]
//	fan-out: (1<<bits)+1 u32, fanout[b] = index of the first entry whose ID's top bits are >= b
//	entries: n records of recSize bytes, sorted by key
//	packs: one (ID [32] | size u64) per pack number
//	MAC (32 bytes): keyed BLAKE3(header | fan-out | BLAKE3(entries | packs))
const (
	segMagic   = "CFRSEG02"
	headerSize = 64
	packRecLen = 40
	macSize    = 32
	maxEntries = 1<<32 - 1
)

// Segment is an immutable, memory-mapped, sorted run of entries. Its
// methods are safe for concurrent use until Close.
type Segment struct {
	path    string
	data    []byte // the whole file, mapped
	unmap   func() error
	bits    uint
	n       int
	nPacks  int
	fanout  []byte
	entries []byte
	packs   []byte
	size    int64
}

// fanoutBits picks the fan-out width for n entries: about n/3 buckets.
func fanoutBits(n int) uint {
	b := bits.Len(uint(n))
	if b <= 2 {
		return 0
	}
	return uint(min(b-2, 28))
}

func bucketOf(id *[32]byte, b uint) uint32 {
	if b == 0 {
		return 0
	}
	return binary.BigEndian.Uint32(id[:4]) >> (32 - b)
}

// OpenSegment maps and authenticates a segment file.
func OpenSegment(path string, macKey [32]byte) (*Segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	size := st.Size()
	var hdr [headerSize]byte
	if size < headerSize+macSize {
		return nil, fmt.Errorf("%w: segment %s: %d bytes", ErrCorrupt, path, size)
	}
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	if string(hdr[:8]) != segMagic {
		return nil, fmt.Errorf("%w: segment %s: bad magic", ErrCorrupt, path)
	}
	b := uint(binary.LittleEndian.Uint32(hdr[8:]))
	n := binary.LittleEndian.Uint64(hdr[16:])
	np := binary.LittleEndian.Uint64(hdr[24:])
	if b > 28 || n > maxEntries || np > maxEntries {
		return nil, fmt.Errorf("%w: segment %s: bad header", ErrCorrupt, path)
	}
	fanLen := int64(4 * ((1 << b) + 1))
	want := headerSize + fanLen + int64(n)*recSize + int64(np)*packRecLen + macSize
	if want != size {
		return nil, fmt.Errorf("%w: segment %s: %d bytes, header says %d", ErrCorrupt, path, size, want)
	}
	// Authenticate with pread (page cache only, not this process's RSS).
	inner := blake3.New()
	body := io.NewSectionReader(f, headerSize+fanLen, size-macSize-headerSize-fanLen)
	if _, err := io.Copy(inner, bufio.NewReaderSize(body, 1<<20)); err != nil {
		return nil, fmt.Errorf("index: reading %s: %w", path, err)
	}
	head := make([]byte, headerSize+fanLen)
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	var mac [macSize]byte
	if _, err := f.ReadAt(mac[:], size-macSize); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	want32 := segmentMAC(macKey, head, inner.Sum(nil))
	if subtle.ConstantTimeCompare(mac[:], want32[:]) != 1 {
		return nil, fmt.Errorf("%w: segment %s: MAC mismatch", ErrCorrupt, path)
	}
	data, unmap, err := mapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("index: map %s: %w", path, err)
	}
	s := &Segment{path: path, data: data, unmap: unmap, bits: b, n: int(n), nPacks: int(np), size: size}
	off := int64(headerSize)
	s.fanout = data[off : off+fanLen]
	off += fanLen
	s.entries = data[off : off+int64(n)*recSize]
	off += int64(n) * recSize
	s.packs = data[off : off+int64(np)*packRecLen]
	// Validate what lookups rely on: a monotonic fan-out within bounds and
	// pack numbers within the table. Cheap relative to the MAC pass.
	prev := uint32(0)
	for i := 0; i <= 1<<b; i++ {
		v := binary.LittleEndian.Uint32(s.fanout[4*i:])
		if v < prev || v > uint32(n) {
			s.Close()
			return nil, fmt.Errorf("%w: segment %s: bad fan-out", ErrCorrupt, path)
		}
		prev = v
	}
	return s, nil
}

func segmentMAC(key [32]byte, head, inner []byte) [32]byte {
	h, _ := blake3.NewKeyed(key[:])
	_, _ = h.WriteString("coffer index segment v1")
	_, _ = h.Write(head)
	_, _ = h.Write(inner)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Close unmaps the segment. The file stays on disk.
func (s *Segment) Close() error {
	if s == nil || s.unmap == nil {
		return nil
	}
	err := s.unmap()
	s.unmap = nil
	return err
}

// Path is the segment's file.
func (s *Segment) Path() string { return s.path }

// Len is the number of entries.
func (s *Segment) Len() int { return s.n }

// NumPacks is the size of the pack table.
func (s *Segment) NumPacks() int { return s.nPacks }

// FileSize is the segment's size on disk.
func (s *Segment) FileSize() int64 { return s.size }

// Pack returns pack number i of the pack table.
func (s *Segment) Pack(i int) PackInfo {
	b := s.packs[i*packRecLen:]
	var p PackInfo
	copy(p.ID[:], b[:32])
	p.Size = int64(binary.LittleEndian.Uint64(b[32:]))
	return p
}

func (s *Segment) rec(i int) (r rec) {
	r.get(s.entries[i*recSize:])
	return r
}

// Entry returns entry i (0 ≤ i < Len) with its pack number.
func (s *Segment) Entry(i int) (Entry, int) {
	r := s.rec(i)
	e := Entry{ID: r.id, Type: r.typ, Offset: r.off, Length: r.length, RawLength: r.raw, Group: r.grp}
	if int(r.pack) < s.nPacks {
		copy(e.Pack[:], s.packs[int(r.pack)*packRecLen:])
	}
	return e, int(r.pack)
}

// PackNo returns the pack number of entry i.
func (s *Segment) PackNo(i int) int {
	return int(binary.LittleEndian.Uint32(s.entries[i*recSize+36:]))
}

func (s *Segment) cmpAt(i int, k *Key) int {
	b := s.entries[i*recSize : i*recSize+33]
	for j := 0; j < 32; j++ {
		if b[j] != k.ID[j] {
			if b[j] < k.ID[j] {
				return -1
			}
			return 1
		}
	}
	return int(b[32]) - int(k.Type)
}

// Range returns the half-open range [lo, hi) of entries with key k (hi == lo
// when there are none). Duplicates (one blob stored in several packs) are
// adjacent.
func (s *Segment) Range(k Key) (lo, hi int) {
	if s.n == 0 {
		return 0, 0
	}
	bk := bucketOf(&k.ID, s.bits)
	a := int(binary.LittleEndian.Uint32(s.fanout[4*bk:]))
	z := int(binary.LittleEndian.Uint32(s.fanout[4*(bk+1):]))
	lo = a + sort.Search(z-a, func(i int) bool { return s.cmpAt(a+i, &k) >= 0 })
	hi = lo
	for hi < z && s.cmpAt(hi, &k) == 0 {
		hi++
	}
	return lo, hi
}
