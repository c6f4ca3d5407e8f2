package index

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/coffer/coffer/internal/repo/pack"
)

func randEntries(r *rand.Rand, n int, packs [][32]byte) []Entry {
	out := make([]Entry, n)
	for i := range out {
		e := &out[i]
		for j := 0; j < 32; j += 8 {
			v := r.Uint64()
			for k := 0; k < 8; k++ {
				e.ID[j+k] = byte(v >> (8 * k))
			}
		}
		e.Type = uint8(1 + r.IntN(2))
		e.Pack = packs[r.IntN(len(packs))]
		e.Offset = r.Uint32()
		e.Length = r.Uint32()
		e.RawLength = r.Uint32()
	}
	return out
}

func somePacks(n int) [][32]byte {
	out := make([][32]byte, n)
	for i := range out {
		out[i][0], out[i][1] = byte(i), byte(i>>8)
		out[i][31] = 0xAA
	}
	return out
}

var testKey = [32]byte{1, 2, 3}

func TestBuilderAndSegment(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n, runSize int
	}{
		{"empty", 0, 0},
		{"one", 1, 0},
		{"in memory", 5000, 0},
		{"external merge", 5000, 700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := rand.New(rand.NewPCG(1, 2))
			packs := somePacks(10)
			entries := randEntries(r, tc.n, packs)
			b := NewBuilder(dir, tc.runSize)
			for i, p := range packs {
				b.AddPack(p, int64(1000+i))
			}
			for _, e := range entries {
				b.Add(e)
			}
			// Exact duplicates are dropped; a second location is kept.
			var dup Entry
			if tc.n > 0 {
				b.Add(entries[0])
				dup = entries[0]
				dup.Pack = packs[(int(packs[0][0])+1)%len(packs)]
				if dup.Pack == entries[0].Pack {
					dup.Pack = packs[2]
				}
				b.Add(dup)
			}
			seg, err := b.Finish(filepath.Join(dir, "s.idx"), testKey)
			if err != nil {
				t.Fatal(err)
			}
			defer seg.Close()
			want := tc.n
			if tc.n > 0 {
				want++
			}
			if seg.Len() != want {
				t.Fatalf("got %d entries, want %d", seg.Len(), want)
			}
			for i := 1; i < seg.Len(); i++ {
				a, _ := seg.Entry(i - 1)
				c, _ := seg.Entry(i)
				if a.Key().Compare(c.Key()) > 0 {
					t.Fatalf("entries %d,%d out of order", i-1, i)
				}
			}
			for _, e := range entries {
				lo, hi := seg.Range(e.Key())
				found := false
				for j := lo; j < hi; j++ {
					if got, _ := seg.Entry(j); got == e {
						found = true
					}
				}
				if !found {
					t.Fatalf("entry %x not found (range %d-%d)", e.ID[:4], lo, hi)
				}
			}
			if tc.n > 0 {
				if lo, hi := seg.Range(entries[0].Key()); hi-lo != 2 {
					t.Fatalf("got %d locations for the duplicated blob, want 2", hi-lo)
				}
			}
			var missing Key
			missing.ID[0] = 0x77
			missing.Type = 9
			if lo, hi := seg.Range(missing); lo != hi {
				t.Fatalf("missing key: got range %d-%d", lo, hi)
			}
			if seg.NumPacks() != len(packs) || seg.Pack(3).Size != 1003 {
				t.Fatalf("got pack table %d/%v, want %d packs", seg.NumPacks(), seg.Pack(3), len(packs))
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Fatalf("got %d files in dir, want only the segment (runs removed)", len(ents))
			}
		})
	}
}

func TestSegmentTamper(t *testing.T) {
	dir := t.TempDir()
	b := NewBuilder(dir, 0)
	for _, e := range randEntries(rand.New(rand.NewPCG(3, 4)), 100, somePacks(2)) {
		b.Add(e)
	}
	path := filepath.Join(dir, "s.idx")
	seg, err := b.Finish(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	seg.Close()
	if _, err := OpenSegment(path, [32]byte{9}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("wrong key: got %v, want ErrCorrupt", err)
	}
	data, _ := os.ReadFile(path)
	data[len(data)/2] ^= 1
	os.WriteFile(path, data, 0o600)
	if _, err := OpenSegment(path, testKey); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("flipped byte: got %v, want ErrCorrupt", err)
	}
	os.WriteFile(path, data[:len(data)-1], 0o600)
	if _, err := OpenSegment(path, testKey); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated: got %v, want ErrCorrupt", err)
	}
}

