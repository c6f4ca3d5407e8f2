package index

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/zeebo/blake3"
)

// RunEntries is the default number of entries a Builder sorts in memory
// before spilling a sorted run to disk (≈ 14 MB of Go heap).
const RunEntries = 256 << 10

// Builder makes a segment from entries added in any order, using bounded
// memory: entries are sorted in runs of at most RunEntries, spilled to
// temporary files in the builder's directory, and merged. Exact duplicates
// (same key, pack and offset) are dropped; the same blob in two packs is
// kept twice. A Builder is not safe for concurrent use.
type Builder struct {
	dir      string
	runLimit int
	packs    map[[32]byte]uint32
	table    []PackInfo
	buf      []rec
	runs     []string
	total    int
	err      error
}

// NewBuilder returns a Builder that keeps temporary files in dir.
// runEntries ≤ 0 selects RunEntries.
func NewBuilder(dir string, runEntries int) *Builder {
	if runEntries <= 0 {
		runEntries = RunEntries
	}
	return &Builder{dir: dir, runLimit: runEntries, packs: map[[32]byte]uint32{}}
}

// AddPack registers a pack (idempotent; the largest size seen wins) and
// returns its number.
func (b *Builder) AddPack(id [32]byte, size int64) uint32 {
	if n, ok := b.packs[id]; ok {
		if size > b.table[n].Size {
			b.table[n].Size = size
		}
		return n
	}
	n := uint32(len(b.table))
	b.packs[id] = n
	b.table = append(b.table, PackInfo{ID: id, Size: size})
	return n
}

// Add adds one entry; its pack is registered if needed (size unknown = 0).
func (b *Builder) Add(e Entry) {
	n, ok := b.packs[e.Pack]
	if !ok {
		n = b.AddPack(e.Pack, 0)
	}
	b.add(rec{id: e.ID, typ: e.Type, pack: n, off: e.Offset, length: e.Length, raw: e.RawLength, grp: e.Group})
}

func (b *Builder) add(r rec) {
	if b.err != nil {
		return
	}
	b.buf = append(b.buf, r)
	b.total++
	if len(b.buf) >= b.runLimit {
		b.spill()
	}
}

// AddSegment adds every entry of s (pack numbers are remapped), skipping
// entries whose pack drop reports true (drop may be nil).
func (b *Builder) AddSegment(s *Segment, drop func(pack [32]byte) bool) {
	remap := make([]int64, s.NumPacks())
	for i := range remap {
		p := s.Pack(i)
		if drop != nil && drop(p.ID) {
			remap[i] = -1
			continue
		}
		remap[i] = int64(b.AddPack(p.ID, p.Size))
	}
	for i := 0; i < s.Len(); i++ {
		r := s.rec(i)
		if int(r.pack) >= len(remap) || remap[r.pack] < 0 {
			continue
		}
		r.pack = uint32(remap[r.pack])
		b.add(r)
	}
}

// Len is the number of entries added so far (duplicates included).
func (b *Builder) Len() int { return b.total }

func (b *Builder) sortBuf() {
	slices.SortFunc(b.buf, func(x, y rec) int { return compareRec(&x, &y) })
}

