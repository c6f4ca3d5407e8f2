package chunker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/zeebo/blake3"
)

// Default sizes; see the package comment for why.
const (
	DefaultMinSize = 512 << 10
	DefaultAvgSize = 1 << 20
	DefaultMaxSize = 8 << 20
)

// Params configure a Chunker. Sizes are in bytes.
type Params struct {
	MinSize int      `json:"min"`
	AvgSize int      `json:"avg"` // a power of two
	MaxSize int      `json:"max"`
	Seed    [32]byte `json:"seed"` // selects the gear table
}

// DefaultParams returns the default sizes with the given seed.
func DefaultParams(seed [32]byte) Params {
	return Params{MinSize: DefaultMinSize, AvgSize: DefaultAvgSize, MaxSize: DefaultMaxSize, Seed: seed}
}

// ErrParams reports invalid Params.
var ErrParams = errors.New("chunker: invalid parameters")

// Validate checks 64 ≤ MinSize < AvgSize < MaxSize ≤ 1 GiB and that AvgSize is
// a power of two of at least 256.
func (p Params) Validate() error {
	switch {
	case p.MinSize < 64 || p.MinSize >= p.AvgSize || p.AvgSize >= p.MaxSize || p.MaxSize > 1<<30:
		return fmt.Errorf("%w: need 64 <= min < avg < max <= 1 GiB, got %d/%d/%d", ErrParams, p.MinSize, p.AvgSize, p.MaxSize)
	case p.AvgSize < 256 || p.AvgSize&(p.AvgSize-1) != 0:
		return fmt.Errorf("%w: avg %d is not a power of two >= 256", ErrParams, p.AvgSize)
	}
	return nil
}

// Chunk is one piece of the stream.
type Chunk struct {
	Offset uint64 // position of the first byte in the stream
	Length int    // len(Data)
	Cut    uint64 // gear hash at the boundary (0 when cut at MaxSize or end of stream)
	Data   []byte // the chunk's bytes, in the buffer passed to Next
}

// Chunker splits one stream. It is not safe for concurrent use; reuse one
// per goroutine with Reset.
type Chunker struct {
	r            io.Reader
	p            Params
	err          error // sticky: invalid params or a read error
	gear         *[256]uint64
	maskS, maskL uint64
	carry        []byte // bytes read past the previous cut
	off          uint64
	eof          bool
}

// readStep is how much Next reads at a time past the minimum. Bytes read past
// a cut are copied once into the carry buffer, so a smaller step copies less
// but makes more read calls.
const readStep = 128 << 10

// New returns a Chunker reading r. Invalid params are reported by Next.
func New(r io.Reader, p Params) *Chunker {
	c := &Chunker{}
	c.setParams(p)
	c.Reset(r)
	return c
}

func (c *Chunker) setParams(p Params) {
	c.p = p
	if err := p.Validate(); err != nil {
		c.err = err
		return
	}
	b := bits.TrailingZeros(uint(p.AvgSize))
	// Cut conditions test the top bits of the gear hash: those depend on the
	// last 64 bytes. Normalization level 2.
	c.maskS = ^uint64(0) << (64 - min(b+2, 63))
	c.maskL = ^uint64(0) << (64 - max(b-2, 1))
	c.gear = gearTable(p.Seed)
}

// Reset makes the Chunker read a new stream from offset 0, keeping its
// parameters and carry buffer.
func (c *Chunker) Reset(r io.Reader) {
	c.r = r
	c.carry = c.carry[:0]
	c.off = 0
	c.eof = false
	if c.err != nil && !errors.Is(c.err, ErrParams) {
		c.err = nil
	}
}

// Next returns the next chunk, with its data in buf (grown as needed: pass
// the previous Chunk.Data[:0] to reuse it; capacity MaxSize avoids any
// growth). At the end of the stream it returns io.EOF with an empty Chunk.
// A read error is returned as is, wrapped; it is sticky until Reset.
func (c *Chunker) Next(buf []byte) (Chunk, error) {
	if c.err != nil {
		return Chunk{}, c.err
	}
	p := &c.p
	buf = append(buf[:0], c.carry...)
	c.carry = c.carry[:0]
	var h uint64
	scanned := 0 // bytes of buf already fed to the hash (or skipped)
	for {
		// Scan what we have.
		if n := len(buf); n > p.MinSize {
			if scanned < p.MinSize {
				scanned = p.MinSize
			}
			if cut, hv, ok := c.scan(buf, scanned, &h); ok {
				return c.emit(buf, cut, hv), nil
			}
			scanned = len(buf)
		}
		if len(buf) >= p.MaxSize {
			return c.emit(buf, p.MaxSize, 0), nil
		}
		if c.eof {
			if len(buf) == 0 {
				return Chunk{}, io.EOF
			}
			return c.emit(buf, len(buf), 0), nil
		}
		// Read more, readStep at a time: on Linux, reads of a cold file
		// larger than the readahead window run several times slower
		// than a sequence of small ones (readahead then stays ahead).
		want := min(readStep, p.MaxSize-len(buf))
		if cap(buf)-len(buf) < want {
			nb := make([]byte, len(buf), max(len(buf)+want, min(2*cap(buf), p.MaxSize)))
			copy(nb, buf)
			buf = nb
		}
		n, err := io.ReadAtLeast(c.r, buf[len(buf):len(buf)+want], 1)
		buf = buf[:len(buf)+n]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			c.eof = true
		} else if err != nil {
			c.err = fmt.Errorf("chunker: read: %w", err)
			return Chunk{}, c.err
		}
	}
}

// scan feeds buf[from:] to the gear hash and reports the first cut point
// (exclusive end of the chunk). The harder mask applies below AvgSize, the
// easier one from AvgSize to MaxSize.
func (c *Chunker) scan(buf []byte, from int, hp *uint64) (cut int, hv uint64, ok bool) {
	h := *hp
	g := c.gear
	end := min(len(buf), c.p.MaxSize)
	if from < c.p.AvgSize {
		lim := min(end, c.p.AvgSize)
		m := c.maskS
		for i, b := range buf[from:lim] {
			h = h<<1 + g[b]
			if h&m == 0 {
				return from + i + 1, h, true
			}
		}
		from = lim
	}
	if from < end {
		m := c.maskL
		for i, b := range buf[from:end] {
			h = h<<1 + g[b]
			if h&m == 0 {
				return from + i + 1, h, true
			}
		}
	}
	*hp = h
	return 0, 0, false
}

func (c *Chunker) emit(buf []byte, n int, hv uint64) Chunk {
	c.carry = append(c.carry[:0], buf[n:]...)
	ch := Chunk{Offset: c.off, Length: n, Cut: hv, Data: buf[:n]}
	c.off += uint64(n)
	return ch
}

var gearCache sync.Map // [32]byte -> *[256]uint64

// gearTable derives the gear table of a seed: 256 little-endian words of
// keyed BLAKE3 output. Tables are cached per seed.
func gearTable(seed [32]byte) *[256]uint64 {
	if t, ok := gearCache.Load(seed); ok {
		return t.(*[256]uint64)
	}
	h, err := blake3.NewKeyed(seed[:])
	if err != nil {
		panic("chunker: unreachable: " + err.Error()) // key length is fixed
	}
	_, _ = h.WriteString("coffer chunker gear table v1")
	var raw [256 * 8]byte
	_, _ = io.ReadFull(h.Digest(), raw[:])
	t := new([256]uint64)
	for i := range t {
		t[i] = binary.LittleEndian.Uint64(raw[i*8:])
	}
	v, _ := gearCache.LoadOrStore(seed, t)
	return v.(*[256]uint64)
}
