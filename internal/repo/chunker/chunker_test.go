package chunker

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/iotest"
)

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func seed(b byte) [32]byte {
	var s [32]byte
	s[0] = b
	return s
}

func chunkAll(t testing.TB, r io.Reader, p Params) []Chunk {
	t.Helper()
	c := New(r, p)
	var out []Chunk
	var buf []byte
	for {
		ch, err := c.Next(buf)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		buf = ch.Data[:0]
		ch.Data = bytes.Clone(ch.Data)
		out = append(out, ch)
	}
}

func smallParams(s [32]byte) Params {
	return Params{MinSize: 2 << 10, AvgSize: 8 << 10, MaxSize: 64 << 10, Seed: s}
}

func TestChunksCoverInputAndRespectBounds(t *testing.T) {
	data := randBytes(1, 3<<20)
	tests := []struct {
		name string
		r    io.Reader
		p    Params
	}{
		{"default", bytes.NewReader(data), DefaultParams(seed(1))},
		{"small", bytes.NewReader(data), smallParams(seed(1))},
		{"one byte reader", iotest.OneByteReader(bytes.NewReader(data[:300<<10])), smallParams(seed(1))},
		{"half reader", iotest.HalfReader(bytes.NewReader(data)), smallParams(seed(1))},
		{"zeros hit max", bytes.NewReader(make([]byte, 1<<20)), smallParams(seed(1))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chunks := chunkAll(t, tc.r, tc.p)
			var joined []byte
			var off uint64
			for i, ch := range chunks {
				if ch.Offset != off || ch.Length != len(ch.Data) {
					t.Fatalf("chunk %d: got offset %d len %d/%d, want offset %d", i, ch.Offset, ch.Length, len(ch.Data), off)
				}
				if ch.Length > tc.p.MaxSize || (i < len(chunks)-1 && ch.Length < tc.p.MinSize) {
					t.Fatalf("chunk %d: got length %d, want within [%d,%d]", i, ch.Length, tc.p.MinSize, tc.p.MaxSize)
				}
				off += uint64(ch.Length)
				joined = append(joined, ch.Data...)
			}
			want := data
			switch tc.name {
			case "one byte reader":
				want = data[:300<<10]
			case "zeros hit max":
				want = make([]byte, 1<<20)
			}
			if !bytes.Equal(joined, want) {
				t.Fatalf("got %d bytes back, want the %d input bytes", len(joined), len(want))
			}
		})
	}
}

func TestEmptyAndTinyStreams(t *testing.T) {
	if got := chunkAll(t, bytes.NewReader(nil), DefaultParams(seed(0))); len(got) != 0 {
		t.Fatalf("empty stream: got %d chunks, want 0", len(got))
	}
	got := chunkAll(t, bytes.NewReader([]byte("hello")), DefaultParams(seed(0)))
	if len(got) != 1 || string(got[0].Data) != "hello" {
		t.Fatalf("tiny stream: got %v, want one chunk hello", got)
	}
}

func cuts(chunks []Chunk) []uint64 {
	var out []uint64
	for _, c := range chunks {
		out = append(out, c.Offset+uint64(c.Length))
	}
	return out
}

func TestDeterministicAndSeedDependent(t *testing.T) {
	data := randBytes(2, 2<<20)
	a := cuts(chunkAll(t, bytes.NewReader(data), smallParams(seed(1))))
	b := cuts(chunkAll(t, iotest.HalfReader(bytes.NewReader(data)), smallParams(seed(1))))
	c := cuts(chunkAll(t, bytes.NewReader(data), smallParams(seed(2))))
	if !slices.Equal(a, b) {
		t.Fatal("same seed, different read pattern: got different boundaries")
	}
	if slices.Equal(a, c) {
		t.Fatal("different seeds: got identical boundaries, want different")
	}
}

// TestShiftResync: inserting bytes near the start changes only the first
// chunks; the rest deduplicate.
func TestShiftResync(t *testing.T) {
	data := randBytes(3, 4<<20)
	p := smallParams(seed(7))
	orig := chunkAll(t, bytes.NewReader(data), p)
	shifted := append(append([]byte("some inserted bytes"), data[:1000]...), data[1000:]...)
	moved := chunkAll(t, bytes.NewReader(shifted), p)
	seen := map[string]bool{}
	for _, c := range orig {
		seen[string(c.Data)] = true
	}
	same := 0
	for _, c := range moved {
		if seen[string(c.Data)] {
			same++
		}
	}
	if same < len(orig)-3 {
		t.Fatalf("got %d of %d chunks shared after a shift, want all but ≤3", same, len(orig))
	}
}

func TestReset(t *testing.T) {
	p := smallParams(seed(3))
	data := randBytes(4, 200<<10)
	want := cuts(chunkAll(t, bytes.NewReader(data), p))
	c := New(bytes.NewReader([]byte("other stream, partly read")), p)
	if _, err := c.Next(nil); err != nil {
		t.Fatal(err)
	}
	c.Reset(bytes.NewReader(data))
	var got []uint64
	for {
		ch, err := c.Next(nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ch.Offset+uint64(ch.Length))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after Reset: got %v, want %v", got, want)
	}
}

func TestErrors(t *testing.T) {
	c := New(bytes.NewReader(nil), Params{MinSize: 10, AvgSize: 1000, MaxSize: 5})
	if _, err := c.Next(nil); !errors.Is(err, ErrParams) {
		t.Fatalf("bad params: got %v, want ErrParams", err)
	}
	boom := errors.New("boom")
	c = New(iotest.ErrReader(boom), DefaultParams(seed(0)))
	if _, err := c.Next(nil); !errors.Is(err, boom) {
		t.Fatalf("read error: got %v, want boom", err)
	}
}

// TestDistribution documents the size distribution of the default params.
func TestDistribution(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	data := randBytes(5, 128<<20)
	chunks := chunkAll(t, bytes.NewReader(data), DefaultParams(seed(9)))
	var sizes []int
	for _, c := range chunks[:len(chunks)-1] {
		sizes = append(sizes, c.Length)
	}
	slices.Sort(sizes)
	mean := len(data) / len(chunks)
	p01, p99 := sizes[len(sizes)/100], sizes[len(sizes)*99/100]
	t.Logf("chunks %d, mean %d KiB, p1 %d KiB, median %d KiB, p99 %d KiB", len(chunks), mean>>10, p01>>10, sizes[len(sizes)/2]>>10, p99>>10)
	if mean < 900<<10 || mean > 1600<<10 {
		t.Fatalf("got mean %d, want about 1 MiB", mean)
	}
}

func BenchmarkChunker(b *testing.B) {
	data := randBytes(6, 64<<20)
	c := New(nil, DefaultParams(seed(1)))
	buf := make([]byte, 0, DefaultMaxSize)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		c.Reset(bytes.NewReader(data))
		for {
			ch, err := c.Next(buf)
			if err == io.EOF {
				break
			}
			buf = ch.Data[:0]
		}
	}
}