func (b *Builder) spill() {
	b.sortBuf()
	f, err := os.CreateTemp(b.dir, "run-*.tmp")
	if err != nil {
		b.err = fmt.Errorf("index: sort run: %w", err)
		return
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var rb [recSize]byte
	for i := range b.buf {
		b.buf[i].put(rb[:])
		_, _ = w.Write(rb[:])
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	b.runs = append(b.runs, f.Name())
	if err != nil {
		b.err = fmt.Errorf("index: sort run: %w", err)
	}
	b.buf = b.buf[:0]
}

// Discard removes temporary files; the Builder is unusable afterwards.
func (b *Builder) Discard() {
	for _, r := range b.runs {
		_ = os.Remove(r)
	}
	b.runs, b.buf = nil, nil
}

// Finish writes the segment to path (atomically: a temporary file renamed
// into place), removes temporary files and opens the result.
func (b *Builder) Finish(path string, macKey [32]byte) (*Segment, error) {
	defer b.Discard()
	if b.err != nil {
		return nil, b.err
	}
	if len(b.table) > maxEntries || b.total > maxEntries {
		return nil, fmt.Errorf("index: segment too large (%d entries)", b.total)
	}
	var src recSource
	if len(b.runs) == 0 {
		b.sortBuf()
		src = &sliceSource{recs: b.buf}
	} else {
		if len(b.buf) > 0 {
			b.spill()
			if b.err != nil {
				return nil, b.err
			}
		}
		m, err := newMerger(b.runs)
		if err != nil {
			return nil, err
		}
		defer m.close()
		src = m
	}
	if err := writeSegment(path, macKey, b.total, b.table, src); err != nil {
		return nil, err
	}
	return OpenSegment(path, macKey)
}

type recSource interface {
	// next returns the next record in order, or io.EOF.
	next() (rec, error)
}

type sliceSource struct {
	recs []rec
	i    int
}

func (s *sliceSource) next() (rec, error) {
	if s.i >= len(s.recs) {
		return rec{}, io.EOF
	}
	s.i++
	return s.recs[s.i-1], nil
}

type runReader struct {
	f   *os.File
	r   *bufio.Reader
	cur rec
}

type merger struct {
	h runHeap
}

type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return compareRec(&h[i].cur, &h[j].cur) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (rr *runReader) advance() error {
	var b [recSize]byte
	if _, err := io.ReadFull(rr.r, b[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("index: read sort run: %w", err)
	}
	rr.cur.get(b[:])
	return nil
}

func newMerger(paths []string) (*merger, error) {
	m := &merger{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			m.close()
			return nil, fmt.Errorf("index: %w", err)
		}
		rr := &runReader{f: f, r: bufio.NewReaderSize(f, 256<<10)}
		if err := rr.advance(); err != nil {
			f.Close()
			if errors.Is(err, io.EOF) {
				continue
			}
			m.close()
			return nil, err
		}
		m.h = append(m.h, rr)
	}
	heap.Init(&m.h)
	return m, nil
}

func (m *merger) next() (rec, error) {
	if len(m.h) == 0 {
		return rec{}, io.EOF
	}
	top := m.h[0]
	out := top.cur
	if err := top.advance(); err != nil {
		if !errors.Is(err, io.EOF) {
			return rec{}, err
		}
		top.f.Close()
		heap.Pop(&m.h)
	} else {
		heap.Fix(&m.h, 0)
	}
	return out, nil
}

func (m *merger) close() {
	for _, rr := range m.h {
		rr.f.Close()
	}
	m.h = nil
}

// writeSegment streams sorted records (at most upper of them) into a new
// segment file at path.
func writeSegment(path string, macKey [32]byte, upper int, table []PackInfo, src recSource) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "seg-*.tmp")
	if err != nil {
		return fmt.Errorf("index: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bitsN := fanoutBits(upper)
	nb := 1 << bitsN
	fanLen := 4 * (nb + 1)
	if _, err := f.Seek(int64(headerSize+fanLen), io.SeekStart); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	inner := blake3.New()
	mw := io.MultiWriter(w, inner)
	counts := make([]uint32, nb+1) // counts[b+1] = entries in bucket b
	var prev rec
	var rb [recSize]byte
	n := 0
	for {
		r, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if n > 0 && compareRec(&prev, &r) == 0 {
			continue // exact duplicate
		}
		if int(r.pack) >= len(table) {
			return fmt.Errorf("index: record with pack %d outside a table of %d", r.pack, len(table))
		}
		prev = r
		r.put(rb[:])
		if _, err := mw.Write(rb[:]); err != nil {
			return fmt.Errorf("index: %w", err)
		}
		counts[bucketOf(&r.id, bitsN)+1]++
		n++
	}
	var pb [packRecLen]byte
	for _, p := range table {
		copy(pb[:32], p.ID[:])
		binary.LittleEndian.PutUint64(pb[32:], uint64(p.Size))
		if _, err := mw.Write(pb[:]); err != nil {
			return fmt.Errorf("index: %w", err)
		}
	}
	head := make([]byte, headerSize+fanLen)
	copy(head, segMagic)
	binary.LittleEndian.PutUint32(head[8:], uint32(bitsN))
	binary.LittleEndian.PutUint64(head[16:], uint64(n))
	binary.LittleEndian.PutUint64(head[24:], uint64(len(table)))
	var acc uint32
	for i := 0; i <= nb; i++ {
		acc += counts[i]
		binary.LittleEndian.PutUint32(head[headerSize+4*i:], acc)
	}
	mac := segmentMAC(macKey, head, inner.Sum(nil))
	if _, err := w.Write(mac[:]); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if _, err := f.WriteAt(head, 0); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}