func TestSetLifecycle(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Dir: dir, Persistent: true, MACKey: testKey, SpillEntries: 300, RunEntries: 200}
	s, err := OpenSet(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	packs := somePacks(20)
	var all []Entry
	for i := 0; i < 12; i++ { // 12 objects × 100 entries: spills and a compaction
		es := randEntries(r, 100, packs[i:i+2])
		all = append(all, es...)
		if err := s.Add(objName(i), []PackInfo{{ID: packs[i], Size: 10}, {ID: packs[i+1], Size: 11}}, es); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Set, what string) {
		t.Helper()
		for _, e := range all {
			got, ok := s.Lookup(e.Key())
			if !ok || got != e {
				t.Fatalf("%s: lookup %x: got %v %v, want %v", what, e.ID[:4], got, ok, e)
			}
		}
		if n := len(s.Names()); n != 12 {
			t.Fatalf("%s: got %d names, want 12", what, n)
		}
	}
	check(s, "live")
	if st := s.Stats(); st.Segments > maxSegments || st.Entries != len(all) {
		t.Fatalf("got stats %+v, want ≤ %d segments and %d entries", st, maxSegments, len(all))
	}
	// Exclusion hides a pack's entries.
	s.Exclude([][32]byte{packs[0]})
	for _, e := range all {
		if _, ok := s.Lookup(e.Key()); ok == (e.Pack == packs[0]) {
			t.Fatalf("excluded pack: lookup got ok=%v for pack %x", ok, e.Pack[:2])
		}
	}
	s.Exclude(nil)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2, err := OpenSet(opts)
	if err != nil {
		t.Fatal(err)
	}
	check(s2, "reopened")
	if st := s2.Stats(); st.Overlay != 0 {
		t.Fatalf("reopened: got overlay %d, want 0 (all in segments)", st.Overlay)
	}
	// Merged view holds everything once.
	m, err := s2.Merged(filepath.Join(t.TempDir(), "m.idx"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != len(all) {
		t.Fatalf("merged: got %d entries, want %d", m.Len(), len(all))
	}
	m.Close()
	s2.Close()

	// A damaged segment makes OpenSet start empty instead of trusting it.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".idx" {
			p := filepath.Join(dir, e.Name())
			data, _ := os.ReadFile(p)
			data[100] ^= 1
			os.WriteFile(p, data, 0o600)
		}
	}
	s3, err := OpenSet(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if n := len(s3.Names()); n != 0 {
		t.Fatalf("damaged cache: got %d names, want 0", n)
	}
}

func TestSetReplaceAndTemp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tmpset")
	s, err := OpenSet(Options{Dir: dir, MACKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	es := randEntries(rand.New(rand.NewPCG(7, 8)), 50, somePacks(3))
	if err := s.Add("a", nil, es[:10]); err != nil {
		t.Fatal(err)
	}
	err = s.Replace(func(b *Builder) ([]string, error) {
		for _, e := range es[10:] {
			b.Add(e)
		}
		return []string{"b"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(es[0].Key()); ok {
		t.Fatal("after Replace: old entry still found")
	}
	if _, ok := s.Lookup(es[20].Key()); !ok {
		t.Fatal("after Replace: new entry not found")
	}
	if got := s.Names(); !reflect.DeepEqual(got, map[string]bool{"b": true}) {
		t.Fatalf("got names %v, want {b}", got)
	}
	s.Close()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("non-persistent dir after Close: got %v, want removed", err)
	}
}

func objName(i int) string { return "index/" + string(rune('a'+i)) }

func TestObjectRoundTrip(t *testing.T) {
	o := &Object{
		Supersedes: [][32]byte{{1}, {2}},
		Dropped:    [][32]byte{{7}},
		Packs: []ObjectPack{
			{ID: [32]byte{3}, Size: 12345, Blobs: []pack.Entry{{Type: 1, ID: [32]byte{4}, Offset: 0, Length: 60, RawLength: 100}}},
			{ID: [32]byte{5}, Size: 99},
		},
	}
	got, err := DecodeObject(EncodeObject(o))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Supersedes, o.Supersedes) || !reflect.DeepEqual(got.Dropped, o.Dropped) || len(got.Packs) != 2 || got.Packs[0].Blobs[0] != o.Packs[0].Blobs[0] || got.Packs[1].Size != 99 {
		t.Fatalf("got %+v, want %+v", got, o)
	}
	enc := EncodeObject(o)
	for _, cut := range []int{0, 7, 20, len(enc) - 1} {
		if _, err := DecodeObject(enc[:cut]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated at %d: got %v, want ErrCorrupt", cut, err)
		}
	}
}

// BenchmarkLookup measures 100,000 lookups (half hits) in a set of one
// million entries, the dedup load of a backup of 100,000 small files.
func BenchmarkLookup(b *testing.B) {
	dir := b.TempDir()
	r := rand.New(rand.NewPCG(9, 10))
	es := randEntries(r, 1_000_000, somePacks(1000))
	s, err := OpenSet(Options{Dir: dir, MACKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Replace(func(bb *Builder) ([]string, error) {
		for _, e := range es {
			bb.Add(e)
		}
		return nil, nil
	}); err != nil {
		b.Fatal(err)
	}
	queries := make([]Key, 100_000)
	miss := randEntries(r, len(queries)/2, somePacks(1))
	for i := range queries {
		if i%2 == 0 {
			queries[i] = es[r.IntN(len(es))].Key()
		} else {
			queries[i] = miss[i/2].Key()
		}
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		for _, q := range queries {
			s.Lookup(q)
		}
	}
	b.ReportMetric(float64(time.Since(start).Milliseconds())/float64(b.N), "ms/100k-lookups")
}
